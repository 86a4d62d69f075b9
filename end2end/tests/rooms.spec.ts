// Rooms, presence, typing, edits, deletes, reactions, mentions and unread
// counts, as two people use them on laptops and phones.
import { test, expect, Page } from '@playwright/test';
import { confirmed, join, newDevice, send, tag } from './helpers';

const phone = (testInfo: { project: { name: string } }) => testInfo.project.name === 'iphone';

/** Opens the room list (a screen of its own on a phone). */
async function roomList(page: Page) {
  if (await page.locator('.rooms-button').isVisible()) await page.locator('.rooms-button').click();
  return page.locator('.room-list');
}

async function createRoom(page: Page, name: string) {
  const list = await roomList(page);
  await list.locator('.new-room').click();
  await list.locator('.new-room-name').fill(name);
  await list.locator('.new-room-form .join').click();
  await expect(page.locator('h1.room')).toHaveText(name);
}

async function openRoom(page: Page, name: string) {
  const list = await roomList(page);
  await list.locator('.room-link', { hasText: name }).click();
  await expect(page.locator('h1.room')).toHaveText(name);
}

test('rooms: create, switch, the other sees it with unread counts that clear on opening', async ({ page, browser }, testInfo) => {
  const t = tag(testInfo);
  const other = await newDevice(browser, testInfo);
  const bob = await other.newPage();
  await join(page, `Ann ${t}`);
  await join(bob, `Bob ${t}`);
  const room = `Plans ${t}`;
  await createRoom(page, room);
  await expect(page).toHaveURL(/\/r\/plans-/);
  await send(page, `in plans ${t}`);
  await expect(confirmed(page, `in plans ${t}`)).toHaveCount(1);

  // Bob, in General, sees the new room appear with one unread message.
  const link = (await roomList(bob)).locator('.room-link', { hasText: room });
  await expect(link.locator('.badge')).toHaveText('1');
  await bob.screenshot({ path: testInfo.outputPath('room-list.png') });
  await expect(confirmed(bob, `in plans ${t}`)).toHaveCount(0);
  await link.click();
  await expect(bob.locator('h1.room')).toHaveText(room);
  await expect(confirmed(bob, `in plans ${t}`)).toHaveCount(1);
  await expect(bob.locator('.new-divider')).toBeVisible();
  await expect((await roomList(bob)).locator('.room-link', { hasText: room }).locator('.badge')).toHaveCount(0);
  if (phone(testInfo)) await bob.locator('.room-link.current').click();
  await bob.screenshot({ path: testInfo.outputPath('room.png') });

  // Both see each other in the room; messages in General do not show here.
  await expect(page.locator('.presence-count')).toHaveText('2 people here');
  await bob.goBack();
  await expect(bob.locator('h1.room')).toHaveText('General');
  await send(bob, `back in general ${t}`);
  await expect(confirmed(page, `back in general ${t}`)).toHaveCount(0);
  const general = (await roomList(page)).locator('.room-link', { hasText: 'General' });
  await expect(general.locator('.badge')).not.toHaveCount(0);
  await other.close();
});

test('typing shows for the others and clears when the message arrives', async ({ page, browser }, testInfo) => {
  const t = tag(testInfo);
  const other = await newDevice(browser, testInfo);
  const bob = await other.newPage();
  await join(page, `Tia ${t}`);
  await join(bob, `Tom ${t}`);
  // Unique text: every project and repeat shares the server's one room.
  await page.locator('.composer-input').pressSequentially(`hello ${t}`);
  await expect(bob.locator('.typing')).toHaveText(`Tia ${t} is typing…`);
  await expect(page.locator('.typing')).toHaveText('');
  await page.locator('.composer-input').press('Enter');
  await expect(confirmed(bob, `hello ${t}`)).toHaveCount(1);
  await expect(bob.locator('.typing')).toHaveText('');
  await other.close();
});

test('edit and delete show for both; a reaction toggles', async ({ page, browser }, testInfo) => {
  const t = tag(testInfo);
  const other = await newDevice(browser, testInfo);
  const bob = await other.newPage();
  await join(page, `Eda ${t}`);
  await join(bob, `Rex ${t}`);
  await send(page, `typo here ${t}`);
  await send(page, `remove me ${t}`);
  for (const p of [page, bob]) await expect(confirmed(p, `remove me ${t}`)).toHaveCount(1);

  const row = confirmed(page, `typo here ${t}`);
  await row.hover();
  await row.locator('.row-menu').click();
  await row.locator('.edit').click();
  await expect(page.locator('.editing-note')).toBeVisible();
  await page.locator('.composer-input').fill(`fixed here ${t}`);
  await page.locator('.composer-input').press('Enter');
  for (const p of [page, bob]) {
    await expect(confirmed(p, `fixed here ${t}`)).toHaveCount(1);
    await expect(confirmed(p, `fixed here ${t}`).locator('.edited')).toHaveText('(edited)');
    await expect(confirmed(p, `typo here ${t}`)).toHaveCount(0);
  }

  const doomed = confirmed(page, `remove me ${t}`);
  await doomed.hover();
  await doomed.locator('.row-menu').click();
  await doomed.locator('.delete').click();
  await doomed.locator('.delete').click(); // confirm
  for (const p of [page, bob]) {
    await expect(confirmed(p, `remove me ${t}`)).toHaveCount(0);
    await expect(p.locator('li.message.deleted .deleted-text').last()).toHaveText('message deleted');
  }
  // Someone else's message offers no edit or delete.
  const theirs = confirmed(bob, `fixed here ${t}`);
  await theirs.hover();
  await theirs.locator('.row-menu').click();
  await expect(theirs.locator('.edit')).toHaveCount(0);
  await expect(theirs.locator('.delete')).toHaveCount(0);
  await theirs.locator('.pick', { hasText: '🎉' }).click();
  for (const p of [page, bob]) {
    await expect(confirmed(p, `fixed here ${t}`).locator('.chip')).toHaveText('🎉 1');
  }
  await expect(confirmed(page, `fixed here ${t}`).locator('.chip')).toHaveAttribute('title', `Rex ${t}`);
  await confirmed(bob, `fixed here ${t}`).locator('.chip').click(); // toggle off
  for (const p of [page, bob]) await expect(confirmed(p, `fixed here ${t}`).locator('.chip')).toHaveCount(0);
  await other.close();
});

test('an @mention autocompletes and highlights the message for the mentioned user', async ({ page, browser }, testInfo) => {
  const t = tag(testInfo);
  const other = await newDevice(browser, testInfo);
  const bob = await other.newPage();
  await join(bob, `Zora ${t}`);
  await send(bob, `hi from zora ${t}`);
  await join(page, `Max ${t}`);
  await expect(confirmed(page, `hi from zora ${t}`)).toHaveCount(1);
  const input = page.locator('.composer-input');
  await input.pressSequentially('ping @Zor');
  const option = page.locator('.mention-option', { hasText: `Zora ${t}` });
  await expect(option).toBeVisible();
  if (phone(testInfo)) await option.tap();
  else await input.press('Enter');
  await expect(input).toHaveValue(`ping @Zora ${t} `);
  await input.pressSequentially('look');
  await input.press('Enter');
  const text = `ping @Zora ${t} look`;
  await expect(confirmed(bob, text)).toHaveClass(/mentioned/);
  await expect(confirmed(page, text)).not.toHaveClass(/mentioned/);
  await other.close();
});
