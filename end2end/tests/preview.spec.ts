// Link previews as people see them, on a laptop and a phone: a pasted link
// gets a card a moment after the message, with the page's picture served
// by the chat itself; what the page says stays text; the sender can take
// the card away; a page without JavaScript shows it too.
import { test, expect } from '@playwright/test';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { confirmed, join, newDevice, tag } from './helpers';
import { OwnServer } from './server';

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAEAAAAAgCAIAAAAt/+nTAAAATklEQVR4nO3PUQkAIBTAwBfHOMY2liH8OITBAtzm7PV1wwUNaEEDWtCAFjSgBQ1oQQNa0IAWNKAFDWhBA1rQgBY0oAUNaEEDWtCAFjx2ASo0AJfYQ3FsAAAAAElFTkSuQmCC',
  'base64',
);

/** The linked site, with a page whose tags try to be HTML. */
let site: Server;
let siteUrl: string;
let server: OwnServer;

test.beforeEach(async () => {
  site = createServer((req, res) => {
    if (req.url === '/card.png') {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end(PNG);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html><head>
      <meta property="og:title" content="&lt;img src=x onerror=alert(1)&gt; Lunch">
      <meta property="og:description" content="<b>Friday</b> in the big room">
      <meta property="og:site_name" content="Team wiki">
      <meta property="og:image" content="/card.png">
      </head><body>page</body></html>`);
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  server = new OwnServer({ tls: false, args: ['--preview-allow-loopback'] });
  await server.start();
});
test.afterEach(async () => {
  server.kill();
  await new Promise((resolve) => site.close(resolve));
});

test('a link gets a card with the page picture from the chat; its sender takes it away', async ({ page, browser }, testInfo) => {
  const t = tag(testInfo);
  const other = await newDevice(browser, testInfo, { baseURL: server.url });
  const bob = await other.newPage();
  await join(page, `Ann ${t}`, server.url);
  await join(bob, `Bob ${t}`, server.url);
  let dialogs = 0;
  for (const p of [page, bob]) p.on('dialog', (d) => { dialogs++; void d.dismiss(); });

  const text = `lunch? ${siteUrl}/page ${t}`;
  await page.locator('.composer-input').fill(text);
  await page.locator('.composer-input').press('Enter');
  for (const p of [bob, page]) {
    const card = confirmed(p, text).locator('.link-card');
    await expect(card.locator('.card-title')).toHaveText('<img src=x onerror=alert(1)> Lunch');
    await expect(card.locator('.card-description')).toHaveText('<b>Friday</b> in the big room');
    await expect(card.locator('.card-site')).toHaveText('Team wiki');
    const link = card.locator('a');
    await expect(link).toHaveAttribute('href', `${siteUrl}/page`);
    await expect(link).toHaveAttribute('rel', 'noopener noreferrer nofollow');
    await expect(link).toHaveAttribute('target', '_blank');
    // The picture is the chat's copy, and it loads.
    const img = card.locator('img');
    await expect(img).toHaveAttribute('src', /^\/files\/[0-9a-f]{64}$/);
    await expect.poll(() => img.evaluate((i: HTMLImageElement) => i.complete && i.naturalWidth)).toBe(64);
    // Nothing the page said became markup.
    await expect(card.locator('b, .card-title img')).toHaveCount(0);
  }
  // Only its sender may take it away.
  await expect(confirmed(bob, text).locator('.card-remove')).toHaveCount(0);

  // Without JavaScript the page shows the card too.
  const plain = await browser.newContext({ javaScriptEnabled: false });
  const still = await plain.newPage();
  await still.goto(server.url);
  await expect(still.locator('.link-card .card-title')).toHaveText('<img src=x onerror=alert(1)> Lunch');
  await plain.close();

  await confirmed(page, text).locator('.card-remove').click();
  for (const p of [page, bob]) {
    await expect(confirmed(p, text).locator('.link-card')).toHaveCount(0);
  }
  await bob.reload();
  await expect(bob.locator('.connection')).toHaveText('Live');
  await expect(confirmed(bob, text)).toHaveCount(1);
  await expect(confirmed(bob, text).locator('.link-card')).toHaveCount(0);
  expect(dialogs).toBe(0);
  await other.close();
});
