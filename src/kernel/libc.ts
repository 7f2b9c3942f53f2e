// libc through koffi: the few system calls the kernel layer needs. Buffers are passed as
// Uint8Array/Int32Array and written in place by the kernel (koffi passes their memory directly).
import { koffi } from './runtime.ts';

const lib = koffi.load('libc.so.6');

type Buf = Uint8Array | Int32Array | Uint32Array | BigUint64Array;

export const libc = {
  socket: lib.func('int socket(int domain, int type, int protocol)') as (d: number, t: number, p: number) => number,
  bind: lib.func('int bind(int fd, const void *addr, uint32_t len)') as (fd: number, a: Buf, l: number) => number,
  open: lib.func('int open(const char *path, int flags)') as (path: string, flags: number) => number,
  read: lib.func('long read(int fd, _Inout_ void *buf, unsigned long len)') as (fd: number, buf: Buf, len: number) => number,
  mkfifo: lib.func('int mkfifo(const char *path, unsigned int mode)') as (path: string, mode: number) => number,
  close: lib.func('int close(int fd)') as (fd: number) => number,
  setsockopt: lib.func('int setsockopt(int fd, int level, int name, const void *val, uint32_t len)') as
    (fd: number, level: number, name: number, val: Buf, len: number) => number,
  getsockopt: lib.func('int getsockopt(int fd, int level, int name, _Inout_ void *val, _Inout_ uint32_t *len)') as
    (fd: number, level: number, name: number, val: Buf, len: Uint32Array) => number,
  getsockname: lib.func('int getsockname(int fd, _Inout_ void *addr, _Inout_ uint32_t *len)') as
    (fd: number, addr: Buf, len: Uint32Array) => number,
  sendto: lib.func('long sendto(int fd, const void *buf, unsigned long len, int flags, const void *addr, uint32_t alen)') as
    (fd: number, buf: Buf, len: number, flags: number, addr: Buf | null, alen: number) => number,
  recv: lib.func('long recv(int fd, _Inout_ void *buf, unsigned long len, int flags)') as
    (fd: number, buf: Buf, len: number, flags: number) => number,
  fcntl: lib.func('int fcntl(int fd, int cmd, int arg)') as (fd: number, cmd: number, arg: number) => number,
  getpid: lib.func('int getpid()') as () => number,
  sysconf: lib.func('long sysconf(int name)') as (name: number) => number,
  mmap: lib.func('void *mmap(void *addr, unsigned long len, int prot, int flags, int fd, long off)') as
    (addr: null, len: number, prot: number, flags: number, fd: number, off: number) => unknown,
  munmap: lib.func('int munmap(void *addr, unsigned long len)') as (addr: unknown, len: number) => number,
  clockGettime: lib.func('int clock_gettime(int clk, _Out_ int64_t *ts)') as (clk: number, ts: BigInt64Array) => number,
  poll: lib.func('int poll(_Inout_ int32_t *fds, unsigned long nfds, int timeout)') as
    (fds: Int32Array, n: number, timeout: number) => number,
  setns: lib.func('int setns(int fd, int nstype)') as (fd: number, nstype: number) => number,
  strerror: lib.func('const char *strerror(int errnum)') as (e: number) => string,
};

type AsyncSendto = (
  fd: number, buf: Buf, len: number, flags: number, addr: Buf | null, alen: number, cb: (err: unknown, r: number) => void,
) => void;
/**
 * sendto(2) on one of koffi's worker threads, the result to `cb` on this one. The buffer must stay
 * untouched until then. errno is the worker thread's, lost here: on -1 the caller asks again.
 */
export const sendtoAsync: AsyncSendto = (...args) => (libc.sendto as unknown as { async: AsyncSendto }).async(...args);

export function errno(): number {
  return koffi.errno();
}

/** Address of a native pointer returned by mmap (for MAP_FAILED checks). */
export function address(ptr: unknown): bigint {
  return koffi.address(ptr) as bigint;
}

/** An ArrayBuffer over native memory (no copy). */
export function view(ptr: unknown, len: number): ArrayBuffer {
  return koffi.view(ptr, len);
}

const ts = new BigInt64Array(2);
const CLOCK_MONOTONIC = 1;
/** CLOCK_MONOTONIC in ns: the clock bpf_ktime_get_ns() reads, so kernel stamps compare directly. */
export function monotonicNs(): bigint {
  libc.clockGettime(CLOCK_MONOTONIC, ts);
  return ts[0] * 1_000_000_000n + ts[1];
}

/** performance.now() is re-anchored to CLOCK_MONOTONIC when its anchor is older than this (ms) */
const ANCHOR_MS = 1000;
let anchorMs = -Infinity;
let anchorNs = 0;

/**
 * CLOCK_MONOTONIC in ns as a number, for the per-event and per-datagram latency stamps: a foreign
 * call costs about 2 us, performance.now() a few tens of ns. Node and Deno both read
 * CLOCK_MONOTONIC behind performance.now(), so the two differ by a constant; it is taken from
 * clock_gettime once a second (which also bounds any drift between them to that second's).
 */
export function monotonicNsFast(): number {
  const now = performance.now();
  if (now - anchorMs > ANCHOR_MS) {
    // of three readings, the one with the shortest call pairs best with its middle
    let best = Infinity;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now(), mono = Number(monotonicNs()), t1 = performance.now();
      if (t1 - t0 < best) {
        best = t1 - t0;
        anchorNs = mono - ((t0 + t1) / 2) * 1e6;
      }
    }
    anchorMs = now;
  }
  return anchorNs + now * 1e6;
}

export class SysError extends Error {
  constructor(readonly call: string, readonly errno: number) {
    super(`${call}: ${libc.strerror(errno)} (${ERRNO_NAMES[errno] ?? `errno ${errno}`})`);
    this.name = 'SysError';
  }
  get code(): string { return ERRNO_NAMES[this.errno] ?? `E${this.errno}`; }
}

export const E = {
  EPERM: 1, ENOENT: 2, EINTR: 4, EIO: 5, EBADF: 9, EAGAIN: 11, ENOMEM: 12, EACCES: 13, EBUSY: 16,
  EEXIST: 17, EINVAL: 22, ENOSPC: 28, EOPNOTSUPP: 95, ENOBUFS: 105, ETIME: 62, ENOTSUP: 95,
  EAFNOSUPPORT: 97, EPROTONOSUPPORT: 93, EMSGSIZE: 90,
} as const;
const ERRNO_NAMES: Record<number, string> = Object.fromEntries(Object.entries(E).map(([k, v]) => [v, k]));
export function errnoName(n: number): string { return ERRNO_NAMES[n] ?? `errno ${n}`; }

/** Throws SysError when a libc call returned -1. */
export function check(call: string, r: number): number {
  if (r < 0) throw new SysError(call, errno());
  return r;
}
