// The control socket: a UNIX stream socket, mode 0600 in a 0700 directory, so only its owner
// (root) can connect. Handlers may report progress and are awaited before the reply is sent,
// so `ctsync commit` returns when the commit is done, as `conntrackd -c` does.
import net from 'node:net';
import { chmodSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Request, Reply, Progress } from './protocol.ts';

export type Handler = (args: Record<string, unknown>, progress: (p: Progress) => void) => unknown | Promise<unknown>;

export interface ControlCounters { requests: number; unknown: number; badRequests: number; failed: number }

/** Prepares a path for a listening UNIX socket: private directory, no stale socket file. */
export function prepareSocketPath(path: string): void {
  const dir = dirname(path);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  rmSync(path, { force: true });
}

export async function listenUnix(path: string, onConn: (s: net.Socket) => void): Promise<net.Server> {
  prepareSocketPath(path);
  const server = net.createServer(onConn);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => { server.off('error', reject); resolve(); });
  });
  chmodSync(path, 0o600);
  return server;
}

export class ControlServer {
  private server?: net.Server;
  readonly counters: ControlCounters = { requests: 0, unknown: 0, badRequests: 0, failed: 0 };

  constructor(readonly path: string, private readonly handlers: Record<string, Handler>) {}

  async listen(): Promise<void> {
    this.server = await listenUnix(this.path, (s) => this.serve(s));
  }

  private serve(sock: net.Socket): void {
    let buf = '';
    let handled = false;
    sock.setEncoding('utf8');
    sock.on('error', () => {});
    sock.on('data', (d: string) => {
      if (handled) return;
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) {
        if (buf.length > 1 << 16) { handled = true; this.counters.badRequests++; finish(sock, { ok: false, error: 'request too long' }); }
        return;
      }
      handled = true;
      void this.handle(sock, buf.slice(0, nl));
    });
  }

  private async handle(sock: net.Socket, line: string): Promise<void> {
    this.counters.requests++;
    let req: Request;
    try {
      req = JSON.parse(line);
      if (typeof req !== 'object' || req === null || typeof req.cmd !== 'string') throw new Error('no "cmd"');
    } catch (e) {
      this.counters.badRequests++;
      return finish(sock, { ok: false, error: `bad request: ${(e as Error).message}` });
    }
    // own properties only: "constructor" or "__proto__" are not commands
    const h = Object.hasOwn(this.handlers, req.cmd) ? this.handlers[req.cmd] : undefined;
    if (!h) {
      this.counters.unknown++;
      return finish(sock, { ok: false, error: `unknown command "${req.cmd}"` });
    }
    try {
      const result = await h(req.args ?? {}, (p) => { if (!sock.destroyed) sock.write(JSON.stringify({ progress: p }) + '\n'); });
      finish(sock, { ok: true, result: result ?? null });
    } catch (e) {
      this.counters.failed++;
      finish(sock, { ok: false, error: (e as Error).message });
    }
  }

  async close(): Promise<void> {
    if (!this.server) return;
    await new Promise<void>((r) => this.server!.close(() => r()));
    rmSync(this.path, { force: true });
  }
}

function finish(sock: net.Socket, reply: Reply): void {
  if (!sock.destroyed) sock.end(JSON.stringify(reply, bigintSafe) + '\n');
}

export function bigintSafe(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}
