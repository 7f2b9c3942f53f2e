// Soak run (not in CI): two ctsync daemons on a sync pair with a steady churn of flows on both
// firewalls, RSS of both daemons sampled every interval, convergence checked at the end. Prints a
// Markdown table (and writes it with --out FILE) for docs/reliability.md.
//
//   node --import ./build/register.mjs test/soak/run.ts [--minutes 60] [--interval 30]
//        [--rate 200] [--table 5000] [--out FILE]
//   (or with Deno: node_modules/.bin/deno run -A test/soak/run.ts ...; the daemons then run on Deno)
//
// Every second, on fw1: `rate` flows created, `rate` updated (new mark), `rate` deleted, around a
// steady table of `table` flows; fw2 does a tenth of that. Needs root (namespaces).
import { readFileSync, writeFileSync } from 'node:fs';
import process from 'node:process';
import { Lab } from '../lab/lab.ts';
import { buildSyncPair } from '../lab/topology.ts';
import { startCtsync, type CtsyncDaemon } from '../lab/daemons.ts';
import { Churn, converge, side } from '../integration/fault-common.ts';
import { runtime, runtimeVersion } from '../../src/kernel/runtime.ts';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}
const outIdx = process.argv.indexOf('--out');
const out = outIdx >= 0 ? process.argv[outIdx + 1] : undefined;
const minutes = arg('minutes', 60);
const interval = arg('interval', 30);
const rate = arg('rate', 200);
const table = arg('table', 5000);

function status(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? 0);
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

interface Row { minute: string; rss: [number, number]; internal: [number, number]; external: [number, number]; sent: number; rcvLost: number }

const mb = (kb: number) => (kb / 1024).toFixed(1);

function render(rows: Row[], extra: string[]): string {
  const lines = [
    '| t (min) | fw1 RSS (MiB) | fw2 RSS (MiB) | fw1 internal | fw2 external | fw2 internal | fw1 external | changes applied | lost msgs |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.minute} | ${mb(r.rss[0])} | ${mb(r.rss[1])} | ${r.internal[0]} | ${r.external[1]} | ${r.internal[1]} | ${r.external[0]} | ${r.sent} | ${r.rcvLost} |`),
  ];
  return [...lines, '', ...extra].join('\n') + '\n';
}

async function main(): Promise<void> {
  const lab = new Lab('soak');
  try {
    const fw = await buildSyncPair(lab);
    const d: [CtsyncDaemon, CtsyncDaemon] = [await startCtsync(lab, fw[0], side(0, { eventSource: 'auto' })), await startCtsync(lab, fw[1], side(1, { eventSource: 'auto' }))];
    const churn = [new Churn(fw[0].conntrack(), 0), new Churn(fw[1].conntrack(), 5_000_000)];
    churn[0].create(table);
    churn[1].create(Math.floor(table / 10));
    const rows: Row[] = [];
    let changes = 0;
    const t0 = Date.now();
    const sample = async () => {
      const s = await Promise.all(d.map((x) => x.snapshot()));
      const row: Row = {
        minute: ((Date.now() - t0) / 60000).toFixed(1),
        rss: [status(d[0].pid).rss, status(d[1].pid).rss],
        internal: [s[0].conntrack.internal.kind === 'cache' ? s[0].conntrack.internal.active : 0, s[1].conntrack.internal.kind === 'cache' ? s[1].conntrack.internal.active : 0],
        external: [s[0].conntrack.external.kind === 'cache' ? s[0].conntrack.external.active : 0, s[1].conntrack.external.kind === 'cache' ? s[1].conntrack.external.active : 0],
        sent: changes,
        rcvLost: s[0].network.rcvLost + s[1].network.rcvLost,
      };
      rows.push(row);
      process.stderr.write(`${row.minute} min: RSS ${mb(row.rss[0])} / ${mb(row.rss[1])} MiB, tables ${row.internal.join('/')} ext ${row.external.join('/')}, ${changes} changes\n`);
      if (out) writeFileSync(out, render(rows, [`(running: ${runtime} ${runtimeVersion})`]));
    };
    await sample();
    const end = t0 + minutes * 60_000;
    let nextSample = t0 + interval * 1000;
    let mark = 1;
    while (Date.now() < end) {
      const tick = Date.now();
      churn[0].create(rate);
      churn[0].update(rate, mark);
      churn[0].remove(rate);
      const small = Math.max(1, Math.floor(rate / 10));
      churn[1].create(small);
      churn[1].update(small, mark);
      churn[1].remove(small);
      mark = (mark + 1) % 1000;
      changes += 3 * rate + 3 * small;
      if (Date.now() >= nextSample) {
        await sample();
        nextSample += interval * 1000;
      }
      await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - tick))));
    }
    await sample();
    const hwm = d.map((x) => status(x.pid).hwm);
    let verdict = 'converged: fw1 kernel = fw1 internal = fw2 external, and the other way round';
    try {
      await converge({ ns: fw[0], from: d[0], to: d[1], expect: [...churn[0].live.values()] }, 60_000, 'fw1 -> fw2');
      await converge({ ns: fw[1], from: d[1], to: d[0], expect: [...churn[1].live.values()] }, 60_000, 'fw2 -> fw1');
    } catch (e) {
      verdict = `NOT converged: ${(e as Error).message}`;
    }
    const extra = [
      `${runtime} ${runtimeVersion}; ${minutes} min, ${rate} creates + ${rate} updates + ${rate} deletes per second on fw1 around ${table} flows, a tenth of that on fw2; ${changes} kernel changes in all.`,
      `Peak RSS (VmHWM): fw1 ${mb(hwm[0])} MiB, fw2 ${mb(hwm[1])} MiB. End: ${verdict}.`,
    ];
    const text = render(rows, extra);
    if (out) writeFileSync(out, text);
    process.stdout.write(text);
    for (const c of churn) await c.ct.close();
  } finally {
    await lab.teardown();
  }
}

await main();
