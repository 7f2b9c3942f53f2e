// The one place that knows whether we run on Node.js or Deno. Everything else asks this module.
import koffi from 'koffi';
import process from 'node:process';

interface DenoGlobal { version: { deno: string }; execPath(): string }
const deno = (globalThis as { Deno?: DenoGlobal }).Deno;

export const runtime: 'node' | 'deno' = deno ? 'deno' : 'node';
export const runtimeVersion: string = deno ? deno.version.deno : process.versions.node;

export { koffi };

/** Command line that runs a TypeScript or JavaScript file on the runtime we are running on. */
export function scriptCommand(file: string, args: string[] = []): [string, string[]] {
  if (deno) return [deno.execPath(), ['run', '-A', '--quiet', file, ...args]];
  const register = new URL('../../build/register.mjs', import.meta.url).pathname;
  return file.endsWith('.ts')
    ? [process.execPath, ['--enable-source-maps', '--import', register, file, ...args]]
    : [process.execPath, [file, ...args]];
}

declare const CTSYNC_VERSION: string | undefined;
declare const CTSYNC_SEA: boolean | undefined;

/** The command that runs this same ctsync program (single binary, bundle or sources) with args. */
export function ctsyncCommand(args: string[]): [string, string[]] {
  if (typeof CTSYNC_SEA === 'boolean' && CTSYNC_SEA) return [process.execPath, args];
  if (typeof CTSYNC_VERSION === 'string') {
    // bundled: this module is dist/ctsync.mjs itself
    const self = new URL(import.meta.url).pathname;
    return deno ? [deno.execPath(), ['run', '-A', '--quiet', self, ...args]] : [process.execPath, [self, ...args]];
  }
  return scriptCommand(new URL('../cli/main.ts', import.meta.url).pathname, args);
}

export interface Watch { close(): Promise<void> }

const POLLIN = 0x1;
let asyncPoll: ((fds: Int32Array, n: number, timeout: number, cb: (err: unknown, r: number) => void) => void) | undefined;

/**
 * Calls `onReadable` whenever `fd` becomes readable. Node: libuv's poll through koffi. Deno: its
 * uv_poll shim fires only once (denoland/deno#36317), so one blocking poll(2) runs on a koffi
 * worker thread instead, with a short timeout so that close() returns promptly.
 */
export function watchReadable(fd: number, onReadable: () => void): Watch {
  if (!deno) {
    let open = true;
    // libuv stops a poll handle that reports POLLERR (a netlink socket with ENOBUFS pending does)
    // and calls back with a negative status: read the error, then watch again
    const cb = (status: unknown) => {
      onReadable();
      if (open && typeof status === 'number' && status < 0) {
        try { h.start({ readable: true }, cb as never); } catch { /* fd gone: nothing to watch */ }
      }
    };
    const h = koffi.node.poll(fd, { readable: true }, cb as never);
    return { close: async () => { open = false; h.stop(); h.close(); } };
  }
  if (!asyncPoll) {
    const libc = koffi.load('libc.so.6');
    const fn = libc.func('int poll(_Inout_ int32_t *fds, unsigned long nfds, int timeout)');
    asyncPoll = (fds, n, t, cb) => (fn as unknown as { async: Function }).async(fds, n, t, cb);
  }
  const pfd = new Int32Array([fd, POLLIN]);
  let open = true;
  let done: () => void = () => {};
  const finished = new Promise<void>((r) => { done = r; });
  const loop = () => {
    if (!open) return done();
    pfd[1] = POLLIN;
    asyncPoll!(pfd, 1, 200, (err, r) => {
      if (!open) return done();
      if (!err && r > 0) onReadable();
      setTimeout(loop, 0);
    });
  };
  loop();
  return { close: async () => { open = false; await finished; } };
}

/**
 * Whether a watch is cheap to open and close many times a second. Node: a libuv poll handle.
 * Deno: close() leaves the worker's poll(2) running until its timeout, so watches opened and closed
 * often would pile up; there the ring buffer is read on its timer alone.
 */
export const watchIsCheap: boolean = !deno;

/**
 * Whether node:dgram puts datagrams on the wire in the order send() was called. Deno 2's puts
 * the datagrams queued in one turn of the event loop out in reverse order (and calls back in that
 * order); a sync link there sends one datagram at a time.
 */
export const dgramSendsInOrder: boolean = !deno;

/**
 * Whether a sync link connects its send socket to the destination. On Node, send() on a connected
 * socket skips the address lookup that an unconnected one makes per datagram (a deferred callback
 * each) and the kernel reuses the route; Deno's node:dgram is left as it is.
 */
export const dgramConnects: boolean = !deno;

/** Deno maps some socket errors to UNKNOWN/EINVAL where Node names them; give both one name. */
export function errorCode(err: unknown): string {
  const e = err as { code?: string; message?: string };
  if (deno && (e.code === 'UNKNOWN' || e.code === undefined) && e.message) {
    const m = /\b(E[A-Z]+)\b/.exec(e.message);
    if (m) return m[1];
  }
  return e.code ?? 'UNKNOWN';
}
