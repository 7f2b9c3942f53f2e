// FTFW: conntrackd's reliable mode (reference §3.4), message for message.
//
// Receive: one sequence space for the single peer; in-order messages are counted into an ACK
// window (ACK after 300), a gap is NACKed at once, an old message is dropped; HELLO resets the
// tracking. Transmit: every message gets the next global sequence number; objects and ACK, NACK
// and RESYNC stay in the resend queue (bounded, oldest dropped) until acknowledged, and a NACK
// moves them back to the transmit queue to go out again as fresh messages. HELLO rides on every
// message until the peer answers with HELLO_BACK; HELLO_BACK goes once after each HELLO. After 1 s
// without transmission the node sends the pending ACK, or ALIVE.
//
// Beyond conntrackd, interoperable with it (each can be switched off in SyncOptions):
//  - retransmitMs: objects unacknowledged for that long are resent as if NACKed (fresh sequence
//    numbers), with exponential backoff while nothing gets acknowledged;
//  - ackDelayMs: pending ACKs go out within that delay even while we keep transmitting;
//  - requeueOnHello: the peer's HELLO re-queues our unacknowledged objects instead of dropping them;
//  - bulkOnPeerRestart / reconcileOnPeerRestart: when a peer we had heard from says HELLO again (it
//    restarted), we send it our table once its handshake is over, and ask for its table (RESYNC)
//    so that the host can drop the external entries the peer no longer has. That RESYNC is a
//    barrier: the peer queues its whole answer before it can acknowledge it, so once the barrier
//    is acknowledged with no gap left behind (a gap makes its NACK the new barrier), all of the
//    answer has arrived and the host is told (SyncHost.reconciled).
import { ModeBase, Verdict } from './base.ts';
import type { MsgHeader } from './codec.ts';
import type { ModeKind, SyncDeps, SyncOptions } from './mode.ts';
import { OBJ_STATE, type SyncObject } from './object.ts';
import { LOW30, Queue, nodeMs, type CtlNode, type QItem } from './queue.ts';
import type { QueueStat, RsQueueEntry } from './stats.ts';
import { FLAG, MSG, RANGE_FLAGS, after, before } from './wire.ts';

const HELLO_INIT = 0, HELLO_SAY = 1, HELLO_DONE = 2;
const RTO_MAX_FACTOR = 16;
/** a copy of a handshake message arriving this long after the handshake is taken as stale */
const STALE_HELLO_MS = 2000;
/** a HELLO after this long without any message from the peer starts a new handshake */
const RESTART_SILENCE_MS = 1500;
/** copies and late arrivals lag this many sequence numbers at most; further back is a new session */
const REORDER_SPAN = 1 << 20;
/** window ACKs leave at most this often; those queued meanwhile share a datagram */
export const ACK_PACE_MS = 10;

export class FtfwMode extends ModeBase {
  readonly kind: ModeKind = 'ftfw';
  private readonly rs: Queue;

  // receive side
  private seqRecvSet = false;
  private lastSeqRecv = 0;
  private ackFrom = 0;
  private ackFromSet = false;
  private ackPendingSince = 0;
  private window: number;
  // handshake
  private helloState = HELLO_INIT;
  private sayHelloBack = false;
  // retransmission timeout (ctsync)
  private rto: number;
  // peer restarts (ctsync): the peer's messages carry HELLO; a restart waits for its handshake
  // to end; the host wants a repair; the RESYNC or NACK whose acknowledgement completes it
  private peerHello = false;
  private restartPending = false;
  private reconcileWanted = false;
  private barrier: CtlNode | null = null;
  private barrierAcked = false;
  // first sequence number of the peer's last handshake, and when it ended (stale copies of it)
  private phaseLo = 0;
  private phaseEndAt = -1;
  private lastHeardAt = -Infinity;
  // the last message dropped as older than what we have (a restart whose HELLO we missed)
  private behindSet = false;
  private behindLast = 0;

