// Commit: the external cache into the kernel. Masters before related flows, then expectations;
// many creates per sendto, the event loop served between chunks, progress reported as it goes.
import type { Flow, Expectation } from '../flow/flow.ts';
import { STATUS } from '../flow/flow.ts';
import { Cache, type Entry } from '../cache/cache.ts';
import type { Conntrack } from '../kernel/conntrack.ts';
import type { Progress } from '../control/protocol.ts';
import { E, errnoName } from '../kernel/libc.ts';
import { NlWriter } from '../kernel/nlmsg.ts';
import { writeCreateFromWire } from './commit-wire.ts';

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
  flows: Iterable<Entry<'ct'>> | Cache<'ct'>,
  exps: Iterable<Entry<'exp'>>,
  opt: CommitOptions,
): Promise<CommitResult> {
  const t0 = performance.now();
  const now = opt.now ?? Date.now();
  const res: CommitResult = { committed: 0, failed: 0, expectations: 0, expectationsFailed: 0, seconds: 0, errors: {} };
  const count = (errno: number) => {
    const n = errnoName(errno);
    res.errors[n] = (res.errors[n] ?? 0) + 1;
  };
  if (flows instanceof Cache) await commitStored(ct, flows, opt, now, t0, res, count);
  else await commitFlows(ct, flows, opt, now, t0, res, count);
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

function report(opt: CommitOptions, t0: number, done: number, total: number): void {
  if (!opt.progress) return;
  const s = (performance.now() - t0) / 1000;
  const rate = done / Math.max(s, 1e-6);
  opt.progress({ op: 'commit', done, total, rate: Math.round(rate), eta: (total - done) / rate });
}

/** Entries as Flows (any iterable of entries): many creates per sendto. */
async function commitFlows(
  ct: Conntrack, flows: Iterable<Entry<'ct'>>, opt: CommitOptions, now: number, t0: number,
  res: CommitResult, count: (errno: number) => void,
): Promise<void> {
  const chunk = opt.chunk ?? 4096;
  const masters: Flow[] = [];
  const related: Flow[] = [];
  for (const e of flows) (e.data.master ? related : masters).push(forKernel(e, opt, now));
  const all = [...masters, ...related];
  for (let i = 0; i < all.length; i += chunk) {
    const part = all.slice(i, i + chunk);
    const c0 = performance.now();
    const r = ct.create(part, { replace: true, liberal: true });
    opt.chunkDone?.(part.length, (performance.now() - c0) / 1000);
    res.committed += r.ok;
    res.failed += r.failed.size;
    for (const e of r.failed.values()) count(e);
    const done = Math.min(i + chunk, all.length);
    report(opt, t0, done, all.length);
    if (done < all.length) await turn();
  }
}

/** Requests per sendto when committing stored messages (about 170 KB of requests). */
const STORED_CHUNK = 1024;

/**
 * The cache's stored messages straight into create requests (commit-wire.ts), a batch per sendto,
 * the event loop served between batches (the daemon's own events, the peer's messages). The kernel
 * handles ctnetlink creates one at a time (under the nfnetlink mutex, so two sockets would gain
 * nothing), inside sendto: each batch goes out from a worker thread while this one writes the
 * next, and the JavaScript costs no time of its own. Then, as Flows: the masters the fast writer
 * leaves alone (rarer attributes), the batches' clashes with existing entries (EEXIST: replaced,
 * delete then create, as conntrackd does), and last the related flows (which the fast writer
 * always leaves alone), since their master must be in the kernel first.
 */
async function commitStored(
  ct: Conntrack, cache: Cache<'ct'>, opt: CommitOptions, now: number, t0: number,
  res: CommitResult, count: (errno: number) => void,
): Promise<void> {
  const total = cache.size;
  // one batch in the kernel, the next being written; each with the ids of its requests
  const writers = [new NlWriter(256 * 1024), new NlWriter(256 * 1024)];
  const batchIds = [new Int32Array(STORED_CHUNK), new Int32Array(STORED_CHUNK)];
  const timeoutOf = (id: number, t: number) => {
    if (opt.commitTimeout > 0) return opt.commitTimeout;
    if (t < 0) return FALLBACK_TIMEOUT * 3;
    const left = Math.floor(t - (now - cache.lastUpdateOf(id)) / 1000);
    return left > 0 ? left : FALLBACK_TIMEOUT;
  };
  let cur = 0;
  const timeoutOfCur = (t: number) => timeoutOf(cur, t);
  const asFlow = (id: number): Flow => {
    const f = cache.dataOf(id);
    return { ...f, status: f.status & ~STATUS.EXPECTED, timeout: timeoutOf(id, f.timeout ?? -1) };
  };
  const rare: number[] = [];
  const clash: number[] = [];
  const send = async (w: NlWriter, ids: Int32Array, base: number, n: number) => {
    const c0 = performance.now();
    const failed = await ct.sendBatchAsync(w.data(), base, n);
    opt.chunkDone?.(n, (performance.now() - c0) / 1000);
    for (const [idx, errno] of failed) {
      if (errno === E.EEXIST) clash.push(ids[idx]);
      else {
        res.failed++;
        count(errno);
      }
    }
    res.committed += n - failed.size;
  };
  let inKernel: Promise<void> | undefined;
  let done = 0;
  try {
    // ids in slot order: messages side by side in memory, and no list of them made first. Entries
    // that messages received between batches add, remove or replace are seen as they are then.
    for (let id = 0, k = 0; id < cache.idLimit(); k++) {
      const w = writers[k & 1], ids = batchIds[k & 1];
      w.reset();
      const base = ct.reserveSeq(STORED_CHUNK);
      let n = 0;
      for (; n < STORED_CHUNK && id < cache.idLimit(); id++) {
        if (!cache.isLive(id)) continue;
        done++;
        cur = id;
        if (writeCreateFromWire(w, cache.messageBuf(id), cache.messageOff(id), cache.messageLen(id), timeoutOfCur, (base + n) >>> 0)) ids[n++] = id;
        else rare.push(id);
      }
      if (inKernel) await inKernel;
      inKernel = n > 0 ? send(w, ids, base, n) : undefined;
      if (id < cache.idLimit()) {
        report(opt, t0, done, Math.max(total, done));
        await turn();
      }
    }
  } finally {
    // never leave a batch in the kernel unawaited, whatever went wrong in this thread
    if (inKernel) await inKernel;
  }
  const live = (list: number[]) => list.filter((id) => cache.isLive(id)).map(asFlow);
  const flows = live(rare);
  for (const part of [flows.filter((f) => !f.master), live(clash), flows.filter((f) => f.master)]) {
    if (part.length === 0) continue;
    const r2 = ct.create(part, { replace: true, liberal: true });
    res.committed += r2.ok;
    res.failed += r2.failed.size;
    for (const e of r2.failed.values()) count(e);
  }
  report(opt, t0, done, done);
}
