// Time from navigation to a usable message box, as a phone on a slow
// network sees it: 390×844 touch viewport, DevTools' "Slow 4G" profile,
// CPU throttled 4×, a cold cache every run. A benchmark, not a test.
// Three moments, from the page's own clock: the box is enabled (usable),
// a message typed into it at that moment is acknowledged by the server
// (sent: the early script's row says "sent", or the app shows it
// confirmed), and the app is live (hydrated, its socket up).
//
//   node bench/hydration.mjs https://127.0.0.1:8443 [runs]
//
// Prints JSON: each run's milliseconds from navigation start (the page's
// own clock), the median, the bytes fetched, and where the time went.
import { chromium } from '@playwright/test';

const url = process.argv[2];
const runs = Number(process.argv[3] ?? 5);
if (!/^https?:\/\/(127\.0\.0\.1|localhost)(:\d+)?\/?$/.test(url ?? '')) {
  console.error('usage: node bench/hydration.mjs https://127.0.0.1:PORT [runs]  (loopback only)');
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const times = [];
const sentTimes = [];
const liveTimes = [];
const phases = [];
let bytes = 0;
for (let i = 0; i < runs; i++) {
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true,
    deviceScaleFactor: 3, ignoreHTTPSErrors: true,
  });
  // A device that already has a name, so the message box is the goal:
  // a first visit for the cookie, then the name.
  await context.request.get(url);
  const named = await context.request.post(`${url}/api/set_name`, {
    form: { name: `Phone ${i}` }, headers: { origin: url.replace(/\/$/, '') },
  });
  if (!named.ok() && named.status() !== 302) throw new Error(`set_name: ${named.status()}`);
  // The page notes the moment its message box becomes enabled (it is
  // disabled until hydrated). Playwright's own waiting polls with a
  // back-off that reaches 500 ms, which would add up to half a second of
  // noise to every run.
  await context.addInitScript((text) => {
    const check = () => {
      const box = document.querySelector('.composer-input');
      if (box && !box.disabled && window.__usable === undefined) {
        window.__usable = performance.now();
        // Typed and sent at once, as a person would, through the events
        // whichever code holds the box listens to.
        box.value = text;
        box.dispatchEvent(new Event('input', { bubbles: true }));
        box.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true }));
      }
      if (window.__usable !== undefined && window.__sent === undefined) {
        const early = [...document.querySelectorAll('.early-log .pending')].some((e) => e.textContent === 'sent');
        const shown = [...document.querySelectorAll('li.message:not(.outgoing) .text')].some((e) => e.textContent === text);
        if (early || shown) window.__sent = performance.now();
      }
      const live = document.querySelector('.connection');
      if (live && live.textContent === 'Live' && window.__live === undefined) window.__live = performance.now();
    };
    new MutationObserver(check).observe(document, {
      subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ['disabled'],
    });
  }, `bench ${i} ${Date.now()}`);
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false, latency: 562.5, downloadThroughput: (1.6 * 1024 * 1024 * 0.9) / 8,
    uploadThroughput: (750 * 1024 * 0.9) / 8,
  });
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
  let fetched = 0;
  cdp.on('Network.loadingFinished', (e) => { fetched += e.encodedDataLength; });
  await page.goto(url, { waitUntil: 'commit' });
  await page.waitForFunction(() => window.__sent !== undefined && window.__live !== undefined, null, { polling: 'raf', timeout: 120_000 });
  const usable = await page.evaluate(() => Math.round(window.__usable));
  times.push(usable);
  sentTimes.push(await page.evaluate(() => Math.round(window.__sent)));
  liveTimes.push(await page.evaluate(() => Math.round(window.__live)));
  // Where the time went, from the page's own clock (navigation start = 0).
  phases.push(await page.evaluate(() => {
    const at = (e) => Math.round(e.responseEnd);
    const nav = performance.getEntriesByType('navigation')[0];
    const res = performance.getEntriesByType('resource');
    const wasm = res.find((e) => e.name.endsWith('/chat.wasm'));
    return {
      html_ms: at(nav), protocol: nav.nextHopProtocol, html_bytes: nav.encodedBodySize,
      wasm_start_ms: wasm && Math.round(wasm.startTime), wasm_end_ms: wasm && at(wasm),
      usable_ms: Math.round(window.__usable), sent_ms: Math.round(window.__sent),
      live_ms: Math.round(window.__live),
    };
  }));
  bytes = fetched;
  await context.close();
}
await browser.close();
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(JSON.stringify({
  runs: times, median_ms: median(times), sent_median_ms: median(sentTimes), live_median_ms: median(liveTimes),
  bytes_fetched_last_run: bytes, phases,
}));
