// What the three sync modes share: the global sequence counter, the transmit queue, packing
// messages into datagrams (conntrackd's buffered channel), the receive walk with conntrackd's
// counters, and the periodic tick. FTFW, NOTRACK and ALARM subclass it.
import type { Expectation, Flow } from '../flow/flow.ts';
import { realClock, type Clock } from './clock.ts';
import {
  DECODE_MALFORMED, decodeCt, decodeExp, encodeControl, encodeCt, encodeExp, newHeader,
  walkDatagram, writeHeader, type EncodeOptions, type MsgHeader,
} from './codec.ts';
import { DEFAULTS, type ModeKind, type SyncDeps, type SyncMode, type SyncOptions, type Transport } from './mode.ts';
import { OBJ_STATE, messageTypeOf, type SyncHost, type SyncObject } from './object.ts';
import { CtlNode, ObjNode, Queue, type QItem } from './queue.ts';
import { newSyncStats, type QueueStat, type RsQueueEntry, type SyncStats } from './stats.ts';
import { FLAG, HELLO_FLAGS, MAX_MESSAGE_SIZE, MSG, MSG_STATE_MAX, type CtMsgType, type ExpMsgType } from './wire.ts';

/** What a mode's receive routine makes of a message (conntrackd's MSG_DATA/CTL/DROP/BAD). */
export const Verdict = { DATA: 0, CTL: 1, DROP: 2, BAD: 3 } as const;
export type Verdict = 0 | 1 | 2 | 3;

export abstract class ModeBase implements SyncMode {
  abstract readonly kind: ModeKind;
  readonly stats: SyncStats = newSyncStats();
  protected readonly host: SyncHost;
  protected readonly transport: Transport;
  protected readonly clock: Clock;
  protected readonly random: () => number;
  protected readonly opt: Required<Pick<SyncOptions, keyof typeof DEFAULTS>> & SyncOptions;
  protected readonly encodeOpt: EncodeOptions;
  protected readonly tx = new Queue('txqueue', 2147483647);

  private seqSet = false;
  private curSeq = 0;
  private buf: Uint8Array | null = null;
  private used = 0;
  private flushPending = false;
  /** made once: a flush is deferred after every batch of events, and the event loop owes it nothing */
  private readonly flushNow = (): void => this.flush();
  private readonly deferredFlush = (): void => {
    // the caller may have flushed already (the daemon does at the end of each batch)
    if (this.flushPending) this.guard(this.flushNow);
  };
  private stopTick: (() => void) | null = null;
  protected lastTxAt = 0;
  protected ctlAlive = 0;

  private rxBuf: Uint8Array = new Uint8Array(0);
  private rxLink = 0;
  /** the clock when the datagram being read arrived: one reading serves all its messages */
  protected rxNow = 0;
  private readonly hdr: MsgHeader = newHeader();
  private readonly visitFn = (h: MsgHeader) => this.visit(h);

  /** received conntrack messages go to host.applyCtRaw (a mode that watches applied() needs Flows) */
  private readonly rawApply: boolean;

  constructor(deps: SyncDeps, opt: SyncOptions) {
    this.host = deps.host;
    this.rawApply = this.host.applyCtRaw !== undefined && this.applied === ModeBase.prototype.applied;
    this.transport = deps.transport;
    this.clock = deps.clock ?? realClock;
    this.random = deps.random ?? Math.random;
    this.opt = { ...DEFAULTS, ...stripUndefined(opt) };
    this.encodeOpt = { commitTimeout: opt.commitTimeout, tcpWindowTracking: opt.tcpWindowTracking };
  }

  // ---------------------------------------------------------------- lifecycle

  start(): void {
    if (this.stopTick) return;
    this.lastTxAt = this.clock.now();
    this.stopTick = this.clock.every(this.opt.tickMs, () => this.guard(() => this.tick(this.clock.now())));
  }

  stop(): void {
    this.stopTick?.();
    this.stopTick = null;
  }

  /** Periodic work of the mode (ALIVE, retransmission, refresh, expiry). */
  protected abstract tick(now: number): void;

  // ---------------------------------------------------------------- local side

  abstract enqueue(obj: SyncObject): void;

  forget(obj: SyncObject): void {
    const n = obj.sync;
    if (n) n.owner?.del(n);
  }

  requestResync(): void {
    this.log('notice', 'resync requested');
    this.queueCtl(FLAG.RESYNC, 0, 0);
    this.stats.resyncSent++;
  }

  bulkSend(): void {
    this.log('notice', 'sending bulk update');
    this.host.forEachObject((obj) => {
      if (obj.state !== OBJ_STATE.DEAD || obj.sync?.owner) this.toTx(obj);
    });
  }

