// The site's files: content-hashed names cached as immutable, compressed
// for browsers that ask, and a repeat visit that downloads none of them.
import { test, expect } from '@playwright/test';
import { confirmed, join, newDevice, send, tag } from './helpers';
import { OwnServer } from './server';

// One directory per release: /pkg/<hash>/<file>.
const HASHED = /\/pkg\/[0-9a-f]{16}\/chat\.(js|wasm|css)$/;

test('hashed assets are immutable and come brotli-compressed when asked', async ({ page, request }) => {
  await page.goto('/');
  const urls = await page.evaluate(() =>
    [...document.querySelectorAll('link[href*="/pkg/"], script')]
      .map((e) => (e as HTMLLinkElement).href || (e as HTMLScriptElement).textContent || '')
      .flatMap((s) => s.match(/\/pkg\/[0-9a-f]{16}\/chat\.(js|wasm|css)/g) ?? []),
  );
  const unique = [...new Set(urls)];
  expect(unique.map((u) => u.split('.').pop()).sort()).toEqual(['js', 'wasm']);
  // The stylesheet is in the page (no round trip before the first paint),
  // and applies: the CSP lets it in by its nonce.
  const inline = await page.evaluate(() => {
    const style = document.querySelector('head style');
    return { nonce: !!style?.nonce, rules: (style as HTMLStyleElement | null)?.sheet?.cssRules.length ?? 0 };
  });
  expect(inline.nonce).toBe(true);
  expect(inline.rules).toBeGreaterThan(50);
  expect(await page.locator('link[rel=stylesheet][href*="/pkg/"]').count()).toBe(0);
  unique.push(unique[0].replace(/chat\.\w+$/, 'chat.css'));
  for (const url of unique) {
    expect(url).toMatch(HASHED);
    const res = await request.get(url, { headers: { 'accept-encoding': 'br, gzip' } });
    expect(res.status(), url).toBe(200);
    expect(res.headers()['cache-control'], url).toBe('public, max-age=31536000, immutable');
    expect(res.headers()['content-encoding'], url).toBe('br');
    const gz = await request.get(url, { headers: { 'accept-encoding': 'gzip' } });
    expect(gz.headers()['content-encoding'], url).toBe('gzip');
  }
  expect((await request.get('/pkg/0000000000000000/chat.wasm')).status()).toBe(404);
  expect((await request.get(unique[0].replace(/chat\.\w+$/, 'chat.wasm.br'))).status()).toBe(404);
  const html = await request.get('/', { headers: { 'accept-encoding': 'br' } });
  expect(html.headers()['content-encoding']).toBe('br');
  // The page is this device's alone: no cache keeps it (the service worker
  // keeps its offline copy through the Cache API).
  expect(html.headers()['cache-control']).toBe('no-store');
});

test('a second visit downloads no asset again', async ({ page }, testInfo) => {
  const server = new OwnServer({ tls: false });
  await server.start();
  try {
    await join(page, `Again ${testInfo.project.name}`, server.url);
    await expect.poll(() => page.evaluate(async () => (await navigator.serviceWorker.ready).active?.state)).toBe('activated');
    await expect.poll(() => page.evaluate(() => !!navigator.serviceWorker.controller)).toBe(true);

    // Requests the worker itself sends to the network, and what the page got.
    const network: string[] = [];
    const served: { url: string; fromWorker: boolean }[] = [];
    page.context().on('request', (r) => {
      if (r.serviceWorker() && r.url().includes('/pkg/')) network.push(r.url());
    });
    page.on('response', (r) => {
      if (r.url().includes('/pkg/')) served.push({ url: r.url(), fromWorker: r.fromServiceWorker() });
    });
    await page.reload();
    await expect(page.locator('.connection')).toHaveText('Live');
    // The page's two files (its stylesheet is inline) and the loader of
    // the lazy dialogs' chunks.
    const names = served.map((s) => s.url.split('/').pop()).sort();
    expect(names).toEqual(['__wasm_split.______________________.js', 'chat.js', 'chat.wasm']);
    for (const s of served) expect(s.fromWorker, s.url).toBe(true);
    expect(network).toEqual([]);
    // A dialog's chunk was stored with the release: it too comes from the worker.
    await page.locator('.search-button').click();
    await expect(page.locator('#search-title')).toBeVisible();
    const chunk = served.find((s) => s.url.includes('split_chat_search'));
    expect(chunk?.fromWorker, served.map((s) => s.url).join(' ')).toBe(true);
    expect(network).toEqual([]);
  } finally {
    await server.kill();
  }
});

