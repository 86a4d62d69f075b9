// The owner makes a bot in Manage and a script posts as it; people see
// its messages marked "bot"; anyone downloads the rooms they can read —
// on a laptop and on a phone.
import { test, expect } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { confirmed, join, newDevice, send, tag, openManage } from './helpers';
import { OwnServer, ownerLink } from './server';

let server: OwnServer;
test.beforeEach(async () => {
  server = new OwnServer({ tls: false });
  await server.start();
});
test.afterEach(async () => server.kill());



test('a bot made in Manage posts through the API, marked as a bot; history downloads', async ({ page, browser }, testInfo) => {
  const t = tag(testInfo);
  await join(page, `Owner ${t}`, ownerLink(server));
  const manage = await openManage(page);
  await manage.locator('#bot-name').fill(`Builder ${t}`.slice(0, 32));
  await manage.locator('.create-bot').click();
  const key = (await manage.locator('.bot-key').textContent())!.trim();
  expect(key).toMatch(/^[0-9a-f]{64}$/);
  await expect(manage.locator('.bot-curl')).toContainText(`/api/bot/${key}/rooms/general/messages`);
  await expect(manage.locator('.bot-list li')).toHaveCount(1);
  await manage.locator('.name-actions .join').click();

  const other = await newDevice(browser, testInfo, { baseURL: server.url });
  const guest = await other.newPage();
  await join(guest, `Guest ${t}`, server.url);

  // A script posts, as the README shows it.
  const res = await fetch(`${server.url}/api/bot/${key}/rooms/general/messages`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain' },
    body: `Build passed ${t} <b>not bold</b>`,
  });
  expect(res.status).toBe(201);
  for (const p of [guest, page]) {
    const row = confirmed(p, `Build passed ${t} <b>not bold</b>`);
    await expect(row.locator('.bot-badge')).toHaveText('bot');
    await expect(row.locator('.text b')).toHaveCount(0);
  }
  // People's messages carry no badge.
  await send(guest, `thanks ${t}`);
  await expect(confirmed(page, `thanks ${t}`).locator('.bot-badge')).toHaveCount(0);

  // Revoked in Manage, the key stops working.
  const again = await openManage(page);
  await again.locator('.revoke-bot').click();
  await expect(again.locator('.bot-status')).toHaveText('revoked');
  const refused = await fetch(`${server.url}/api/bot/${key}/rooms/general/messages`, {
    method: 'POST',
    body: 'after revoke',
  });
  expect(refused.status).toBe(401);
  expect((await refused.json()).error).toContain('revoked');
  await again.locator('.name-actions .join').click();

  // The guest takes their history along, readable.
  await guest.locator('.link-device').click();
  const link = guest.locator('.export-links a', { hasText: 'as a page' });
  await expect(link).toBeVisible();
  const [download] = await Promise.all([guest.waitForEvent('download'), link.click()]);
  expect(download.suggestedFilename()).toBe('chat-export.html');
  const html = readFileSync(await download.path(), 'utf8');
  expect(html).toContain(`Build passed ${t} &lt;b&gt;not bold&lt;/b&gt;`);
  expect(html).toContain(`thanks ${t}`);
  await other.close();
});
