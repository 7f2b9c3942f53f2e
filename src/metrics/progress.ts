// Progress of a long operation (count, rate, ETA) for the control protocol's progress lines and
// the log. Cheap enough to call per item: the clock is read once every 1024 items.
//
//   const m = new ProgressMeter('resync', report, { total: estimate });
//   for (...) m.step();
//   m.finish();   // always reports, with total = done
import type { Progress } from '../control/protocol.ts';

export class ProgressMeter {
  done = 0;
  private readonly t0 = performance.now();
  private last = this.t0;
  private unchecked = 0;
  private readonly total?: number;
  private readonly everyMs: number;

  constructor(readonly op: string, private readonly report: (p: Progress) => void, opt: { total?: number; everyMs?: number } = {}) {
    this.total = opt.total;
    this.everyMs = opt.everyMs ?? 1000;
  }

  /** `n` more items done; reports when `everyMs` has passed since the last report. */
  step(n = 1): void {
    this.done += n;
    this.unchecked += n;
    if (this.unchecked < 1024) return;
    this.unchecked = 0;
    const now = performance.now();
    if (now - this.last < this.everyMs) return;
    this.last = now;
    this.report(this.progress(now, false));
  }

  /** The final report: everything counted is done. */
  finish(): Progress & { seconds: number } {
    const now = performance.now();
    const p = this.progress(now, true);
    this.report(p);
    return { ...p, seconds: (now - this.t0) / 1000 };
  }

  private progress(now: number, final: boolean): Progress {
    const s = Math.max((now - this.t0) / 1000, 1e-6);
    const rate = this.done / s;
    // an estimated total (e.g. the kernel's entry count) may be passed; never show done > total
    const total = final ? this.done : Math.max(this.total ?? this.done, this.done);
    return { op: this.op, done: this.done, total, rate: Math.round(rate), eta: rate > 0 ? (total - this.done) / rate : 0 };
  }
}

/** One log line: `resync: 120000/250000 (81234/s, 1.6 s left)`. */
export function formatProgress(p: Progress): string {
  const parts: string[] = [];
  if (p.rate !== undefined) parts.push(`${p.rate}/s`);
  if (p.eta !== undefined && p.done < p.total) parts.push(`${p.eta.toFixed(1)} s left`);
  return `${p.op}: ${p.done}/${p.total}${parts.length ? ` (${parts.join(', ')})` : ''}`;
}
