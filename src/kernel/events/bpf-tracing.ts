// The bpf-tracing event source: an fentry program on ctnetlink's event callback reads struct
// nf_conn with CO-RE into the same ring-buffer record as the socket filter. The ctnetlink event
// socket stays open, because the kernel only generates conntrack events while someone listens,
// and carries expectation events; its socket filter drops the conntrack messages unread.
// Kernels that refuse BPF trampolines fail the load with EPERM (see select.ts for the fallback).
import { BpfEventSource, type BpfSourceOptions } from './bpf-netlink.ts';

export class BpfTracingEventSource extends BpfEventSource {
  readonly kind = 'bpf-tracing' as const;
  constructor(opt: BpfSourceOptions) { super('tracing', opt); }
}
