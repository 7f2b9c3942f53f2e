// The plain ctnetlink event source: events parsed in TypeScript, for hosts without BPF rights.
import { NetlinkSocket, NETLINK_OPT, SOL_NETLINK } from '../netlink.ts';
import { eachMessage, NLMSG, NLM_F, type NlHeader } from '../nlmsg.ts';
import { GROUP, SUBSYS_CT, SUBSYS_EXP, CT_MSG, decodeFlow, decodeExpectation } from '../ctnetlink.ts';
import { EV, type EventType } from '../../flow/event.ts';
import { type EventSink, type EventSource, type SourceCounters, zeroCounters } from './source.ts';
import { E } from '../libc.ts';

export interface NetlinkSourceOptions {
  /** kernel receive buffer in bytes (event-listen-queue-size) */
  bufferBytes: number;
  expectations?: boolean;
  /** ask the kernel to retry undelivered destroy events */
  reliableDestroy?: boolean;
  reason?: string;
}

/** Event type of a ctnetlink message: NEW with CREATE|EXCL is new, NEW without is an update. */
export function ctEventType(msgType: number, flags: number): EventType {
  if ((msgType & 0xff) === CT_MSG.DELETE) return EV.DESTROY;
  return flags & (NLM_F.CREATE | NLM_F.EXCL) ? EV.NEW : EV.UPDATE;
}

/**
 * Decodes one ctnetlink event message (header h, payload at p) and hands it to the sink; counts
 * it as received, or as malformed. Shared with the BPF pipeline for the messages passed up.
 */
export function deliverMessage(dv: DataView, h: NlHeader, p: number, sink: EventSink, c: SourceCounters, kernelNs?: bigint): void {
  if (h.type === NLMSG.ERROR || h.type === NLMSG.DONE) return;
  const subsys = h.type >> 8;
  const end = p - 16 + h.len;
  try {
    if (subsys === SUBSYS_CT) {
      const flow = decodeFlow(dv, p + 4, end, dv.getUint8(p));
      c.received++;
      sink.flow({ type: ctEventType(h.type, h.flags), flow, origin: h.pid, ...(kernelNs ? { kernelNs } : {}) });
    } else if (subsys === SUBSYS_EXP) {
      const exp = decodeExpectation(dv, p + 4, end, dv.getUint8(p));
      c.received++;
      sink.expectation({ type: ctEventType(h.type, h.flags), exp, origin: h.pid });
    }
  } catch {
    c.malformed++;
  }
}

export class NetlinkEventSource implements EventSource {
  readonly kind = 'netlink' as const;
  readonly reason: string;
  readonly sock: NetlinkSocket;
  private sink?: EventSink;
  private readonly c: SourceCounters = zeroCounters();
  /** the kernel buffer size actually granted */
  readonly bufferBytes: number;

  constructor(opt: NetlinkSourceOptions) {
    this.reason = opt.reason ?? 'selected';
    this.sock = new NetlinkSocket(12, 1 << 20);
    try {
      this.bufferBytes = this.sock.setReceiveBuffer(opt.bufferBytes);
      if (opt.reliableDestroy) this.sock.setInt(SOL_NETLINK, NETLINK_OPT.BROADCAST_ERROR, 1);
      this.sock.join(GROUP.NEW);
      this.sock.join(GROUP.UPDATE);
      this.sock.join(GROUP.DESTROY);
      if (opt.expectations) {
        this.sock.join(GROUP.EXP_NEW);
        this.sock.join(GROUP.EXP_UPDATE);
        this.sock.join(GROUP.EXP_DESTROY);
      }
    } catch (e) {
      void this.sock.close();
      throw e;
    }
  }

  newEvents(on: boolean): boolean {
    if (on) this.sock.join(GROUP.NEW);
    else this.sock.leave(GROUP.NEW);
    return true;
  }

  start(sink: EventSink): void {
    this.sink = sink;
    this.sock.watch(() => this.drain());
  }

  drain(): void {
    const sink = this.sink;
    if (!sink) return;
    const s = this.sock;
    let any = false;
    for (;;) {
      const n = s.recv();
      if (n === 0) break;
      if (n === -E.ENOBUFS) {
        // the kernel dropped events for us; how many is unknown, count the overrun
        this.c.overruns++;
        this.c.lost++;
        sink.loss(1, 'netlink receive buffer overrun (ENOBUFS)');
        continue;
      }
      any = true;
      const ok = eachMessage(s.rdv, n, (h, p) => deliverMessage(s.rdv, h, p, sink, this.c));
      if (!ok) this.c.malformed++;
    }
    if (any) sink.batchEnd();
  }

  counters(): SourceCounters { return { ...this.c }; }

  close(): Promise<void> { return this.sock.close(); }
}