  constructor(deps: SyncDeps, opt: SyncOptions = {}) {
    super(deps, opt);
    this.rs = new Queue('rsqueue', this.opt.resendQueueSize);
    this.window = this.opt.ackWindow;
    this.rto = this.opt.retransmitMs;
  }

  /** Whether the HELLO handshake finished (we saw the peer's HELLO_BACK). */
  get helloDone(): boolean {
    return this.helloState === HELLO_DONE;
  }

  // ---------------------------------------------------------------- local side

  enqueue(obj: SyncObject): void {
    this.toTx(obj);
  }

  // ---------------------------------------------------------------- transmit

  private helloFlags(): number {
    let f = 0;
    if (this.helloState === HELLO_INIT) this.helloState = HELLO_SAY;
    if (this.helloState === HELLO_SAY) f |= FLAG.HELLO;
    if (this.sayHelloBack) {
      f |= FLAG.HELLO_BACK;
      this.sayHelloBack = false;
    }
    return f;
  }

  protected xmit(): void {
    const now = nodeMs(this.clock.now());
    let n: QItem | null;
    while ((n = this.tx.shift())) {
      if (n.ctl) {
        const flags = (n.flags & ~(FLAG.HELLO | FLAG.HELLO_BACK)) | this.helloFlags();
        const seq = this.emitControl(flags, n.from, n.to);
        if (flags & FLAG.ACK) this.lastAckSentAt = this.clock.now();
        if (seq >= 0 && n.flags & RANGE_FLAGS) {
          n.seq = seq;
          n.sentFlags = flags;
          n.sentAt = now;
          this.rsAdd(n);
        } else this.freeCtl(n);
      } else {
        if (n.obj.state === OBJ_STATE.DEAD && this.host.superseded?.(n.obj)) {
          this.drop(n);
          continue;
        }
        const seq = this.emitObject(n.obj, this.helloFlags());
        if (seq < 0) {
          this.drop(n);
          continue;
        }
        n.seq = seq;
        n.sentAt = now;
        this.rsAdd(n);
      }
    }
  }

  /**
   * The ACK of a full window. Under load a window fills every two or three milliseconds, and an
   * ACK in a datagram of its own costs a send here and a wake-up at the peer; conntrackd's ACKs
   * then share datagrams, two or three to one. So does this: an ACK sent less than ACK_PACE_MS ago
   * makes the next one wait for the rest of that time (a flush for anything else takes it along).
   */
  private queueWindowAck(from: number, to: number): void {
    const wait = this.lastAckSentAt + ACK_PACE_MS - this.clock.now();
    if (wait <= 0) {
      this.queueCtl(FLAG.ACK, from, to);
      return;
    }
    this.queueCtl(FLAG.ACK, from, to, false);
    this.paceStop ??= this.clock.after(wait, this.paceDue);
  }
  private lastAckSentAt = -Infinity;
  private paceStop: (() => void) | null = null;
  private readonly paceDue = (): void => {
    this.paceStop = null;
    this.scheduleFlush();
  };

  override stop(): void {
    this.paceStop?.();
    this.paceStop = null;
    super.stop();
  }

  private rsAdd(n: QItem): void {
    if (this.rs.add(n) < 0) {
      // full: the oldest entry makes room (counted by the queue as "not enough space")
      this.stats.rsQueueOverflow++;
      const old = this.rs.shift();
      if (old) this.drop(old);
      this.rs.add(n);
      if (old && old === this.barrier) this.barrier = this.queueCtl(FLAG.RESYNC, 0, 0);
    }
  }

  // ---------------------------------------------------------------- receive

