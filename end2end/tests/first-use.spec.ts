// What a new user meets first: the name form (with and without
// JavaScript, before hydration, refused cross-site), the header on small
// screens, limits that never drop text, and what screen readers hear.
import { test, expect, Page } from '@playwright/test';
import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { assertUsable, confirmed, join, newDevice, open, scrollToOldest, send, tag, watchErrors } from './helpers';
import { OwnServer } from './server';

/** Everything wrong with the header's layout right now, as sentences. */
async function headerProblems(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const problems: string[] = [];
    const bar = document.querySelector('.status-bar')!;
    const items = [...bar.children]
      .map((e) => e as HTMLElement)
      .filter((e) => e.offsetParent !== null)
      .map((e) => ({ e, r: e.getBoundingClientRect(), name: e.className }));
    items.sort((a, b) => a.r.left - b.r.left);
    for (const { e, r, name } of items) {
      if (r.left < 0 || r.right > window.innerWidth + 0.5) problems.push(`${name} leaves the screen`);
      const line = parseFloat(getComputedStyle(e).fontSize) * 1.6;
      if (e.tagName !== 'BUTTON' && r.height > line) problems.push(`${name} wraps (${r.height}px)`);
      if (!e.classList.contains('me') && e.scrollWidth > e.clientWidth + 1) problems.push(`${name} is cut (${e.scrollWidth} > ${e.clientWidth})`);
    }
    for (let i = 1; i < items.length; i++) {
      if (items[i].r.left < items[i - 1].r.right - 0.5) problems.push(`${items[i].name} overlaps ${items[i - 1].name}`);
    }
    const title = bar.querySelector('.room') as HTMLElement;
    if (title.getBoundingClientRect().width < 30) problems.push('the title is squeezed');
    const me = bar.querySelector('.me') as HTMLElement | null;
    if (me && me.getBoundingClientRect().width < 44) problems.push('the name button is too narrow to tap');
    return problems;
  });
}

test('the header fits one line in every state at 390 px and 320 px', async ({ page }, testInfo) => {
  test.skip(testInfo.project.name !== 'iphone', 'phone widths');
  const long = 'W'.repeat(32);
  await join(page, long);
  for (const width of [390, 320]) {
    await page.setViewportSize({ width, height: 700 });
    await expect(page.locator('.connection')).toHaveText('Live');
    expect(await headerProblems(page), `live at ${width}`).toEqual([]);
    await page.context().setOffline(true);
    await expect(page.locator('.connection')).toHaveText(/Offline.*\d+s/);
    expect(await headerProblems(page), `offline at ${width}`).toEqual([]);
    await page.context().setOffline(false);
  }
  // Connecting: a socket that never says hello.
  await page.routeWebSocket(/\/ws/, () => {});
  await page.reload();
  await expect(page.locator('.connection')).toHaveText('Connecting…');
  expect(await headerProblems(page), 'connecting at 320').toEqual([]);
});

