import { defineConfig, devices } from '@playwright/test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Workers inherit the environment, so the port and data directory chosen
// here once are shared by every worker and by the server.
// Below Linux's ephemeral range (32768+), where outgoing connections (the
// PostgreSQL pools among them) could already hold the port.
process.env.E2E_PORT ??= String(20000 + Math.floor(Math.random() * 12000));
process.env.E2E_DATA ??= mkdtempSync(join(tmpdir(), 'chat-e2e-'));
const port = process.env.E2E_PORT;
const data = process.env.E2E_DATA;
export const baseURL = `https://localhost:${port}`;

// Debian's Chromium; Playwright cannot download its own browser here.
const launchOptions = {
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
};

export default defineConfig({
  testDir: './tests',
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL,
    ignoreHTTPSErrors: true,
    // No DOM snapshots: with them, tracing asks DevTools for the body of
    // the service worker's script, whose fetch failed the certificate
    // check (the test's own CA is not trusted for workers), and Chromium
    // 148's browser process crashes on it now and then: every test after
    // it in the worker failed "browser has been closed".
    trace: { mode: 'retain-on-failure', snapshots: false, screenshots: true, sources: true },
    screenshot: 'only-on-failure',
    launchOptions,
  },
  projects: [
    {
      name: 'desktop',
      use: { viewport: { width: 1280, height: 800 } },
    },
    {
      name: 'iphone',
      use: {
        viewport: { width: 390, height: 844 },
        deviceScaleFactor: 3,
        isMobile: true,
        hasTouch: true,
        userAgent: devices['iPhone 13'].userAgent,
      },
    },
  ],
  webServer: {
    command:
      `../target/release/server --addr 127.0.0.1:${port} --data-dir ${data} ` +
      `--cert ${data}/cert.pem --key ${data}/key.pem --site-root ../target/site ` +
      // The corpus tests post dozens of messages from one device.
      `--message-burst 100 --newcomer-burst 100000 ` +
      // Every test's devices come from one address.
      `--new-identity-burst 100000 --new-room-burst 100000 --max-tcp-per-ip 100000`,
    url: `${baseURL}/healthz`,
    ignoreHTTPSErrors: true,
    reuseExistingServer: false,
    timeout: 30_000,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
