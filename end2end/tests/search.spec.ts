// Finding an old message by its words and landing on it in context.
import { test, expect } from '@playwright/test';
import { confirmed, join, send, tag } from './helpers';
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
  } finally {
    await server.kill();
  }
});
