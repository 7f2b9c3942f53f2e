// Authenticated sync links (`auth-key-file`), between ctsync nodes only: conntrackd 1.4.7 has no
// such mode and refuses nothing, so a pair with a conntrackd node must leave it off.
//
// Every datagram gets a 44-byte trailer after the conntrackd messages:
//
//   sender id (u32 BE) | counter (u64 BE) | HMAC-SHA256 (32 bytes)
//
// The HMAC covers a context label, the messages, the sender id and the counter, under the shared
// key read from the key file. The sender id is random per process: a node refuses datagrams that
// carry its own id (its own traffic reflected back at it). The counter goes up by one per datagram
// from the wall clock in microseconds at the first one, so it keeps increasing across restarts
// without any state on disk. The receiver keeps, per link, the highest counter accepted and a 1024-datagram
// window below it: a datagram whose counter was already seen, or fell out of the window, is a
// replay and is refused. The tag is checked before the window moves, so forged datagrams cannot
// push it. Every refusal is counted on the link.
//
//   const auth = new Authenticator(readAuthKey('/config/auth/ctsync.key'));
//   len = auth.seal(buf, len)                 // sender: appends the trailer (buf has room)
//   const r = auth.open(bytes, window)        // receiver: payload length, or an AUTH_FAIL code
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';

export const AUTH_TRAILER_SIZE = 44;
const TAG_SIZE = 32;
const MIN_KEY_BYTES = 16;
const LABEL = new TextEncoder().encode('ctsync sync-link auth v1\0');

/** Why a datagram was refused. */
export const AUTH_FAIL = { SHORT: -1, TAG: -2, REPLAY: -3, OWN: -4 } as const;

export class AuthKeyError extends Error {
  override name = 'AuthKeyError';
}

/**
 * Reads the shared key: the file's bytes, surrounding whitespace removed, at least 16 of them.
 * The file must be a regular file that only its owner can read or write. Generate one with
 * `head -c 32 /dev/urandom | base64 > FILE && chmod 600 FILE` and copy it to both nodes.
 */
export function readAuthKey(path: string): Uint8Array {
  let mode: number;
  let raw: Buffer;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new AuthKeyError(`auth-key-file ${path}: not a regular file; point it at the key file`);
    mode = st.mode & 0o777;
    raw = readFileSync(path);
  } catch (e) {
    if (e instanceof AuthKeyError) throw e;
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new AuthKeyError(`auth-key-file ${path}: cannot read it (${code}); create it with the same key on both nodes`);
  }
  if (mode & 0o077) {
    throw new AuthKeyError(`auth-key-file ${path}: other users can access it (mode ${mode.toString(8).padStart(4, '0')}); chmod 600 ${path}`);
  }
  const key = trim(raw);
  if (key.length < MIN_KEY_BYTES) {
    throw new AuthKeyError(`auth-key-file ${path}: the key has ${key.length} bytes, at least ${MIN_KEY_BYTES} are needed; write 32 random bytes (base64) into it`);
  }
  return key;
}

function trim(b: Uint8Array): Uint8Array {
  const ws = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
  let s = 0, e = b.length;
  while (s < e && ws(b[s])) s++;
  while (e > s && ws(b[e - 1])) e--;
  return Uint8Array.from(b.subarray(s, e));
}

/** Anti-replay window of one link: the highest counter accepted and a bitmap of the 1024 below. */
export class ReplayWindow {
  static readonly SIZE = 1024;
  private highest = -1;
  private readonly bits = new Uint32Array(ReplayWindow.SIZE / 32);

  /** Whether `c` is new; records it when it is. Counters are integers below 2^53. */
  accept(c: number): boolean {
    const size = ReplayWindow.SIZE;
    if (c > this.highest) {
      if (this.highest < 0 || c - this.highest >= size) this.bits.fill(0);
      else for (let x = this.highest + 1; x < c; x++) this.clear(x);
      this.highest = c;
      this.set(c);
      return true;
    }
    if (this.highest - c >= size) return false;
    if (this.has(c)) return false;
    this.set(c);
    return true;
  }

