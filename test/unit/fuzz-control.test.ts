// The control sockets under random clients (test/fuzz/control.ts): garbage, partial and split
// lines, lines too long, JSON that is not a request, unknown commands (also "constructor" and
// "__proto__"), failing and slow handlers, clients that leave early, and conntrackd's 4-byte
// protocol cut short or padded. Each complete request gets one final reply, the counters agree.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import process from 'node:process';
import { fuzzControl } from '../fuzz/control.ts';

test('300 random sessions on each control socket', async () => {
  const seed = Number(process.env.CTSYNC_FUZZ_SEED ?? 7);
  const r = await fuzzControl(300, seed);
  console.log(`  ${r.sessions} sessions x 2 sockets in ${(r.ms / 1000).toFixed(1)} s (seed ${seed}): ${JSON.stringify(r.counters)}, conntrackd ${JSON.stringify(r.compat)}`);
  assert.equal(r.failures, []);
  assert.ok(r.counters.badRequests > 0 && r.counters.unknown > 0 && r.counters.failed > 0, 'every kind of bad request was tried');
  assert.ok(r.compat.unknown > 0, 'unknown conntrackd codes were tried');
});

test.run();
