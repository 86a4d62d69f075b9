// A browser whose language is not a language tag (WebKitGTK under
// LANG=C reports "C"): the local times must not stop the page from going
// live (Intl throws on such a tag, and once killed hydration).
import { test, expect } from '@playwright/test';
import { confirmed, join, send, tag, watchErrors } from './helpers';

test('a browser reporting its language as "C" still goes live and shows times', async ({ page }, testInfo) => {
  const t = tag(testInfo);
  await page.addInitScript(() => {
    Object.defineProperty(navigator, 'language', { get: () => 'C' });
    Object.defineProperty(navigator, 'languages', { get: () => ['C'] });
  });
  const errors = watchErrors(page);
  await join(page, `Posix ${t}`);
  expect(await page.evaluate(() => navigator.language)).toBe('C');
  await send(page, `plain locale ${t}`);
  const row = confirmed(page, `plain locale ${t}`);
  await expect(row.locator('time')).toHaveText(/\d{1,2}:\d{2}/);
  expect(errors).toEqual([]);
});
