// Sending a photo from the phone: picked, uploaded with progress, shown
// to the other person as a thumbnail that opens the full picture.
import { test, expect } from '@playwright/test';
import { deflateSync } from 'node:zlib';
import { join, newDevice, tag } from './helpers';

/** A solid-colour PNG, made here so the test needs no fixture file. */
function png(width: number, height: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf: Buffer) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; ihdr[9] = 2; // 8-bit RGB
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(width * 3, 0x55)]);
  const raw = Buffer.concat(Array.from({ length: height }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

test('a photo from the phone reaches the other person as a thumbnail that opens', async ({ page, browser }, testInfo) => {
  const t = tag(testInfo);
  const other = await newDevice(browser, testInfo);
  const bob = await other.newPage();
  await join(page, `Pic ${t}`);
  await join(bob, `Viewer ${t}`);

  await page.locator('.file-input').setInputFiles({ name: `beach ${t}.png`, mimeType: 'image/png', buffer: png(1600, 900) });
  await expect(page.locator('.attached-name')).toContainText(`beach ${t}.png`);
  await page.locator('.composer-input').fill(`look ${t}`);
  await page.locator('.send').click();

  const row = bob.locator('li.message', { has: bob.locator('.text', { hasText: `look ${t}` }) });
  const thumb = row.locator('.photo img');
  await expect(thumb).toBeVisible();
  await expect(thumb).toHaveAttribute('alt', `beach ${t}.png`);
  expect(await thumb.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(480);
  const [full] = await Promise.all([bob.context().waitForEvent('page'), thumb.click()]);
  await full.waitForLoadState();
  expect(await full.evaluate(() => (document.images[0] as HTMLImageElement | undefined)?.naturalWidth)).toBe(1600);
  await other.close();
});

test('an SVG is refused with the reason shown', async ({ page }, testInfo) => {
  const t = tag(testInfo);
  await join(page, `Svg ${t}`);
  await page.locator('.file-input').setInputFiles({
    name: 'kitten.png',
    mimeType: 'image/png',
    buffer: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
  });
  await expect(page.locator('.notice')).toContainText('SVG');
  await expect(page.locator('.attached')).toHaveCount(0);
});
