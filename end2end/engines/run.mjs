// The chat in the other engines a phone or laptop may bring: WebKitGTK
// (the closest to Safari that runs here: WebKit with JavaScriptCore) and
// Firefox ESR, next to the Chromium of the Playwright suite.
// Usage (from end2end/, after the release build): node engines/run.mjs
// ENGINES=webkit or ENGINES=firefox runs one. Exits 1 on any failure.
import { spawn, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, rmSync } from 'node:fs';
import { FirefoxDriver, WebKitDriver } from './drivers.mjs';
import { languageC, mainFlows } from './flows.mjs';
import { ChatServer } from './server.mjs';

const engines = (process.env.ENGINES ?? 'webkit,firefox').split(',');
const results = [];

function checker(engine, version) {
  return async (name, fn) => {
    const started = Date.now();
    try {
      await fn();
      results.push({ engine, version, name, ok: true });
      console.log(`  ok   ${engine}: ${name} (${Date.now() - started} ms)`);
    } catch (e) {
      results.push({ engine, version, name, ok: false, error: e.message });
      console.log(`  FAIL ${engine}: ${name}\n       ${e.message}`);
      throw e;
    }
  };
}

/** Flows stop at their first failure; the next engine still runs. */
async function guarded(run) {
  try {
    await run();
  } catch {
    // Recorded by the checker.
  }
}

async function startXvfb() {
  const display = 90 + Math.floor(Math.random() * 100);
  const xvfb = spawn('Xvfb', [`:${display}`, '-screen', '0', '1280x900x24', '-nolisten', 'tcp'], { stdio: 'ignore' });
  const deadline = Date.now() + 10_000;
  while (!existsSync(`/tmp/.X11-unix/X${display}`)) {
    if (Date.now() > deadline) throw new Error('Xvfb did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  return { display: `:${display}`, stop: () => xvfb.kill() };
}

/**
 * WebKitGTK trusts the system's CA store only: the chat's local CA goes
 * there for the run (as a person installs it once on a phone).
 */
function trustSystemWide(caPath) {
  const target = '/usr/local/share/ca-certificates/chat-engine-tests.crt';
  copyFileSync(caPath, target);
  execFileSync('update-ca-certificates', { stdio: 'ignore' });
  return () => {
    rmSync(target, { force: true });
    execFileSync('update-ca-certificates', ['--fresh'], { stdio: 'ignore' });
  };
}

async function webkit() {
  const server = new ChatServer({ tls: true });
  await server.start();
  const untrust = trustSystemWide(server.ca);
  const x = await startXvfb();
  const drivers = [];
  const driver = (env) => {
    const d = new WebKitDriver({ display: x.display, env });
    drivers.push(d);
    return d;
  };
  try {
    // One session per driver process: a second device needs its own.
    const english = [driver({ LANG: 'en_US.UTF-8' }), driver({ LANG: 'en_US.UTF-8' })];
    let next = 0;
    const first = await english[0].session();
    const check = checker('webkit', first.version);
    await first.close();
    await guarded(() => mainFlows({ check, server, newSession: () => english[next++ % 2].session() }));
    // Debian's default locale: WebKit reports navigator.language "C".
    const c = driver({ LANG: 'C.UTF-8' });
    await guarded(() => languageC({ check, server, newSession: () => c.session() }));
  } finally {
    drivers.forEach((d) => d.stop());
    x.stop();
    untrust();
    await server.kill();
    rmSync(server.data, { recursive: true, force: true });
  }
}

async function firefox() {
  // Plain HTTP on localhost, a secure context: Firefox keeps its own CA
  // store, and a certificate exception would keep the service worker out.
  const server = new ChatServer({ tls: false });
  await server.start();
  const main = new FirefoxDriver();
  const c = new FirefoxDriver({ prefs: { 'intl.accept_languages': 'C' } });
  try {
    const first = await main.session();
    const check = checker('firefox', first.version);
    await first.close();
    await guarded(() => mainFlows({ check, server, newSession: () => main.session() }));
    await guarded(() => languageC({ check, server, newSession: () => c.session() }));
  } finally {
    await main.stop();
    await c.stop();
    await server.kill();
    rmSync(server.data, { recursive: true, force: true });
  }
}

const runs = { webkit, firefox };
for (const engine of engines) {
  console.log(`== ${engine}`);
  await runs[engine]();
}
const failed = results.filter((r) => !r.ok);
console.log(`\n${results.length - failed.length} passed, ${failed.length} failed`);
for (const r of results) console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.version}: ${r.name}`);
process.exit(failed.length === 0 && results.length > 0 ? 0 : 1);
