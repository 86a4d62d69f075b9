// An accessibility scan (axe-core) of the chat with history, a message's
// menu open and a dialog open, on the desktop and iPhone viewports: every
// violation axe reports, at any impact, fails the test with what and where.
import { test, expect, Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { join, send, tag } from './helpers';

async function violations(page: Page) {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).slice(0, 5).join(' | ')}`);
}

test('the chat with history, a menu and a dialog has no accessibility violations', async ({ page }, testInfo) => {
  const t = tag(testInfo);
  await join(page, `Axe ${t}`);
  for (let i = 0; i < 3; i++) await send(page, `message ${i} **bold** https://example.com/${i} ${t}`);
  const last = page.locator('li.message:not(.outgoing)').last();
  await expect(last).toContainText(`message 2`);
  expect(await violations(page)).toEqual([]);

  await last.hover();
  await last.locator('.row-menu').click();
  await expect(last.locator('.row-actions')).toBeVisible();
  expect(await violations(page)).toEqual([]);
  await page.keyboard.press('Escape');

  await page.locator('.link-device').click();
  await expect(page.locator('[aria-labelledby="transfer-title"] .transfer-link')).toBeVisible();
  expect(await violations(page)).toEqual([]);
});
