// Finding an old message by its words and landing on it in context.
import { test, expect } from '@playwright/test';
import { confirmed, join, newDevice, send, tag } from './helpers';
import { OwnServer } from './server';

test('search finds a message, highlights the words, and a tap lands on it', async ({ page }, testInfo) => {
  const t = tag(testInfo);
  const server = new OwnServer({ args: ['--message-burst', '1000'] });
  await server.start();
  try {
    await join(page, `Seeker ${t}`, server.url);
    await send(page, `the <b>crème brûlée</b> recipe ${t}`);
    for (let i = 0; i < 70; i++) await send(page, `filler ${i} ${t}`);
    await expect(confirmed(page, `filler 69 ${t}`)).toHaveCount(1);
    await page.reload();
    await expect(page.locator('.connection')).toHaveText('Live');
    // The recipe is far above the latest page.
    await expect(confirmed(page, `the <b>crème brûlée</b> recipe ${t}`)).toHaveCount(0);

    await page.locator('.search-button').click();
    await page.locator('.search-input').fill('creme brulee');
    const hit = page.locator('.search-hit').first();
    await expect(hit).toBeVisible();
    await expect(hit.locator('mark')).toHaveText(['crème', 'brûlée']);
    await expect(hit.locator('.hit-text')).toHaveText(`the <b>crème brûlée</b> recipe ${t}`);
    expect(await hit.locator('.hit-text b').count()).toBe(0);
    await hit.click();

    const row = confirmed(page, `the <b>crème brûlée</b> recipe ${t}`);
    await expect(row).toBeInViewport();
    await expect(row).toHaveClass(/focused/);
    await expect(page.locator('.new-pill')).toHaveText('Back to latest ↓');
    await page.locator('.new-pill').click();
    await expect(confirmed(page, `filler 69 ${t}`)).toBeInViewport();
    await expect(page.locator('.new-pill')).toHaveCount(0);

    // Results read as words: no Markdown marks.
    await send(page, `**crunchy** ~~burnt~~ caramel \`top\` ${t}`);
    await page.locator('.search-button').click();
    await page.locator('.search-input').fill('caramel');
    const plain = page.locator('.search-hit', { hasText: t }).first();
    await expect(plain.locator('.hit-text')).toHaveText(`crunchy burnt caramel top ${t}`);
    await expect(plain.locator('mark')).toHaveText(['caramel']);
  } finally {
    await server.kill();
  }
});

test('a result deep in a room this tab never opened lands on it, not on the room\'s latest page', async ({ page, browser }, testInfo) => {
  const t = tag(testInfo);
  const server = new OwnServer({ args: ['--message-burst', '1000'] });
  await server.start();
  try {
    // Someone fills a room with 90 messages.
    const writerContext = await newDevice(browser, testInfo);
    const writer = await writerContext.newPage();
    await join(writer, `Writer ${t}`, server.url);
    if (await writer.locator('.rooms-button').isVisible()) await writer.locator('.rooms-button').click();
    await writer.locator('.new-room').click();
    await writer.locator('.new-room-name').fill(`Deep ${t}`);
    await writer.locator('.new-room-form .join').click();
    await expect(writer.locator('h1.room')).toHaveText(`Deep ${t}`);
    for (let i = 1; i <= 90; i++) await send(writer, `deep${String(i).padStart(2, '0')} ${t}`);
    await expect(confirmed(writer, `deep90 ${t}`)).toHaveCount(1);

    // This tab stays in General and jumps to #6 from search.
    await join(page, `Seeker ${t}`, server.url);
    await page.locator('.search-button').click();
    await page.locator('.search-input').fill(`deep06`);
    const hit = page.locator('.search-hit', { hasText: `deep06 ${t}` });
    await expect(hit).toBeVisible();
    await hit.click();
    const row = confirmed(page, `deep06 ${t}`);
    await expect(row).toBeInViewport();
    await expect(row).toHaveClass(/focused/);
    await expect(confirmed(page, `deep05 ${t}`)).toHaveCount(1);
    await expect(confirmed(page, `deep07 ${t}`)).toHaveCount(1);
    // The room's own first page (its latest messages) arrived after the
    // jump (who is here comes right after it) and did not replace it.
    await expect(page).toHaveURL(/\/r\/deep-/);
    await expect(page.locator('.presence-count')).toHaveText('2 people here');
    await expect(row).toBeInViewport();
    await expect(confirmed(page, `deep90 ${t}`)).toHaveCount(0);
    await expect(page.locator('.new-pill')).toHaveText('Back to latest ↓');
    await page.locator('.new-pill').click();
    await expect(confirmed(page, `deep90 ${t}`)).toBeInViewport();
    await writerContext.close();
  } finally {
    await server.kill();
  }
});
