// Latency histograms: cumulative log-scale buckets for Prometheus, and a sliding window of recent
// samples for percentiles (p50/p90/p99/p99.9/max over the last `windowMs`).
//
//   const l = new Latency('kernel-to-wire');
//   l.add(us)              // one sample, microseconds
//   l.addMany(us, n)       // n samples of the same value (an amortised per-entry cost)
//   l.percentiles()        // over the window: { count, p50, p90, p99, p999, max }
//   l.cumulative()         // Prometheus buckets: [upper bound µs, samples <= it], +Inf last
//   l.total / l.sum / l.dropped

/** Bucket upper bounds in microseconds: 1 µs .. ~16.8 s, ×2 per bucket; +Inf beyond. */
export const BUCKETS_US: readonly number[] = Array.from({ length: 25 }, (_, i) => 2 ** i);

export interface Percentiles { count: number; p50: number; p90: number; p99: number; p999: number; max: number }

export class Latency {
  /** samples per bucket (not cumulative): counts[i] = samples in (BUCKETS_US[i-1], BUCKETS_US[i]]; the last is +Inf */
  readonly counts = new Float64Array(BUCKETS_US.length + 1);
  /** sum of every sample, µs */
  sum = 0;
  /** samples since start */
  total = 0;
  /** samples refused: negative or NaN, i.e. a stamp taken before the one it is compared with */
  dropped = 0;
  private readonly ring: Float64Array;
  private readonly stamps: Float64Array;
  private head = 0;
  private filled = 0;

  constructor(readonly stage: string, size = 8192, readonly windowMs = 60_000) {
    this.ring = new Float64Array(size);
    this.stamps = new Float64Array(size);
  }

  /** One sample in microseconds. */
  add(us: number, nowMs = Date.now()): void {
    this.addMany(us, 1, nowMs);
  }

  /** `n` samples of `us` microseconds each; the window keeps at most its size of them. */
  addMany(us: number, n: number, nowMs = Date.now()): void {
    if (!(n > 0)) return;
    if (!(us >= 0)) {
      this.dropped += n;
      return;
    }
    this.counts[bucketOf(us)] += n;
    this.sum += us * n;
    this.total += n;
    const size = this.ring.length;
    for (let k = Math.min(n, size); k > 0; k--) {
      this.ring[this.head] = us;
      this.stamps[this.head] = nowMs;
      this.head = (this.head + 1) % size;
      if (this.filled < size) this.filled++;
    }
  }

  /** Percentiles (nearest rank) of the samples within the window; zeros when there are none. */
  percentiles(nowMs = Date.now()): Percentiles {
    const all = (scratch.length >= this.filled ? scratch : (scratch = new Float64Array(this.ring.length)));
    let n = 0;
    for (let i = 0; i < this.filled; i++) if (nowMs - this.stamps[i] <= this.windowMs) all[n++] = this.ring[i];
    if (n === 0) return { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
    const sorted = all.subarray(0, n).sort();
    const q = (p: number) => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];
    return { count: sorted.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), p999: q(0.999), max: sorted[sorted.length - 1] };
  }

  /** Cumulative bucket counts with their upper bounds in µs (Infinity last, equal to `total`). */
  cumulative(): [number, number][] {
    const out: [number, number][] = [];
    let acc = 0;
    for (let i = 0; i < this.counts.length; i++) {
      acc += this.counts[i];
      out.push([i < BUCKETS_US.length ? BUCKETS_US[i] : Infinity, acc]);
    }
    return out;
  }
}

/** percentiles' working copy, shared by every histogram (no array built per call) */
let scratch = new Float64Array(0);

/** Index of the bucket holding `us` (the first bound >= us). */
export function bucketOf(us: number): number {
  if (us <= 1) return 0;
  if (us > TOP_US) return BUCKETS_US.length;
  // two samples per flow pass here: integer bit counting instead of Math.log2. For us in
  // (2^(i-1), 2^i], ceil(us) is in the same range, and ceil(log2(m)) = 32 - clz32(m - 1)
  return 32 - Math.clz32(Math.ceil(us) - 1);
}
const TOP_US = BUCKETS_US[BUCKETS_US.length - 1];
