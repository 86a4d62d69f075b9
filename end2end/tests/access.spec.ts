// The person who runs the chat claims it, makes it invite-only, lets a
// guest in with an invite, removes a message and blocks the guest, who
// sees why — on a laptop and on a phone.
import { test, expect } from '@playwright/test';
import { confirmed, join, newDevice, send, tag, openManage } from './helpers';
import { OwnServer, ownerLink } from './server';

let server: OwnServer;
test.beforeEach(async () => {
  server = new OwnServer({ tls: false });
  await server.start();
});
test.afterEach(async () => server.kill());



test('owner: claim, invite-only, invite a guest, remove a message, block the guest', async ({ page, browser }, testInfo) => {
  const t = tag(testInfo);
  const owner = page;
  await join(owner, `Owner-${t}`, ownerLink(server));
  const manage = await openManage(owner);
  await manage.locator('input[value="invite"]').check();
  await expect(manage.locator('input[value="invite"]')).toBeChecked();
  await manage.locator('.create-invite').click();
  const link = await manage.locator('.invite-link').textContent();
  expect(link).toMatch(/\/invite\/[0-9a-f]{64}$/);
  await expect(manage.locator('.invite-list li')).toHaveCount(1);
  await manage.locator('.name-actions .join').click();
  await send(owner, `${t} welcome`);

  // A stranger gets the private page and nothing of the conversation.
  const guestContext = await newDevice(browser, testInfo);
  const guest = await guestContext.newPage();
  const res = await guest.goto(server.url);
  expect(res?.status()).toBe(403);
  await expect(guest.locator('h1')).toHaveText('This chat is private');
  await expect(guest.locator('body')).not.toContainText(`${t} welcome`);

  // The invite lets the guest in.
  await join(guest, `Guest-${t}`, link!.replace(/^https?:\/\/[^/]+/, server.url));
  await expect(confirmed(guest, `${t} welcome`)).toHaveCount(1);
  await send(guest, `${t} spam spam`);
  await expect(confirmed(owner, `${t} spam spam`)).toHaveCount(1);

  // The owner removes it for everyone.
  const row = confirmed(owner, `${t} spam spam`);
  await row.hover();
  await row.locator('.row-menu').click();
  await owner.locator('.row-actions .remove').click();
  await owner.locator('.row-actions .remove').click();
  const removed = guest.locator('li.message .deleted-text', { hasText: 'removed by a moderator' });
  await expect(removed).toHaveCount(1);
  await expect(guest.locator('li.message', { hasText: `${t} spam spam` })).toHaveCount(0);

  // And blocks the guest, who is told why and can no longer write.
  const again = await openManage(owner);
  const guestRow = again.locator('.person', { hasText: `Guest-${t}` });
  await guestRow.locator('.block').click();
  await expect(again.locator('.person', { hasText: `Guest-${t}` }).locator('.role-badge')).toHaveText('blocked');
  await expect(guest.locator('.notice')).toHaveText('A moderator of this chat has blocked this device.');
  await expect(guest.locator('.connection')).toHaveText('Blocked');
  await expect(guest.locator('.composer-input')).toBeDisabled();
  // The owner's log lists it.
  await again.locator('.name-actions .join').click();
  const log = (await openManage(owner)).locator('.mod-log');
  await expect(log).toContainText(`blocked Guest-${t}`);
  await expect(log).toContainText('made the chat invite-only');
  // A reload shows the blocked page.
  const reload = await guest.reload();
  expect(reload?.status()).toBe(403);
  await expect(guest.locator('h1')).toHaveText('You cannot use this chat');
  await guestContext.close();
});

test('an onlooker of a chat that turns private keeps nothing of it, not even offline', async ({ page, browser }, testInfo) => {
  const t = tag(testInfo);
  await join(page, `Owner-${t}`, ownerLink(server));
  await send(page, `before the switch ${t}`);

  // A browser without a name looks on while the chat is open; its
  // service worker keeps the page for offline use.
  const lookerContext = await newDevice(browser, testInfo);
  const looker = await lookerContext.newPage();
  await looker.goto(server.url);
  await expect(looker.locator('.connection')).toHaveText('Live');
  await expect.poll(() => looker.evaluate(async () => (await navigator.serviceWorker.ready).active?.state)).toBe('activated');
  await looker.reload();
  await expect(confirmed(looker, `before the switch ${t}`)).toHaveCount(1);
  await expect.poll(() => looker.evaluate(() => !!navigator.serviceWorker.controller)).toBe(true);
  await expect.poll(() => looker.evaluate(async () => (await caches.keys()).length)).toBeGreaterThan(0);

  // The owner makes the chat invite-only: the open tab drops everything
  // at once and shows why.
  const manage = await openManage(page);
  await manage.locator('input[value="invite"]').check();
  await expect(looker.locator('h1')).toHaveText('This chat is private');
  await expect(looker.locator('body')).not.toContainText(`before the switch ${t}`);
  await expect.poll(() => looker.evaluate(async () => (await caches.keys()).length)).toBe(0);
  expect(await looker.evaluate(() => localStorage.getItem('chat.snapshot'))).toBeNull();
  // A message written after the switch never reaches it.
  await manage.locator('.name-actions .join').click();
  await send(page, `after the switch ${t}`);

  // Offline, the shell has nothing of the chat to show.
  await lookerContext.setOffline(true);
  await looker.reload().catch(() => undefined);
  await expect(looker.locator('body')).not.toContainText(`before the switch ${t}`);
  await expect(looker.locator('body')).not.toContainText(`after the switch ${t}`);
  await lookerContext.close();
});

test('a new chat name and a new moderator reach open pages without a reload', async ({ page, browser }, testInfo) => {
  const t = tag(testInfo);
  const owner = page;
  await join(owner, `Owner-${t}`, ownerLink(server));
  const memberContext = await newDevice(browser, testInfo);
  const member = await memberContext.newPage();
  await join(member, `Member-${t}`, server.url);
  await expect(member.locator('.manage-button')).toHaveCount(0);

  const manage = await openManage(owner);
  await manage.locator('#chat-name-input').fill(`Den ${t}`);
  await manage.locator('.chat-name button[type="submit"]').click();
  await expect(member).toHaveTitle(`Den ${t}`);

  await manage.locator('.person', { hasText: `Member-${t}` }).locator('.set-moderator').click();
  await expect(member.locator('.manage-button')).toBeVisible();
  await memberContext.close();
});
