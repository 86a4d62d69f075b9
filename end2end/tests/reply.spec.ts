// Replies and permalinks, as two people use them on laptops and phones.
import { test, expect, Page } from '@playwright/test';
import { confirmed, join, newDevice, open, send, tag } from './helpers';

/** Opens a confirmed message's menu and picks one of its actions. */
async function act(page: Page, text: string, action: string) {
  const row = confirmed(page, text);
  await row.scrollIntoViewIfNeeded();
  await row.hover();
  await row.locator('.row-menu').click();
  await row.locator(`.row-actions .${action}`).click();
}

/** The confirmed row whose own text (not a quote of it) holds `text`. */
function byText(page: Page, text: string) {
  return page.locator('li.message:not(.outgoing)').filter({ has: page.locator('.text', { hasText: text }) });
}

test('a reply quotes its parent, follows its edit live and after a reload, and notifies its author', async ({ page, browser }, testInfo) => {
  const t = tag(testInfo);
  const other = await newDevice(browser, testInfo);
  const bob = await other.newPage();
  await join(page, `Ann ${t}`);
  await join(bob, `Bob ${t}`);
  await send(page, `**lunch** at noon? ${t}\nor later`);
  const parent = byText(bob, `at noon? ${t}`);
  await expect(parent).toHaveCount(1);
  await parent.hover();
  await parent.locator('.row-menu').click();
  await parent.locator('.row-actions .reply').click();
  const note = bob.locator('.reply-note');
  await expect(note).toContainText(`Replying to Ann ${t}`);
  await expect(note).toContainText(`lunch at noon? ${t}`);
  await expect(bob.locator('.composer-input')).toBeFocused();
  // Escape lets it go; Reply again brings it back.
  await bob.locator('.composer-input').press('Escape');
  await expect(note).toBeHidden();
  await parent.hover();
  await parent.locator('.row-menu').click();
  await parent.locator('.row-actions .reply').click();
  await send(bob, `yes ${t}`);
  await expect(note).toBeHidden();

  for (const p of [bob, page]) {
    const reply = confirmed(p, `yes ${t}`);
    await expect(reply.locator('.quote .quote-author')).toHaveText(`Ann ${t}`);
    await expect(reply.locator('.quote .quote-line')).toHaveText(`lunch at noon? ${t}`);
  }
  // Ann is told as if mentioned.
  await expect(confirmed(page, `yes ${t}`)).toHaveClass(/mentioned/);

  // Ann edits her message: the quote follows, live and from the server.
  const mine = byText(page, `at noon? ${t}`);
  await mine.hover();
  await mine.locator('.row-menu').click();
  await mine.locator('.row-actions .edit').click();
  await page.locator('.composer-input').fill(`lunch at one ${t}`);
  await page.locator('.composer-input').press('Enter');
  await expect(confirmed(bob, `yes ${t}`).locator('.quote .quote-line')).toHaveText(`lunch at one ${t}`);
  await bob.reload();
  await expect(bob.locator('.connection')).toHaveText('Live');
  await expect(confirmed(bob, `yes ${t}`).locator('.quote .quote-line')).toHaveText(`lunch at one ${t}`);
  // Deleted, the quote says so.
  await act(page, `lunch at one ${t}`, 'delete');
  await confirmed(page, `lunch at one ${t}`).locator('.row-actions .delete').click();
  await expect(confirmed(bob, `yes ${t}`).locator('.quote .quote-line')).toHaveText('message deleted');
  await other.close();
});

