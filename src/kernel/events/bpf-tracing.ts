// The bpf-tracing event source: an fentry program on ctnetlink's event callback reads struct
// nf_conn with CO-RE into the same ring-buffer record as the socket filter. The ctnetlink event
// socket stays open, because the kernel only generates conntrack events while someone listens,
// and carries expectation events; its socket filter drops the conntrack messages unread.
// Kernels that refuse BPF trampolines fail the load with EPERM (see select.ts for the fallback).
import type { EventSink, EventSource, SourceCounters } from './source.ts';
import type { FlowFilter } from '../../flow/filter.ts';
import { BpfPipeline, type PipelineStats } from '../bpf/pipeline.ts';
import type { BpfSourceOptions } from './bpf-netlink.ts';

export class BpfTracingEventSource implements EventSource {
  readonly kind = 'bpf-tracing' as const;
  readonly reason: string;
  readonly pipeline: BpfPipeline;

  /** Loads and attaches the tracing programs; throws BpfLoadError when the kernel refuses. */
  constructor(opt: BpfSourceOptions) {
    this.pipeline = BpfPipeline.open({ mode: 'tracing', ...opt });
    this.reason = opt.reason ?? 'selected';
  }

  start(sink: EventSink): void { this.pipeline.start(sink); }
  drain(): void { this.pipeline.drain(); }
  counters(): SourceCounters { return this.pipeline.counters(); }
  stats(): PipelineStats { return this.pipeline.stats(); }
  setFilter(filter: FlowFilter): void { this.pipeline.setFilter(filter); }
  close(): Promise<void> { return this.pipeline.close(); }
}
