// A chat server of the engine tests' own: the release build, its own port
// and data, stopped (SIGKILL) and started again on the same address.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class ChatServer {
  constructor({ tls }) {
    this.tls = tls;
    this.port = 20000 + Math.floor(Math.random() * 12000);
    this.data = mkdtempSync(join(tmpdir(), 'chat-engines-'));
    this.url = `${tls ? 'https' : 'http'}://localhost:${this.port}`;
  }

  /** The local CA the server generates on its first TLS start. */
  get ca() {
    return join(this.data, 'ca.pem');
  }

  async start() {
    const d = this.data;
    const tls = this.tls ? ['--cert', `${d}/cert.pem`, '--key', `${d}/key.pem`] : ['--no-tls'];
    this.child = spawn(
      '../target/release/server',
      [
        '--addr', `127.0.0.1:${this.port}`,
        '--data-dir', d,
        ...tls,
        '--site-root', '../target/site',
        '--newcomer-burst', '100000',
        '--new-identity-burst', '100000',
        '--max-tcp-per-ip', '100000',
      ],
      { stdio: ['ignore', 'ignore', process.env.ENGINE_LOGS ? 'inherit' : 'ignore'] },
    );
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      // The CA too: a port that answers may be another program's (the
      // port is picked at random), and the CA is read at once.
      if ((!this.tls || existsSync(this.ca)) && (await this.listening())) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('the chat server did not start');
  }

  listening() {
    return new Promise((resolve) => {
      const s = connect(this.port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
  }

  async kill() {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
}
