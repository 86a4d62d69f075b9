// Web Push in Chromium, end to end with real cryptography. Headless
// Chromium cannot reach a real push service, so the page's
// PushManager.subscribe is replaced by one that hands out a subscription
// of a push service this test runs on loopback, with keys the test made:
// the chat's server encrypts and signs for it exactly as for Google's or
// Apple's. The test decrypts what arrives (RFC 8291, in Node's crypto),
// gives it to the service worker through CDP as a push service would, and
// reads the notification back.
import { test, expect, Page } from '@playwright/test';
import http from 'node:http';
import crypto from 'node:crypto';
import { AddressInfo } from 'node:net';
import { OwnServer } from './server';
import { confirmed, join, newDevice, send, tag } from './helpers';

type Push = { path: string; headers: http.IncomingHttpHeaders; body: Buffer };

/** A push service on a free loopback port that records what it gets. */
async function pushService() {
  const received: Push[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(201).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { base: `http://127.0.0.1:${port}`, received, close: () => server.close() };
}

/** A browser's subscription keys (RFC 8291): a P-256 pair and an auth secret. */
function browserKeys() {
  const ecdh = crypto.createECDH('prime256v1');
  ecdh.generateKeys();
  return { ecdh, auth: crypto.randomBytes(16) };
}

/** Decrypts an aes128gcm push body (one record) with the browser's keys. */
function decrypt(body: Buffer, ecdh: crypto.ECDH, auth: Buffer): string {
  const salt = body.subarray(0, 16);
  const idlen = body[20];
  const serverKey = body.subarray(21, 21 + idlen);
  const record = body.subarray(21 + idlen);
  const shared = ecdh.computeSecret(serverKey);
  const info = (s: string) => Buffer.from(`${s}\0`);
  const keyInfo = Buffer.concat([info('WebPush: info'), ecdh.getPublicKey(), serverKey]);
  const ikm = Buffer.from(crypto.hkdfSync('sha256', shared, auth, keyInfo, 32));
  const cek = Buffer.from(crypto.hkdfSync('sha256', ikm, salt, info('Content-Encoding: aes128gcm'), 16));
  const nonce = Buffer.from(crypto.hkdfSync('sha256', ikm, salt, info('Content-Encoding: nonce'), 12));
  const decipher = crypto.createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(record.subarray(record.length - 16));
  const plain = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
  // The last record ends with the delimiter 2 and optional zero padding.
  let end = plain.length - 1;
  while (end > 0 && plain[end] === 0) end--;
  expect(plain[end]).toBe(2);
  return plain.subarray(0, end).toString('utf8');
}

/** Replaces PushManager with one that subscribes to the test's service. */
async function fakePushManager(page: Page, endpoint: string, p256dh: string, auth: string) {
  await page.addInitScript(({ endpoint, p256dh, auth }) => {
    const sub = Object.create(PushSubscription.prototype);
    Object.defineProperty(sub, 'endpoint', { value: endpoint });
    Object.defineProperty(sub, 'toJSON', {
      value: () => ({ endpoint, expirationTime: null, keys: { p256dh, auth } }),
    });
    Object.defineProperty(sub, 'unsubscribe', {
      value: async () => { localStorage.removeItem('test-push'); return true; },
    });
    PushManager.prototype.subscribe = async function (options?: PushSubscriptionOptionsInit) {
      const key = options?.applicationServerKey as Uint8Array | undefined;
      localStorage.setItem('test-push', JSON.stringify({
        userVisibleOnly: options?.userVisibleOnly,
        keyLength: key ? key.byteLength : 0,
      }));
      return sub;
    };
    PushManager.prototype.getSubscription = async function () {
      return localStorage.getItem('test-push') ? sub : null;
    };
  }, { endpoint, p256dh, auth });
}

async function serverSettings(page: Page) {
  return page.evaluate(async () => {
    const res = await fetch('/api/push_settings', { method: 'POST' });
    if (!res.ok) throw new Error(`push_settings: ${res.status}`);
    return res.json();
  });
}

// Service workers refuse origins with certificate errors, so this runs on
// a server of its own over plain HTTP on localhost (a secure context),
// which may deliver to a receiver on loopback.
let server: OwnServer;
let baseURL: string;
test.beforeEach(async () => {
  server = new OwnServer({ tls: false, args: ['--push-allow-loopback'] });
  await server.start();
  baseURL = server.url;
});
test.afterEach(async () => server.kill());

test('push: turn on after a tap, pushed only while away, notification shown, tap opens the room', async ({ page, browser }, testInfo) => {
  const t = tag(testInfo);
  const service = await pushService();
  const keys = browserKeys();
  const p256dh = keys.ecdh.getPublicKey().toString('base64url');
  const auth = keys.auth.toString('base64url');
  const boContext = await newDevice(browser, testInfo);
  await boContext.grantPermissions(['notifications'], { origin: baseURL });
  let bo = await boContext.newPage();
  await fakePushManager(bo, `${service.base}/push/${t}`, p256dh, auth);
  const ann = page;
  await join(ann, `Ann-${t}`, baseURL);
  await join(bo, `Bo-${t}`, baseURL);

  // Nothing is asked until the bell is tapped.
  expect(await bo.evaluate(() => localStorage.getItem('test-push'))).toBeNull();
  await bo.locator('.notify-button').click();
  const dialog = bo.locator('[aria-labelledby="notify-title"]');
  await dialog.locator('.notify-on').click();
  await expect(dialog.locator('.push-status')).toHaveText('Notifications are on in this browser.');
  const asked = JSON.parse(await bo.evaluate(() => localStorage.getItem('test-push') ?? '{}'));
  expect(asked).toEqual({ userVisibleOnly: true, keyLength: 65 });
  // A shared room pushes mentions until chosen otherwise; Bo wants all.
  await expect(dialog.locator('input[value="mentions"]')).toBeChecked();
  await dialog.locator('input[value="all"]').check();
  await expect.poll(async () => (await serverSettings(bo)).mode).toBe('all');
  expect((await serverSettings(bo)).subscriptions).toBe(1);
  await dialog.locator('.name-actions .join').click();

  // While Bo looks at the chat, nothing is pushed.
  await send(ann, `${t} seen live`);
  await expect(confirmed(bo, `${t} seen live`)).toHaveCount(1);

  // Bo closes the app; Ann opens a room and writes there.
  await bo.close();
  await ann.locator('.presence-button').click();
  await expect(ann.locator('#presence-list')).not.toContainText(`Bo-${t}`);
  const room = `Lunch ${t}`;
  const list = ann.locator('.room-list');
  if (await ann.locator('.rooms-button').isVisible()) await ann.locator('.rooms-button').click();
  await list.locator('.new-room').click();
  await list.locator('.new-room-name').fill(room);
  await list.locator('.new-room-form .join').click();
  await expect(ann.locator('h1.room')).toHaveText(room);
  await send(ann, `${t} <b>pizza</b>?`);

  await expect.poll(() => service.received.length).toBe(1);
  const push = service.received[0];
  expect(push.path).toBe(`/push/${t}`);
  expect(push.headers['content-encoding']).toBe('aes128gcm');
  expect(push.headers.authorization).toMatch(/^vapid t=[\w-]+\.[\w-]+\.[\w-]+, k=[\w-]+$/);
  const payload = JSON.parse(decrypt(push.body, keys.ecdh, keys.auth));
  expect(payload.title).toBe(`#${room}`);
  expect(payload.body).toBe(`Ann-${t}: ${t} <b>pizza</b>?`);
  expect(payload.url).toMatch(/^\/r\/lunch-/);

  // Bo opens the chat again (on the main room); the push service
  // delivers the notification to the service worker.
  bo = await boContext.newPage();
  await fakePushManager(bo, `${service.base}/push/${t}`, p256dh, auth);
  const cdp = await boContext.newCDPSession(bo);
  const registration = new Promise<string>((resolve) => {
    cdp.on('ServiceWorker.workerRegistrationUpdated', (e) => {
      const r = e.registrations.find((r) => r.scopeURL.startsWith(baseURL) && !r.isDeleted);
      if (r) resolve(r.registrationId);
    });
  });
  await bo.goto(`${baseURL}/`);
  await expect(bo.locator('.connection')).toHaveText('Live');
  await expect(bo.locator('h1.room')).toHaveText('General');
  await bo.evaluate(() => navigator.serviceWorker.ready);
  const worker = boContext.serviceWorkers().find((w) => w.url().startsWith(baseURL));
  expect(worker).toBeTruthy();
  // Chromium drops a notification from getNotifications() for good when
  // another getNotifications() runs while it is being shown (about one
  // in ten in a loop here), so the list is read only once the worker's
  // own showNotification has settled. The worker's handler is unchanged.
  await worker!.evaluate(() => {
    const reg = (self as any).registration;
    const show = reg.showNotification.bind(reg);
    (self as any).settled = new Promise((resolve) => {
      reg.showNotification = (...args: unknown[]) => {
        const shown = show(...args);
        shown.then(() => resolve('shown'), (e: unknown) => resolve(`failed: ${e}`));
        return shown;
      };
    });
  });
  await cdp.send('ServiceWorker.enable');
  await cdp.send('ServiceWorker.deliverPushMessage', {
    origin: new URL(baseURL).origin,
    registrationId: await registration,
    data: JSON.stringify(payload),
  });
  const shown = () => bo.evaluate(async () => {
    const reg = await navigator.serviceWorker.ready;
    const list = await reg.getNotifications();
    return list.map((n) => ({ title: n.title, body: n.body, tag: n.tag, url: n.data?.url }));
  });
  expect(await worker!.evaluate(() => (self as any).settled)).toBe('shown');
  await expect.poll(shown).toEqual([{ title: `#${room}`, body: payload.body, tag: payload.tag, url: payload.url }]);

  // A tap: the service worker's click handler runs (dispatched in the
  // worker; headless Chromium has no notification to tap). The open
  // window switches to the room. Whether it is also brought to the front
  // needs a real tap and is not checked here.
  await worker!.evaluate(async () => {
    const [n] = await (self as any).registration.getNotifications();
    self.dispatchEvent(new (self as any).NotificationEvent('notificationclick', { notification: n }));
  });
  await expect(bo.locator('h1.room')).toHaveText(room);
  await expect(bo).toHaveURL(new RegExp(`${payload.url}$`));
  await expect(confirmed(bo, `${t} <b>pizza</b>?`)).toHaveCount(1);
  await expect.poll(shown).toEqual([]);

  // Turning it off here ends the subscription on the server too.
  await bo.locator('.notify-button').click();
  await bo.locator('.notify-off').click();
  await expect(bo.locator('.notify-on')).toBeVisible();
  expect((await serverSettings(bo)).subscriptions).toBe(0);
  expect(service.received.length).toBe(1);
  service.close();
  await boContext.close();
});

test('push: an iPhone outside the home-screen app is told how to get notifications', async ({ browser }, testInfo) => {
  const context = await newDevice(browser, testInfo, {
    userAgent:
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  });
  const page = await context.newPage();
  // Safari in a tab has no PushManager.
  await page.addInitScript(() => { delete (window as any).PushManager; });
  await join(page, `Ivy-${tag(testInfo)}`, baseURL);
  await page.locator('.notify-button').click();
  const dialog = page.locator('[aria-labelledby="notify-title"]');
  await expect(dialog).toContainText('Home Screen (iOS 16.4 or later)');
  await expect(dialog).toContainText('Add to Home Screen');
  await expect(dialog.locator('.notify-on')).toHaveCount(0);
  await context.close();
});
