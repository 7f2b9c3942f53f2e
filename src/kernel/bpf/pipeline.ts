// What both BPF event sources share: the loaded object, the ctnetlink event socket with the
// socket filter attached, the ring-buffer reader, and the accounting. Records are decoded in
// place; the few messages the filter passes up (expectation events, messages it cannot
// represent) are read from the socket with the TypeScript codec at the point of the stream where
// their marker record sits, so the sink sees events in kernel order. DESTROYs that found the ring
// full go up without a marker and are read once the ring is empty, or on the way to a marker's
// message (their kernel id keeps a late one from ending a newer conntrack of the same tuple).
import { readFileSync, statSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { NetlinkSocket, NETLINK_OPT, SOL_NETLINK } from '../netlink.ts';
import { eachMessage, NLMSG } from '../nlmsg.ts';
import { GROUP, SUBSYS_CT, CT_MSG } from '../ctnetlink.ts';
import { deliverMessage } from '../events/netlink.ts';
import { E } from '../libc.ts';
import { watchIsCheap, watchReadable } from '../runtime.ts';
import type { EventSink, SourceCounters } from '../events/source.ts';
import { zeroCounters } from '../events/source.ts';
import type { FlowFilter } from '../../flow/filter.ts';
import { CtsyncObject } from './object.ts';
import { SocketFilter, type SocketFilterLink } from './socket-filter.ts';
import { TracingProgram, type TracingLink } from './tracing.ts';
import { MapWriter, CounterReader, type BpfCounters } from './maps.ts';
import { RingReader, mapRing, ringSizeFor, pageSize, type RingStats } from './ringbuf.ts';
import { decodeRecord, recordFlags, REC_FLAG, CFG, LAYOUT, type ProgramName } from './ctsync.gen.ts';

const settled = Promise.resolve();
/** nlmsg_type of a conntrack DESTROY event */
const CT_DESTROY_TYPE = (SUBSYS_CT << 8) | CT_MSG.DELETE;

export type PipelineMode = 'netlink' | 'tracing';

export interface PipelineOptions {
  mode: PipelineMode;
  /** event-listen-queue-size in MB: the ring buffer, rounded up to a power of two */
  bufferMB: number;
  filter: FlowFilter;
  /** also follow expectation events (they always take the socket path) */
  expectations?: boolean;
  /** kernel receive buffer of the event socket, for passed-up messages */
  socketBufferBytes?: number;
  /**
   * ask the kernel to send again a DESTROY the event socket could not take (the program hands
   * DESTROYs to the socket when the ring buffer is full): a mass delete then loses nothing
   */
  reliableDestroy?: boolean;
  /** ring-buffer poll interval while busy / longest when idle (ms) */
  busyMs?: number;
  idleMs?: number;
  /** the poll interval while idle with a wake-up armed (ms; RingReader's default when unset) */
  watchedIdleMs?: number;
  /** how often the BPF counters are read, at most (ms) */
  countersMs?: number;
}

export interface PipelineStats {
  bpf: BpfCounters;
  ring: RingStats;
  ringBytes: number;
  /** passed-up messages read from the socket */
  socketMessages: number;
  /** ENOBUFS on the event socket */
  socketOverruns: number;
  /**
   * of those, the ones that can only have dropped DESTROYs, which the kernel sends again
   * (reliableDestroy): not a loss
   */
  socketOverrunsResent: number;
  /** exceptions thrown by the sink's batchEnd or loss, caught by the timer callbacks */
  sinkErrors: number;
}

/** Kernel HZ for the tracing programs: from the kernel config, else the common 250. */
export function kernelHz(): number {
  const pick = (text: string) => Number(/^CONFIG_HZ=(\d+)$/m.exec(text)?.[1] ?? 0);
  try {
    const hz = pick(gunzipSync(readFileSync('/proc/config.gz')).toString('latin1'));
    if (hz > 0) return hz;
  } catch { /* no /proc/config.gz */ }
  try {
    const release = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
    const hz = pick(readFileSync(`/boot/config-${release}`, 'latin1'));
    if (hz > 0) return hz;
  } catch { /* no config file */ }
  return 250;
}

export function netnsInode(): bigint {
  return BigInt(statSync('/proc/self/ns/net').ino);
}

export class BpfPipeline {
  readonly mode: PipelineMode;
  readonly obj: CtsyncObject;
  readonly sock: NetlinkSocket;
  readonly ring: RingReader;
  private readonly maps: MapWriter;
  private readonly counterReader: CounterReader;
  private readonly links: (SocketFilterLink | TracingLink)[] = [];
  private sink?: EventSink;
  private readonly c: SourceCounters = zeroCounters();
  private bpf: BpfCounters;
  private lastCounters = 0;
  private readonly countersMs: number;
  private readonly busyMs: number;
  private readonly idleMs: number;
  private readonly watchedIdleMs: number | undefined;
  private socketMessages = 0;
  private socketOverruns = 0;
  private socketOverrunsResent = 0;
  private readonly reliableDestroy: boolean;
  /** the BPF passed-up count as last polled when the socket was last found empty (see overrun()) */
  private passedUpWhenEmpty = 0;
  /** kernel stamps of pass-up markers whose message has not been read yet */
  private markerNs: bigint[] = [];
  private closed = false;
  private inDrain = false;

  /** Loads and wires everything; throws BpfLoadError (or a SysError) and leaves nothing behind. */
  static open(opt: PipelineOptions): BpfPipeline {
    const programs: ProgramName[] = opt.mode === 'tracing' ? ['ct_socket', 'ct_trace_event'] : ['ct_socket'];
    const obj = CtsyncObject.load({ ringBytes: ringSizeFor(opt.bufferMB, pageSize()), programs });
    try {
      return new BpfPipeline(obj, opt);
    } catch (e) {
      obj.close();
      throw e;
    }
  }

  private constructor(obj: CtsyncObject, opt: PipelineOptions) {
    this.mode = opt.mode;
    this.reliableDestroy = opt.reliableDestroy === true;
    this.obj = obj;
    this.countersMs = opt.countersMs ?? 100;
    this.busyMs = opt.busyMs ?? 1;
    this.idleMs = opt.idleMs ?? 10;
    this.watchedIdleMs = opt.watchedIdleMs;
    this.maps = new MapWriter(obj);
    this.maps.setSettings({
      flags: opt.mode === 'tracing' ? CFG.CFG_SOCKET_DROP_CT : 0,
      hz: opt.mode === 'tracing' ? kernelHz() : 0,
      netns: opt.mode === 'tracing' ? netnsInode() : 0n,
    });
    this.maps.setFilter(opt.filter);
    this.counterReader = new CounterReader(obj);
    this.bpf = this.counterReader.read();

    this.sock = new NetlinkSocket(12, 1 << 20);
    let ring: RingReader | undefined;
    try {
      this.sock.setReceiveBuffer(opt.socketBufferBytes ?? 4 << 20);
      if (opt.reliableDestroy) this.sock.setInt(SOL_NETLINK, NETLINK_OPT.BROADCAST_ERROR, 1);
      // the filter goes on before the groups are joined: no event reaches the queue unfiltered
      this.links.push(new SocketFilter(obj, 'ct_socket').attach(this.sock));
      ring = new RingReader(mapRing(obj.mapFd('events'), obj.ringBytes));
      this.sock.join(GROUP.NEW);
      this.sock.join(GROUP.UPDATE);
      this.sock.join(GROUP.DESTROY);
      if (opt.expectations) {
        this.sock.join(GROUP.EXP_NEW);
        this.sock.join(GROUP.EXP_UPDATE);
        this.sock.join(GROUP.EXP_DESTROY);
      }
      if (opt.mode === 'tracing') this.links.push(new TracingProgram(obj, 'ct_trace_event').attach());
    } catch (e) {
      for (const l of this.links) l.detach();
      if (ring) void ring.close();
      void this.sock.close();
      throw e;
    }
    this.ring = ring;
  }

  /** Starts delivering to the sink: a timer polls the ring buffer (see RingReader.start). */
  start(sink: EventSink): void {
    this.sink = sink;
    const fd = this.obj.mapFd('events');
    this.ring.start(this.onRecord, () => this.afterBatch(), {
      busyMs: this.busyMs, idleMs: this.idleMs, watchedIdleMs: this.watchedIdleMs,
      wake: watchIsCheap ? (ready) => watchReadable(fd, ready) : undefined,
    });
    this.idleTimer = setInterval(() => this.housekeeping(), this.countersMs);
  }

  private idleTimer: ReturnType<typeof setInterval> | undefined;

  /** Processes whatever is queued now (records, passed-up messages, counters). */
  drain(): void {
    if (this.closed || !this.sink || this.inDrain) return;
    this.inDrain = true;
    try {
      const before = this.socketMessages;
      const n = this.ring.drain(this.onRecord);
      this.catchUpSocket();
      this.pollCounters(true);
      if (n > 0 || this.socketMessages !== before) this.sink.batchEnd();
    } finally {
      this.inDrain = false;
    }
  }

  // Timer callbacks: an exception would escape to the event loop and end the process, so a
  // failing sink is counted instead (sinkErrors in stats()).
  private afterBatch(): void {
    if (!this.sink) return;
    try {
      this.catchUpSocket();
      this.pollCounters(false);
      this.sink.batchEnd();
    } catch {
      this.sinkErrors++;
    }
  }

  private housekeeping(): void {
    if (this.closed || !this.sink) return;
    try {
      const before = this.socketMessages;
      this.catchUpSocket();
      this.pollCounters(false);
      if (this.socketMessages !== before) this.sink.batchEnd();
    } catch {
      this.sinkErrors++;
    }
  }

  private sinkErrors = 0;

  private readonly onRecord = (dv: DataView, off: number): void => {
    const sink = this.sink!;
    if (recordFlags(dv, off) & REC_FLAG.REC_PASSED_UP) {
      // the message this marker stands for is the next one on the socket (after any DESTROYs that
      // found the ring full: see readSocket); the filter returns (and the kernel queues it) just
      // after submitting the marker, so it may not be there yet
      this.markerNs.push(dv.getBigUint64(off, true));
      if (this.markerNs.length > 65536) this.markerNs.shift();
      const destroy = dv.getUint16(off + LAYOUT.ct_record.nl_type, true) === CT_DESTROY_TYPE;
      if (this.readSocket(1, !destroy) === 0 && this.unmatched.length < 65536) this.unmatched.push(destroy);
      return;
    }
    // as in the plain netlink source: a record that cannot be decoded or handled is counted,
    // and the reader goes on
    try {
      // a sink with a fast path takes the record as it is (no FlowEvent built)
      if (sink.record?.(dv, off)) {
        this.c.received++;
        return;
      }
      const ev = decodeRecord(dv, off);
      this.c.received++;
      sink.flow(ev);
    } catch {
      this.c.malformed++;
    }
  };

  /** markers whose message was not on the socket yet when the marker was read: whether each is a DESTROY */
  private unmatched: boolean[] = [];

  /**
   * Reads the socket messages that are due: those whose marker was read before they were queued,
   * and, once the ring buffer is empty (no marker can be waiting in it), any others (their
   * marker found the ring full).
   */
  private catchUpSocket(): void {
    while (this.unmatched.length > 0 && this.readSocket(1, !this.unmatched[0]) > 0) this.unmatched.shift();
    if (this.ring.available() === 0) {
      this.readSocket(Infinity);
      this.unmatched.length = 0;
      // stamps left over belong to messages an overrun dropped
      this.markerNs.length = 0;
    }
  }

  /**
   * Reads up to `max` passed-up messages from the socket with the TypeScript codec. For a marker
   * that is not a DESTROY (`pastDestroys`), DESTROYs do not count: one ahead of the marker's message
   * found the ring full and went up without a marker, earlier in the kernel's order, so it is
   * delivered on the way (without a marker's stamp).
   */
  private readSocket(max: number, pastDestroys = false): number {
    const sink = this.sink;
    if (!sink || this.closed) return 0;
    const s = this.sock;
    let read = 0;
    while (read < max) {
      const n = s.recv();
      if (n === 0) {
        this.passedUpWhenEmpty = this.bpf.passedUp;
        break;
      }
      if (n === -E.ENOBUFS) {
        this.overrun();
        continue;
      }
      let counted = false;
      const ok = eachMessage(s.rdv, n, (h, p) => {
        if (h.type === NLMSG.ERROR || h.type === NLMSG.DONE) return;
        this.socketMessages++;
        const markerless = pastDestroys && h.type === CT_DESTROY_TYPE;
        if (!markerless) counted = true;
        deliverMessage(s.rdv, h, p, sink, this.c, markerless ? undefined : this.markerNs.shift());
      });
      if (!ok) this.c.malformed++;
      if (counted || !ok) read++;
    }
    return read;
  }

  /**
   * ENOBUFS: the socket dropped messages. Those handed to it since it was last found empty are the
   * candidates. When none of them was passed up (CTR_PASSED_UP unchanged) they were all DESTROYs
   * that found the ring full (CTR_DESTROY_UP), which the kernel sends again: no loss. The count
   * compared was polled before the socket was found empty, so a change can only make this
   * conservative (a loss reported, and a resync).
   */
  private overrun(): void {
    this.socketOverruns++;
    if (this.reliableDestroy) {
      this.pollCounters(true);
      if (this.bpf.passedUp === this.passedUpWhenEmpty) {
        this.socketOverrunsResent++;
        return;
      }
    }
    this.reportLoss(1, 'netlink receive buffer overrun (ENOBUFS)');
  }

  private reportLoss(n: number, why: string): void {
    this.c.lost += n;
    this.c.overruns++;
    this.sink?.loss(n, why);
  }

  /**
   * A statistics request asks for counters() and stats() one after the other: the BPF counters
   * (a map lookup per counter) are read once for both, fresh for the next request.
   */
  private readForStats(): void {
    if (this.closed || this.statsRead) return;
    this.pollCounters(true);
    this.statsRead = true;
    void settled.then(this.statsDone);
  }
  private statsRead = false;
  private readonly statsDone = (): void => { this.statsRead = false; };

  /** Reads the BPF counters (at most every countersMs unless forced) and reports new losses. */
  private pollCounters(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.lastCounters < this.countersMs) return;
    this.lastCounters = now;
    let next: BpfCounters;
    try {
      next = this.counterReader.read();
    } catch {
      return;
    }
    const lost = next.ringFull - this.bpf.ringFull;
    this.bpf = next;
    this.c.filtered = next.filtered;
    if (lost > 0) this.reportLoss(lost, 'BPF ring buffer full');
  }

  counters(): SourceCounters {
    this.readForStats();
    return { ...this.c };
  }

  stats(): PipelineStats {
    this.readForStats();
    return {
      bpf: { ...this.bpf },
      ring: { ...this.ring.stats },
      ringBytes: this.obj.ringBytes,
      socketMessages: this.socketMessages,
      socketOverruns: this.socketOverruns,
      socketOverrunsResent: this.socketOverrunsResent,
      sinkErrors: this.sinkErrors,
    };
  }

  /** Applies a new filter in the kernel without reloading. */
  setFilter(filter: FlowFilter): void {
    this.maps.setFilter(filter);
  }

  /** The event socket leaves (false) or rejoins (true) the NEW group; EventSource.newEvents. */
  newEvents(on: boolean): boolean {
    if (this.closed) return false;
    if (on) this.sock.join(GROUP.NEW);
    else this.sock.leave(GROUP.NEW);
    return true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // stop the producers first, then the reader (it unmaps only once it has stopped)
    for (const l of this.links) if (l.program !== 'ct_socket') l.detach();
    if (this.idleTimer) clearInterval(this.idleTimer);
    this.idleTimer = undefined;
    this.pollCounters(true);
    this.closed = true;
    await this.ring.close();
    for (const l of this.links) l.detach();
    await this.sock.close();
    this.obj.close();
  }
}
