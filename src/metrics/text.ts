// `ctsync show conntrack-sync latency`: the latency stages as a plain text table, and the
// duration formatting `ctsync top` shares.
import type { LatencyStats } from '../control/snapshot.ts';

/** What the percentiles cover (src/metrics/histogram.ts Latency defaults). */
export const WINDOW = 'percentiles of the last 60 s, at most the last 8192 samples of a stage';

/** What each stage measures, for the table's legend. */
export const STAGE_HELP: Readonly<Record<string, string>> = {
  'kernel-to-read': 'kernel event -> read from the ring buffer',
  'kernel-to-wire': 'kernel event -> datagram handed to the socket',
  'wire-to-cache': 'datagram received -> external cache updated',
  'wire-to-kernel': 'datagram received -> kernel acknowledged the inject',
  'commit-per-entry': 'commit time per entry (per batch of creates)',
  commit: 'whole commits',
};

/** A duration given in microseconds, 3 significant digits in a fitting unit: "850 µs", "12.4 ms". */
export function formatUs(us: number): string {
  if (us < 1000) return `${sig3(us)} µs`;
  if (us < 1e6) return `${sig3(us / 1000)} ms`;
  return `${sig3(us / 1e6)} s`;
}

const sig3 = (x: number) => String(Number(x.toPrecision(3)));

export function formatLatencyTable(stats: readonly LatencyStats[], window = WINDOW): string {
  const head = ['stage', 'samples', 'p50', 'p90', 'p99', 'p99.9', 'max'];
  const rows = stats.map((l) => [
    l.stage, String(l.count),
    ...(l.count ? [l.p50, l.p90, l.p99, l.p999, l.max].map(formatUs) : ['-', '-', '-', '-', '-']),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('   ').trimEnd();
  let out = `${line(head)}\n${rows.map(line).join('\n')}\n`;
  const dropped = stats.filter((l) => (l.dropped ?? 0) > 0);
  out += `\n${window}; kernel and daemon stamps are both CLOCK_MONOTONIC\n`;
  for (const l of stats) if (STAGE_HELP[l.stage]) out += `  ${l.stage.padEnd(w[0])}  ${STAGE_HELP[l.stage]}\n`;
  if (dropped.length) out += `refused samples (end before start): ${dropped.map((l) => `${l.stage} ${l.dropped}`).join(', ')}\n`;
  return out;
}
