import { test, expect, Page } from '@playwright/test';
import { confirmed, join, newDevice, send, tag, watchErrors } from './helpers';

// Before the WASM arrives (seconds, on a phone on a slow network) the
// server's message box already takes and sends text (app/src/early.js);
// the app takes over what was typed and what is still unsent. The WASM is
// held back by a route until the test lets it through; the service worker
// is blocked so that the route sees every request.

/** Reloads with the WASM held back; returns what lets it through. */
async function reloadWithoutWasm(page: Page): Promise<() => void> {
  let release: () => void = () => {};
  const held = new Promise<void>((r) => (release = r));
  await page.route(/\/chat\.wasm$/, async (route) => {
    await held;
    await route.continue();
  });
  await page.reload({ waitUntil: 'domcontentloaded' });
  await expect(page.locator('.composer-input')).toBeEnabled();
  expect(await page.evaluate(() => (window as any).__chatHydrated)).toBeUndefined();
  return release;
}

test('before the app arrives the page shows new messages and the box sends; typed text and the sent message are each there once after', async ({ browser }, testInfo) => {
  const t = tag(testInfo);
  const mine = await newDevice(browser, testInfo, { serviceWorkers: 'block' });
  const page = await mine.newPage();
  const errors = watchErrors(page);
  const theirs = await newDevice(browser, testInfo);
  const bob = await theirs.newPage();
  await join(page, `Early ${t}`);
  await join(bob, `Watcher ${t}`);

  const release = await reloadWithoutWasm(page);
  // What the others write shows, still without the app (its socket is
  // opened when the app is slow to come).
  const reply = `reply <b>bold</b> ${t}`;
  await send(bob, reply);
  await expect(page.locator('.early-log li.early-theirs .text')).toHaveText([reply]);
  await expect(page.locator('.early-log b')).toHaveCount(0);
  // Hostile on purpose: shown as text by the early script too.
  const first = `<img src=x onerror="window.__pwned=1"> first ${t}`;
  await page.locator('.composer-input').fill(first);
  await page.locator('.composer-input').press('Enter');
  await expect(page.locator('.composer-input')).toHaveValue('');
  const early = page.locator('.early-log li.outgoing');
  await expect(early).toHaveCount(1);
  await expect(early.locator('.text')).toHaveText(first);
  await expect(early.locator('.pending')).toHaveText('sent');
  await expect(page.locator('.early-log img')).toHaveCount(0);
  // The server has it: the other device shows it, while this page has no app yet.
  await expect(confirmed(bob, first)).toHaveCount(1);
  expect(await page.evaluate(() => (window as any).__chatHydrated)).toBeUndefined();

  // Typed, not sent, when the app arrives: it stays in the box and sends.
  const second = `second ${t}`;
  await page.locator('.composer-input').fill(second);
  release();
  await expect(page.locator('.connection')).toHaveText('Live');
  await expect(page.locator('.early-log')).toHaveCount(0);
  await expect(page.locator('.composer-input')).toHaveValue(second);
  await page.locator('.composer-input').press('Enter');
  await expect(page.locator('.composer-input')).toHaveValue('');

  for (const p of [page, bob]) {
    await expect(confirmed(p, first)).toHaveCount(1);
    await expect(confirmed(p, second)).toHaveCount(1);
    await expect(confirmed(p, reply)).toHaveCount(1);
  }
  await expect(page.locator('li.outgoing')).toHaveCount(0);
  // Stored once each: a fresh page from the server agrees.
  await page.unrouteAll();
  await page.reload();
  await expect(page.locator('.connection')).toHaveText('Live');
  await expect(confirmed(page, first)).toHaveCount(1);
  await expect(confirmed(page, second)).toHaveCount(1);
  expect(await page.evaluate(() => (window as any).__pwned)).toBeUndefined();
  expect(errors).toEqual([]);
  await mine.close();
  await theirs.close();
});

test('sent before the app arrives with no socket to take it: the app sends it, once', async ({ browser }, testInfo) => {
  const t = tag(testInfo);
  const mine = await newDevice(browser, testInfo, { serviceWorkers: 'block' });
  const page = await mine.newPage();
  const theirs = await newDevice(browser, testInfo);
  const bob = await theirs.newPage();
  await join(page, `Stuck ${t}`);
  await join(bob, `Reader ${t}`);

  // Sockets opened before the app is here are closed unanswered.
  let appHere = false;
  await page.routeWebSocket(/\/ws/, (ws) => {
    if (appHere) ws.connectToServer();
    else ws.close();
  });
  const release = await reloadWithoutWasm(page);
  const text = `queued ${t}`;
  await page.locator('.composer-input').fill(text);
  await page.locator('.send').click();
  await expect(page.locator('.early-log .text')).toHaveText(text);
  await expect(page.locator('.early-log .pending')).toHaveText('sending…');
  // Kept in the app's outbox in browser storage, for the app to take.
  const kept = await page.evaluate(() => JSON.parse(localStorage.getItem('chat.outbox') ?? '[]'));
  expect(kept.map((i: { text: string }) => i.text)).toEqual([text]);

  appHere = true;
  release();
  await expect(page.locator('.connection')).toHaveText('Live');
  for (const p of [page, bob]) await expect(confirmed(p, text)).toHaveCount(1);
  await expect(page.locator('li.outgoing')).toHaveCount(0);
  await bob.reload();
  await expect(confirmed(bob, text)).toHaveCount(1);
  await mine.close();
  await theirs.close();
});