test.describe('the name form without JavaScript', () => {
  test('a name set without JavaScript lands back on the chat with the name', async ({ browser }, testInfo) => {
    const t = tag(testInfo);
    const ctx = await newDevice(browser, testInfo, { javaScriptEnabled: false });
    const page = await ctx.newPage();
    await page.goto('/');
    await expect(page.locator('.noscript-note')).toBeVisible();
    await expect(page.locator('.connection')).toBeHidden();
    await page.locator('.name-input').fill(`NoJs ${t}`);
    await page.locator('.join').click();
    await expect(page).toHaveURL(/\/$/);
    await expect(page.locator('.me')).toHaveText(`NoJs ${t}`);
    await expect(page.locator('.name-prompt')).toHaveCount(0);

    // A refused name comes back as a readable error on the chat page.
    await ctx.clearCookies();
    await page.goto('/');
    await page.locator('.name-input').fill('\u200B\u2060');
    await page.locator('.join').click();
    await expect(page.locator('.name-error')).toContainText('visible character');
    await expect(page.locator('.name-prompt')).toBeVisible();
    await ctx.close();
  });

  test('before hydration, on a slow network, the name form still works', async ({ page }, testInfo) => {
    const t = tag(testInfo);
    const errors = watchErrors(page);
    // Hold the WASM back as a slow phone network would.
    await page.route(/\.wasm$/, async (route) => {
      await new Promise((r) => setTimeout(r, 3_000));
      await route.continue();
    });
    await page.goto('/');
    await page.locator('.name-input').fill(`Early ${t}`);
    await page.locator('.join').click();
    await expect(page).toHaveURL(/\/$/);
    await expect(page.locator('.me')).toHaveText(`Early ${t}`);
    await expect(page.locator('.connection')).toHaveText('Live', { timeout: 20_000 });
    await assertUsable(page, `after an early join ${t}`);
    expect(errors).toEqual([]);
  });

  test('a real cross-site form post is refused with a readable page, nothing changed', async ({ page, baseURL }, testInfo) => {
    const t = tag(testInfo);
    await join(page, `Victim ${t}`);
    // Another site, on another port, with a form aimed at the chat.
    const evil = createServer((_, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<form method="post" action="${baseURL}/api/set_name"><input name="name" value="pwned"><button>go</button></form>`);
    });
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
    try {
      const port = (evil.address() as AddressInfo).port;
      const attacker = await page.context().newPage();
      await attacker.goto(`http://127.0.0.1:${port}/`);
      const [res] = await Promise.all([attacker.waitForNavigation(), attacker.locator('button').click()]);
      expect(res?.status()).toBe(403);
      await expect(attacker.locator('h1')).toHaveText('Cross-site requests are not allowed');
      await expect(attacker.locator('a[href="/"]')).toBeVisible();
      await page.reload();
      await expect(page.locator('.me')).toHaveText(`Victim ${t}`);
    } finally {
      evil.close();
    }
  });
});

test('without JavaScript the newest message is in view and the list scrolls', async ({ page, browser }, testInfo) => {
  const t = tag(testInfo);
  const server = new OwnServer({ args: ['--message-burst', '100'] });
  await server.start();
  try {
    await join(page, `Many ${t}`, server.url);
    for (let i = 0; i < 40; i++) await send(page, `line ${i} ${t}`);
    await expect(confirmed(page, `line 39 ${t}`)).toHaveCount(1);

    const ctx = await newDevice(browser, testInfo, { javaScriptEnabled: false });
    const reader = await ctx.newPage();
    await reader.goto(server.url);
    await expect(confirmed(reader, `line 39 ${t}`)).toBeInViewport();
    await expect(confirmed(reader, `line 0 ${t}`)).not.toBeInViewport();
    // The docked name form does not catch the wheel.
    const list = (await reader.locator('.messages').boundingBox())!;
    await reader.mouse.move(list.x + list.width / 2, list.y + list.height / 2);
    for (let i = 0; i < 20; i++) await reader.mouse.wheel(0, -600);
    await expect(confirmed(reader, `line 0 ${t}`)).toBeInViewport();
    await ctx.close();
  } finally {
    await server.kill();
  }
});

test.describe('limits never drop text', () => {
  test('a pasted message over the limit stays in the box with the count and the reason', async ({ page }, testInfo) => {
    const t = tag(testInfo);
    await join(page, `Paste ${t}`);
    const input = page.locator('.composer-input');
    const long = `${'p'.repeat(2001 - t.length - 1)} ${t}`;
    await input.fill(long);
    await expect(page.locator('.composer-count')).toHaveText('2001 / 2000');
    await expect(page.locator('.composer-count')).toHaveClass(/over/);
    await input.press('Enter');
    await expect(page.locator('.composer-error')).toContainText('at most 2000 characters (this one has 2001)');
    await expect(input).toHaveValue(long);
    await expect(page.locator('li.outgoing')).toHaveCount(0);
    // Cut one character: it goes, whole.
    await input.fill(long.slice(1));
    await expect(page.locator('.composer-error')).toBeHidden();
    await input.press('Enter');
    await expect(confirmed(page, long.slice(1))).toHaveCount(1);
  });

  test('a name over the limit stays in the box with the reason', async ({ page }) => {
    await open(page);
    const long = 'N'.repeat(40);
    await page.locator('.name-input').fill(long);
    await page.locator('.join').click();
    await expect(page.locator('.name-error')).toContainText('at most 32 characters (this one has 40)');
    await expect(page.locator('.name-input')).toHaveValue(long);
  });

  test('emoji count once: 2,000 of them fit in a message, 32 in a name', async ({ page }, testInfo) => {
    const t = tag(testInfo);
    await open(page);
    const name = '😀'.repeat(32 - 7) + t.slice(-7);
    await page.locator('.name-input').fill(name);
    await page.locator('.join').click();
    await expect(page.locator('.me')).toHaveText(name);
    const text = `${'🎉'.repeat(2000 - t.length - 1)} ${t}`;
    await page.locator('.composer-input').fill(text);
    await expect(page.locator('.composer-count')).toHaveText('2000 / 2000');
    await page.locator('.composer-input').press('Enter');
    await expect(page.locator('.composer-input')).toHaveValue('');
    await expect(confirmed(page, text)).toHaveCount(1);
  });

  test('text with nothing visible is refused; joiners inside real text are kept', async ({ page }, testInfo) => {
    const t = tag(testInfo);
    await open(page);
    await page.locator('.name-input').fill('\u200B\uFEFF');
    await page.locator('.join').click();
    await expect(page.locator('.name-error')).toContainText('visible character');
    await page.locator('.name-input').fill(`Zed ${t}`);
    await page.locator('.join').click();
    await expect(page.locator('.me')).toHaveText(`Zed ${t}`);
    await page.locator('.composer-input').fill('\u200B\u2060\u202E');
    await page.locator('.composer-input').press('Enter');
    await expect(page.locator('.composer-error')).toContainText('no visible character');
    const family = `👩\u200D👩\u200D👧 ${t}`;
    await send(page, family);
    await expect(confirmed(page, family)).toHaveCount(1);
  });
});

test('screen readers: landmarks, a named log, names that say what they do, focus, announcements', async ({ page, browser }, testInfo) => {
  const t = tag(testInfo);
  await open(page);
  await expect(page.getByRole('main')).toHaveCount(1);
  await page.locator('.name-input').fill(`Ada ${t}`);
  await page.locator('.join').click();
  await expect(page.locator('.me')).toHaveText(`Ada ${t}`);
  await expect.poll(() => page.evaluate(() => document.activeElement?.classList.contains('composer-input'))).toBe(true);
  await expect(page.getByRole('log', { name: 'Messages in General' })).toHaveCount(1);
  await expect(page.getByRole('button', { name: `Ada ${t}: change your name` })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Link device: use on another device' })).toBeVisible();
  // The log wraps the list, which keeps its list semantics.
  await expect(page.getByRole('log', { name: 'Messages in General' }).getByRole('list')).toHaveCount(1);

  const other = await newDevice(browser, testInfo);
  const bob = await other.newPage();
  await join(bob, `Bo ${t}`);
  await send(bob, `hello ada ${t}`);
  const row = confirmed(page, `hello ada ${t}`);
  await expect(row).toHaveCount(1);
  // Name and text are read apart, not run together.
  expect(await row.textContent()).toContain(`Bo ${t}: hello ada ${t}`);
  await expect(page.locator('.announcer')).toHaveText(`Bo ${t}: hello ada ${t}`);
  await other.close();
});

test('older history loads without being announced', async ({ page }, testInfo) => {
  const t = tag(testInfo);
  const server = new OwnServer({ tls: false, args: ['--message-burst', '100'] });
  await server.start();
  try {
    await join(page, `Hist ${t}`, server.url);
    for (let i = 0; i < 55; i++) await send(page, `past ${i} ${t}`);
    await expect(confirmed(page, `past 54 ${t}`)).toHaveCount(1);
    await page.reload();
    await expect(page.locator('.connection')).toHaveText('Live');
    const before = await page.locator('.announcer').textContent();
    await scrollToOldest(page);
    await expect(confirmed(page, `past 0 ${t}`)).toHaveCount(1);
    await expect(page.locator('.announcer')).toHaveText(before ?? '');
  } finally {
    await server.kill();
  }
});