  protected classify(h: MsgHeader): Verdict {
    const seq = h.seq;
    const hello = (h.flags & FLAG.HELLO) !== 0;
    const helloPhase = this.peerHello;
    const heardBefore = this.seqRecvSet;
    const now = this.rxNow;
    // a handshake starts with the first HELLO, or with one after a silence (the peer restarted
    // again before its handshake was over)
    let phaseStart = false;
    if (hello) {
      if (this.staleHello(seq, now)) {
        this.stats.rcvBefore++;
        return Verdict.DROP;
      }
      phaseStart = !helloPhase || now - this.lastHeardAt >= RESTART_SILENCE_MS;
      if (phaseStart) {
        this.peerHello = true;
        this.phaseLo = seq;
        if (heardBefore) this.peerRestartBegins();
      } else if (before(seq, this.phaseLo)) this.phaseLo = seq;
    }
    if (hello) this.sayHelloBack = true;
    if (h.flags & FLAG.HELLO_BACK && this.helloState === HELLO_SAY) this.helloState = HELLO_DONE;

    let ret: Verdict;
    let inSync = false;
    if (hello) {
      this.stats.helloReceived++;
      // ctsync: the first HELLO of a handshake may jump anywhere (a restart), but a forward gap
      // between two HELLO messages of the same handshake is a loss. conntrackd acknowledges it
      // with the rest; we NACK it and keep it out of the next ACK, so that it is resent.
      if (!phaseStart && this.seqRecvSet) {
        const expected = (this.lastSeqRecv + 1) >>> 0;
        if (after(seq, expected)) {
          this.stats.rcvLost += (seq - expected) >>> 0;
          if (this.ackFromSet) {
            this.queueCtl(FLAG.ACK, this.ackFrom, (expected - 1) >>> 0);
            this.ackFromSet = false;
          }
          const nack = this.queueCtl(FLAG.NACK, expected, (seq - 1) >>> 0);
          if (this.barrier) {
            this.barrier = nack;
            this.barrierAcked = false;
          }
          this.window = this.opt.ackWindow;
        }
      }
      // the peer knows nothing about what we had to acknowledge: restart the window
      if (this.ackFromSet && before(seq, this.ackFrom)) {
        this.window = this.opt.ackWindow - 1;
        this.ackFrom = seq;
      }
      // conntrackd empties the resend queue on every HELLO; ctsync only when the handshake starts,
      // and not for a new peer that already hears us (HELLO_BACK): its ACKs tell what it got
      if (this.opt.requeueOnHello === false) this.peerRestarted();
      else if (phaseStart && (heardBefore || !(h.flags & FLAG.HELLO_BACK))) this.peerRestarted();
      inSync = true;
    } else if (!this.seqRecvSet || seq === ((this.lastSeqRecv + 1) >>> 0)) {
      inSync = true;
    } else {
      const expected = (this.lastSeqRecv + 1) >>> 0;
      if (after(seq, expected)) {
        this.stats.rcvLost += (seq - expected) >>> 0;
        ret = this.digest(h);
        if (ret === Verdict.BAD) return ret;
        if (this.ackFromSet) {
          this.queueCtl(FLAG.ACK, this.ackFrom, (expected - 1) >>> 0);
          this.ackFromSet = false;
        }
        const nack = this.queueCtl(FLAG.NACK, expected, (seq - 1) >>> 0);
        if (this.barrier) {
          // what this gap lost is resent after the peer reads the NACK: it is the new barrier
          this.barrier = nack;
          this.barrierAcked = false;
        }
        this.window = this.opt.ackWindow - 1;
        this.ackFrom = seq;
        this.ackFromSet = true;
        this.ackPendingSince = now;
      } else if (this.renumbered(seq, now)) {
        inSync = true;
      } else {
        // SEQ_BEFORE: delayed or replayed, neither processed nor acknowledged
        this.stats.rcvBefore++;
        return Verdict.DROP;
      }
    }
    if (inSync) {
      ret = this.digest(h);
      if (ret === Verdict.BAD) return ret;
      if (!this.ackFromSet) {
        this.ackFromSet = true;
        this.ackFrom = seq;
        this.ackPendingSince = now;
      }
      if (--this.window <= 0) {
        this.queueWindowAck(this.ackFrom, seq);
        this.window = this.opt.ackWindow;
        this.ackFromSet = false;
      }
    }
    this.seqRecvSet = true;
    this.lastSeqRecv = seq;
    this.lastHeardAt = now;
    // a run of old messages counts only while nothing else is taken
    this.behindSet = false;
    if (!hello && this.peerHello) {
      this.peerHello = false;
      this.phaseEndAt = now;
      if (this.restartPending) this.peerRestartEnds();
    }
    if (this.barrierAcked) this.reconcileDone();
    return ret!;
  }

