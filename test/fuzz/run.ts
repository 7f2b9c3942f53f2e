// The dedicated fuzz run (not in CI): `npm run fuzz` feeds 1,000,000 mutated datagrams to the wire
// decoder and as many to the sync modes, then shorter runs of the other targets. Findings are
// written to test/fuzz/findings/ (input in hex, and the error) and make the run fail.
//
//   node --import ./build/register.mjs test/fuzz/run.ts [--target wire|modes|ctnetlink|record|config|control|all]
//        [--count N] [--seed N]
import { mkdirSync, writeFileSync } from 'node:fs';
import process from 'node:process';
import { fuzz, summary, TARGETS, type Report, type TargetName } from './driver.ts';
import { fuzzControl } from './control.ts';
import { applied } from './mutate.ts';
import { runtime, runtimeVersion } from '../../src/kernel/runtime.ts';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : dflt;
};
const target = opt('target', 'all');
const seed = Number(opt('seed', String(Date.now() % 2 ** 31)));
const count = Number(opt('count', '1000000'));

/** With --target all: a million for the wire decoder and the modes, less for the slower rest. */
const PLAN: Record<TargetName, number> = { wire: count, modes: count, ctnetlink: count / 4, record: count / 10, config: count / 50 };

const findingsDir = new URL('./findings/', import.meta.url).pathname;
let bad = 0;
const t0 = performance.now();
console.log(`ctsync fuzz on ${runtime} ${runtimeVersion}, seed ${seed}`);

function keep(r: Report): void {
  console.log(summary(r));
  if (!r.findings.length) return;
  bad += r.findings.length;
  mkdirSync(findingsDir, { recursive: true });
  r.findings.forEach((f, i) => {
    const file = `${findingsDir}${r.target}-${seed}-${i}.txt`;
    writeFileSync(file, `${f.error}\n${f.input}\n`);
    console.log(`  FINDING ${f.error}\n    input saved to ${file}`);
  });
}

const targets = target === 'all' ? TARGETS : TARGETS.filter((t) => t === target);
for (const t of targets) keep(fuzz(t, target === 'all' ? Math.round(PLAN[t]) : count, seed, 50));
if (target === 'all' || target === 'control') {
  const sessions = target === 'control' ? count : 2000;
  const r = await fuzzControl(sessions, seed);
  console.log(`control: ${r.sessions} sessions x 2 sockets in ${(r.ms / 1000).toFixed(1)} s, ${r.failures.length} finding(s); counters ${JSON.stringify(r.counters)}`);
  for (const f of r.failures) console.log(`  FINDING ${f}`);
  bad += r.failures.length;
}
console.log(`mutation operators applied: ${Object.entries(applied).map(([k, v]) => `${k} ${v}`).join(', ')}`);
console.log(`done in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${bad ? `${bad} finding(s)` : 'no finding'}`);
process.exit(bad ? 1 : 0);
