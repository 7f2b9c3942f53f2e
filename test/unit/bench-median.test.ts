// The bench's steady state is the median of several bursts, figure by figure (test/bench/median.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { medianRun } from '../../test/bench/median.ts';
import type { Replication } from '../../test/bench/run.ts';

const run = (cpuSender: number, cpuReceiver: number, lost: number, complete = true): Replication => ({
  flows: 100000, generatorRate: 1e5, generatorSeconds: 1, generatorFailed: 0, replicated: complete ? 100000 : 99990,
  seconds: cpuSender * 2, complete, cpuSender, cpuReceiver, sysSender: 0.1, sysReceiver: 0.05, bpfSeconds: 0.02, busyA: cpuSender * 3, busyB: cpuReceiver,
  dataBytes: 8e6, dataPackets: 6000, ackBytes: 2e4, ackPackets: 333,
  sender: { lost, resyncs: 0 }, receiver: { lost: 0, resyncs: 0 }, rssBefore: 1, rssAfter: 2,
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
