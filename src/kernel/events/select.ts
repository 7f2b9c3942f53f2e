// Chooses the event source (`event-source auto|bpf-tracing|bpf-netlink|netlink`). `auto` tries
// bpf-tracing, then bpf-netlink, then plain netlink; a configured BPF source that cannot load
// falls back down the same chain rather than stop the daemon. The chosen source's `reason` says
// what was tried and why it is the one running, e.g.
//   "bpf-tracing refused by the kernel (ct_trace_event: EPERM, BPF trampolines for fentry/fexit
//    not permitted by this kernel); using bpf-netlink"
import type { EventSink, EventSource, SourceCounters, SourceKind } from './source.ts';
import { NetlinkEventSource } from './netlink.ts';
import { BpfNetlinkEventSource } from './bpf-netlink.ts';
import { BpfTracingEventSource } from './bpf-tracing.ts';
import { BpfLoadError } from '../bpf/object.ts';
import { FlowFilter } from '../../flow/filter.ts';

export type EventSourceKind = 'auto' | SourceKind;

export interface OpenEventSourceOptions {
  kind: EventSourceKind;
  /** event-listen-queue-size in MB: the ring buffer (BPF) or the socket receive buffer (netlink) */
  bufferMB: number;
  /** accept-protocol / ignore-address; applied in the kernel (BPF) or in TypeScript (netlink) */
  filter: FlowFilter;
  /** follow expectation events too (expect-sync) */
  expectations: boolean;
  /** ask the kernel to retry destroy events the event socket could not take */
  reliableDestroy?: boolean;
  /** throw instead of falling back when the configured kind cannot be used */
  strict?: boolean;
  /** ring-buffer poll interval while busy / longest when idle (ms) */
  busyMs?: number;
  idleMs?: number;
}

const ORDER: readonly SourceKind[] = ['bpf-tracing', 'bpf-netlink', 'netlink'];

/** What went wrong with a source, without its name: "unavailable (libbpf.so.1 not loadable ...)". */
function why(e: unknown): string {
  const msg = (e as Error).message?.split('\n')[0] ?? String(e);
  if (e instanceof BpfLoadError && e.failure === 'trampoline-refused') return `refused by the kernel (${msg})`;
  if (e instanceof BpfLoadError && e.failure === 'no-libbpf') return `unavailable (${msg})`;
  if (e instanceof BpfLoadError && e.failure === 'no-permission') return `not permitted (${msg})`;
  return `failed (${msg})`;
}

/** "bpf-tracing and bpf-netlink unavailable (...)" rather than the same words twice. */
function joinNotes(notes: { kind: string; why: string }[]): string {
  const groups: { kinds: string[]; why: string }[] = [];
  for (const n of notes) {
    const g = groups.find((x) => x.why === n.why);
    if (g) g.kinds.push(n.kind); else groups.push({ kinds: [n.kind], why: n.why });
  }
  return groups.map((g) => `${g.kinds.join(' and ')} ${g.why}`).join('; ');
}

/** Opens the event source the options ask for, or the next one that works. */
export function openEventSource(opts: OpenEventSourceOptions): EventSource {
  const first = opts.kind === 'auto' ? 0 : ORDER.indexOf(opts.kind);
  if (first < 0) throw new Error(`event-source "${opts.kind}": use auto, bpf-tracing, bpf-netlink or netlink`);
  const notes: { kind: string; why: string }[] = [];
  for (let i = first; i < ORDER.length; i++) {
    const kind = ORDER[i];
    const reason = notes.length
      ? `${joinNotes(notes)}; using ${kind}`
      : opts.kind === 'auto' ? `auto: ${kind} is available` : `configured: ${kind}`;
    try {
      return open(kind, opts, reason);
    } catch (e) {
      if (opts.strict || kind === 'netlink') throw e;
      notes.push({ kind, why: why(e) });
    }
  }
  throw new Error('unreachable');
}

function open(kind: SourceKind, opts: OpenEventSourceOptions, reason: string): EventSource {
  const bpf = { bufferMB: opts.bufferMB, filter: opts.filter, expectations: opts.expectations, reason, busyMs: opts.busyMs, idleMs: opts.idleMs, reliableDestroy: opts.reliableDestroy };
  switch (kind) {
    case 'bpf-tracing': return new BpfTracingEventSource(bpf);
    case 'bpf-netlink': return new BpfNetlinkEventSource(bpf);
    case 'netlink': {
      const src = new NetlinkEventSource({
        bufferBytes: Math.max(1, opts.bufferMB) * 1024 * 1024,
        expectations: opts.expectations,
        reliableDestroy: opts.reliableDestroy,
        reason,
      });
      return opts.filter.active ? new FilteredSource(src, opts.filter) : src;
    }
  }
}

/** The plain netlink source with the filter applied in TypeScript (the BPF sources do it in the kernel). */
export class FilteredSource implements EventSource {
  private filtered = 0;

  constructor(readonly inner: EventSource, private readonly filter: FlowFilter) {}

  get kind(): SourceKind { return this.inner.kind; }
  get reason(): string { return this.inner.reason; }

  start(sink: EventSink): void {
    this.inner.start({
      flow: (ev) => {
        if (this.filter.matches(ev.flow)) sink.flow(ev);
        else this.filtered++;
      },
      expectation: (ev) => sink.expectation(ev),
      batchEnd: () => sink.batchEnd(),
      loss: (n, w) => sink.loss(n, w),
    });
  }

  drain(): void { this.inner.drain(); }
  newEvents(on: boolean): boolean { return this.inner.newEvents?.(on) ?? false; }

  counters(): SourceCounters {
    const c = this.inner.counters();
    return { ...c, received: c.received - this.filtered, filtered: c.filtered + this.filtered };
  }

  close(): Promise<void> { return this.inner.close(); }
}