  /**
   * A HELLO message that is a copy or a late arrival, not news: shortly (REORDER_SPAN) at or
   * below the last number received while the peer keeps talking, and within the handshake (not
   * below its first number) or up to 2 s after it (sent before the message that ended it and
   * overtaken by it). Processing it again would replay old state. A peer that restarts that soon
   * is seen once it has been silent for RESTART_SILENCE_MS, or at its next HELLO 2 s later.
   */
  private staleHello(seq: number, now: number): boolean {
    // after a silence, or far below what we have, it is a new session, not a copy
    if (!this.seqRecvSet || now - this.lastHeardAt >= RESTART_SILENCE_MS) return false;
    if (after(seq, this.lastSeqRecv) || ((this.lastSeqRecv - seq) >>> 0) >= REORDER_SPAN) return false;
    if (this.peerHello) return !before(seq, this.phaseLo);
    return this.phaseEndAt >= 0 && now - this.phaseEndAt < STALE_HELLO_MS;
  }

  /**
   * ctsync: a peer that restarted within a second numbers from about where its old process began,
   * below where it got to. Its HELLO then looks like a copy from the unfinished handshake and is
   * dropped, and the HELLO_BACK we still owed the old process ends the new one's handshake: from
   * then on it sends plain messages, all older than what we have (conntrackd drops them until its
   * numbers catch up, a minute or more). Two of them numbered one after the other, with nothing
   * else heard for RESTART_SILENCE_MS, are a new session: taken as one, the restart handled as if
   * announced.
   */
  private renumbered(seq: number, now: number): boolean {
    const run = this.behindSet && seq === ((this.behindLast + 1) >>> 0);
    this.behindSet = true;
    this.behindLast = seq;
    if (!run || now - this.lastHeardAt < RESTART_SILENCE_MS) return false;
    this.behindSet = false;
    this.stats.restartUnannounced++;
    this.log('notice', 'the peer numbers its messages anew without a HELLO we took: it restarted');
    this.ackFromSet = false;
    this.window = this.opt.ackWindow;
    this.peerHello = false;
    this.phaseEndAt = now;
    this.peerRestarted();
    this.peerRestartBegins();
    this.peerRestartEnds();
    return true;
  }

  /** A peer we had heard from says HELLO: it restarted. */
  private peerRestartBegins(): void {
    this.restartPending = true;
    if (this.opt.reconcileOnPeerRestart !== false) {
      let want = false;
      this.guard(() => { want = this.host.peerRestarted?.() ?? false; });
      this.reconcileWanted ||= want;
    }
  }

  /** Its handshake is over: it gets our table, and is asked for its own if the host wants it. */
  private peerRestartEnds(): void {
    this.restartPending = false;
    if (this.opt.bulkOnPeerRestart !== false) {
      this.log('notice', 'peer restarted: sending it the internal cache');
      this.bulkSend();
    }
    if (this.reconcileWanted) {
      this.reconcileWanted = false;
      this.barrier = this.queueCtl(FLAG.RESYNC, 0, 0);
      this.barrierAcked = false;
      this.stats.resyncSent++;
    }
  }

  private reconcileDone(): void {
    this.barrierAcked = false;
    this.barrier = null;
    this.guard(() => this.host.reconciled?.(), true);
  }

  private digest(h: MsgHeader): Verdict {
    if (FtfwMode.isData(h)) return Verdict.DATA;
    if (h.type !== MSG.CTL) return Verdict.BAD;
    if (h.flags & FLAG.ACK) {
      if (before(h.to, h.from)) return Verdict.BAD;
      this.acknowledged(h.from, h.to);
      return Verdict.CTL;
    }
    if (h.flags & FLAG.NACK) {
      if (before(h.to, h.from)) return Verdict.BAD;
      this.stats.nackResent += this.rsToTx(h.from, h.to);
      return Verdict.CTL;
    }
    if (h.flags & FLAG.RESYNC) {
      this.log('notice', 'resync requested by other node');
      this.stats.resyncReceived++;
      this.bulkSend();
      return Verdict.CTL;
    }
    if (h.flags & FLAG.ALIVE) return Verdict.CTL;
    return Verdict.BAD;
  }