test('a dialog\'s code arrives when it first opens, from the same release', async ({ page }, testInfo) => {
  const wasm: string[] = [];
  page.on('response', (r) => {
    if (r.url().endsWith('.wasm')) wasm.push(new URL(r.url()).pathname);
  });
  await join(page, `Lazy ${testInfo.project.name}`);
  const main = wasm.filter((u) => u.endsWith('/chat.wasm'));
  expect(main).toHaveLength(1);
  expect(main[0]).toMatch(HASHED);
  expect(wasm.filter((u) => u.includes('split_chat_search'))).toEqual([]);

  await page.locator('.search-button').click();
  await page.locator('.search-input').fill('anything at all');
  await expect(page.locator('#search-title')).toBeVisible();
  const chunk = wasm.find((u) => u.includes('split_chat_search'));
  expect(chunk, wasm.join(' ')).toBeTruthy();
  // Beside the main module, under the same release directory.
  expect(chunk!.split('/').slice(0, 3)).toEqual(main[0].split('/').slice(0, 3));
  // Closed and opened again: no second download.
  await page.locator('.search-panel .join').click();
  await page.locator('.search-button').click();
  await expect(page.locator('.search-input')).toHaveValue('anything at all');
  expect(wasm.filter((u) => u.includes('split_chat_search'))).toHaveLength(1);
});

test('a dialog whose code cannot be fetched stays closed with a notice, and opens on the next try', async ({ browser }, testInfo) => {
  // No service worker, so every chunk request reaches the network (and the route).
  const context = await newDevice(browser, testInfo, { serviceWorkers: 'block' });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    await join(page, `Offline dialog ${testInfo.project.name}`);
    await page.route(/split_chat_search\.wasm$/, (route) => route.abort('internetdisconnected'));
    await page.locator('.search-button').click();
    await expect(page.locator('.notice')).toContainText('could not be loaded');
    await expect(page.locator('#search-title')).toHaveCount(0);
    // The rest of the page still works.
    await send(page, `still here ${testInfo.project.name}`);
    await page.unroute(/split_chat_search\.wasm$/);
    await page.locator('.search-button').click();
    await expect(page.locator('#search-title')).toBeVisible();
    // The chunk loader (cargo-leptos's) starts the fetch before it awaits
    // it, so the browser also reports the refused fetch as a rejection;
    // nothing else may go wrong.
    expect(errors.filter((e) => e !== 'Failed to fetch')).toEqual([]);
  } finally {
    await context.close();
  }
});

test('the message menu and uploads fetch their code on first use; refused, they leave a notice and work on the next try', async ({ browser }, testInfo) => {
  // No service worker, so every chunk request reaches the network (and the route).
  const context = await newDevice(browser, testInfo, { serviceWorkers: 'block' });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const chunks: string[] = [];
  const mains: string[] = [];
  page.on('request', (r) => {
    const path = new URL(r.url()).pathname;
    if (/split_chat_(row_actions|upload)\.wasm$/.test(path)) chunks.push(path);
    if (path.endsWith('/chat.wasm')) mains.push(path);
  });
  const t = tag(testInfo);
  const file = { name: `note ${t}.txt`, mimeType: 'text/plain', buffer: Buffer.from(`hello ${t}`) };
  try {
    await join(page, `Menu ${t}`);
    await send(page, `menu here ${t}`);
    const row = confirmed(page, `menu here ${t}`);
    await expect(row).toHaveCount(1);
    expect(chunks, 'nothing fetched before first use').toEqual([]);

    const menuChunk = /split_chat_row_actions\.wasm$/;
    await page.route(menuChunk, (route) => route.abort('internetdisconnected'));
    await row.hover();
    await row.locator('.row-menu').click();
    await expect(page.locator('.notice')).toContainText('could not be loaded');
    await expect(row.locator('.row-menu')).toHaveAttribute('aria-expanded', 'false');
    await expect(row.locator('.row-actions')).toHaveCount(0);
    await send(page, `still here ${t}`);
    await page.unroute(menuChunk);
    await row.hover();
    await row.locator('.row-menu').click();
    await expect(row.locator('.row-actions .edit')).toBeVisible();
    await expect(page.locator('.notice')).toHaveCount(0);

    const uploadChunk = /split_chat_upload\.wasm$/;
    await page.route(uploadChunk, (route) => route.abort('internetdisconnected'));
    await page.locator('.file-input').setInputFiles(file);
    await expect(page.locator('.notice')).toContainText('could not be loaded');
    await expect(page.locator('.attached')).toHaveCount(0);
    await page.unroute(uploadChunk);
    await page.locator('.file-input').setInputFiles(file);
    await expect(page.locator('.attached-name')).toContainText(`note ${t}.txt`);
    await expect(page.locator('.notice')).toHaveCount(0);
    // Each chunk came from the same release directory as the page's WASM.
    const dir = (u: string) => u.split('/').slice(0, 3).join('/');
    expect(mains.length).toBeGreaterThan(0);
    expect(chunks.length).toBeGreaterThan(0);
    expect(new Set([...mains, ...chunks].map(dir))).toEqual(new Set([dir(mains[0])]));
    expect(errors.filter((e) => e !== 'Failed to fetch')).toEqual([]);
  } finally {
    await context.close();
  }
});
