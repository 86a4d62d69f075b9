import { Browser, BrowserContext, Page, TestInfo, expect } from '@playwright/test';

/** A unique tag so tests sharing one server never see each other's text. */
export function tag(testInfo: TestInfo): string {
  return `${testInfo.project.name}-${Math.random().toString(36).slice(2, 8)}`;
}

/** A second device: a fresh context with the project's device settings. */
export async function newDevice(browser: Browser, testInfo: TestInfo, extra: object = {}): Promise<BrowserContext> {
  const u = testInfo.project.use;
  return browser.newContext({
    baseURL: u.baseURL,
    ignoreHTTPSErrors: true,
    viewport: u.viewport,
    deviceScaleFactor: u.deviceScaleFactor,
    isMobile: u.isMobile,
    hasTouch: u.hasTouch,
    userAgent: u.userAgent,
    ...extra,
  });
}

/** Opens the chat and waits until it is hydrated and live. */
export async function open(page: Page, url = '/'): Promise<void> {
  await page.goto(url);
  await expect(page.locator('.connection')).toHaveText('Live');
}

/** Opens the chat as a new device and picks a name. */
export async function join(page: Page, name: string, url = '/'): Promise<void> {
  await open(page, url);
  await expect(page.locator('.name-prompt')).toBeVisible();
  await page.locator('.name-input').fill(name);
  await page.locator('.join').click();
  await expect(page.locator('.name-prompt')).toBeHidden();
  await expect(page.locator('.me')).toHaveText(name);
}

export async function send(page: Page, text: string): Promise<void> {
  const input = page.locator('.composer-input');
  await expect(input).toBeEnabled();
  await input.fill(text);
  await input.press('Enter');
  await expect(input).toHaveValue('');
}

/** The confirmed (server-acknowledged) message rows with exactly this text. */
export function confirmed(page: Page, text: string) {
  const exact = new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
  return page.locator('li.message:not(.outgoing)').filter({
    has: page.locator('.text', { hasText: exact }),
  });
}

/**
 * Collects uncaught page errors and Rust panics (the panic hook logs them
 * to the console), so a test can assert the page stayed healthy.
 */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /panicked|unreachable|hydration/i.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  return errors;
}

/**
 * Scrolls the message list to its oldest end. The list is a reversed
 * flex column, so its scrollTop is 0 at the newest message and negative
 * above.
 */
export async function scrollToOldest(page: Page): Promise<void> {
  await page.locator('.messages').evaluate((el) => el.scrollTo({ top: -el.scrollHeight, behavior: 'instant' }));
}

/** Checks that the page is usable: the message box takes a message. */
export async function assertUsable(page: Page, text: string): Promise<void> {
  await expect(page.locator('.composer-input')).toBeEnabled();
  await expect(page.locator('.send')).toBeEnabled();
  await send(page, text);
  await expect(confirmed(page, text)).toHaveCount(1);
}

/** Opens the owner's and moderators' Manage dialog. */
export async function openManage(page: Page) {
  await page.locator('.manage-button').click();
  const dialog = page.locator('[aria-labelledby="manage-title"]');
  await expect(dialog).toBeVisible();
  return dialog;
}
