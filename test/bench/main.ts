// `npm run bench [-- OPTIONS]`: ctsync against conntrackd 1.4.7 in the same lab, with the same
// load, in one run (see docs/benchmarks.md). Needs root (namespaces, ctnetlink, BPF).
//
//   --quick            small sizes, for the CI smoke test (figures mean little)
//   --json             print the result as JSON instead of the table
//   --out FILE         also write the JSON to FILE
//   --n N              flows of the replication phase and the first commit (default 100000)
//   --big N            flows asked for in the burst phase (default 1000000; capped by nf_conntrack_max)
//   --rate R           flows/s of the latency phase (default 5000)
//   --seconds S        duration of the latency phase (default 5)
//   --warm W           steady-state bursts, each after a delete of the last (default 3; the
//                      table shows each figure's median)
//   --only NAME        run only conntrackd or only ctsync
//   --event-source K   ctsync's event source (default auto)
//   --profile DIR      write a CPU profile of every ctsync daemon into DIR (Node only)
//   --layout L         split (default with two CPUs or more): the bench, which makes the traffic,
//                      and the sender's daemon on CPU 0, the receiver's daemon alone on CPU 1,
//                      one CPU for each firewall; shared: every process on every CPU
import { writeFileSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import process from 'node:process';
import { withLab } from '../lab/lab.ts';
import { runBench, burstSize, type BenchOptions } from './run.ts';
import { buildRows, formatTable } from './table.ts';
import { machine, pinTo, canSplit } from './proc.ts';
import { enableRunTimeStats } from '../../src/kernel/bpf/prog-stats.ts';
import type { SubjectName } from './subjects.ts';
import type { SyncSetup } from '../lab/daemons.ts';

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}

function count(args: string[], name: string, dflt: number): number {
  const v = option(args, name);
  if (v === undefined) return dflt;
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} ${v}: give a positive number`);
  return n;
}

export async function main(args: string[]): Promise<number> {
  if (process.getuid?.() !== 0) {
    process.stderr.write('the benchmark needs root (network namespaces, ctnetlink, BPF): run it with sudo\n');
    return 1;
  }
  const quick = args.includes('--quick');
  const json = args.includes('--json');
  const only = option(args, 'only');
  if (only && only !== 'ctsync' && only !== 'conntrackd') throw new Error(`--only ${only}: use ctsync or conntrackd`);
  const layout = option(args, 'layout') ?? (canSplit() ? 'split' : 'shared');
  if (layout !== 'split' && layout !== 'shared') throw new Error(`--layout ${layout}: use split or shared`);
  if (layout === 'split' && !canSplit()) throw new Error('--layout split needs CPUs 0 and 1');
  const profile = option(args, 'profile');
  if (profile) mkdirSync(profile, { recursive: true });
  const bigRequested = count(args, 'big', quick ? 5000 : 1_000_000);
  const opt: BenchOptions = {
    n: count(args, 'n', quick ? 2000 : 100_000),
    bigRequested,
    big: burstSize(bigRequested),
    rate: count(args, 'rate', quick ? 1000 : 5000),
    seconds: count(args, 'seconds', quick ? 2 : 5),
    warmRuns: count(args, 'warm', quick ? 1 : 3),
    bpfStats: false,
    subjects: only ? [only as SubjectName] : ['conntrackd', 'ctsync'],
    pair: {
      eventSource: option(args, 'event-source') as SyncSetup['eventSource'],
      profileDir: profile ? resolve(profile) : undefined,
      cpus: layout === 'split' ? [0, 1] : undefined,
    },
    split: layout === 'split',
    stallMs: quick ? 5000 : 10000,
    log: (m) => process.stderr.write(`${m}\n`),
  };
  const m = machine();
  opt.log(`machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, kernel ${m.kernel}, load ${m.loadAverage.join(' ')}`);
  if (opt.big < bigRequested) {
    opt.log(`burst: ${bigRequested} flows asked for, the kernel allows ${m.conntrackMax} per namespace (nf_conntrack_max): using ${opt.big}`);
  }
  // the traffic comes from this process: with the sender's daemon, on the first firewall's CPU
  if (opt.split) pinTo(process.pid, 0);
  opt.log(`layout: ${layout}${opt.split ? ' (CPU 0: the traffic and the sender; CPU 1: the receiver)' : ''}`);
  const started = new Date().toISOString();
  // the kernel counts BPF run time only while asked to, and only for as long as we hold the fd
  let stats: { close(): void } | undefined;
  try {
    stats = enableRunTimeStats();
    opt.bpfStats = true;
  } catch (e) {
    opt.log(`BPF run-time statistics unavailable (${(e as Error).message}): the BPF rows stay empty`);
  }
  let results: Awaited<ReturnType<typeof runBench>>;
  try {
    results = await withLab('bench', (lab) => runBench(lab, opt));
  } finally {
    stats?.close();
  }
  const rows = buildRows(results, opt.n, opt.big, opt.rate);
  const report = {
    started, finished: new Date().toISOString(), quick, machine: m, loadAfter: machine().loadAverage,
    options: { n: opt.n, bigRequested, big: opt.big, rate: opt.rate, seconds: opt.seconds, warm: opt.warmRuns, eventSource: opt.pair.eventSource ?? 'auto', layout },
    rows, results,
  };
  const out = option(args, 'out');
  if (out) writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  if (json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else process.stdout.write(formatTable(rows) + '\n');
  return 0;
}

main(process.argv.slice(2)).then((code) => process.exit(code), (e) => {
  process.stderr.write(`bench: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