  private set(c: number): void { const i = c % ReplayWindow.SIZE; this.bits[i >>> 5] |= 1 << (i & 31); }
  private clear(c: number): void { const i = c % ReplayWindow.SIZE; this.bits[i >>> 5] &= ~(1 << (i & 31)); }
  private has(c: number): boolean { const i = c % ReplayWindow.SIZE; return (this.bits[i >>> 5] & (1 << (i & 31))) !== 0; }
}

export interface AuthOptions {
  /** the sender id (default: random) */
  senderId?: number;
  /** wall clock in ms (default Date.now) */
  now?: () => number;
}

export class Authenticator {
  readonly senderId: number;
  private key: Uint8Array;
  private last = 0;
  private readonly now: () => number;

  constructor(key: Uint8Array, opt: AuthOptions = {}) {
    this.key = key;
    this.senderId = (opt.senderId ?? randomBytes(4).readUInt32BE(0)) >>> 0;
    this.now = opt.now ?? Date.now;
    // Deno sets node:crypto up on first use and runs queued microtasks meanwhile: do it now, not
    // in the middle of a send
    this.tag(new Uint8Array(1), 1, new Uint8Array(12));
  }

  /** A new key (configuration reload); counters and windows carry on. */
  setKey(key: Uint8Array): void {
    this.key = key;
  }

  private nextCounter(): number {
    // +1 per datagram, so that the receiver's window counts datagrams; starting from the clock
    // keeps a restarted sender above its previous life unless that sent more than a million
    // datagrams per second of uptime
    if (this.last === 0) this.last = Math.floor(this.now()) * 1000;
    return ++this.last;
  }

  private tag(b: Uint8Array, len: number, trailer: Uint8Array): Buffer {
    return createHmac('sha256', this.key).update(LABEL).update(b.subarray(0, len)).update(trailer).digest();
  }

  /**
   * Appends the trailer to the datagram in buf[0, len) and returns the new length; buf must have
   * AUTH_TRAILER_SIZE bytes of room after len.
   */
  seal(buf: Uint8Array, len: number): number {
    const head = buf.subarray(len, len + 12);
    putU32(head, 0, this.senderId);
    putU64(head, 4, this.nextCounter());
    buf.set(this.tag(buf, len, head), len + 12);
    return len + AUTH_TRAILER_SIZE;
  }

  /**
   * Checks a received datagram: the length of its conntrackd messages (the trailer stripped), or
   * an AUTH_FAIL code. The window only moves for datagrams whose tag is right.
   */
  open(b: Uint8Array, window: ReplayWindow): number {
    if (b.length < AUTH_TRAILER_SIZE) return AUTH_FAIL.SHORT;
    const len = b.length - AUTH_TRAILER_SIZE;
    const head = b.subarray(len, len + 12);
    const want = this.tag(b, len, head);
    const got = b.subarray(len + 12, len + 12 + TAG_SIZE);
    if (!timingSafeEqual(want, got)) return AUTH_FAIL.TAG;
    if (getU32(head, 0) === this.senderId) return AUTH_FAIL.OWN;
    const counter = getU64(head, 4);
    if (!window.accept(counter)) return AUTH_FAIL.REPLAY;
    return len;
  }
}

/**
 * The Authenticator for a key file, or undefined when none is configured. Given the one in use,
 * it keeps it (sender id, counter) and only swaps the key: a reload does not look like a restart.
 */
export function authFor(path: string | undefined, current?: Authenticator): Authenticator | undefined {
  if (!path) return undefined;
  const key = readAuthKey(path);
  if (!current) return new Authenticator(key);
  current.setKey(key);
  return current;
}

function putU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24; b[o + 1] = (v >>> 16) & 0xff; b[o + 2] = (v >>> 8) & 0xff; b[o + 3] = v & 0xff;
}
function getU32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}
function putU64(b: Uint8Array, o: number, v: number): void {
  putU32(b, o, Math.floor(v / 2 ** 32));
  putU32(b, o + 4, v >>> 0);
}
function getU64(b: Uint8Array, o: number): number {
  // exact below 2^53 (microseconds until the year 2255); only a key holder could send more
  return getU32(b, o) * 2 ** 32 + getU32(b, o + 4);
}
