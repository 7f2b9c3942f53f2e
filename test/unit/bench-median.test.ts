// The bench's steady state is the median of several bursts, figure by figure (test/bench/median.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { medianRun } from '../../test/bench/median.ts';
import type { Replication } from '../../test/bench/run.ts';
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

test.run();
