// Direct messages and private rooms as two people use them on a laptop and
// on a phone: a conversation started from a name, live both ways and
// counted unread for the other; a room made private, a member removed
// while their tab shows it; a room hidden from one's list; direct
// messages blocked.
import { test, expect, Page } from '@playwright/test';
import { confirmed, join, newDevice, send, tag } from './helpers';

const phone = (testInfo: { project: { name: string } }) => testInfo.project.name === 'iphone';

/** Opens the room list (a screen of its own on a phone). */
async function roomList(page: Page) {
  if (await page.locator('.rooms-button').isVisible()) await page.locator('.rooms-button').click();
  return page.locator('.room-list');
}

/** Back from the room list to the conversation, on a phone (opening a
 *  room closes it by itself). */
async function closeList(page: Page, testInfo: { project: { name: string } }) {
  const current = page.locator('.room-link.current');
  if (phone(testInfo) && (await current.isVisible())) await current.click();
}

async function settings(page: Page) {
  await page.locator('.room-settings-button').click();
  const dialog = page.locator('[aria-labelledby="room-settings-title"]');
  await expect(dialog).toBeVisible();
  return dialog;
}

async function closeSettings(page: Page) {
  await page.locator('[aria-labelledby="room-settings-title"] .rename-form .cancel').click();
}

test('direct messages: from a name, live both ways, unread for the other, then blocked', async ({ page, browser }, testInfo) => {
  const t = tag(testInfo);
  const bobDevice = await newDevice(browser, testInfo);
  const bob = await bobDevice.newPage();
  await join(page, `Ann ${t}`);
  await join(bob, `Bob ${t}`);

  // From Bob's name in "people here".
  await page.locator('.presence-button').click();
  await page.locator('#presence-list').getByRole('button', { name: `Message Bob ${t}` }).click();
  await expect(page.locator('h1.room')).toHaveText(`Bob ${t}`);
  await expect(page).toHaveURL(/\/r\/dm-/);
  await send(page, `hi bob ${t}`);
  await expect(confirmed(page, `hi bob ${t}`)).toHaveCount(1);

  // Bob, in General, finds it under direct messages with one unread.
  const list = await roomList(bob);
  const dm = list.locator('.direct-list .room-link', { hasText: `Ann ${t}` });
  await expect(dm.locator('.badge')).toHaveText('1');
  await bob.screenshot({ path: testInfo.outputPath('direct-list.png') });
  await dm.click();
  await expect(bob.locator('h1.room')).toHaveText(`Ann ${t}`);
  await expect(confirmed(bob, `hi bob ${t}`)).toHaveCount(1);
  await closeList(bob, testInfo);
  await send(bob, `hello ann ${t}`);
  await expect(confirmed(page, `hello ann ${t}`)).toHaveCount(1);
  // The same conversation again from the message's menu: not a new one.
  const row = confirmed(page, `hello ann ${t}`);
  await row.hover();
  await row.locator('.row-menu').click();
  await page.locator('.row-actions .write-to').click();
  await expect(page.locator('h1.room')).toHaveText(`Bob ${t}`);
  await expect((await roomList(page)).locator('.direct-list .room-link', { hasText: `Bob ${t}` })).toHaveCount(1);
  await closeList(page, testInfo);

  // Bob blocks direct messages from Ann: hers is refused, with the reason.
  const s = await settings(bob);
  await s.locator('.block-direct').click();
  await expect(s.locator('.block-direct')).toHaveText(`Take direct messages from Ann ${t} again`);
  await closeSettings(bob);
  await page.locator('.composer-input').fill(`are you there ${t}`);
  await page.locator('.composer-input').press('Enter');
  await expect(page.locator('li.message.outgoing.failed .failed-reason')).toContainText('blocked');
  await expect(confirmed(bob, `are you there ${t}`)).toHaveCount(0);
});

