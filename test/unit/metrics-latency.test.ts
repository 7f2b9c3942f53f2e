// Latency histograms and the daemon's probes: percentiles over the window, refused samples,
// kernel-to-wire stamped when the socket takes the datagram (not when the mode flushes), the
// receive side, event counts, progress and the latency table.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Latency, BUCKETS_US, bucketOf } from '../../src/metrics/histogram.ts';
import { Probes, type AckingTransport } from '../../src/metrics/probe.ts';
import { EventCounter, sumCounts } from '../../src/metrics/events.ts';
import { ProgressMeter } from '../../src/metrics/progress.ts';
import { formatLatencyTable, formatUs } from '../../src/metrics/text.ts';
import type { Progress } from '../../src/control/protocol.ts';
import { monotonicNs, monotonicNsFast } from '../../src/kernel/libc.ts';

test('buckets: a sample equal to a bound is in that bound\'s bucket', () => {
  assert.is(bucketOf(0), 0);
  assert.is(bucketOf(1), 0);
  assert.is(bucketOf(1.5), 1);
  assert.is(bucketOf(2), 1);
  assert.is(bucketOf(1024), 10);
  assert.is(bucketOf(1025), 11);
  assert.is(bucketOf(BUCKETS_US[BUCKETS_US.length - 1]), BUCKETS_US.length - 1);
  assert.is(bucketOf(1e9), BUCKETS_US.length, '+Inf');
});

test('buckets: just above a bound is the next bucket; agrees with ceil(log2) on fractions', () => {
  for (let i = 0; i < BUCKETS_US.length; i++) {
    const b = BUCKETS_US[i];
    assert.is(bucketOf(b), i, `${b}`);
    assert.is(bucketOf(b + 1e-6), i + 1, `${b} + 1e-6`);
  }
  let x = 7;
  for (let k = 0; k < 20000; k++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    const us = 1 + (x / 2147483648) * 2 ** (1 + (k % 25));
    const want = Math.min(Math.ceil(Math.log2(us)), BUCKETS_US.length);
    assert.is(bucketOf(us), want, `${us}`);
  }
});

test('percentiles by nearest rank over the window; old samples leave the window, not the histogram', () => {
  const l = new Latency('x', 1000, 10_000);
  for (let v = 1; v <= 100; v++) l.add(v, 1000);
  let p = l.percentiles(2000);
  assert.equal([p.count, p.p50, p.p90, p.p99, p.max], [100, 50, 90, 99, 100]);
  l.add(5000, 20_000);
  p = l.percentiles(20_000);
  assert.equal([p.count, p.p50, p.max], [1, 5000, 5000], 'only the recent sample');
  assert.is(l.total, 101);
  assert.is(l.cumulative().at(-1)![1], 101);
  assert.is(l.percentiles(100_000).count, 0);
  assert.is(l.percentiles(100_000).max, 0);
});

test('negative and NaN samples are refused and counted; addMany weighs the histogram', () => {
  const l = new Latency('x', 4);
  l.add(-1);
  l.add(NaN);
  assert.is(l.dropped, 2);
  assert.is(l.total, 0);
  l.addMany(10, 1000);
  assert.is(l.total, 1000);
  assert.is(l.sum, 10_000);
  assert.is(l.percentiles().count, 4, 'the window keeps its size');
  const cum = l.cumulative();
  assert.is(cum.find(([b]) => b === 16)![1], 1000);
  assert.is(cum.find(([b]) => b === 8)![1], 0);
});

/** A transport whose datagrams the "socket" takes only when the test says so. */
function fakeTransport() {
  const inFlight: (() => void)[] = [];
  const t: AckingTransport & { inFlight: (() => void)[]; sent: number } = {
    maxPayload: 1400,
    inFlight,
    sent: 0,
    acquire: () => new Uint8Array(1500),
    send(_buf, _len, sent) { this.sent++; if (sent) inFlight.push(sent); },
  };
  return t;
}

