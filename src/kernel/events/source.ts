// The interface every event source implements, whatever carries the events out of the kernel.
import type { FlowEvent, ExpectationEvent } from '../../flow/event.ts';

export type SourceKind = 'bpf-tracing' | 'bpf-netlink' | 'netlink';

export interface EventSink {
  flow(ev: FlowEvent): void;
  /**
   * Optional fast path of the BPF sources: a conntrack record of the ring buffer (the layout of
   * src/kernel/bpf/ctsync.gen.ts) handled in place, without a FlowEvent. Return false to have
   * the source decode it and call flow() instead.
   */
  record?(dv: DataView, off: number): boolean;
  expectation(ev: ExpectationEvent): void;
  /** after each drain pass: the moment to flush what the events queued */
  batchEnd(): void;
  /** events were lost on the way (ENOBUFS, ring buffer full): the view must be resynced */
  loss(count: number, why: string): void;
}

export interface SourceCounters {
  /** events delivered to the sink */
  received: number;
  /** events the kernel-side filter dropped (BPF sources) */
  filtered: number;
  /** events known lost: ENOBUFS overruns or ring-buffer reservations that failed */
  lost: number;
  /** messages that could not be decoded */
  malformed: number;
  /** how many times loss was reported */
  overruns: number;
}

export interface EventSource {
  readonly kind: SourceKind;
  /** why this source is the active one (shown in status) */
  readonly reason: string;
  start(sink: EventSink): void;
  /** processes whatever is queued now (also called by the wake-up) */
  drain(): void;
  counters(): SourceCounters;
  /**
   * Stops (false) or restarts (true) the NEW conntrack events, where the source can: the ctnetlink
   * sources leave or rejoin the multicast group. With nobody on the machine in that group the
   * kernel does not build the messages at all, which is most of what a create costs it (see the
   * commit in src/daemon/daemon.ts). Returns whether the events stopped (or restarted).
   */
  newEvents?(on: boolean): boolean;
  close(): Promise<void>;
}

export const zeroCounters = (): SourceCounters => ({ received: 0, filtered: 0, lost: 0, malformed: 0, overruns: 0 });
