import { test, expect, Page, chromium } from '@playwright/test';
import { appendFileSync, cpSync, mkdtempSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { confirmed, join, newDevice, scrollToOldest, send, tag } from './helpers';
import { OwnServer } from './server';


async function serviceWorkerState(page: Page): Promise<string | undefined> {
  return page.evaluate(async () => (await navigator.serviceWorker.ready).active?.state);
}

test.describe('installable app', () => {
  let server: OwnServer;
  test.beforeEach(async () => {
    server = new OwnServer({ tls: false });
    await server.start();
  });
  test.afterEach(async () => server.kill());

  test('Chromium finds it installable; manifest and service worker are right', async ({ page }, testInfo) => {
    await join(page, `Pwa ${tag(testInfo)}`, server.url);
    await expect.poll(() => serviceWorkerState(page)).toBe('activated');

    const res = await page.request.get(`${server.url}/manifest.webmanifest`);
    expect(res.ok()).toBe(true);
    const manifest = await res.json();
    expect(manifest).toMatchObject({ name: 'Chat', short_name: 'Chat', start_url: '/', scope: '/', display: 'standalone' });
    expect(manifest.theme_color).toMatch(/^#/);
    expect(manifest.background_color).toMatch(/^#/);
    const sizes = manifest.icons.map((i: { sizes: string; purpose?: string }) => `${i.sizes} ${i.purpose ?? 'any'}`);
    expect(sizes).toEqual(expect.arrayContaining(['192x192 any', '512x512 any', '512x512 maskable']));
    for (const icon of [...manifest.icons.map((i: { src: string }) => i.src), '/icons/apple-touch-icon.png']) {
      const r = await page.request.get(`${server.url}${icon}`);
      expect(r.headers()['content-type']).toBe('image/png');
    }
    await expect(page.locator('link[rel="apple-touch-icon"]')).toHaveAttribute('href', '/icons/apple-touch-icon.png');
    await expect(page.locator('meta[name="theme-color"]')).toHaveCount(2);
    await expect(page.locator('meta[name="viewport"]')).toHaveAttribute('content', /viewport-fit=cover/);

  });

  test('Chromium reports no installability errors', async ({}, testInfo) => {
    // Test contexts are incognito, where nothing is installable: use a
    // real profile.
    const profile = mkdtempSync(joinPath(tmpdir(), 'chat-e2e-profile-'));
    const u = testInfo.project.use;
    const context = await chromium.launchPersistentContext(profile, {
      ...u.launchOptions,
      viewport: u.viewport,
      isMobile: u.isMobile,
      hasTouch: u.hasTouch,
      userAgent: u.userAgent,
    });
    try {
      const page = await context.newPage();
      await page.goto(server.url);
      await expect(page.locator('.connection')).toHaveText('Live');
      await expect.poll(() => serviceWorkerState(page)).toBe('activated');
      const cdp = await context.newCDPSession(page);
      const { errors } = await cdp.send('Page.getAppManifest');
      expect(errors).toEqual([]);
      await expect
        .poll(async () => (await cdp.send('Page.getInstallabilityErrors')).installabilityErrors)
        .toEqual([]);
    } finally {
      await context.close();
    }
  });

  test('after one visit it opens offline with the cached messages and says so', async ({ page }, testInfo) => {
    const t = tag(testInfo);
    await join(page, `Nomad ${t}`, server.url);
    await send(page, `cached for offline ${t}`);
    await expect(confirmed(page, `cached for offline ${t}`)).toHaveCount(1);
    await expect.poll(() => serviceWorkerState(page)).toBe('activated');
    // A visit under the active worker stores the page with this message.
    await page.reload();
    await expect(page.locator('.connection')).toHaveText('Live');
    await expect.poll(() => page.evaluate(() => !!navigator.serviceWorker.controller)).toBe(true);

    await page.context().setOffline(true);
    await page.reload();
    await expect(confirmed(page, `cached for offline ${t}`)).toHaveCount(1);
    await expect(page.locator('.connection')).toHaveText(/Offline|Connecting/);
    await expect(page.locator('.connection')).not.toHaveText('Live');

    await page.context().setOffline(false);
    await expect(page.locator('.connection')).toHaveText('Live', { timeout: 20_000 });
  });

  test('a room reloaded offline at its own address opens from the shell', async ({ page }, testInfo) => {
    const t = tag(testInfo);
    await join(page, `Roamer ${t}`, server.url);
    await expect.poll(() => serviceWorkerState(page)).toBe('activated');
    if (await page.locator('.rooms-button').isVisible()) await page.locator('.rooms-button').click();
    const list = page.locator('.room-list');
    await list.locator('.new-room').click();
    await list.locator('.new-room-name').fill(`Away ${t}`);
    await list.locator('.new-room-form .join').click();
    await expect(page.locator('h1.room')).toHaveText(`Away ${t}`);
    await send(page, `in the other room ${t}`);
    await expect(confirmed(page, `in the other room ${t}`)).toHaveCount(1);
    expect(new URL(page.url()).pathname).toMatch(/^\/r\/[a-z0-9-]+$/);
    // A visit under the active worker keeps this room's page.
    await page.reload();
    await expect(page.locator('.connection')).toHaveText('Live');
    await expect.poll(() => page.evaluate(() => !!navigator.serviceWorker.controller)).toBe(true);

    await page.context().setOffline(true);
    await page.reload();
    await expect(page.locator('h1.room')).toHaveText(`Away ${t}`);
    await expect(confirmed(page, `in the other room ${t}`)).toHaveCount(1);
    await expect(page.locator('.connection')).toHaveText(/Offline|Connecting/);
    await page.context().setOffline(false);
    await expect(page.locator('.connection')).toHaveText('Live', { timeout: 20_000 });
  });

  test('on the first visit the offline shell shows the latest name and messages', async ({ page }, testInfo) => {
    const t = tag(testInfo);
    // The worker installs (and caches the page) before a name is chosen.
    await page.goto(server.url);
    await expect(page.locator('.connection')).toHaveText('Live');
    await expect.poll(() => serviceWorkerState(page)).toBe('activated');
    await page.locator('.name-input').fill(`First ${t}`);
    await page.locator('.join').click();
    await expect(page.locator('.me')).toHaveText(`First ${t}`);
    await send(page, `my last words ${t}`);
    await expect(confirmed(page, `my last words ${t}`)).toHaveCount(1);

    await page.context().setOffline(true);
    await page.reload();
    await expect(page.locator('.connection')).toHaveText(/Offline|Connecting/);
    await expect(page.locator('.me')).toHaveText(`First ${t}`);
    await expect(page.locator('.name-prompt')).toHaveCount(0);
    await expect(confirmed(page, `my last words ${t}`)).toHaveCount(1);
    await expect(page.locator('.composer-input')).toBeEnabled();
    await page.context().setOffline(false);
    await expect(page.locator('.connection')).toHaveText('Live', { timeout: 20_000 });
  });

  test('the title counts unread messages while hidden and clears on return', async ({ page, browser }, testInfo) => {
    const t = tag(testInfo);
    const other = await newDevice(browser, testInfo);
    const bob = await other.newPage();
    await join(page, `Hid ${t}`, server.url);
    await join(bob, `Talk ${t}`, server.url);
    await expect(page).toHaveTitle('Chat');

    const setHidden = (hidden: boolean) =>
      page.evaluate((h) => {
        Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') });
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => h });
        document.dispatchEvent(new Event('visibilitychange'));
      }, hidden);
    await setHidden(true);
    await send(bob, `one ${t}`);
    await send(bob, `two ${t}`);
    await expect(page).toHaveTitle('(2) Chat');
    await send(page, `my own ${t}`); // own messages are not unread
    await expect(confirmed(page, `my own ${t}`)).toHaveCount(1);
    await expect(page).toHaveTitle('(2) Chat');
    await setHidden(false);
    await expect(page).toHaveTitle('Chat');
    await other.close();
  });
});

test('a new release replaces the old one as a whole, never a mix', async ({ page }, testInfo) => {
  // Two builds of the site that differ in one file, as a release would.
  const v1 = mkdtempSync(joinPath(tmpdir(), 'chat-site-v1-'));
  const v2 = mkdtempSync(joinPath(tmpdir(), 'chat-site-v2-'));
  cpSync('../target/site', v1, { recursive: true });
  cpSync('../target/site', v2, { recursive: true });
  appendFileSync(joinPath(v2, 'pkg/chat.css'), '\n/* next release */\n');
  // As a release build would: fresh precompressed copies of the changed file.
  execFileSync('../target/release/server', ['--site-root', v2, 'precompress'], { stdio: 'ignore' });
  const server = new OwnServer({ tls: false, siteRoot: v1 });
  await server.start();
  try {
    await join(page, `Up ${tag(testInfo)}`, server.url);
    await expect.poll(() => serviceWorkerState(page)).toBe('activated');
    await page.reload();
    await expect.poll(() => page.evaluate(() => !!navigator.serviceWorker.controller)).toBe(true);
    const oldCaches = await page.evaluate(() => caches.keys());
    expect(oldCaches).toHaveLength(1);
    await page.evaluate(() => ((window as any).__beforeUpgrade = true));

    await server.kill();
    server.useSite(v2);
    await server.start();
    // The browser checks for a new worker; the page reloads itself when it takes over.
    // (The page may reload under these calls: that is the point.)
    await page
      .evaluate(() => navigator.serviceWorker.getRegistration().then((r) => r?.update()))
      .catch(() => undefined);
    await expect
      .poll(() => page.evaluate(() => (window as any).__beforeUpgrade ?? false).catch(() => true), { timeout: 20_000 })
      .toBe(false);
    await expect(page.locator('.connection')).toHaveText('Live');
    // The new worker drops the old release's cache as it activates, which
    // may finish just after the page it took over is live.
    await expect.poll(() => page.evaluate(() => caches.keys())).toHaveLength(1);
    const newCaches = await page.evaluate(() => caches.keys());
    expect(newCaches[0]).not.toBe(oldCaches[0]);
    // The cache holds the new release: the offline page carries its
    // stylesheet (inline), and its files are the new release's.
    const cached = await page.evaluate(async (name) => {
      const cache = await caches.open(name);
      const keys = (await cache.keys()).map((r) => r.url);
      const shell = keys.find((u) => new URL(u).pathname === '/');
      return { keys, page: shell && (await (await cache.match(shell))?.text()) };
    }, newCaches[0]);
    expect(cached.page).toContain('next release');
    const release = (u: string) => u.match(/\/pkg\/([0-9a-f]{16})\//)?.[1];
    const releases = new Set(cached.keys.map(release).filter(Boolean));
    expect(releases.size).toBe(1);
    expect(cached.page).toContain(`/pkg/${[...releases][0]}/chat.wasm`);
  } finally {
    await server.kill();
  }
});

test.describe('identity transfer', () => {
  test('another browser opens the link and becomes the same person, once', async ({ page, browser }, testInfo) => {
    const t = tag(testInfo);
    await page.goto('/');
    await expect(page.locator('.connection')).toHaveText('Live');
    await page.locator('.name-input').fill(`Mover ${t}`);
    await page.locator('.join').click();
    await send(page, `from the laptop ${t}`);
    await page.locator('.link-device').click();
    const link = page.locator('.transfer-link');
    await expect(link).toBeVisible();
    await expect(page.locator('.qr svg')).toBeVisible();
    const url = await link.getAttribute('href');
    expect(url).toMatch(/\/claim\/[0-9a-f]{64}$/);

    const phone = await newDevice(browser, testInfo);
    const b = await phone.newPage();
    // The link only asks; the person confirms with a button.
    await b.goto(url!);
    await expect(b.locator('main')).toContainText(`Mover ${t}`);
    await b.locator('button', { hasText: `Continue as Mover ${t}` }).click();
    await expect(b.locator('.connection')).toHaveText('Live');
    await expect(b.locator('.me')).toHaveText(`Mover ${t}`);
    await expect(b.locator('.name-prompt')).toHaveCount(0);
    await expect(confirmed(b, `from the laptop ${t}`)).toHaveCount(1);

    const third = await newDevice(browser, testInfo);
    const c = await third.newPage();
    const res = await c.goto(url!);
    expect(res?.status()).toBe(410);
    await expect(c.locator('h1')).toHaveText('This link no longer works');
    await phone.close();
    await third.close();
  });

  test('an expired link does not work', async ({ page, browser }, testInfo) => {
    const server = new OwnServer({ args: ['--transfer-ttl-secs', '0'] });
    await server.start();
    try {
      await join(page, `Late ${tag(testInfo)}`, server.url);
      await page.locator('.link-device').click();
      const url = await page.locator('.transfer-link').getAttribute('href');
      const other = await newDevice(browser, testInfo);
      const res = await (await other.newPage()).goto(url!);
      expect(res?.status()).toBe(410);
      await other.close();
    } finally {
      await server.kill();
    }
  });
});

test('on a phone every control is reachable and nothing zooms or overflows', async ({ page }, testInfo) => {
  const t = tag(testInfo);
  await page.goto('/');
  await expect(page.locator('.connection')).toHaveText('Live');
  await page.locator('.name-input').fill(`Tap ${t}`);
  await page.locator('.join').click();
  await send(page, `${'x'.repeat(300)} ${t}`);
  const viewport = page.viewportSize()!;
  // One snapshot of every rendered control, measured in the page.
  const controls = await page.evaluate(() =>
    [...document.querySelectorAll('button, input, textarea')]
      .filter((e) => (e as HTMLElement).offsetParent !== null)
      .map((e) => {
        const r = e.getBoundingClientRect();
        return { what: e.outerHTML.slice(0, 60), tag: e.tagName, height: r.height, left: r.left, right: r.right, font: parseFloat(getComputedStyle(e).fontSize) };
      }),
  );
  expect(controls.length).toBeGreaterThanOrEqual(4);
  for (const c of controls) {
    expect(c.height, c.what).toBeGreaterThanOrEqual(44);
    expect(c.left, c.what).toBeGreaterThanOrEqual(0);
    expect(c.right, c.what).toBeLessThanOrEqual(viewport.width + 1);
    if (c.tag === 'INPUT' || c.tag === 'TEXTAREA') expect(c.font, c.what).toBeGreaterThanOrEqual(16);
  }
  const bar = (await page.locator('.composer').boundingBox())!;
  expect(bar.y + bar.height).toBeLessThanOrEqual(viewport.height + 1);
  expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
});

test('scrolled up, new messages show a pill instead of yanking the view', async ({ page, browser }, testInfo) => {
  const t = tag(testInfo);
  const other = await newDevice(browser, testInfo);
  const bob = await other.newPage();
  await page.goto('/');
  await expect(page.locator('.connection')).toHaveText('Live');
  await page.locator('.name-input').fill(`Reader ${t}`);
  await page.locator('.join').click();
  await bob.goto('/');
  await expect(bob.locator('.connection')).toHaveText('Live');
  await bob.locator('.name-input').fill(`Writer ${t}`);
  await bob.locator('.join').click();
  for (let i = 0; i < 30; i++) await send(bob, `filler ${i} ${t}`);
  await expect(confirmed(page, `filler 29 ${t}`)).toBeInViewport();

  await scrollToOldest(page);
  await send(bob, `while away ${t}`);
  await expect(confirmed(page, `while away ${t}`)).toHaveCount(1);
  await expect(page.locator('.new-pill')).toBeVisible();
  await expect(confirmed(page, `while away ${t}`)).not.toBeInViewport();
  await page.locator('.new-pill').click();
  await expect(confirmed(page, `while away ${t}`)).toBeInViewport();
  await expect(page.locator('.new-pill')).toHaveCount(0);
  await other.close();
});