test('kernel-to-wire: stamped when the last datagram of the batch is taken by the socket', () => {
  let now = 1_000_000;
  const p = new Probes(() => now);
  const t = fakeTransport();
  const w = p.wrap(t);
  assert.is(w.maxPayload, 1400);
  p.stamp(990_000);
  p.stamp(995_000);
  p.begin();
  w.send(new Uint8Array(10), 10);
  w.send(new Uint8Array(10), 10);
  now = 1_002_000;
  p.end();
  assert.is(p.latency.kernelToWire.total, 0, 'nothing recorded before the socket has the datagrams');
  now = 1_005_000;
  t.inFlight.shift()!();
  assert.is(p.latency.kernelToWire.total, 0, 'one datagram still pending');
  now = 1_007_000;
  t.inFlight.shift()!();
  const l = p.latency.kernelToWire;
  assert.is(l.total, 2);
  assert.is(l.sum, (1_007_000 - 990_000 + 1_007_000 - 995_000) / 1000, 'µs from each kernel stamp to the last hand-over');
  // outside a batch: no callback asked for, nothing recorded
  w.send(new Uint8Array(1), 1);
  assert.is(t.inFlight.length, 0);
  // a batch whose flush sent nothing is counted as unsent
  p.stamp(1);
  p.begin();
  p.end();
  assert.is(p.unsent, 1);
  // no stamps, no batch
  p.begin();
  p.end();
  assert.is(p.unsent, 1);
  assert.is(l.total, 2);
});

test('kernel-to-wire: a batch keeps its stamps while the next one is stamped and sent', () => {
  let now = 1_000;
  const p = new Probes(() => now);
  const t = fakeTransport();
  const w = p.wrap(t);
  for (const k of [100, 200, 300]) p.stamp(k);
  p.begin();
  w.send(new Uint8Array(1), 1);
  p.end();
  // the next batch is stamped while the first one still waits for its socket
  p.stamp(900);
  p.begin();
  w.send(new Uint8Array(1), 1);
  p.end();
  now = 2_000;
  t.inFlight.shift()!();
  assert.is(p.latency.kernelToWire.total, 3);
  assert.ok(Math.abs(p.latency.kernelToWire.sum - (1_900 + 1_800 + 1_700) / 1000) < 1e-9, `sum ${p.latency.kernelToWire.sum}`);
  t.inFlight.shift()!();
  assert.is(p.latency.kernelToWire.total, 4);
  // the arrays come back whole (not emptied): a later batch in the first one, with one stamp
  // where it held three, reads only its own
  const before = p.latency.kernelToWire.sum;
  for (const k of [1_500, 1_600, 1_700]) {
    p.stamp(k);
    p.begin();
    w.send(new Uint8Array(1), 1);
    p.end();
    t.inFlight.shift()!();
  }
  assert.is(p.latency.kernelToWire.total, 7);
  assert.ok(Math.abs(p.latency.kernelToWire.sum - before - (500 + 400 + 300) / 1000) < 1e-9, `sum ${p.latency.kernelToWire.sum}`);
});

test('kernel-to-wire: a socket that takes the datagram at once (synchronous callback) still counts', () => {
  let now = 500;
  const p = new Probes(() => now);
  const w = p.wrap({ maxPayload: 100, acquire: () => new Uint8Array(200), send: (_b, _l, sent) => sent?.() });
  p.stamp(100);
  p.begin();
  w.send(new Uint8Array(1), 1);
  now = 900;
  p.end();
  assert.is(p.latency.kernelToWire.total, 1);
  assert.is(p.latency.kernelToWire.sum, 0.8);
});

