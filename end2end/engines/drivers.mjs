// Two ways to drive a browser, behind one small interface the flows use:
// classic WebDriver over HTTP (WebKitGTK's WebKitWebDriver, driving
// MiniBrowser) and WebDriver BiDi through puppeteer-core (Firefox ESR).
// Both are Debian packages; Playwright's own builds cannot be downloaded.
import { spawn } from 'node:child_process';
import { connect } from 'node:net';

const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';
const KEY_ENTER = '\uE007';

/** A function's source, called with the given arguments, in the page. */
function call(fn) {
  return `return (${fn.toString()}).apply(null, arguments);`;
}

async function portOpen(port) {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/** One WebKitWebDriver process: it serves one session at a time. */
export class WebKitDriver {
  constructor({ display, env = {} }) {
    this.port = 21000 + Math.floor(Math.random() * 10000);
    this.child = spawn('/usr/bin/WebKitWebDriver', [`--port=${this.port}`], {
      env: { ...process.env, DISPLAY: display, ...env },
      // GTK warns about every locale the C library lacks.
      stdio: ['ignore', 'ignore', process.env.ENGINE_LOGS ? 'inherit' : 'ignore'],
    });
  }

  async session() {
    const deadline = Date.now() + 15_000;
    while (!(await portOpen(this.port))) {
      if (Date.now() > deadline) throw new Error('WebKitWebDriver did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    const base = `http://127.0.0.1:${this.port}`;
    const value = await wd(base, 'POST', '/session', {
      capabilities: {
        alwaysMatch: {
          browserName: 'MiniBrowser',
          'webkitgtk:browserOptions': {
            binary: '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser',
            args: ['--automation'],
          },
        },
      },
    });
    return new WebDriverSession(base, value.sessionId, value.capabilities.browserVersion);
  }

  stop() {
    this.child.kill('SIGTERM');
  }
}

async function wd(base, method, path, body) {
  const res = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${JSON.stringify(json.value ?? json).slice(0, 500)}`);
  return json.value;
}

class WebDriverSession {
  constructor(base, id, version) {
    this.base = `${base}/session/${id}`;
    this.root = base;
    this.version = `WebKitGTK ${version}`;
  }
  req(method, path, body) {
    return wd(this.root, method, this.base.slice(this.root.length) + path, body);
  }
  goto(url) { return this.req('POST', '/url', { url }); }
  reload() { return this.req('POST', '/refresh', {}); }
  url() { return this.req('GET', '/url'); }
  eval(fn, ...args) { return this.req('POST', '/execute/sync', { script: call(fn), args }); }
  /** An async function in the page; its rejection becomes an error here. */
  async evalAsync(fn, ...args) {
    const script = `const done = arguments[arguments.length - 1];
      Promise.resolve((${fn.toString()}).apply(null, Array.from(arguments).slice(0, -1)))
        .then((v) => done({ ok: v }), (e) => done({ error: String(e) }));`;
    const out = await this.req('POST', '/execute/async', { script, args });
    if (out && 'error' in out) throw new Error(out.error);
    return out?.ok;
  }
  async find(css) {
    const el = await this.req('POST', '/element', { using: 'css selector', value: css });
    return el[ELEMENT];
  }
  async type(css, text) {
    const id = await this.find(css);
    await this.req('POST', `/element/${id}/clear`, {});
    await this.req('POST', `/element/${id}/value`, { text });
  }
  async pressEnter(css) {
    const id = await this.find(css);
    await this.req('POST', `/element/${id}/value`, { text: KEY_ENTER });
  }
  async click(css) {
    const id = await this.find(css);
    await this.req('POST', `/element/${id}/click`, {});
  }
  async upload(css, path) {
    const id = await this.find(css);
    await this.req('POST', `/element/${id}/value`, { text: path });
  }
  async close() {
    await this.req('DELETE', '');
  }
}

/** Firefox over WebDriver BiDi; each session is a browser context. */
export class FirefoxDriver {
  constructor({ prefs = {} } = {}) {
    this.prefs = prefs;
  }
  async session() {
    if (!this.browser) {
      const puppeteer = (await import('puppeteer-core')).default;
      this.browser = await puppeteer.launch({
        browser: 'firefox',
        executablePath: process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr',
        headless: true,
        acceptInsecureCerts: true,
        extraPrefsFirefox: this.prefs,
      });
    }
    const context = await this.browser.createBrowserContext();
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    return new PuppeteerSession(context, page, `Firefox ${await this.browser.version()}`);
  }
  stop() {
    return this.browser?.close();
  }
}

class PuppeteerSession {
  constructor(context, page, version) {
    this.context = context;
    this.page = page;
    this.version = version;
  }
  async goto(url) {
    // An offline shell answered by the service worker is still a page.
    await this.page.goto(url, { waitUntil: 'load' });
  }
  async reload() { await this.page.reload({ waitUntil: 'load' }); }
  // The page's own view: BiDi in Firefox 140 misses history.pushState.
  async url() { return this.page.evaluate(() => location.href); }
  eval(fn, ...args) { return this.page.evaluate(fn, ...args); }
  evalAsync(fn, ...args) { return this.page.evaluate(fn, ...args); }
  async type(css, text) {
    await this.page.$eval(css, (el) => { el.value = ''; });
    await this.page.type(css, text);
  }
  async pressEnter(css) {
    await this.page.focus(css);
    await this.page.keyboard.press('Enter');
  }
  async click(css) { await this.page.click(css); }
  async upload(css, path) {
    const input = await this.page.$(css);
    await input.uploadFile(path);
  }
  async close() { await this.context.close(); }
}
