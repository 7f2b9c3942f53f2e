// The steady-state figures of the bench: several bursts, summarised figure by figure.
import type { Replication } from './run.ts';
import type { LossCounters } from './subjects.ts';

/**
 * The median run, figure by figure (each number the median of its own values); losses are the
 * worst run's, and complete only when every run was.
 */
export function medianRun(runs: Replication[]): Replication {
  const last = runs[runs.length - 1];
  const med = (get: (r: Replication) => number): number => {
    const v = runs.map(get).sort((a, b) => a - b);
    return v.length % 2 ? v[v.length >> 1] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  };
  const worst = (get: (r: Replication) => LossCounters): LossCounters => ({
    lost: Math.max(...runs.map((r) => get(r).lost)), resyncs: Math.max(...runs.map((r) => get(r).resyncs)),
  });
  const out = { ...last };
  for (const k of Object.keys(last) as (keyof Replication)[]) {
    if (typeof last[k] === 'number') (out as Record<string, unknown>)[k] = med((r) => r[k] as number);
  }
  out.complete = runs.every((r) => r.complete);
  out.sender = worst((r) => r.sender);
  out.receiver = worst((r) => r.receiver);
  return out;
}
