import { test, expect } from '@playwright/test';
import { confirmed, join, newDevice, open, scrollToOldest, send, tag } from './helpers';
import { OwnServer } from './server';

test('two devices pick names and chat live', async ({ page, browser }, testInfo) => {
  const t = tag(testInfo);
  const other = await newDevice(browser, testInfo);
  const bob = await other.newPage();
  await join(page, `Ann ${t}`);
  await join(bob, `Bob ${t}`);

  await send(page, `hello from ann ${t}`);
  const atBob = confirmed(bob, `hello from ann ${t}`);
  await expect(atBob).toHaveCount(1);
  await expect(atBob.locator('.author')).toHaveText(`Ann ${t}`);
  const annColour = await page.locator('.me').evaluate((el) => getComputedStyle(el).backgroundColor);
  await expect(atBob.locator('.author')).toHaveCSS('background-color', annColour);
  const [r, g, b] = annColour.match(/\d+/g)!.map(Number);
  expect(r).toBeGreaterThanOrEqual(200);
  expect(g).toBeGreaterThanOrEqual(100);
  expect(b).toBeGreaterThanOrEqual(100);

  await send(bob, `reply from bob ${t}`);
  await expect(confirmed(page, `reply from bob ${t}`)).toHaveCount(1);
  // The sender sees its own message once: acked, not pending, not doubled.
  await expect(confirmed(page, `hello from ann ${t}`)).toHaveCount(1);
  await expect(page.locator('li.outgoing')).toHaveCount(0);
  await other.close();
});

test('a reload keeps the name and shows the history once', async ({ page }, testInfo) => {
  const t = tag(testInfo);
  await join(page, `Cat ${t}`);
  await send(page, `remember me ${t}`);
  await expect(confirmed(page, `remember me ${t}`)).toHaveCount(1);
  const cookies = await page.context().cookies();
  const device = cookies.find((c) => c.name === 'device_id');
  expect(device?.httpOnly).toBe(true);
  expect(device?.secure).toBe(true);
  expect(device?.sameSite).toBe('Lax');

  await page.reload();
  await expect(page.locator('.connection')).toHaveText('Live');
  await expect(page.locator('.name-prompt')).toBeHidden();
  await expect(page.locator('.me')).toHaveText(`Cat ${t}`);
  await expect(confirmed(page, `remember me ${t}`)).toHaveCount(1);
  // Wait for a round trip so a late duplicate would have arrived.
  await send(page, `after reload ${t}`);
  await expect(confirmed(page, `after reload ${t}`)).toHaveCount(1);
  await expect(confirmed(page, `remember me ${t}`)).toHaveCount(1);
});

test('a rejected name gets an inline error', async ({ page }, testInfo) => {
  await open(page);
  await page.locator('.name-input').fill(`${'x'.repeat(32)}`);
  await page.locator('.name-input').evaluate((el: HTMLInputElement) => {
    el.removeAttribute('maxlength');
    el.value = 'y'.repeat(40);
  });
  await page.locator('.join').click();
  await expect(page.locator('.name-error')).toContainText('at most 32');
  await expect(page.locator('.composer-input')).toBeDisabled();
  void testInfo;
});

test('markup in a message is shown as text and runs nothing', async ({ page, browser }, testInfo) => {
  const t = tag(testInfo);
  let dialogs = 0;
  page.on('dialog', (d) => {
    dialogs += 1;
    void d.dismiss();
  });
  const other = await newDevice(browser, testInfo);
  const viewer = await other.newPage();
  viewer.on('dialog', (d) => {
    dialogs += 1;
    void d.dismiss();
  });
  await join(page, `Eve ${t}`);
  await open(viewer);
  const payload = `<img src=x onerror=alert(1)> ${t}`;
  await send(page, payload);
  for (const p of [page, viewer]) {
    await expect(confirmed(p, payload)).toHaveCount(1);
    await expect(confirmed(p, payload).locator('.text')).toHaveText(payload);
    await expect(p.locator('.messages img')).toHaveCount(0);
  }
  // Server-rendered too: reload and check the HTML the server produced.
  await viewer.reload();
  await expect(confirmed(viewer, payload).locator('.text')).toHaveText(payload);
  await expect(viewer.locator('.messages img')).toHaveCount(0);
  expect(dialogs).toBe(0);
  await other.close();
});

test('the page shows server-rendered messages without JavaScript', async ({ page, browser }, testInfo) => {
  const t = tag(testInfo);
  await join(page, `Dan ${t}`);
  await send(page, `readable without js ${t}`);
  await expect(confirmed(page, `readable without js ${t}`)).toHaveCount(1);

  const noJs = await newDevice(browser, testInfo, { javaScriptEnabled: false });
  const reader = await noJs.newPage();
  await reader.goto('/');
  await expect(confirmed(reader, `readable without js ${t}`)).toHaveCount(1);
  await expect(confirmed(reader, `readable without js ${t}`).locator('.author')).toHaveText(`Dan ${t}`);
  // A new device is asked for its name even before any script runs.
  await expect(reader.locator('.name-prompt')).toBeVisible();
  await noJs.close();
});

test('the layout fits the screen', async ({ page }, testInfo) => {
  const t = tag(testInfo);
  await join(page, `Fay ${t}`);
  await send(page, `${'averyveryverylongwordwithoutanyspaces'.repeat(8)} ${t}`);
  const viewport = page.viewportSize()!;
  const box = await page.locator('.composer').boundingBox();
  expect(box).not.toBeNull();
  expect(box!.y + box!.height).toBeLessThanOrEqual(viewport.height + 1);
  expect(box!.y).toBeGreaterThan(0);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  const inputFont = await page.locator('.composer-input').evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
  expect(inputFont).toBeGreaterThanOrEqual(16);
  for (const selector of ['.send', '.me']) {
    const b = await page.locator(selector).boundingBox();
    expect(b!.height).toBeGreaterThanOrEqual(44);
  }
});

test('scrolling to the top loads older messages', async ({ page }, testInfo) => {
  const t = tag(testInfo);
  const server = new OwnServer({ tls: false, args: ['--message-burst', '100'] });
  await server.start();
  try {
    await join(page, `Old ${t}`, server.url);
    for (let i = 0; i < 60; i++) await send(page, `history ${i} ${t}`);
    await expect(confirmed(page, `history 59 ${t}`)).toHaveCount(1);
    await page.reload();
    await expect(page.locator('.connection')).toHaveText('Live');
    // The page arrives with the latest 50.
    await expect(page.locator('li.message')).toHaveCount(50);
    await expect(confirmed(page, `history 10 ${t}`)).toHaveCount(1);
    await expect(confirmed(page, `history 9 ${t}`)).toHaveCount(0);
    await scrollToOldest(page);
    await expect(page.locator('li.message')).toHaveCount(60);
    await expect(confirmed(page, `history 0 ${t}`)).toHaveCount(1);
    await expect(page.locator('.load-older')).toHaveCount(0);
    const order = await page.locator('li.message .text').allTextContents();
    expect(order).toEqual(Array.from({ length: 60 }, (_, i) => `history ${i} ${t}`));
  } finally {
    await server.kill();
  }
});
