// What a person does on a first visit, in any engine: the same steps for
// WebKitGTK and Firefox. Each step is a named check; the first failure
// ends the engine's run (later steps build on earlier ones).
import { writeFileSync } from 'node:fs';
import { join as pathJoin } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';

const WAIT = 30_000;

export async function waitFor(s, what, fn, ...args) {
  const deadline = Date.now() + WAIT;
  let last;
  for (;;) {
    try {
      last = await s.eval(fn, ...args);
      if (last) return last;
    } catch (e) {
      // The page may be navigating; try again.
      last = String(e);
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const live = (s) => waitFor(s, 'Live', () => document.querySelector('.connection')?.textContent === 'Live');

/** The confirmed message rows whose text is exactly `text`. */
function confirmedCount(text) {
  return [...document.querySelectorAll('li.message:not(.outgoing) .text')].filter((t) => t.textContent === text).length;
}

async function send(s, text) {
  await waitFor(s, 'an enabled message box', () => !document.querySelector('.composer-input')?.disabled);
  await s.type('.composer-input', text);
  await s.pressEnter('.composer-input');
  await waitFor(s, `"${text}" confirmed`, confirmedCount, text);
}

async function sees(s, text) {
  await waitFor(s, `"${text}" shown`, confirmedCount, text);
  const n = await s.eval(confirmedCount, text);
  if (n !== 1) throw new Error(`"${text}" shown ${n} times`);
}

async function join(s, url, name) {
  await s.goto(url);
  await live(s);
  await waitFor(s, 'the name prompt', () => !!document.querySelector('.name-prompt'));
  await s.type('.name-input', name);
  await s.click('.join');
  await waitFor(s, `the name ${name}`, (n) => document.querySelector('.me')?.textContent === n, name);
}

/** WASM downloads of this page so far, from Resource Timing. */
function wasmFetches() {
  return performance.getEntriesByType('resource').filter((e) => /\.wasm(\?|$)/.test(e.name)).map((e) => e.name);
}

function png(width, height) {
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; ihdr[9] = 2;
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(width * 3, 0x55)]);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.concat(Array.from({ length: height }, () => row)))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * The main flows with two devices, `a` and `b`, on `server`. `check` runs
 * one named step and records it.
 */
export async function mainFlows({ check, newSession, server }) {
  const t = Math.random().toString(36).slice(2, 8);
  const a = await newSession();
  const b = await newSession();
  const room = `Engines ${t}`;
  let roomUrl;
  try {
    await check('first visit: the page hydrates and goes Live, one WASM download', async () => {
      await a.goto(server.url + '/');
      await live(a);
      const fetched = await a.eval(wasmFetches);
      if (fetched.length !== 1) throw new Error(`chat.wasm fetched ${fetched.length} times: ${fetched.join(', ')}`);
    });
    await check('a name is picked', () => join(a, server.url + '/', `Ann ${t}`));
    await check('send and receive with a second device', async () => {
      await join(b, server.url + '/', `Bob ${t}`);
      await send(a, `hello from Ann ${t}`);
      await sees(b, `hello from Ann ${t}`);
      await send(b, `hello from Bob ${t}`);
      await sees(a, `hello from Bob ${t}`);
    });
    await check('reload keeps the name and the history', async () => {
      await a.reload();
      await live(a);
      await waitFor(a, 'the name after reload', (n) => document.querySelector('.me')?.textContent === n, `Ann ${t}`);
      await sees(a, `hello from Bob ${t}`);
      const fetched = await a.eval(wasmFetches);
      if (fetched.length > 1) throw new Error(`chat.wasm fetched ${fetched.length} times on reload`);
    });
    await check('a new room, a message in it, and back to General', async () => {
      if (await a.eval(() => !!document.querySelector('.rooms-button')?.offsetParent)) await a.click('.rooms-button');
      await a.click('.room-list .new-room');
      await a.type('.room-list .new-room-name', room);
      await a.click('.room-list .new-room-form .join');
      await waitFor(a, 'the new room open', (r) => document.querySelector('h1.room')?.textContent === r, room);
      await send(a, `in the new room ${t}`);
      roomUrl = await a.url();
      if (!/\/r\/[a-z0-9-]+$/.test(new URL(roomUrl).pathname)) throw new Error(`the address is ${roomUrl}`);
      if (await a.eval(() => !!document.querySelector('.rooms-button')?.offsetParent)) await a.click('.rooms-button');
      await a.eval(() => [...document.querySelectorAll('.room-link')].find((l) => l.textContent.includes('General'))?.click());
      await waitFor(a, 'General open', () => document.querySelector('h1.room')?.textContent === 'General');
      await sees(a, `hello from Bob ${t}`);
    });
    await check('a photo reaches the other device as a thumbnail', async () => {
      const file = pathJoin(server.data, `beach-${t}.png`);
      writeFileSync(file, png(1600, 900));
      await a.upload('.file-input', file);
      await waitFor(a, 'the attachment chip', (n) => document.querySelector('.attached-name')?.textContent.includes(n), `beach-${t}.png`);
      await a.type('.composer-input', `look ${t}`);
      await a.click('.send');
      await waitFor(b, 'the thumbnail loaded', (text) => {
        const row = [...document.querySelectorAll('li.message')].find((r) => r.querySelector('.text')?.textContent === text);
        const img = row?.querySelector('.photo img');
        return !!img && img.complete && img.naturalWidth === 480;
      }, `look ${t}`);
    });
    await check('the server is killed and restarted: both devices come back Live and talk', async () => {
      await server.kill();
      await waitFor(a, 'not Live', () => document.querySelector('.connection')?.textContent !== 'Live');
      await server.start();
      await live(a);
      await live(b);
      await send(a, `after the restart ${t}`);
      await sees(b, `after the restart ${t}`);
    });
    await check('the service worker keeps the room: reloaded at its address with the server down, it opens offline', async () => {
      await a.goto(roomUrl);
      await live(a);
      const deadline = Date.now() + WAIT;
      while ((await a.evalAsync(async () => (await navigator.serviceWorker.ready).active?.state)) !== 'activated') {
        if (Date.now() > deadline) throw new Error('the service worker did not activate');
        await new Promise((r) => setTimeout(r, 200));
      }
      // One visit under the worker's control keeps this room's page.
      await a.reload();
      await live(a);
      await waitFor(a, 'controlled by the worker', () => !!navigator.serviceWorker.controller);
      await server.kill();
      await a.reload();
      await waitFor(a, 'the room from the offline shell', (r) => document.querySelector('h1.room')?.textContent === r, room);
      await sees(a, `in the new room ${t}`);
      await waitFor(a, 'shown as offline', () => /Offline|Connecting/.test(document.querySelector('.connection')?.textContent ?? ''));
      await server.start();
      await live(a);
    });
  } finally {
    await a.close().catch(() => {});
    await b.close().catch(() => {});
  }
}

/** A browser whose language is "C" (not a BCP 47 tag) still goes live. */
export async function languageC({ check, newSession, server }) {
  const s = await newSession();
  const t = Math.random().toString(36).slice(2, 8);
  try {
    await check('navigator.language "C": hydrates, goes Live, shows times', async () => {
      await s.goto(server.url + '/');
      const lang = await s.eval(() => navigator.language);
      if (lang !== 'C') throw new Error(`navigator.language is ${lang}, not C`);
      await join(s, server.url + '/', `Sea ${t}`);
      await send(s, `in C ${t}`);
      await waitFor(s, 'a time on the message', (text) => {
        const row = [...document.querySelectorAll('li.message')].find((r) => r.querySelector('.text')?.textContent === text);
        return /\d{1,2}:\d{2}/.test(row?.querySelector('time')?.textContent ?? '');
      }, `in C ${t}`);
    });
  } finally {
    await s.close().catch(() => {});
  }
}
