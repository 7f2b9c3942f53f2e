// Runs the fuzz targets: N mutated inputs per target from its seeds, every finding kept with the
// input that caused it. Used by the bounded CI run (test/unit/fuzz-*.test.ts) and by the
// dedicated run (test/fuzz/run.ts, `npm run fuzz`).
import { Mutator, NETLINK, Rng, WIRE } from './mutate.ts';
import { configSeeds, netlinkSeeds, recordSeeds, wireSeeds } from './seeds.ts';
import { ModeTarget, Violation, configParse, netlinkDecode, recordDecode, wireDecode } from './targets.ts';

export type TargetName = 'wire' | 'modes' | 'ctnetlink' | 'record' | 'config';
export const TARGETS: TargetName[] = ['wire', 'modes', 'ctnetlink', 'record', 'config'];

export interface Finding { target: TargetName; error: string; input: string }
export interface Report { target: TargetName; inputs: number; seeds: number; ms: number; findings: Finding[] }

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: false });

/** Text mutations of configurations: byte-level ones, line and word edits, JSON value swaps. */
class ConfigMutator {
  private readonly bytes: Mutator;
  private readonly words: string[];
  constructor(private readonly rng: Rng, private readonly seeds: string[]) {
    this.bytes = new Mutator(rng, seeds.map((s) => enc.encode(s)), undefined, 16384);
    const w = new Set<string>();
    for (const s of seeds) for (const x of s.split(/[\s"{}[\],:]+/)) if (x) w.add(x);
    this.words = [...w, '', '""', "'", '"', '-1', '0', '4294967296', '65536', '999999999999999999999', '::', '[::1]:0',
      '256.1.1.1', '2001:db8::/129', 'x'.repeat(300), 'é', '\u0000', '#', 'set', 'delete', '/', 'tcp', 'on'];
  }
  mutate(): string {
    const r = this.rng;
    const seed = r.pick(this.seeds);
    if (r.chance(0.35)) return dec.decode(this.bytes.mutate(enc.encode(seed)));
    if (seed.trimStart().startsWith('{') && r.chance(0.6)) return this.json(seed);
    const lines = seed.split('\n');
    for (let k = 1 + r.int(3); k > 0; k--) {
      const i = r.int(lines.length);
      switch (r.int(5)) {
        case 0: lines.splice(i, 0, lines[i]); break;
        case 1: lines.splice(i, 1); break;
        case 2: { const j = r.int(lines.length); [lines[i], lines[j]] = [lines[j], lines[i]]; break; }
        case 3: {
          const ws = (lines[i] ?? '').split(' ');
          ws[r.int(ws.length)] = r.pick(this.words);
          lines[i] = ws.join(' ');
          break;
        }
        default: lines.splice(i, 0, r.pick(r.pick(this.seeds).split('\n')));
      }
    }
    return lines.join('\n');
  }
  private json(seed: string): string {
    const r = this.rng;
    const doc = JSON.parse(seed) as unknown;
    const values: unknown[] = [null, true, 0, -1, 1.5, '', 'x', [], {}, ['a', 1], { a: { b: 'c' } }, r.pick(this.words), 2 ** 53];
    const visit = (v: unknown, depth: number): unknown => {
      if (r.chance(0.15) || depth > 6) return r.chance(0.5) ? r.pick(values) : v;
      if (Array.isArray(v)) return v.map((x) => visit(x, depth + 1));
      if (v && typeof v === 'object') {
        const o: Record<string, unknown> = {};
        for (const [k, x] of Object.entries(v)) o[r.chance(0.05) ? r.pick(this.words) : k] = visit(x, depth + 1);
        return o;
      }
      return v;
    };
    return JSON.stringify(visit(doc, 0));
  }
}

/** Fuzzes one target with `count` mutated inputs (seeds first, unmutated). */
export function fuzz(target: TargetName, count: number, seed = 1, stopAfter = 10): Report {
  const rng = new Rng(seed);
  const findings: Finding[] = [];
  const t0 = performance.now();
  let inputs = 0;
  const attempt = (input: Uint8Array | string, run: () => void) => {
    inputs++;
    try {
      run();
    } catch (e) {
      const err = e instanceof Violation ? e.message : `${(e as Error).name}: ${(e as Error).message}`;
      const hex = typeof input === 'string' ? Buffer.from(input).toString('hex') : Buffer.from(input).toString('hex');
      if (!findings.some((f) => f.error === err)) findings.push({ target, error: err, input: hex });
    }
  };
  if (target === 'config') {
    const seeds = configSeeds();
    const m = new ConfigMutator(rng, seeds);
    for (const s of seeds) attempt(s, () => configParse(s));
    while (inputs < count && findings.length < stopAfter) {
      const s = m.mutate();
      attempt(s, () => configParse(s));
    }
    return { target, inputs, seeds: seeds.length, ms: performance.now() - t0, findings };
  }
  const seeds = target === 'ctnetlink' ? netlinkSeeds() : target === 'record' ? recordSeeds() : wireSeeds();
  const m = new Mutator(rng, seeds, target === 'ctnetlink' ? NETLINK : target === 'record' ? undefined : WIRE);
  const modes = target === 'modes' ? new ModeTarget() : undefined;
  const run = (b: Uint8Array) => {
    if (target === 'wire') wireDecode(b);
    else if (target === 'modes') modes!.run(b);
    else if (target === 'ctnetlink') netlinkDecode(b);
    else recordDecode(b);
  };
  for (const s of seeds) attempt(s, () => run(s));
  while (inputs < count && findings.length < stopAfter) {
    const b = m.mutate();
    attempt(b, () => run(b));
  }
  return { target, inputs, seeds: seeds.length, ms: performance.now() - t0, findings };
}

export function summary(r: Report): string {
  const rate = Math.round(r.inputs / (r.ms / 1000));
  return `${r.target}: ${r.inputs} inputs (${r.seeds} seeds) in ${(r.ms / 1000).toFixed(1)} s, ${rate}/s, ${r.findings.length} finding(s)`;
}
