import { test, expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { confirmed, join, newDevice, send, tag, watchErrors } from './helpers';
import { OwnServer } from './server';

/**
 * The shared mode in a browser: two server processes on one PostgreSQL
 * (the throwaway cluster scripts/test.sh starts; CHAT_TEST_PG names it).
 */
const admin = process.env.CHAT_TEST_PG;

function freshDatabase(): string {
  const name = `e2e_${Math.random().toString(36).slice(2, 10)}`;
  execFileSync('psql', [admin!, '-qc', `CREATE DATABASE ${name}`]);
  return admin!.replace('/postgres?', `/${name}?`);
}

test('two browsers on two nodes chat live; one whose node was killed catches up once', async ({ page, browser }, testInfo) => {
  if (!admin) {
    expect(process.env.CI, 'CHAT_TEST_PG must be set under CI').toBeFalsy();
    test.skip(true, 'no CHAT_TEST_PG: run through scripts/test.sh');
  }
  const t = tag(testInfo);
  const url = freshDatabase();
  const a = new OwnServer({ args: ['--database-url', url] });
  const b = new OwnServer({ args: ['--database-url', url] });
  await a.start();
  await b.start();
  const errors = watchErrors(page);
  try {
    const other = await newDevice(browser, testInfo);
    const bob = await other.newPage();
    await join(page, `Ann ${t}`, a.url);
    await join(bob, `Bob ${t}`, b.url);

    await send(page, `from A ${t}`);
    await send(bob, `from B ${t}`);
    for (const p of [page, bob]) {
      await expect(confirmed(p, `from A ${t}`)).toHaveCount(1);
      await expect(confirmed(p, `from B ${t}`)).toHaveCount(1);
    }
    // Who's here spans both nodes.
    await expect(page.locator('.presence-count')).toHaveText('2 people here');
    await expect(bob.locator('.presence-count')).toHaveText('2 people here');

    // Bob's node dies; Ann keeps talking on hers.
    await b.kill();
    await expect(bob.locator('.connection')).not.toHaveText('Live');
    for (const n of [1, 2, 3]) await send(page, `while B was down ${n} ${t}`);
    for (const n of [1, 2, 3]) await expect(confirmed(page, `while B was down ${n} ${t}`)).toHaveCount(1);

    // A node comes back at Bob's address (a new process: nothing in
    // memory); his page reconnects with its cursor and shows each once.
    await b.start();
    await expect(bob.locator('.connection')).toHaveText('Live', { timeout: 20_000 });
    for (const n of [1, 2, 3]) {
      await expect(confirmed(bob, `while B was down ${n} ${t}`)).toHaveCount(1, { timeout: 20_000 });
    }
    const order = (await bob.locator('li.message .text').allTextContents()).filter((s) => s.endsWith(t));
    expect(order).toEqual([`from A ${t}`, `from B ${t}`, ...[1, 2, 3].map((n) => `while B was down ${n} ${t}`)]);

    // A cursor from another epoch (a restored backup) is not trusted: the
    // page is sent again, and nothing shows twice.
    await bob.evaluate(() => localStorage.setItem('chat.epoch', 'another-install'));
    await bob.reload();
    await expect(bob.locator('.connection')).toHaveText('Live');
    await send(bob, `after the epoch check ${t}`);
    await expect(confirmed(page, `after the epoch check ${t}`)).toHaveCount(1);
    for (const n of [1, 2, 3]) await expect(confirmed(bob, `while B was down ${n} ${t}`)).toHaveCount(1);
    expect(await bob.evaluate(() => localStorage.getItem('chat.epoch'))).not.toBe('another-install');
    expect(errors).toEqual([]);
    await other.close();
  } finally {
    await a.kill();
    await b.kill();
  }
});
