// Reads keepalived's notify_fifo and hands the lines of our own sync group to the state machine.
// The FIFO is opened read-write and non-blocking, so neither a missing writer (keepalived not
// started yet) nor its restarts block or end the reader; it is created if keepalived has not yet.
import { libc, check, errno, E } from '../kernel/libc.ts';
import { watchReadable, type Watch } from '../kernel/runtime.ts';
import { parseFifoLine, type VrrpState } from './machine.ts';

const O_RDWR = 2, O_NONBLOCK = 0x800, O_CLOEXEC = 0x80000;

export class NotifyFifo {
  private fd = -1;
  private watch?: Watch;
  private buf = '';
  private readonly chunk = new Uint8Array(4096);
  lines = 0;
  ignored = 0;
  malformed = 0;

  constructor(readonly path: string, readonly syncGroup: string, private readonly onState: (s: VrrpState, line: string) => void) {}

  open(): void {
    if (libc.mkfifo(this.path, 0o600) < 0 && errno() !== E.EEXIST) {
      throw new Error(`cannot create keepalived notify FIFO ${this.path}: errno ${errno()}`);
    }
    this.fd = check(`open(${this.path})`, libc.open(this.path, O_RDWR | O_NONBLOCK | O_CLOEXEC));
    this.watch = watchReadable(this.fd, () => this.drain());
  }

  drain(): void {
    for (;;) {
      const n = libc.read(this.fd, this.chunk, this.chunk.length);
      if (n <= 0) break;
      this.buf += new TextDecoder().decode(this.chunk.subarray(0, n));
    }
    let nl;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      this.lines++;
      const p = parseFifoLine(line);
      if (!p) { this.malformed++; continue; }
      if (p.kind !== 'GROUP' || p.name !== this.syncGroup) { this.ignored++; continue; }
      this.onState(p.state, line);
    }
  }

  async close(): Promise<void> {
    if (this.watch) await this.watch.close();
    if (this.fd >= 0) libc.close(this.fd);
    this.fd = -1;
  }
}
