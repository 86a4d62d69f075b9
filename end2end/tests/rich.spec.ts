import { test, expect, Page } from '@playwright/test';
import { join, newDevice, open, send, tag } from './helpers';

/** What every formatted message must look like on `p`. */
async function formatted(p: Page, t: string) {
  const rows = p.locator('li.message:not(.outgoing)');
  const inline = rows.filter({ hasText: `see https://example.com/a_(b). ${t}` }).locator('.rich');
  await expect(inline.locator('strong')).toHaveText('bold');
  await expect(inline.locator('em')).toHaveText('it');
  await expect(inline.locator('del')).toHaveText('gone');
  await expect(inline.locator('code')).toHaveText('x < y');
  const link = inline.locator('a');
  await expect(link).toHaveAttribute('href', 'https://example.com/a_(b)');
  await expect(link).toHaveAttribute('target', '_blank');
  await expect(link).toHaveAttribute('rel', 'noopener noreferrer nofollow');

  const code = rows.filter({ hasText: `fn main() { ${t} }` }).locator('.rich pre');
  await expect(code.locator('code')).toHaveText(`fn main() { ${t} }`);
  await expect(code.locator('.code-lang')).toHaveText('rust');
  // Coloured on the server: the keyword has its class, nothing else runs.
  await expect(code.locator('code .hl-k').first()).toHaveText('fn');
  await expect(code.locator('code .hl-f').first()).toHaveText('main');

  const quoted = rows.filter({ hasText: `quoted ${t}` }).locator('.rich');
  await expect(quoted.locator('blockquote')).toHaveText(`quoted ${t}`);
  await expect(quoted.locator('ul > li')).toHaveText(['one', 'two']);

  // A link to anything but http(s) or mail stays the text that was typed.
  const unsafe = rows.filter({ hasText: `[x](javascript:alert(1))` }).filter({ hasText: t });
  await expect(unsafe).toHaveCount(1);
  await expect(unsafe.locator('a')).toHaveAttribute('href', 'https://example.org');
  await expect(p.locator('a[href^="javascript" i], a[href^="data" i]')).toHaveCount(0);
  await expect(rows.filter({ hasText: `<b>raw</b> ${t}` }).locator('b')).toHaveCount(0);

  await expect(rows.locator('.text.jumbo', { hasText: '🎉🎉' }).first()).toBeVisible();
}

test('formatting, links, code, quotes and lists show as written, live and from the server', async ({ page, browser }, testInfo) => {
  const t = tag(testInfo);
  let dialogs = 0;
  const other = await newDevice(browser, testInfo);
  const viewer = await other.newPage();
  for (const p of [page, viewer]) p.on('dialog', (d) => { dialogs += 1; void d.dismiss(); });
  await join(page, `Fmt ${t}`);
  await open(viewer);

  await send(page, `**bold** *it* ~~gone~~ \`x < y\` see https://example.com/a_(b). ${t}`);
  await send(page, `\`\`\`rust\nfn main() { ${t} }\n\`\`\``);
  await send(page, `> quoted ${t}\n\n- one\n- two`);
  await send(page, `[x](javascript:alert(1)) [y](https://example.org) ${t}`);
  await send(page, `<b>raw</b> ${t}`);
  await send(page, '🎉🎉');

  await formatted(page, t);
  await formatted(viewer, t);
  // The server draws the same from the same blocks.
  await viewer.reload();
  await expect(viewer.locator('.connection')).toHaveText('Live');
  await formatted(viewer, t);
  expect(dialogs).toBe(0);
  await other.close();
});

test('markdown tricks stay inert: quotes in autolinks, markup in bold, nested brackets, deep nesting', async ({ page }, testInfo) => {
  const t = tag(testInfo);
  let dialogs = 0;
  page.on('dialog', (d) => { dialogs += 1; void d.dismiss(); });
  await join(page, `Tricks ${t}`);
  await send(page, `<https://example.com/"onmouseover="alert(1)> ${t}`);
  await send(page, `**<img src=x onerror=alert(1)>** ${t}`);
  await send(page, `[[[nested]]](https://example.com/n) ${t}`);
  await send(page, `${'>'.repeat(300)} deep ${t}`);
  const rows = page.locator('li.message:not(.outgoing)');
  await expect(rows.filter({ hasText: `deep ${t}` })).toHaveCount(1);
  await expect(rows.filter({ hasText: t }).locator('strong')).toHaveText('<img src=x onerror=alert(1)>');
  for (const p of [page]) {
    await p.reload();
    await expect(p.locator('.connection')).toHaveText('Live');
    const mine = p.locator('li.message:not(.outgoing)').filter({ hasText: t });
    await expect(mine).toHaveCount(4);
    const handlers = await mine.locator('*').evaluateAll((els) =>
      els.flatMap((e) => [...e.attributes].map((a) => a.name)).filter((n) => n.startsWith('on')),
    );
    expect(handlers).toEqual([]);
    const hrefs = await mine.locator('a[href]').evaluateAll((links) => links.map((a) => a.getAttribute('href') ?? ''));
    for (const h of hrefs) expect(h).toMatch(/^https:\/\/example\.com\//);
    await expect(mine.locator('img')).toHaveCount(0);
    const depth = await mine.filter({ hasText: `deep ${t}` }).locator('.rich').evaluate((el) => {
      let most = 0;
      const walk = (e: Element, d: number) => {
        most = Math.max(most, d);
        for (const c of e.children) walk(c, d + (c.tagName === 'BLOCKQUOTE' ? 1 : 0));
      };
      walk(el, 0);
      return most;
    });
    expect(depth).toBeLessThanOrEqual(8);
  }
  expect(dialogs).toBe(0);
});

test('Up in an empty message box edits the last message sent', async ({ page }, testInfo) => {
  const t = tag(testInfo);
  await join(page, `Upper ${t}`);
  await send(page, `first ${t}`);
  await send(page, `second ${t}`);
  const input = page.locator('.composer-input');
  await expect(page.locator('li.message:not(.outgoing)').filter({ hasText: `second ${t}` })).toHaveCount(1);
  await input.press('ArrowUp');
  await expect(input).toHaveValue(`second ${t}`);
  await input.fill(`second, **fixed** ${t}`);
  await input.press('Enter');
  const row = page.locator('li.message').filter({ hasText: `second, fixed ${t}` });
  await expect(row.locator('strong')).toHaveText('fixed');
  await expect(row.locator('.edited')).toBeVisible();
  // With something typed, Up moves the caret as usual.
  await input.fill('draft');
  await input.press('ArrowUp');
  await expect(input).toHaveValue('draft');
});
