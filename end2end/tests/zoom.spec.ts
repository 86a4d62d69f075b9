// Text at 200% (the browser's text size, not page zoom): the header, the
// room bar and the message box stay usable on a phone and a laptop.
import { test, expect } from '@playwright/test';
import { join, send, tag, confirmed } from './helpers';

test('text at 200%: header on one line, nothing off-screen sideways, still usable', async ({ page }, testInfo) => {
  const t = tag(testInfo);
  await page.addInitScript(() => {
    // What "Larger text" in the OS or browser settings does: the root
    // font size doubles, and everything sized in rem with it.
    document.addEventListener('DOMContentLoaded', () => {
      document.documentElement.style.fontSize = '200%';
    });
  });
  await join(page, `Big-${t}`);
  await send(page, `${t} large text still sends`);
  await expect(confirmed(page, `${t} large text still sends`)).toHaveCount(1);
  const width = page.viewportSize()!.width;
  // No sideways scrolling of the page.
  const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  expect(scrollWidth).toBeLessThanOrEqual(width);
  // The connection status, the composer and Send are inside the screen.
  for (const selector of ['.connection', '.composer-input', '.send', '.search-button', '.notify-button']) {
    const box = await page.locator(selector).first().boundingBox();
    expect(box, selector).not.toBeNull();
    expect(box!.x, selector).toBeGreaterThanOrEqual(0);
    expect(box!.x + box!.width, selector).toBeLessThanOrEqual(width + 1);
  }
  // The status does not wrap onto a second line.
  const status = page.locator('.connection');
  const lineHeight = await status.evaluate((el) => parseFloat(getComputedStyle(el).lineHeight) || 0);
  const box = await status.boundingBox();
  if (lineHeight > 0) expect(box!.height).toBeLessThan(lineHeight * 1.8);
});
