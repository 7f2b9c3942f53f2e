// Client side of the control protocol, for the CLI.
import net from 'node:net';
import type { Progress, Reply } from './protocol.ts';

export class DaemonNotRunning extends Error {
  constructor(readonly path: string, cause: string) {
    super(`cannot reach the ctsync daemon at ${path} (${cause}): is it running, and are you root?`);
    this.name = 'DaemonNotRunning';
  }
}

export function request<T = unknown>(path: string, cmd: string, args: Record<string, unknown> = {}, onProgress?: (p: Progress) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(path);
    let buf = '';
    let settled = false;
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(JSON.stringify({ cmd, args }) + '\n'));
    sock.on('error', (e: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      reject(['ENOENT', 'ECONNREFUSED', 'EACCES', 'ENOTSOCK'].includes(e.code ?? '') ? new DaemonNotRunning(path, e.code!) : e);
    });
    sock.on('data', (d: string) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const r = JSON.parse(line) as Reply;
        if ('progress' in r) { onProgress?.(r.progress); continue; }
        settled = true;
        if (r.ok) resolve(r.result as T); else reject(new Error(r.error));
      }
    });
    sock.on('close', () => {
      if (!settled) { settled = true; reject(new Error(`the daemon closed the connection without an answer to "${cmd}"`)); }
    });
  });
}
