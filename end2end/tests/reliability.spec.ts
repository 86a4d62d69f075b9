import { test, expect } from '@playwright/test';
import { assertUsable, confirmed, join, newDevice, send, tag, watchErrors } from './helpers';
import { OwnServer } from './server';


test('messages sent offline are shown pending, then delivered once, in order', async ({ page, browser }, testInfo) => {
  const t = tag(testInfo);
  const other = await newDevice(browser, testInfo);
  const bob = await other.newPage();
  await join(page, `Off ${t}`, '/');
  await join(bob, `On ${t}`, '/');

  await page.context().setOffline(true);
  await expect(page.locator('.connection')).not.toHaveText('Live');
  for (const n of [1, 2, 3]) await send(page, `offline ${n} ${t}`);
  await expect(page.locator('li.outgoing .pending')).toHaveCount(3);

  await page.context().setOffline(false);
  await expect(page.locator('.connection')).toHaveText('Live', { timeout: 20_000 });
  await expect(page.locator('li.outgoing')).toHaveCount(0);
  for (const p of [page, bob]) {
    for (const n of [1, 2, 3]) await expect(confirmed(p, `offline ${n} ${t}`)).toHaveCount(1);
    const order = await p.locator('li.message .text').allTextContents();
    const mine = order.filter((s) => s.endsWith(t) && s.startsWith('offline'));
    expect(mine).toEqual([1, 2, 3].map((n) => `offline ${n} ${t}`));
  }
  await other.close();
});

test('a server restart is survived: reconnecting shown, outage message arrives once', async ({ page, browser }, testInfo) => {
  const t = tag(testInfo);
  const server = new OwnServer();
  await server.start();
  try {
    const other = await newDevice(browser, testInfo);
    const bob = await other.newPage();
    await join(page, `Ray ${t}`, server.url);
    await join(bob, `Sue ${t}`, server.url);

    await server.kill();
    await expect(page.locator('.connection')).not.toHaveText('Live');
    await expect(page.locator('.connection')).toHaveText(/Offline|Connecting/);
    await send(page, `during outage ${t}`);
    await expect(page.locator('li.outgoing .pending')).toHaveCount(1);

    const restartedAt = Date.now();
    await server.start();
    await expect(page.locator('.connection')).toHaveText('Live', { timeout: 20_000 });
    console.log(`reconnected ${Date.now() - restartedAt} ms after the restart`);
    for (const p of [page, bob]) {
      await expect(confirmed(p, `during outage ${t}`)).toHaveCount(1, { timeout: 20_000 });
    }
    await expect(page.locator('li.outgoing')).toHaveCount(0);
    await other.close();
  } finally {
    await server.kill();
  }
});

test('a reload with an unsent message sends it once and the page stays usable', async ({ page, browser }, testInfo) => {
  const t = tag(testInfo);
  const errors = watchErrors(page);
  const server = new OwnServer();
  await server.start();
  try {
    await join(page, `Kim ${t}`, server.url);
    await server.kill();
    await expect(page.locator('.connection')).not.toHaveText('Live');
    await send(page, `kept across reload ${t}`);
    await expect(page.locator('li.outgoing .pending')).toHaveCount(1);

    await server.start();
    await page.reload();
    await expect(page.locator('.connection')).toHaveText('Live');
    await expect(confirmed(page, `kept across reload ${t}`)).toHaveCount(1);
    await expect(page.locator('li.outgoing')).toHaveCount(0);
    // The restored outbox must not break hydration: the box still works.
    await assertUsable(page, `after the reload ${t}`);
    expect(errors).toEqual([]);

    const viewer = await (await newDevice(browser, testInfo)).newPage();
    await viewer.goto(server.url);
    await expect(confirmed(viewer, `kept across reload ${t}`)).toHaveCount(1);
    await viewer.context().close();
  } finally {
    await server.kill();
  }
});

test('messages held back by the rate limit are stored in the order they were written', async ({ page, browser }, testInfo) => {
  const t = tag(testInfo);
  // Default limits: 10 at once, then one a second.
  const server = new OwnServer();
  await server.start();
  try {
    const other = await newDevice(browser, testInfo);
    const bob = await other.newPage();
    await join(page, `Fast ${t}`, server.url);
    await join(bob, `Watch ${t}`, server.url);
    const texts = Array.from({ length: 15 }, (_, i) => `burst ${i + 1} ${t}`);
    for (const text of texts) await send(page, text);
    await expect(page.locator('.notice')).toContainText('Slow down');
    for (const p of [page, bob]) {
      await expect(confirmed(p, texts[14])).toHaveCount(1, { timeout: 20_000 });
    }
    await expect(page.locator('li.outgoing')).toHaveCount(0);
    const mine = async (p: typeof page) =>
      (await p.locator('li.message:not(.outgoing) .text').allTextContents()).filter((s) => s.startsWith('burst') && s.endsWith(t));
    expect(await mine(page)).toEqual(texts);
    expect(await mine(bob)).toEqual(texts);
    await bob.reload();
    await expect(confirmed(bob, texts[14])).toHaveCount(1);
    expect(await mine(bob)).toEqual(texts);
    await other.close();
  } finally {
    await server.kill();
  }
});

test('frames from a newer server are read or skipped, and the socket stays open', async ({ page }, testInfo) => {
  const t = tag(testInfo);
  // Between the page and the server: pass everything through, and add
  // what a newer release of the server might send.
  let toPage: ((frame: string) => void) | undefined;
  await page.routeWebSocket(/\/ws/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((m) => server.send(m));
    server.onMessage((m) => ws.send(m));
    toPage = (frame) => ws.send(frame);
  });
  await join(page, `Newer ${t}`);
  expect(toPage).toBeDefined();
  toPage!(JSON.stringify({ type: 'shout', text: 'a kind of event this page does not know' }));
  toPage!(JSON.stringify({ type: 'pong', nonce: 1, sent_at: 12 }));
  toPage!(JSON.stringify({ type: 'error', code: 'quota_exceeded', message: `A newer server says no ${t}` }));
  await expect(page.locator('.notice')).toHaveText(`A newer server says no ${t}`);
  await expect(page.locator('.connection')).toHaveText('Live');
  // And the chat goes on over the same socket.
  await send(page, `still here ${t}`);
  await expect(confirmed(page, `still here ${t}`)).toHaveCount(1);
  await expect(page.locator('.connection')).toHaveText('Live');
});
