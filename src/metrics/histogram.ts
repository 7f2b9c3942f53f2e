// Latency histograms: cumulative log-scale buckets for Prometheus, and a sliding window of recent
// samples for percentiles (p50/p90/p99/p99.9/max over the last `windowMs`).

/** Bucket upper bounds in microseconds: 1 µs .. ~16 s, ×2 per bucket. */
export const BUCKETS_US: readonly number[] = Array.from({ length: 25 }, (_, i) => 2 ** i);

export interface Percentiles { count: number; p50: number; p90: number; p99: number; p999: number; max: number }

export class Latency {
  /** cumulative, for Prometheus: counts[i] = samples <= BUCKETS_US[i] (non-cumulative storage) */
  readonly counts = new Float64Array(BUCKETS_US.length + 1);
  sum = 0;
  total = 0;
  private readonly ring: Float64Array;
  private readonly stamps: Float64Array;
  private head = 0;
  private filled = 0;

  constructor(readonly stage: string, size = 8192, readonly windowMs = 60_000) {
    this.ring = new Float64Array(size);
    this.stamps = new Float64Array(size);
  }

  /** One sample in microseconds; negative or NaN samples are clock trouble and are dropped. */
  add(us: number, nowMs = Date.now()): void {
    if (!(us >= 0)) return;
    let i = 0;
    while (i < BUCKETS_US.length && us > BUCKETS_US[i]) i++;
    this.counts[i]++;
    this.sum += us;
    this.total++;
    this.ring[this.head] = us;
    this.stamps[this.head] = nowMs;
    this.head = (this.head + 1) % this.ring.length;
    if (this.filled < this.ring.length) this.filled++;
  }

  /** Percentiles of the samples within the window. */
  percentiles(nowMs = Date.now()): Percentiles {
    const vals: number[] = [];
    for (let i = 0; i < this.filled; i++) if (nowMs - this.stamps[i] <= this.windowMs) vals.push(this.ring[i]);
    vals.sort((a, b) => a - b);
    const q = (p: number) => (vals.length ? vals[Math.min(vals.length - 1, Math.floor(p * vals.length))] : 0);
    return { count: vals.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), p999: q(0.999), max: vals.length ? vals[vals.length - 1] : 0 };
  }
}
