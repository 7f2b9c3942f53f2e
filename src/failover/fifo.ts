// Reads keepalived's notify_fifo and hands the lines of our own sync group to the state machine.
// The FIFO is opened read-write and non-blocking, so neither a missing writer (keepalived not
// started yet) nor its restarts block or end the reader; it is created if keepalived has not yet
// (keepalived uses a FIFO that exists, and leaves it in place when it exits).
import { statSync } from 'node:fs';
import { libc, check, errno, E } from '../kernel/libc.ts';
import { watchReadable, type Watch } from '../kernel/runtime.ts';
import { parseFifoLine, groupState, type VrrpState } from './machine.ts';

const O_RDWR = 2, O_NONBLOCK = 0x800, O_CLOEXEC = 0x80000;
/** a line longer than this is not keepalived's; the reader drops it rather than grow without end */
const MAX_LINE = 4096;

export interface FifoCounters {
  /** lines read */
  lines: number;
  /** lines about our sync group that started a transition */
  used: number;
  /** well-formed lines about other groups, instances, virtual servers or states */
  ignored: number;
  /** lines of another shape */
  malformed: number;
}

export class NotifyFifo {
  private fd = -1;
  private watch?: Watch;
  private buf = '';
  private readonly chunk = new Uint8Array(4096);
  private readonly decoder = new TextDecoder();
  readonly counters: FifoCounters = { lines: 0, used: 0, ignored: 0, malformed: 0 };

  constructor(readonly path: string, public syncGroup: string, private readonly onState: (s: VrrpState, line: string) => void) {}

  open(): void {
    if (libc.mkfifo(this.path, 0o600) < 0 && errno() !== E.EEXIST) {
      throw new Error(`cannot create keepalived notify FIFO ${this.path}: errno ${errno()} (does its directory exist?)`);
    }
    // a regular file there would read as endless EOF
    let isFifo = false;
    try { isFifo = statSync(this.path).isFIFO(); } catch { /* checked below */ }
    if (!isFifo) throw new Error(`keepalived notify-fifo ${this.path} exists and is not a FIFO; remove it or choose another path`);
    this.fd = check(`open(${this.path})`, libc.open(this.path, O_RDWR | O_NONBLOCK | O_CLOEXEC));
    this.watch = watchReadable(this.fd, () => this.drain());
  }

  drain(): void {
    if (this.fd < 0) return;
    for (;;) {
      const n = libc.read(this.fd, this.chunk, this.chunk.length);
      if (n <= 0) break;
      this.buf += this.decoder.decode(this.chunk.subarray(0, n), { stream: true });
    }
    let nl;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      this.line(line);
    }
    if (this.buf.length > MAX_LINE) {
      this.counters.lines++;
      this.counters.malformed++;
      this.buf = '';
    }
  }

  private line(line: string): void {
    this.counters.lines++;
    const p = parseFifoLine(line);
    if (!p) { this.counters.malformed++; return; }
    const s = groupState(p, this.syncGroup);
    if (!s) { this.counters.ignored++; return; }
    this.counters.used++;
    this.onState(s, line.trim());
  }

  async close(): Promise<void> {
    if (this.watch) await this.watch.close();
    this.watch = undefined;
    if (this.fd >= 0) libc.close(this.fd);
    this.fd = -1;
  }
}