test('private rooms: made private, a member added then removed with the tab open, a room hidden', async ({ page, browser }, testInfo) => {
  const t = tag(testInfo);
  const bobDevice = await newDevice(browser, testInfo);
  const bob = await bobDevice.newPage();
  await join(page, `Ann ${t}`);
  await join(bob, `Bob ${t}`);
  const room = `Vault ${t}`;
  const list = await roomList(page);
  await list.locator('.new-room').click();
  await list.locator('.new-room-name').fill(room);
  await list.locator('.new-room-form .join').click();
  await expect(page.locator('h1.room')).toHaveText(room);
  await closeList(page, testInfo);

  // Bob sees it appear; once private, it is gone from his list.
  const bobList = await roomList(bob);
  await expect(bobList.locator('.room-link', { hasText: room })).toHaveCount(1);
  let s = await settings(page);
  await s.locator('.make-private').click();
  await expect(s.locator('.make-open')).toBeVisible();
  await expect(bobList.locator('.room-link', { hasText: room })).toHaveCount(0);

  // Ann adds Bob; he opens it and reads what is said there.
  await s.locator('#add-member-choice').selectOption({ label: `Bob ${t}` });
  await s.locator('.add-member .join').click();
  await expect(s.locator('.member-list li', { hasText: `Bob ${t}` })).toHaveCount(1);
  await closeSettings(page);
  await send(page, `the plan ${t}`);
  const link = bobList.locator('.room-link', { hasText: room });
  await expect(link).toHaveAttribute('aria-label', `${room}, 1 unread (private)`);
  await link.click();
  await expect(bob.locator('h1.room')).toHaveText(room);
  await expect(confirmed(bob, `the plan ${t}`)).toHaveCount(1);
  await closeList(bob, testInfo);

  // Removed while his tab shows it: it goes at once.
  s = await settings(page);
  await s.locator('.member-list li', { hasText: `Bob ${t}` }).locator('.remove-member').click();
  await expect(s.locator('.member-list li', { hasText: `Bob ${t}` })).toHaveCount(0);
  await closeSettings(page);
  await expect(bob.locator('.notice')).toHaveText(`You are no longer in ${room}.`);
  await expect(bob.locator('h1.room')).toHaveText('General');
  await expect(confirmed(bob, `the plan ${t}`)).toHaveCount(0);
  await send(page, `after you left ${t}`);
  await expect((await roomList(bob)).locator('.room-link', { hasText: room })).toHaveCount(0);
  await bob.screenshot({ path: testInfo.outputPath('removed.png') });
  // Nor by its address.
  const res = await bob.goto(page.url());
  expect(res?.status()).toBe(404);
  await expect(bob.locator('body')).not.toContainText(`the plan ${t}`);

  // Ann hides it from her own list; she stays in it, and can put it back.
  s = await settings(page);
  await s.locator('.hide-room').click();
  await expect(s.locator('.hide-room')).toHaveText('Show in my list');
  await closeSettings(page);
  await expect(page.locator('h1.room')).toHaveText(room);
  await send(page, `still here ${t}`);
  const address = page.url();
  await expect((await roomList(page)).locator('.room-link', { hasText: room })).toHaveCount(0);
  // Still readable at its address, where it can be put back.
  await page.goto(address);
  await expect(page.locator('h1.room')).toHaveText(room);
  await expect(confirmed(page, `still here ${t}`)).toHaveCount(1);
  s = await settings(page);
  await s.locator('.hide-room').click();
  await expect(s.locator('.hide-room')).toHaveText('Hide from my list');
  await closeSettings(page);
  await expect((await roomList(page)).locator('.room-link', { hasText: room })).toHaveCount(1);
});

test('a direct message from the mention list: the @word goes, the conversation opens', async ({ page, browser }, testInfo) => {
  const t = tag(testInfo);
  // One word, so the list narrows to him alone.
  const zedName = `Zed${t.slice(-6)}`;
  const zedDevice = await newDevice(browser, testInfo);
  const zed = await zedDevice.newPage();
  await join(page, `Ann ${t}`);
  await join(zed, zedName);
  const input = page.locator('.composer-input');
  await input.click();
  await input.pressSequentially(`lunch? @${zedName.slice(0, 6)}`);
  await expect(page.locator('.mention-option')).toHaveText([zedName]);
  await page.getByRole('button', { name: `Message ${zedName} directly` }).click();
  await expect(page.locator('h1.room')).toHaveText(zedName);
  await expect(page).toHaveURL(/\/r\/dm-/);
  await expect(input).toHaveValue('lunch? ');
  await send(page, `lunch? ${t}`);
  await expect(confirmed(page, `lunch? ${t}`)).toHaveCount(1);
  await zedDevice.close();
});
