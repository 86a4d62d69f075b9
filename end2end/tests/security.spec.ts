import { test, expect, Page } from '@playwright/test';
import { confirmed, join, newDevice, open, send, tag } from './helpers';

const PAYLOADS = [
  '<img src=x onerror=alert(1)>',
  '<script>alert(1)</script>',
  '<svg onload=alert(1)>',
  '<svg><script>alert(1)</script></svg>',
  'javascript:alert(1)',
  '<a href="javascript:alert(1)">click</a>',
  '<iframe src="javascript:alert(1)"></iframe>',
  '&lt;img src=x onerror=alert(1)&gt;',
  '&#60;script&#62;alert(1)&#60;/script&#62;',
  '"><img src=x onerror=alert(1)>',
  "'><script>alert(1)</script>",
  '<body onload=alert(1)>',
  '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>',
  '<details open ontoggle=alert(1)>',
  '<input autofocus onfocus=alert(1)>',
  '<object data="javascript:alert(1)">',
  '<style>body{display:none}</style>',
  '<base href="https://evil.example/">',
  '<marquee onstart=alert(1)>x</marquee>',
  '{{constructor.constructor(\'alert(1)\')()}}',
  '${alert(1)}',
  '\u202Egnp.exe\u202C harmless.txt',
  'A'.repeat(600),
  '👩‍👩‍👧‍👦🏳️‍🌈 family flag',
  // Markdown that must stay the text typed: links the chat does not follow.
  '[x](javascript:alert(1))',
  '[x](JaVaScRiPt:alert(1))',
  '[x](&#106;avascript:alert(1))',
  '[x](data:text/html,<script>alert(1)</script>)',
  '![x](https://example.com/x.png)',
  '<div onclick=alert(1)>\nblock html\n</div>',
];

const NAMES = [
  '<img src=x onerror=alert(1)>',
  '<svg onload=alert(1)>',
  '"><b>bold</b>',
  '&#60;i&#62;x',
  '\u202Eevil\u202C name',
];

/** Counts dialogs and CSP violations on a page. */
async function watch(page: Page) {
  const seen = { dialogs: 0 };
  page.on('dialog', (d) => {
    seen.dialogs += 1;
    void d.dismiss();
  });
  await page.addInitScript(() => {
    (window as any).__csp = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      (window as any).__csp.push(`${e.violatedDirective} ${e.blockedURI}`),
    );
  });
  return seen;
}

async function assertInert(page: Page) {
  const tags = await page.locator('.messages *').evaluateAll((els) => [
    ...new Set(els.map((e) => e.tagName)),
  ]);
  // The list's own elements, and those formatting draws from Markdown.
  const allowed = ['OL', 'LI', 'SPAN', 'TIME', 'BUTTON', 'A', 'IMG',
    'DIV', 'P', 'EM', 'STRONG', 'DEL', 'CODE', 'PRE', 'BLOCKQUOTE', 'UL', 'BR'];
  for (const t of tags) expect(allowed).toContain(t);
  const handlers = await page.locator('.messages *').evaluateAll((els) =>
    els.flatMap((e) => [...e.attributes].map((a) => a.name)).filter((n) => n.startsWith('on')),
  );
  expect(handlers).toEqual([]);
  const hrefs = await page.locator('.messages a[href]').evaluateAll((links) => links.map((a) => a.getAttribute('href') ?? ''));
  for (const h of hrefs) expect(h).toMatch(/^(\/|https?:\/\/|mailto:)/i);
  expect(await page.evaluate(() => (window as any).__csp)).toEqual([]);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
}

