// The identity of a conntrack in the caches: its original tuple and zone, as conntrackd hashes it.
import type { Flow, Expectation, Tuple } from './flow.ts';

function tupleKey(t: Tuple): string {
  // icmp type/code/id and ports never both appear, so one layout serves every protocol
  return `${t.proto}|${t.src}|${t.dst}|${t.sport ?? t.icmpType ?? 0}|${t.dport ?? t.icmpCode ?? 0}|${t.icmpId ?? 0}`;
}

export function flowKey(f: Pick<Flow, 'orig' | 'zone'>): string {
  return `${f.zone ?? 0}|${tupleKey(f.orig)}`;
}

/** Expectations are found by their expected tuple (and zone), as the kernel finds them. */
export function expectationKey(e: Pick<Expectation, 'tuple' | 'zone' | 'master'>): string {
  return `${e.zone ?? 0}|${tupleKey(e.tuple)}`;
}
