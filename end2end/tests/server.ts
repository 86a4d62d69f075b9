import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A chat server of the test's own, for tests that stop and restart it.
 * Same release binary and site as the shared one, its own port and data.
 */
export class OwnServer {
  /** Below the ephemeral range (32768+), which outgoing connections use. */
  readonly port = 20000 + Math.floor(Math.random() * 12000);
  readonly data = mkdtempSync(join(tmpdir(), 'chat-e2e-own-'));
  readonly url: string;

  /** Switches to another built site on the next start (a new release). */
  useSite(siteRoot: string): void {
    this.opts.siteRoot = siteRoot;
  }

  /**
   * `tls: false` serves plain HTTP on localhost, which browsers still treat
   * as a secure context; service workers refuse origins with certificate
   * errors, so the PWA tests use it.
   */
  constructor(private opts: { tls?: boolean; args?: string[]; siteRoot?: string } = {}) {
    this.url = `${opts.tls === false ? 'http' : 'https'}://localhost:${this.port}`;
  }

  private child?: ChildProcess;

  async start(): Promise<void> {
    const d = this.data;
    const tls = this.opts.tls === false ? ['--no-tls'] : ['--cert', `${d}/cert.pem`, '--key', `${d}/key.pem`];
    this.child = spawn(
      '../target/release/server',
      [
        '--addr', `127.0.0.1:${this.port}`,
        '--data-dir', d,
        ...tls,
        '--site-root', this.opts.siteRoot ?? '../target/site',
        // Tests post quickly from fresh devices.
        '--newcomer-burst', '100000',
        // Every test's devices come from one address.
        '--new-identity-burst', '100000',
        '--max-tcp-per-ip', '100000',
        ...(this.opts.args ?? []),
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (await this.listening()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('own server did not start');
  }

  private async listening(): Promise<boolean> {
    const net = await import('node:net');
    return new Promise((resolve) => {
      const s = net.connect(this.port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
  }

  /** SIGKILL: the harshest stop. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
}

/** A fresh owner link from `server owner-link` for `server`, as the README says. */
export function ownerLink(server: OwnServer): string {
  const out = execFileSync('../target/release/server', [
    '--no-tls', '--addr', `127.0.0.1:${server.port}`, '--data-dir', server.data, 'owner-link',
  ]).toString().trim();
  if (!/\/owner\/[0-9a-f]{64}$/.test(out)) throw new Error(`not an owner link: ${out}`);
  return out.replace(/^https?:\/\/[^/]+/, server.url);
}
