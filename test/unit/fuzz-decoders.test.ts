// timeout: 120
// The bounded fuzz run of CI (the long one is `npm run fuzz`): mutated inputs from the seeds of
// test/fuzz/seeds.ts for the wire decoder, the three sync modes' receive paths, the ctnetlink
// decoders, the ring-buffer record decoder and the configuration parser. No exception may escape,
// every bad input must be counted or refused with a one-line error (see test/fuzz/targets.ts).
// The seed changes with CTSYNC_FUZZ_SEED; the counts are printed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import process from 'node:process';
import { fuzz, summary, type TargetName } from '../fuzz/driver.ts';

const SEED = Number(process.env.CTSYNC_FUZZ_SEED ?? 20251122);
const COUNTS: Record<TargetName, number> = { wire: 40_000, modes: 30_000, ctnetlink: 30_000, record: 20_000, config: 4_000 };

let total = 0;
for (const [target, count] of Object.entries(COUNTS) as [TargetName, number][]) {
  test(`${target}: ${count} mutated inputs, no finding`, () => {
    const r = fuzz(target, count, SEED);
    total += r.inputs;
    console.log(`  ${summary(r)} (seed ${SEED})`);
    assert.ok(r.inputs >= count, 'all inputs ran');
    assert.equal(r.findings.map((f) => `${f.error} [input ${f.input.slice(0, 160)}]`), []);
  });
}

test('mutations in all', () => {
  console.log(`  ${total} mutated inputs in this run`);
  assert.ok(total >= Object.values(COUNTS).reduce((a, b) => a + b, 0));
});

test.run();