test('a quote whose parent is deep in history jumps to it; a permalink opens at the message, cold and without JavaScript', async ({ page, browser }, testInfo) => {
  const t = tag(testInfo);
  await join(page, `Deep ${t}`);
  await send(page, `the parent ${t}`);
  for (let i = 0; i < 55; i++) await send(page, `filler ${i} ${t}`);
  await expect(confirmed(page, `filler 54 ${t}`)).toHaveCount(1);
  // This tab has held them all since they were sent.
  await act(page, `the parent ${t}`, 'reply');
  await send(page, `the reply ${t}`);
  await expect(confirmed(page, `the reply ${t}`).locator('.quote-line')).toHaveText(`the parent ${t}`);

  // Bob's page starts at the latest 50: the parent is not among them.
  const other = await newDevice(browser, testInfo);
  await other.grantPermissions(['clipboard-read', 'clipboard-write']);
  const bob = await other.newPage();
  await join(bob, `Bob ${t}`);
  await expect(confirmed(bob, `the reply ${t}`)).toHaveCount(1);
  await expect(confirmed(bob, `the parent ${t}`)).toHaveCount(0);
  await confirmed(bob, `the reply ${t}`).locator('.quote').click();
  const parent = confirmed(bob, `the parent ${t}`);
  await expect(parent).toHaveClass(/focused/);
  await expect(parent).toBeInViewport();
  await expect(bob.locator('.new-pill')).toContainText('Back to latest');

  // Its link, copied, opens it anywhere.
  await act(bob, `the parent ${t}`, 'copy-link');
  await expect(parent.locator('.copy-link')).toHaveText('Link copied');
  const link = await bob.evaluate(() => navigator.clipboard.readText());
  expect(link).toMatch(/^https:\/\/[^/]+\/r\/[a-z0-9-]+\/m\/\d+$/);
  const path = new URL(link).pathname;

  const cold = await newDevice(browser, testInfo);
  const cy = await cold.newPage();
  await open(cy, path);
  const shown = confirmed(cy, `the parent ${t}`);
  await expect(shown).toHaveClass(/focused/);
  await expect(shown).toBeInViewport();
  await expect(confirmed(cy, `filler 0 ${t}`)).toHaveCount(1);
  await cold.close();

  const nojs = await newDevice(browser, testInfo, { javaScriptEnabled: false });
  const reader = await nojs.newPage();
  await reader.goto(path);
  const row = reader.locator('li.message', { hasText: `the parent ${t}` });
  await expect(row).toHaveClass(/focused/);
  await expect(row).toBeInViewport();
  await nojs.close();

  // Not a message of that room: nothing at that address.
  const res = await bob.request.get(path.replace(/\/m\/\d+$/, '/m/999999999'));
  expect(res.status()).toBe(404);
  await other.close();
});

test('a permalink to another room opens that room at the message, on a device showing General', async ({ page, browser }, testInfo) => {
  const t = tag(testInfo);
  await join(page, `Ann ${t}`);
  // A room of its own, with a message in it.
  if (await page.locator('.rooms-button').isVisible()) await page.locator('.rooms-button').click();
  const list = page.locator('.room-list');
  await list.locator('.new-room').click();
  await list.locator('.new-room-name').fill(`Side ${t}`);
  await list.locator('.new-room-form .join').click();
  await expect(page.locator('h1.room')).toHaveText(`Side ${t}`);
  await send(page, `over here ${t}`);
  for (let i = 0; i < 30; i++) await send(page, `later ${i} ${t}`);
  const row = confirmed(page, `over here ${t}`);
  const id = await row.getAttribute('data-id');
  const slug = new URL(page.url()).pathname.split('/')[2];
  const path = `/r/${slug}/m/${id}`;

  // Bob is in General; the link takes him to the other room, at the message.
  const other = await newDevice(browser, testInfo);
  const bob = await other.newPage();
  await join(bob, `Bob ${t}`);
  await expect(bob.locator('h1.room')).toHaveText('General');
  await open(bob, path);
  await expect(bob.locator('h1.room')).toHaveText(`Side ${t}`);
  const shown = confirmed(bob, `over here ${t}`);
  await expect(shown).toHaveClass(/focused/);
  await expect(shown).toBeInViewport();
  // The same id under General's address is nothing.
  const res = await bob.request.get(`/r/general/m/${id}`);
  expect(res.status()).toBe(404);
  await other.close();
});
