// The commit's order and accounting (src/daemon/commit.ts), against a recording kernel: entries
// the fast writer takes go out in batches; the ones it leaves alone follow as Flows, masters
// first; entries the kernel already has (EEXIST) are replaced before the related flows, whose
// master must be in the kernel first; every entry counts once, as committed or failed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { commit } from '../../src/daemon/commit.ts';
import { Cache } from '../../src/cache/cache.ts';
import { encodeCt } from '../../src/sync/codec.ts';
import { decodeFlow } from '../../src/kernel/ctnetlink.ts';
import { eachMessage, NLMSG } from '../../src/kernel/nlmsg.ts';
import { E } from '../../src/kernel/libc.ts';
import { STATUS, type Flow } from '../../src/flow/flow.ts';
import type { Conntrack } from '../../src/kernel/conntrack.ts';

const flow = (i: number, extra: Partial<Flow> = {}): Flow => ({
  family: 4,
  orig: { src: `192.0.2.${1 + (i % 200)}`, dst: '198.51.100.1', proto: 6, sport: 10000 + i, dport: 21 },
  reply: { src: '198.51.100.1', dst: `192.0.2.${1 + (i % 200)}`, proto: 6, sport: 21, dport: 10000 + i },
  status: STATUS.ASSURED | STATUS.SEEN_REPLY | STATUS.CONFIRMED,
  timeout: 120, tcp: { state: 3 }, ...extra,
});

/** An external cache holding flow(0) .. flow(n - 1), as received; `b` builds more messages. */
function externalWith(n: number) {
  const cache = new Cache('external', 'ct', 1 << 16);
  const b = new Uint8Array(1024);
  for (let i = 0; i < n; i++) cache.applyWire(0, b, 0, encodeCt(b, 0, 0, 0, 0, flow(i)));
  return { cache, b };
}

/** A kernel that records what it is asked and refuses the sports in `exists` with EEXIST once. */
function recordingKernel(exists: Set<number>) {
  const batches: { sport: number; timeout?: number }[][] = [];
  const creates: { sports: number[]; replace?: boolean }[] = [];
  let seq = 1;
  /** what the kernel does with one batch */
  const take = (data: Uint8Array, base: number) => {
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const got: { sport: number; timeout?: number }[] = [];
    const failed = new Map<number, number>();
    eachMessage(dv, data.length, (h, p) => {
      assert.is.not(h.type, NLMSG.ERROR);
      const f = decodeFlow(dv, p + 4, p - 16 + h.len, dv.getUint8(p));
      got.push({ sport: f.orig.sport!, timeout: f.timeout });
      if (exists.delete(f.orig.sport!)) failed.set(h.seq - base, E.EEXIST);
    });
    batches.push(got);
    return failed;
  };
  const ct = {
    reserveSeq(n: number) { const b = seq; seq += n; return b; },
    async sendBatchAsync(data: Uint8Array, base: number) { return take(data, base); },
    create(flows: Flow[], opt: { replace?: boolean }) {
      creates.push({ sports: flows.map((f) => f.orig.sport!), replace: opt.replace });
      return { ok: flows.length, failed: new Map<number, number>() };
    },
  };
  return { ct: ct as unknown as Conntrack, take, batches, creates };
}

test('fast entries in batches; then other masters, clashes, related flows; each counted once', async () => {
  const cache = new Cache('external', 'ct', 1 << 16);
  const b = new Uint8Array(1024);
  const add = (f: Flow) => cache.applyWire(0, b, 0, encodeCt(b, 0, 0, 0, 0, f));
  const N = 3000;
  for (let i = 0; i < N; i++) add(flow(i));
  add(flow(N, { helper: 'ftp' }));                                              // a master the fast writer leaves alone
  add(flow(N + 1, { master: { src: '192.0.2.1', dst: '198.51.100.1', proto: 6, sport: 10000, dport: 21 } })); // related
  const k = recordingKernel(new Set([10007, 12500]));
  const now = Date.now();
  const r = await commit(k.ct, cache, [], { commitTimeout: 0, now });

  const sent = k.batches.flat();
  assert.is(sent.length, N, 'every fast entry went out in a batch');
  assert.ok(k.batches.length >= 3, `${k.batches.length} batches`);
  assert.equal(new Set(sent.map((x) => x.sport)).size, N);
  assert.ok(sent.every((x) => x.timeout === 119 || x.timeout === 120), 'the received timeout less the time since (under a second)');
  assert.equal(k.creates, [
    { sports: [10000 + N], replace: true },
    { sports: [10007, 12500], replace: true },
    { sports: [10000 + N + 1], replace: true },
  ]);
  assert.is(r.committed, N + 2);
  assert.is(r.failed, 0);
});

test('a commit timeout replaces the received one; an entry removed meanwhile is skipped', async () => {
  const { cache, b } = externalWith(2000);
  const k = recordingKernel(new Set());
  // the first batch's turn of the event loop removes an entry of the second batch
  const gone = flow(1500);
  setImmediate(() => cache.applyWire(2, b, 0, encodeCt(b, 0, 2, 0, 0, gone)));
  const r = await commit(k.ct, cache, [], { commitTimeout: 30 });
  const sent = k.batches.flat();
  assert.ok(sent.every((x) => x.timeout === 30));
  assert.is(sent.length, 1999);
  assert.not.ok(sent.some((x) => x.sport === 11500));
  assert.is(r.committed, 1999);
});

test('an entry that arrives between batches goes out with a later batch', async () => {
  const { cache, b } = externalWith(2000);
  const k = recordingKernel(new Set());
  setImmediate(() => cache.applyWire(0, b, 0, encodeCt(b, 0, 0, 0, 0, flow(2000))));
  const r = await commit(k.ct, cache, [], { commitTimeout: 30 });
  const sent = k.batches.flat().map((x) => x.sport);
  assert.is(sent.length, 2001);
  assert.is(sent[sent.length - 1], 12000, 'the newcomer, last');
  assert.equal(sent.slice(0, 2000), [...Array(2000).keys()].map((i) => 10000 + i), 'the others in the order they came');
  assert.is(r.committed, 2001);
});

test('each batch stays untouched while the kernel has it; the next one is written meanwhile', async () => {
  const N = 5000;
  const { cache } = externalWith(N);
  const k = recordingKernel(new Set());
  let inFlight = 0, most = 0, rewritten = 0, sent = 0;
  // a kernel that takes its time: the batch is read only when the "sendto" ends, on a later timer
  (k.ct as unknown as { sendBatchAsync: unknown }).sendBatchAsync = (data: Uint8Array, base: number) => {
    const copy = data.slice();
    inFlight++;
    most = Math.max(most, inFlight);
    return new Promise((resolve) => setTimeout(() => {
      if (data.length !== copy.length || data.some((x, i) => x !== copy[i])) rewritten++;
      inFlight--;
      sent++;
      resolve(k.take(data, base));
    }, 2));
  };
  const r = await commit(k.ct, cache, [], { commitTimeout: 0 });
  assert.is(rewritten, 0, 'a batch changed while in the kernel');
  assert.is(most, 1, 'one batch in the kernel at a time');
  assert.ok(sent >= 4, `${sent} batches`);
  assert.is(k.batches.flat().length, N);
  assert.is(r.committed, N);
});

test.run();