test('kernel-to-read, wire-to-cache and wire-to-kernel', () => {
  let now = 10_000;
  const p = new Probes(() => now);
  p.read(4_000n);
  p.read(undefined);
  assert.is(p.latency.kernelToRead.total, 1);
  assert.is(p.latency.kernelToRead.sum, 6);
  p.read(20_000n);
  assert.is(p.latency.kernelToRead.dropped, 1, 'a kernel stamp after the read is clock trouble, refused');
  now = 50_000;
  p.datagram();
  now = 53_000;
  p.cached();
  p.queued();
  now = 60_000;
  p.datagram();
  p.queued();
  now = 70_000;
  p.injected();
  assert.is(p.latency.wireToCache.sum, 3);
  assert.is(p.latency.wireToKernel.total, 2);
  assert.is(p.latency.wireToKernel.sum, 20 + 10);
  p.injected();
  assert.is(p.latency.wireToKernel.total, 2, 'stamps are used once');
  p.commitChunk(4096, 0.4096);
  assert.is(p.latency.commitEntry.total, 4096);
  assert.ok(Math.abs(p.latency.commitEntry.percentiles().p50 - 100) < 1e-9, '100 µs per entry');
});

test('the stamps\' clock reads CLOCK_MONOTONIC (the kernel\'s event stamps) to within a few microseconds', async () => {
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 1000; i++) {
      const before = Number(monotonicNs());
      const fast = monotonicNsFast();
      const after = Number(monotonicNs());
      assert.ok(fast >= before - 20_000 && fast <= after + 20_000, `${before} <= ${fast} <= ${after} (ns, 20 us allowed)`);
    }
    // past the re-anchoring interval
    await new Promise((r) => setTimeout(r, 1100));
  }
});

test('event counts by protocol and type; unnamed protocols by number', () => {
  const c = new EventCounter();
  c.flow(6, 0); c.flow(6, 0); c.flow(6, 2); c.flow(17, 1); c.flow(112, 0);
  c.expectation(0);
  const s = c.snapshot(3);
  assert.equal(s.conntrack, { tcp: { new: 2, update: 0, destroy: 1 }, udp: { new: 0, update: 1, destroy: 0 }, 112: { new: 1, update: 0, destroy: 0 } });
  assert.equal(s.expect, { new: 1, update: 0, destroy: 0 });
  assert.is(s.own, 3);
  assert.equal(sumCounts(Object.values(s.conntrack)), { new: 3, update: 1, destroy: 1 });
});

test('progress: throttled reports, a final one with total = done, rate and eta', async () => {
  const seen: Progress[] = [];
  const m = new ProgressMeter('resync', (p) => seen.push(p), { total: 5000, everyMs: 0 });
  for (let i = 0; i < 3000; i++) m.step();
  assert.is(seen.length, 2, 'a report per 1024 items at most');
  assert.is(seen[0].done, 1024);
  assert.is(seen[0].total, 5000);
  assert.ok(seen[0].eta! > 0);
  const f = m.finish();
  assert.equal([f.done, f.total, f.eta], [3000, 3000, 0]);
  assert.ok(f.rate! > 0 && f.seconds >= 0);
  const quiet: Progress[] = [];
  const q = new ProgressMeter('bulk send', (p) => quiet.push(p));
  q.step(100_000);
  assert.is(quiet.length, 0, 'within the first second nothing but the final report');
  q.finish();
  assert.is(quiet.length, 1);
});

test('latency table and duration units', () => {
  assert.is(formatUs(0.5), '0.5 µs');
  assert.is(formatUs(85), '85 µs');
  assert.is(formatUs(999.9), '1000 µs');
  assert.is(formatUs(12_400), '12.4 ms');
  assert.is(formatUs(2_500_000), '2.5 s');
  const t = formatLatencyTable([
    { stage: 'kernel-to-read', count: 2000, p50: 41, p90: 95, p99: 310, p999: 1200, max: 2000, dropped: 0 },
    { stage: 'wire-to-kernel', count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, dropped: 3 },
  ]);
  const lines = t.split('\n');
  assert.match(lines[0], /^stage\s+samples\s+p50\s+p90\s+p99\s+p99\.9\s+max$/);
  assert.match(lines[1], /^kernel-to-read\s+2000\s+41 µs\s+95 µs\s+310 µs\s+1\.2 ms\s+2 ms$/);
  assert.match(lines[2], /^wire-to-kernel\s+0\s+-\s+-\s+-\s+-\s+-$/);
  assert.is(lines[0].length, lines[1].length, 'columns aligned');
  assert.match(t, /refused samples \(end before start\): wire-to-kernel 3/);
});

test.run();