  /** Puts an object on the transmit queue (conntrackd's do_cache_to_tx). */
  protected toTx(obj: SyncObject): void {
    const n = (obj.sync ??= new ObjNode(obj));
    if (n.owner === this.tx) return;
    n.owner?.del(n);
    this.tx.add(n);
    this.scheduleFlush();
  }

  /** Queues a control message; `flush` false leaves it for the next flush (FTFW's paced ACKs). */
  protected queueCtl(flags: number, from: number, to: number, flush = true): CtlNode {
    this.ctlAlive++;
    const n = new CtlNode(flags, from, to);
    this.tx.add(n);
    if (flush) this.scheduleFlush();
    return n;
  }

  protected freeCtl(n: CtlNode): void {
    n.owner?.del(n);
    this.ctlAlive--;
  }

  /** A node leaves the mode for good: DEAD objects go back to the cache, others are idle. */
  protected drop(n: QItem): void {
    if (n.ctl) this.freeCtl(n);
    else {
      n.owner?.del(n);
      if (n.obj.state === OBJ_STATE.DEAD) this.host.release(n.obj);
      else this.host.idle?.(n.obj);
    }
  }

  protected scheduleFlush(): void {
    if (this.flushPending) return;
    this.flushPending = true;
    this.clock.defer(this.deferredFlush);
  }

  flush(): void {
    this.flushPending = false;
    if (this.tx.len) {
      this.xmit();
      this.lastTxAt = this.clock.now();
    }
    this.sendBuffer();
  }

  /** Drains the transmit queue into the datagram buffer. */
  protected abstract xmit(): void;

  // ---------------------------------------------------------------- building messages

  private peekSeq(): number {
    if (!this.seqSet) {
      this.seqSet = true;
      this.curSeq = this.clock.wallSeconds() >>> 0;
    }
    return this.curSeq;
  }

  private slot(): Uint8Array {
    if (!this.buf) {
      this.buf = this.transport.acquire();
      this.used = 0;
      if (this.buf.length < this.transport.maxPayload + MAX_MESSAGE_SIZE) {
        throw new Error(`transport buffer of ${this.buf.length} bytes is smaller than maxPayload + ${MAX_MESSAGE_SIZE}`);
      }
    }
    return this.buf;
  }

  /** Makes the message just encoded at `used` part of the datagram; false if it can never fit. */
  private commit(len: number): boolean {
    const size = this.transport.maxPayload;
    if (len >= size) {
      // conntrackd would loop forever on such a message; we drop and count it
      this.stats.sndMalformed++;
      return false;
    }
    if (this.used + len < size) {
      this.used += len;
      return true;
    }
    const old = this.buf!;
    const start = this.used;
    const next = this.transport.acquire();
    next.set(old.subarray(start, start + len), 0);
    // the new buffer first: work that runs while the transport sends (Deno runs queued microtasks
    // the first time node:crypto is used) must not append to the datagram being sent
    this.buf = next;
    this.used = len;
    this.sendDatagram(old, start);
    return true;
  }

  private sendBuffer(): void {
    if (this.buf && this.used > 0) {
      const b = this.buf;
      const n = this.used;
      this.buf = null;
      this.used = 0;
      this.sendDatagram(b, n);
    }
  }

  private sendDatagram(b: Uint8Array, n: number): void {
    this.stats.datagramsSent++;
    this.transport.send(b, n);
  }

  /** Appends a control message; returns its sequence number or -1. */
  protected emitControl(flags: number, from: number, to: number): number {
    const b = this.slot();
    const seq = this.peekSeq();
    const len = encodeControl(b, this.used, flags, seq, from, to);
    if (!this.commit(len)) return -1;
    this.curSeq = (this.curSeq + 1) >>> 0;
    this.stats.sndCtl++;
    return seq;
  }

  /** Appends the message for an object's current state; returns its sequence number or -1. */
  protected emitObject(obj: SyncObject, flags: number): number {
    const b = this.slot();
    const seq = this.peekSeq();
    const type = messageTypeOf(obj);
    let len = -1;
    if (obj.kind === 'ct') {
      // a cache that keeps the object's message hands it over as it is (no Flow is built)
      len = obj.writeMessage ? obj.writeMessage(b, this.used, this.encodeOpt) : -1;
      if (len >= 0) writeHeader(b, this.used, type, flags, len, seq);
      else if (obj.flow) len = encodeCt(b, this.used, type as CtMsgType, flags, seq, obj.flow, this.encodeOpt, this.stats);
    } else if (obj.exp) {
      len = encodeExp(b, this.used, type as ExpMsgType, flags, seq, obj.exp, this.encodeOpt, this.stats);
    }
    if (len < 0) {
      this.stats.sndMalformed++;
      return -1;
    }
    if (!this.commit(len)) return -1;
    this.curSeq = (this.curSeq + 1) >>> 0;
    this.stats.sndData++;
    return seq;
  }

