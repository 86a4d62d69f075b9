// An accessibility scan (axe-core) of the chat with history, a message's
// menu open, the mention list open under the message box, the search
// dialog with results and the device-link dialog, on the desktop and
// iPhone viewports: every violation axe reports, at any impact, fails the
// test with what and where.
import { test, expect, Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { join, newDevice, send, tag } from './helpers';

async function violations(page: Page) {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).slice(0, 5).join(' | ')}`);
}

test('the chat with history, menus and dialogs has no accessibility violations', async ({ page, browser }, testInfo) => {
  const t = tag(testInfo);
  // Someone to mention, by a one-word name.
  const other = await newDevice(browser, testInfo);
  const mentionable = `Quill${t.slice(-6)}`;
  await join(await other.newPage(), mentionable);
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

  // The message box with its mention list open, an option active.
  const input = page.locator('.composer-input');
  await input.click();
  await input.pressSequentially(`@${mentionable.slice(0, 6)}`);
  await expect(page.locator('.mention-option')).toHaveText([mentionable]);
  await expect(input).toHaveAttribute('aria-controls', 'mention-list');
  expect(await violations(page)).toEqual([]);
  await input.fill('');

  await page.locator('.search-button').click();
  await page.locator('.search-input').fill(`message ${t.split('-').pop()}`);
  await expect(page.locator('.search-hit').first()).toBeVisible();
  expect(await violations(page)).toEqual([]);
  await page.keyboard.press('Escape');
  await expect(page.locator('.search-input')).toBeHidden();

  await page.locator('.link-device').click();
  await expect(page.locator('[aria-labelledby="transfer-title"] .transfer-link')).toBeVisible();
  expect(await violations(page)).toEqual([]);
  await other.close();
});
