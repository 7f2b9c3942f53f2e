// NOTRACK: conntrackd's best-effort mode (reference §3.1). Objects are sent once with flags 0 and
// forgotten; nothing is acknowledged or resent. Sequence numbers are tracked only to count lost
// and old messages, and every message is processed whatever its number. ALIVE after 1 s without
// transmission. RESYNC is honoured (bulk send); ACK and NACK count as malformed headers.
//
// With conntrackd's DisableInternalCache the daemon can still use this mode: wrap each kernel
// event (or each dumped flow, in forEachObject) in a throw-away SyncObject and enqueue it.
import { ModeBase, Verdict } from './base.ts';
import type { MsgHeader } from './codec.ts';
import type { ModeKind, SyncDeps, SyncOptions } from './mode.ts';
import type { SyncObject } from './object.ts';
import type { QItem } from './queue.ts';
import { FLAG, MSG, after, before } from './wire.ts';

export class NotrackMode extends ModeBase {
  readonly kind: ModeKind = 'notrack';
  private seqRecvSet = false;
  private lastSeqRecv = 0;

  constructor(deps: SyncDeps, opt: SyncOptions = {}) {
    super(deps, opt);
  }

  enqueue(obj: SyncObject): void {
    this.toTx(obj);
  }

  protected xmit(): void {
    let n: QItem | null;
    while ((n = this.tx.shift())) {
      if (n.ctl) {
        this.emitControl(n.flags, n.from, n.to);
        this.freeCtl(n);
      } else {
        this.emitObject(n.obj, 0);
        this.drop(n);
      }
    }
  }

  protected classify(h: MsgHeader): Verdict {
    if (this.seqRecvSet) {
      const expected = (this.lastSeqRecv + 1) >>> 0;
      if (after(h.seq, expected)) this.stats.rcvLost += (h.seq - expected) >>> 0;
      else if (before(h.seq, expected)) this.stats.rcvBefore++;
    }
    let ret: Verdict;
    if (NotrackMode.isData(h)) ret = Verdict.DATA;
    else if (h.type === MSG.CTL && h.flags & FLAG.RESYNC) {
      this.log('notice', 'resync requested by other node');
      this.stats.resyncReceived++;
      this.bulkSend();
      ret = Verdict.CTL;
    } else if (h.type === MSG.CTL && h.flags & FLAG.ALIVE) ret = Verdict.CTL;
    else return Verdict.BAD;
    this.seqRecvSet = true;
    this.lastSeqRecv = h.seq;
    return ret;
  }

  protected tick(now: number): void {
    if (now - this.lastTxAt >= this.opt.aliveMs) this.queueCtl(FLAG.ALIVE, 0, 0);
    if (this.tx.len) this.flush();
  }
}