test('an XSS corpus in messages renders as text, runs nothing, breaks nothing', async ({ page, browser }, testInfo) => {
  const t = tag(testInfo);
  const sender = await watch(page);
  const other = await newDevice(browser, testInfo);
  const viewer = await other.newPage();
  const watcher = await watch(viewer);
  await join(page, `X ${t}`);
  await open(viewer);

  for (const p of PAYLOADS) await send(page, `${p} ${t}`);
  for (const p of PAYLOADS) {
    await expect(confirmed(viewer, `${p} ${t}`)).toHaveCount(1);
  }
  const texts = await viewer.locator('li.message .text').allTextContents();
  for (const p of PAYLOADS) expect(texts).toContain(`${p} ${t}`);
  await assertInert(page);
  await assertInert(viewer);

  // The same corpus, rendered by the server this time.
  await viewer.reload();
  await expect(viewer.locator('.connection')).toHaveText('Live');
  const ssr = await viewer.locator('li.message .text').allTextContents();
  for (const p of PAYLOADS) expect(ssr).toContain(`${p} ${t}`);
  await assertInert(viewer);
  expect(sender.dialogs + watcher.dialogs).toBe(0);
  await other.close();
});

test('hostile names render as text everywhere', async ({ page, browser }, testInfo) => {
  const t = tag(testInfo);
  const seen = await watch(page);
  const other = await newDevice(browser, testInfo);
  const viewer = await other.newPage();
  const watcher = await watch(viewer);
  await open(viewer);
  await join(page, NAMES[0]);
  for (const [i, name] of NAMES.entries()) {
    if (i > 0) {
      await page.locator('.me').click();
      await page.locator('.name-input').fill(name);
      await page.locator('.join').click();
      await expect(page.locator('.name-prompt')).toBeHidden();
    }
    await expect(page.locator('.me')).toHaveText(name);
    await send(page, `as name ${i} ${t}`);
    const row = confirmed(viewer, `as name ${i} ${t}`);
    await expect(row).toHaveCount(1);
    expect(await row.locator('.author').textContent()).toBe(name);
  }
  await assertInert(page);
  await assertInert(viewer);
  expect(await page.locator('.status-bar *').evaluateAll((els) => els.map((e) => e.tagName).filter((n) => !['H1', 'SPAN', 'BUTTON'].includes(n)))).toEqual([]);
  expect(seen.dialogs + watcher.dialogs).toBe(0);
  await other.close();
});

test('hostile room names render as text in the list, the title and the URL', async ({ page, browser }, testInfo) => {
  const t = tag(testInfo);
  const seen = await watch(page);
  const other = await newDevice(browser, testInfo);
  const viewer = await other.newPage();
  const watcher = await watch(viewer);
  await join(page, `Namer ${t}`);
  await join(viewer, `Looker ${t}`);
  for (const [i, hostile] of NAMES.entries()) {
    const name = `${hostile} ${i}${t}`.slice(0, 48);
    if (await page.locator('.rooms-button').isVisible()) await page.locator('.rooms-button').click();
    await page.locator('.new-room').click();
    await page.locator('.new-room-name').fill(name);
    await page.locator('.new-room-form .join').click();
    await expect(page.locator('h1.room')).toHaveText(name);
    expect(new URL(page.url()).pathname).toMatch(/^\/r\/[a-z0-9-]+$/);
    const link = viewer.locator('.room-link .room-name', { hasText: name });
    await expect(link).toHaveText(`# ${name}`);
  }
  // Server-rendered too.
  await page.reload();
  await expect(page.locator('h1.room')).toHaveText(`${NAMES[NAMES.length - 1]} ${NAMES.length - 1}${t}`.slice(0, 48));
  for (const p of [page, viewer]) {
    const tags = await p.locator('.room-list *').evaluateAll((els) => [...new Set(els.map((e) => e.tagName))]);
    for (const tg of tags) expect(['NAV', 'H2', 'UL', 'LI', 'A', 'SPAN', 'BUTTON', 'FORM', 'INPUT', 'DIV', 'P']).toContain(tg);
    expect(await p.evaluate(() => (window as any).__csp)).toEqual([]);
  }
  expect(seen.dialogs + watcher.dialogs).toBe(0);
  await other.close();
});
