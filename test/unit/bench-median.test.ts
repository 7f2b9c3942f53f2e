// The bench's steady state is the median of several bursts, figure by figure (test/bench/median.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { medianRun, medianDeletion } from '../../test/bench/median.ts';
import type { Replication, Deletion } from '../../test/bench/run.ts';
import { replication } from './bench-fixture.ts';

const run = (cpuSender: number, cpuReceiver: number, lost: number, complete = true): Replication => replication({
  replicated: complete ? 100000 : 99990, seconds: cpuSender * 2, complete, cpuSender, cpuReceiver,
  busyA: cpuSender * 3, busyB: cpuReceiver, sender: { lost, resyncs: 0 },
});

test('each figure is the median of its own values; losses the worst run\'s', () => {
  const m = medianRun([run(0.40, 0.20, 0), run(0.30, 0.35, 7), run(0.35, 0.25, 0)]);
  assert.is(m.cpuSender, 0.35);
  assert.is(m.cpuReceiver, 0.25);
  assert.is(m.seconds, 0.7);
  assert.is(m.sender.lost, 7);
  assert.ok(m.complete);
});

test('an even count averages the middle two; one incomplete run makes the median incomplete', () => {
  const m = medianRun([run(0.4, 0.2, 0), run(0.2, 0.4, 0, false)]);
  assert.ok(Math.abs(m.cpuSender - 0.3) < 1e-12);
  assert.is(m.complete, false);
  assert.is(m.replicated, 99995);
});

const del = (seconds: number, left: number, lost: number, resyncs = 0): Deletion => ({
  flows: 100000, seconds, left, cpuSender: seconds / 2, cpuReceiver: seconds / 4,
  sender: { lost, resyncs }, receiver: { lost: 0, resyncs: 0 },
});

test('deletes: the median time and CPU; the worst delete\'s losses, resyncs and flows left', () => {
  const m = medianDeletion([del(0.9, 0, 0), del(3.2, 12, 25000, 1), del(1.1, 0, 0)]);
  assert.is(m.seconds, 1.1);
  assert.is(m.cpuSender, 0.55);
  assert.is(m.left, 12);
  assert.equal(m.sender, { lost: 25000, resyncs: 1 });
  assert.is(m.flows, 100000);
});

test('no delete measured: NaN figures, nothing lost', () => {
  const m = medianDeletion([]);
  assert.ok(Number.isNaN(m.seconds));
  assert.equal(m.sender, { lost: 0, resyncs: 0 });
});

test.run();
