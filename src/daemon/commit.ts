// Commit: the external cache into the kernel. Masters before related flows, then expectations;
// many creates per sendto, the event loop served between chunks, progress reported as it goes.
import type { Flow, Expectation } from '../flow/flow.ts';
import { STATUS } from '../flow/flow.ts';
import type { Entry } from '../cache/cache.ts';
import type { Conntrack } from '../kernel/conntrack.ts';
import type { Progress } from '../control/protocol.ts';
import { errnoName } from '../kernel/libc.ts';

export interface CommitOptions {
  /** seconds every committed flow gets; 0 = the received timeout minus the time since it came */
  commitTimeout: number;
  /** flows per batch between two turns of the event loop */
  chunk?: number;
  progress?: (p: Progress) => void;
  /** after each batch of creates: entries in it and the seconds it took (latency metrics) */
  chunkDone?: (entries: number, seconds: number) => void;
  /** ms, for tests */
  now?: number;
}

export interface CommitResult {
  committed: number;
  failed: number;
  expectations: number;
  expectationsFailed: number;
  seconds: number;
  /** errno name -> how many */
  errors: Record<string, number>;
}

/** Seconds a recovered entry may live; what conntrackd falls back to when it has no better. */
const FALLBACK_TIMEOUT = 60;

export function commitTimeoutOf(e: Entry, data: { timeout?: number }, opt: CommitOptions, now: number): number {
  if (opt.commitTimeout > 0) return opt.commitTimeout;
  if (data.timeout === undefined) return FALLBACK_TIMEOUT * 3;
  const left = Math.floor(data.timeout - (now - e.lastUpdate) / 1000);
  return left > 0 ? left : FALLBACK_TIMEOUT;
}

function forKernel(e: Entry<'ct'>, opt: CommitOptions, now: number): Flow {
  const f = e.data;
  // the kernel refuses EXPECTED on create; the entry is related through its master tuple instead
  return { ...f, status: f.status & ~STATUS.EXPECTED, timeout: commitTimeoutOf(e, f, opt, now) };
}

const turn = () => new Promise<void>((r) => setImmediate(r));

export async function commit(
  ct: Conntrack,
  flows: Iterable<Entry<'ct'>>,
  exps: Iterable<Entry<'exp'>>,
  opt: CommitOptions,
): Promise<CommitResult> {
  const t0 = performance.now();
  const now = opt.now ?? Date.now();
  const chunk = opt.chunk ?? 4096;
  const masters: Flow[] = [];
  const related: Flow[] = [];
  for (const e of flows) (e.data.master ? related : masters).push(forKernel(e, opt, now));
  const all = [...masters, ...related];
  const res: CommitResult = { committed: 0, failed: 0, expectations: 0, expectationsFailed: 0, seconds: 0, errors: {} };
  const count = (errno: number) => {
    const n = errnoName(errno);
    res.errors[n] = (res.errors[n] ?? 0) + 1;
  };
  for (let i = 0; i < all.length; i += chunk) {
    const part = all.slice(i, i + chunk);
    const c0 = performance.now();
    const r = ct.create(part, { replace: true, liberal: true });
    opt.chunkDone?.(part.length, (performance.now() - c0) / 1000);
    res.committed += r.ok;
    res.failed += r.failed.size;
    for (const e of r.failed.values()) count(e);
    const done = Math.min(i + chunk, all.length);
    if (opt.progress) {
      const s = (performance.now() - t0) / 1000;
      const rate = done / Math.max(s, 1e-6);
      opt.progress({ op: 'commit', done, total: all.length, rate: Math.round(rate), eta: (all.length - done) / rate });
    }
    if (done < all.length) await turn();
  }
  const expList: Expectation[] = [];
  for (const e of exps) expList.push({ ...e.data, timeout: commitTimeoutOf(e, e.data, opt, now) });
  if (expList.length) {
    const r = ct.createExpectations(expList);
    res.expectations = r.ok;
    res.expectationsFailed = r.failed.size;
    for (const e of r.failed.values()) count(e);
  }
  res.seconds = (performance.now() - t0) / 1000;
  return res;
}
