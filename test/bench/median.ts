// The steady-state figures of the bench: several bursts (and the deletes between them),
// summarised figure by figure.
import type { Replication, Deletion } from './run.ts';
import type { LossCounters } from './subjects.ts';

/** The median of some values (NaN for none). */
function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  return v.length % 2 ? v[v.length >> 1] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
}

/** The worst run's losses and resyncs (each the highest of its own values). */
function worst<T>(runs: T[], get: (r: T) => LossCounters): LossCounters {
  return { lost: Math.max(0, ...runs.map((r) => get(r).lost)), resyncs: Math.max(0, ...runs.map((r) => get(r).resyncs)) };
}

/**
 * The median run, figure by figure (each number the median of its own values); losses are the
 * worst run's, and complete only when every run was.
 */
export function medianRun(runs: Replication[]): Replication {
  const last = runs[runs.length - 1];
  const out = { ...last };
  for (const k of Object.keys(last) as (keyof Replication)[]) {
    if (typeof last[k] === 'number') (out as Record<string, unknown>)[k] = median(runs.map((r) => r[k] as number));
  }
  out.complete = runs.every((r) => r.complete);
  out.sender = worst(runs, (r) => r.sender);
  out.receiver = worst(runs, (r) => r.receiver);
  return out;
}

/** The same for the deletes; the flows left at the peer are the worst delete's too. */
export function medianDeletion(runs: Deletion[]): Deletion {
  return {
    flows: median(runs.map((d) => d.flows)), seconds: median(runs.map((d) => d.seconds)),
    left: Math.max(0, ...runs.map((d) => d.left)),
    cpuSender: median(runs.map((d) => d.cpuSender)), cpuReceiver: median(runs.map((d) => d.cpuReceiver)),
    sender: worst(runs, (d) => d.sender), receiver: worst(runs, (d) => d.receiver),
  };
}