  /** ACK from..to: those entries are done. */
  private acknowledged(from: number, to: number): void {
    let removed = false;
    for (let n = this.rs.head; n;) {
      const next = n.next;
      if (!before(n.seq, from)) {
        if (after(n.seq, to)) break;
        if (n === this.barrier) this.barrierAcked = true;
        this.drop(n);
        removed = true;
      }
      n = next;
    }
    if (removed) this.rto = this.opt.retransmitMs;
  }

  /** NACK from..to: those entries go out again, as new messages. */
  private rsToTx(from: number, to: number): number {
    let moved = 0;
    for (let n = this.rs.head; n;) {
      const next = n.next;
      if (!before(n.seq, from)) {
        if (after(n.seq, to)) break;
        this.rs.del(n);
        this.tx.add(n);
        moved++;
      }
      n = next;
    }
    if (moved) this.scheduleFlush();
    return moved;
  }

  /** The peer said HELLO: whatever it had not acknowledged, it will never acknowledge. */
  private peerRestarted(): void {
    if (!this.rs.len) return;
    let n: QItem | null;
    let requeued = 0;
    while ((n = this.rs.shift())) {
      if (n.ctl) {
        this.stats.helloCtlDropped++;
        // a barrier is issued again when the peer's handshake ends (restartPending is set)
        if (n === this.barrier) this.barrier = null;
        this.freeCtl(n);
      } else if (this.opt.requeueOnHello !== false) {
        this.tx.add(n);
        requeued++;
      } else this.drop(n);
    }
    if (requeued) {
      this.stats.helloRequeued += requeued;
      this.scheduleFlush();
    }
  }

  // ---------------------------------------------------------------- timers

  protected tick(now: number): void {
    const idle = now - this.lastTxAt >= this.opt.aliveMs;
    const ackDue = this.ackFromSet && this.seqRecvSet &&
      (idle || (this.opt.ackDelayMs > 0 && now - this.ackPendingSince >= this.opt.ackDelayMs));
    if (ackDue) {
      this.queueCtl(FLAG.ACK, this.ackFrom, this.lastSeqRecv);
      this.ackFromSet = false;
    } else if (idle) {
      this.queueCtl(FLAG.ALIVE, 0, 0);
    }
    if (this.opt.retransmitMs > 0) this.retransmitExpired(now);
    if (this.tx.len) this.flush();
  }

  private retransmitExpired(now: number): void {
    let moved = 0;
    const now30 = nodeMs(now);
    for (let n = this.rs.head; n;) {
      const next = n.next;
      if (((now30 - n.sentAt) & LOW30) < this.rto) break;
      // a lost control message is recovered by the peer's NACK once our next message shows the
      // gap; resending a RESYNC on a timer could make a busy peer send its whole table twice
      if (!n.ctl) {
        this.rs.del(n);
        this.tx.add(n);
        moved++;
      }
      n = next;
    }
    if (moved) {
      this.stats.timeoutResent += moved;
      this.rto = Math.min(this.rto * 2, this.opt.retransmitMs * RTO_MAX_FACTOR);
    }
  }

  // ---------------------------------------------------------------- statistics

  override queueStats(): QueueStat[] {
    return [...super.queueStats(), { name: this.rs.name, current: this.rs.len, max: this.rs.max, enospc: this.rs.enospc }];
  }

  override rsQueueLength(): number {
    return this.rs.len;
  }

  override rsQueueEntries(): RsQueueEntry[] {
    const out: RsQueueEntry[] = [];
    for (let n = this.rs.head; n; n = n.next) {
      out.push(n.ctl ? { kind: 'control', seq: n.seq, flags: n.sentFlags } : { kind: 'object', seq: n.seq });
    }
    return out;
  }
}
