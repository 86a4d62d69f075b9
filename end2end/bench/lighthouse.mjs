// Lighthouse on a room with 50 messages for a visitor who has a name, on
// its mobile profile (slow 4G, 4× CPU, phone screen) and its desktop one;
// the median of N runs of each. A report, not a test.
//
//   node bench/lighthouse.mjs https://127.0.0.1:8443 [runs]
//
// Lighthouse is npm's (scripts/bench.sh installs it under .tools), driving
// Debian's Chromium through a profile that holds the visitor's cookie: a
// cookie passed as an extra header would not be the browser's, and the
// page would ask for a name again. Prints JSON.
import { chromium } from '@playwright/test';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const url = process.argv[2];
const runs = Number(process.argv[3] ?? 3);
const cli = process.env.LIGHTHOUSE ?? '../.tools/node_modules/.bin/lighthouse';
if (!/^https?:\/\/(127\.0\.0\.1|localhost)(:\d+)?\/?$/.test(url ?? '')) {
  console.error('usage: node bench/lighthouse.mjs https://127.0.0.1:PORT [runs]  (loopback only)');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const args = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--ignore-certificate-errors'];

// 50 messages from someone else, of the lengths people write.
const writer = await chromium.launch({ executablePath, args });
const page = await (await writer.newContext({ ignoreHTTPSErrors: true })).newPage();
await page.goto(url);
await page.locator('.name-input').fill('Writer');
await page.locator('.join').click();
await page.locator('.me').waitFor();
const lines = [
  'short one',
  'a longer message that wraps onto a second line on a phone, as many do in a team chat',
  'with **bold**, `code` and a link https://example.com/page',
  'line one\nline two',
];
for (let i = 0; i < 50; i++) {
  const input = page.locator('.composer-input');
  await input.fill(`${lines[i % lines.length]} (${i})`);
  await input.press('Enter');
  await page.waitForFunction((n) => document.querySelectorAll('li.message:not(.outgoing)').length >= n, i + 1);
}
await writer.close();

// The visitor: a profile of its own, named once, kept between runs (a
// returning visitor; Lighthouse still empties the HTTP cache each run).
const profile = mkdtempSync(join(tmpdir(), 'chat-lighthouse-'));
const port = 9300 + Math.floor(Math.random() * 600);
const visitor = await chromium.launchPersistentContext(profile, { executablePath, ignoreHTTPSErrors: true, args });
const own = visitor.pages()[0] ?? (await visitor.newPage());
await own.goto(url);
await own.locator('.name-input').fill('Visitor');
await own.locator('.join').click();
await own.locator('.me').waitFor();
await own.goto('about:blank');
// Closed, the profile keeps the cookie; Lighthouse gets a browser of its
// own on it (under Playwright's connection the pages it opens would wait
// for Playwright to let them run, and never load).
await visitor.close();
const browser = spawn(executablePath, [...args, '--headless', `--user-data-dir=${profile}`,
  `--remote-debugging-port=${port}`, 'about:blank'], { stdio: 'ignore' });
for (let i = 0; i < 100; i++) {
  try {
    if ((await fetch(`http://127.0.0.1:${port}/json/version`)).ok) break;
  } catch {
    // Not listening yet.
  }
  await new Promise((r) => setTimeout(r, 100));
}

const profiles = { mobile: [], desktop: ['--preset=desktop'] };
const report = {};
for (const [name, extra] of Object.entries(profiles)) {
  const results = [];
  for (let i = 0; i < runs; i++) {
    const out = execFileSync(cli, [
      url, `--port=${port}`, '--output=json', '--output-path=stdout', '--quiet',
      '--disable-storage-reset', '--only-categories=performance,accessibility,best-practices',
      ...extra,
    ], { maxBuffer: 64 * 1024 * 1024 });
    const lhr = JSON.parse(out);
    const audit = (id) => lhr.audits[id]?.numericValue;
    results.push({
      performance: Math.round(lhr.categories.performance.score * 100),
      accessibility: Math.round(lhr.categories.accessibility.score * 100),
      best_practices: Math.round(lhr.categories['best-practices'].score * 100),
      cls: audit('cumulative-layout-shift'),
      lcp_ms: Math.round(audit('largest-contentful-paint')),
      tbt_ms: Math.round(audit('total-blocking-time')),
      fcp_ms: Math.round(audit('first-contentful-paint')),
      failing: Object.values(lhr.audits)
        .filter((a) => a.score !== null && a.score < 1 && a.scoreDisplayMode === 'binary')
        .map((a) => a.id),
    });
  }
  const median = (key) => [...results.map((r) => r[key])].sort((a, b) => a - b)[Math.floor(results.length / 2)];
  report[name] = {
    runs: results,
    median: Object.fromEntries(['performance', 'accessibility', 'best_practices', 'cls', 'lcp_ms', 'tbt_ms', 'fcp_ms'].map((k) => [k, median(k)])),
  };
}
browser.kill();
await new Promise((r) => browser.once('exit', r));
rmSync(profile, { recursive: true, force: true });
console.log(JSON.stringify(report));
