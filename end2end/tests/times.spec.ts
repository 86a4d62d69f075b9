// Message times: the server cannot know the reader's zone, so its HTML
// shows UTC; once the page is live each time is in the reader's own zone
// and language (switched just after the page becomes usable).
import { test, expect } from '@playwright/test';
import { confirmed, join, newDevice, open, send, tag } from './helpers';

const zone = 'Asia/Kolkata'; // UTC+5:30: hours and minutes both differ from UTC
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\s/g, '\\s');

/** Any of the given instants as a clock reading, as one pattern. */
function clockPattern(instants: number[], format: (ms: number) => string): RegExp {
  const readings = [...new Set(instants.map(format))];
  return new RegExp(`^(${readings.map(escape).join('|')})$`);
}

test('times are UTC in the served page and the reader\'s own once live', async ({ browser }, testInfo) => {
  const t = tag(testInfo);
  const context = await newDevice(browser, testInfo, { timezoneId: zone, locale: 'en-US' });
  const page = await context.newPage();
  await join(page, `Tz-${t}`);
  const text = `${t} what time is it`;
  const sent = Date.now();
  await send(page, text);
  await expect(confirmed(page, text)).toHaveCount(1);
  const done = Date.now();
  const local = clockPattern([sent, done], (ms) =>
    new Intl.DateTimeFormat('en-US', { hour: 'numeric', minute: '2-digit', timeZone: zone }).format(ms));
  const utc = clockPattern([sent, done], (ms) => new Date(ms).toISOString().slice(11, 16));

  // The server's HTML for this device: the row's time in UTC, 24-hour.
  const html = await (await context.request.get('/')).text();
  const at = html.indexOf(`<span class="text">${text}</span>`);
  expect(at).toBeGreaterThan(0);
  const li = html.slice(html.lastIndexOf('<li', at), html.indexOf('</li>', at));
  const served = /<time class="ts">([^<]*)<\/time>/.exec(li)?.[1] ?? '';
  expect(served).toMatch(utc);

  // Live, and again after a reload (hydration, then the switch).
  await expect(confirmed(page, text).locator('.ts')).toHaveText(local);
  await open(page);
  await expect(confirmed(page, text).locator('.ts')).toHaveText(local);
  expect(local.test(served)).toBe(false);
  await context.close();
});
