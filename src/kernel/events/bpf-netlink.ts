// The bpf-netlink event source: a socket filter on the ctnetlink event socket parses each
// conntrack event in the kernel, applies the filter maps and writes a fixed-layout record into a
// BPF ring buffer; the message itself is never queued. Messages the filter passes up (expectation
// events, anything it cannot represent) are read from the socket with the TypeScript codec.
import type { EventSink, EventSource, SourceCounters } from './source.ts';
import type { FlowFilter } from '../../flow/filter.ts';
import { BpfPipeline, type PipelineStats } from '../bpf/pipeline.ts';

export interface BpfSourceOptions {
  /** event-listen-queue-size in MB (ring buffer, rounded up to a power of two) */
  bufferMB: number;
  filter: FlowFilter;
  expectations?: boolean;
  /** why this source was chosen, for status */
  reason?: string;
  /** ring-buffer poll interval while busy / longest when idle (ms) */
  busyMs?: number;
  idleMs?: number;
  /** the poll interval while idle with a wake-up armed (ms): a safety net (ringbuf.ts) */
  watchedIdleMs?: number;
  /** kernel receive buffer of the event socket, for the messages passed up (default 4 MB) */
  socketBufferBytes?: number;
  /** the kernel sends again a DESTROY the socket could not take (BpfPipeline) */
  reliableDestroy?: boolean;
}

/** What both BPF sources share: a BpfPipeline (ring buffer, counters, filter maps) behind EventSource. */
export abstract class BpfEventSource implements EventSource {
  abstract readonly kind: 'bpf-netlink' | 'bpf-tracing';
  readonly reason: string;
  readonly pipeline: BpfPipeline;

  /** Loads the programs of the mode; throws BpfLoadError when the kernel or the host refuses. */
  protected constructor(mode: 'netlink' | 'tracing', opt: BpfSourceOptions) {
    this.pipeline = BpfPipeline.open({ mode, ...opt });
    this.reason = opt.reason ?? 'selected';
  }

  start(sink: EventSink): void { this.pipeline.start(sink); }
  drain(): void { this.pipeline.drain(); }
  counters(): SourceCounters { return this.pipeline.counters(); }
  /** BPF and ring-buffer counters, for statistics */
  stats(): PipelineStats { return this.pipeline.stats(); }
  setFilter(filter: FlowFilter): void { this.pipeline.setFilter(filter); }
  // the tracing program sees events whatever the socket's groups, so only the socket filter's mode
  newEvents(on: boolean): boolean { return this.pipeline.mode === 'netlink' && this.pipeline.newEvents(on); }
  close(): Promise<void> { return this.pipeline.close(); }
}

export class BpfNetlinkEventSource extends BpfEventSource {
  readonly kind = 'bpf-netlink' as const;
  constructor(opt: BpfSourceOptions) { super('netlink', opt); }
}