  // ---------------------------------------------------------------- receiving

  receive(bytes: Uint8Array, link = 0): void {
    this.rxBuf = bytes;
    this.rxLink = link;
    this.rxNow = this.clock.now();
    try {
      walkDatagram(bytes, bytes.length, this.stats, this.hdr, this.visitFn);
    } finally {
      this.rxBuf = EMPTY;
    }
  }

  /** The mode's receive routine (conntrackd's sync_mode->recv). */
  protected abstract classify(h: MsgHeader): Verdict;

  private visit(h: MsgHeader): void {
    switch (this.classify(h)) {
      case Verdict.DATA:
        this.transport.heard?.(this.rxLink);
        break;
      case Verdict.CTL:
        this.stats.rcvCtl++;
        this.transport.heard?.(this.rxLink);
        return;
      case Verdict.BAD:
        this.stats.rcvMalformed++;
        this.stats.rcvBadHeader++;
        return;
      case Verdict.DROP:
        return;
    }
    if (h.type > MSG_STATE_MAX) {
      this.stats.rcvMalformed++;
      this.stats.rcvBadType++;
      return;
    }
    const b = this.rxBuf;
    if (h.type <= MSG.CT_DEL) {
      // a host that stores messages takes them as they are, without a Flow (SyncHost.applyCtRaw)
      if (this.rawApply) {
        let done = 0;
        try {
          done = this.host.applyCtRaw!(h.type as CtMsgType, b, h.off, h.len);
        } catch (e) {
          this.stats.rcvData++;
          this.stats.applyFailed++;
          this.log('error', `applying a received message failed: ${(e as Error).message ?? e}`);
          return;
        }
        if (done < 0) return this.badPayload(done);
        if (done > 0) {
          this.stats.rcvData++;
          return;
        }
      }
      this.applyDecoded(h.type, b, h.off, h.len);
    } else this.applyDecoded(h.type, b, h.off, h.len);
  }

  /**
   * A message decoded into a Flow or an Expectation and handed to the host. Apart from visit():
   * a closure there would capture `h`, and V8 would then allocate a context on every call, the
   * stored-message fast path included.
   */
  private applyDecoded(type: number, b: Uint8Array, off: number, len: number): void {
    if (type <= MSG.CT_DEL) {
      const r = decodeCt(b, off, len);
      if (typeof r === 'number') return this.badPayload(r);
      this.stats.rcvData++;
      this.applied(type, r);
      this.guard(() => this.host.applyCt(type as CtMsgType, r), true);
    } else {
      const r = decodeExp(b, off, len);
      if (typeof r === 'number') return this.badPayload(r);
      this.stats.rcvData++;
      this.applied(type, r);
      this.guard(() => this.host.applyExp(type as ExpMsgType, r), true);
    }
  }

  private badPayload(code: number): void {
    if (code === DECODE_MALFORMED) {
      this.stats.rcvMalformed++;
      this.stats.rcvBadPayload++;
    } else this.stats.rcvNoAddress++;
  }

  /** Hook after a data message was decoded (ALARM tracks external expiry here). */
  protected applied(_type: number, _data: Flow | Expectation): void {}

  /** Data message: type 0-5 and no flags but HELLO/HELLO_BACK (conntrackd's IS_DATA). */
  protected static isData(h: MsgHeader): boolean {
    return h.type <= MSG_STATE_MAX && (h.flags & ~HELLO_FLAGS) === 0;
  }

  // ---------------------------------------------------------------- statistics

  queueStats(): QueueStat[] {
    return [{ name: this.tx.name, current: this.tx.len, max: this.tx.max, enospc: this.tx.enospc }];
  }

  allocatedNodes(): number {
    return this.ctlAlive;
  }

  rsQueueEntries(): RsQueueEntry[] {
    return [];
  }

  rsQueueLength(): number {
    return 0;
  }

  // ---------------------------------------------------------------- helpers

  protected log(level: 'notice' | 'warning' | 'error', msg: string): void {
    this.host.log?.(level, msg);
  }

  /** Runs fn; an exception (a host bug, a transport failure) is logged, never thrown into timers. */
  protected guard(fn: () => void, applying = false): void {
    try {
      fn();
    } catch (e) {
      if (applying) this.stats.applyFailed++;
      this.log('error', `${applying ? 'applying a received message' : 'sync'} failed: ${(e as Error).message ?? e}`);
    }
  }
}

const EMPTY = new Uint8Array(0);

function stripUndefined<T extends object>(o: T): Partial<T> {
  const r: Partial<T> = {};
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] !== undefined) r[k] = o[k];
  return r;
}
