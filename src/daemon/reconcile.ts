// Repairing the external cache after the peer restarted (FTFW). While a peer is down, the flows
// it destroys are never reported: conntrackd keeps them in its external cache for good. ctsync
// marks the moment it sees the peer's HELLO, asks the peer for its whole table (RESYNC) once the
// handshake is over, and when the peer has acknowledged that request (and every NACK sent after
// it), everything the peer had to send has arrived: the entries nobody refreshed since the mark
// are the ones the peer no longer has, and are removed. Only standard messages are used, so a
// conntrackd peer is repaired the same way (see src/sync/ftfw.ts and docs/reliability.md).
//
//   peer HELLO          -> begin(): whether there is anything to repair (starts the mark)
//   each message applied -> touchCt(flow) / touchExp(exp)
//   barrier acknowledged -> finish(): removes what was not refreshed, returns how many
import type { Cache } from '../cache/cache.ts';
import type { Expectation, Flow } from '../flow/flow.ts';

export interface ReconcileCounters {
  /** peer restarts that started a repair */
  started: number;
  /** repairs that completed */
  completed: number;
  /** repairs given up because the peer never finished (timeout) */
  abandoned: number;
  /** external entries removed by completed repairs */
  removed: number;
}

export class Reconciler {
  readonly counters: ReconcileCounters = { started: 0, completed: 0, abandoned: 0, removed: 0 };
  private ct: Set<string> | null = null;
  private exp: Set<string> | null = null;
  private since = 0;
  private touches = 0;

  constructor(
    private readonly ctCache: Cache<'ct'>,
    private readonly expCache: Cache<'exp'>,
    private readonly log: (message: string) => void,
    /** a repair still open after this long is abandoned (the key sets would grow without end) */
    private readonly timeoutMs = 10 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  get active(): boolean { return this.ct !== null; }

  /**
   * The peer restarted. A repair already under way keeps its mark (a second HELLO, or one
   * duplicated on the wire, must not forget what was refreshed since the first one).
   */
  begin(): boolean {
    if (this.ct && this.now() - this.since > this.timeoutMs) this.abandon();
    if (this.ct) return true;
    if (this.ctCache.size === 0 && this.expCache.size === 0) return false;
    this.ct = new Set();
    this.exp = new Set();
    this.since = this.now();
    this.counters.started++;
    this.log(`peer restarted: external cache repair started (${this.ctCache.size} entries to confirm)`);
    return true;
  }

  touchCt(f: Flow): void {
    if (!this.ct) return;
    this.ct.add(this.ctCache.keyOf(f));
    this.tick();
  }

  touchExp(x: Expectation): void {
    if (!this.exp) return;
    this.exp.add(this.expCache.keyOf(x));
    this.tick();
  }

  private tick(): void {
    if ((++this.touches & 4095) === 0 && this.now() - this.since > this.timeoutMs) this.abandon();
  }

  private abandon(): void {
    this.counters.abandoned++;
    this.log(`external cache repair abandoned: the peer did not complete its resync within ${Math.round(this.timeoutMs / 1000)} s`);
    this.ct = this.exp = null;
  }

  /** Everything the peer had has arrived: what it did not refresh is gone. */
  finish(): number {
    const ct = this.ct, exp = this.exp;
    if (!ct || !exp) return 0;
    this.ct = this.exp = null;
    let n = 0;
    for (const e of [...this.ctCache.values()]) if (!ct.has(e.key) && this.ctCache.remove(e.data)) n++;
    for (const e of [...this.expCache.values()]) if (!exp.has(e.key) && this.expCache.remove(e.data)) n++;
    this.counters.completed++;
    this.counters.removed += n;
    this.log(`external cache repair done: ${n} entries the peer no longer has removed, ${this.ctCache.size} kept`);
    return n;
  }
}
