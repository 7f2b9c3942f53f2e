// timeout: 300
// The benchmark harness in quick mode (`npm run bench -- --quick --json`), as a CI smoke test: it
// builds its lab, runs conntrackd 1.4.7 and ctsync with the same load and produces a complete
// table. Only completeness and the flow counts are checked, never a timing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import { run } from '../lab/exec.ts';
import { scriptCommand } from '../../src/kernel/runtime.ts';
import type { Row } from '../bench/table.ts';
import { canSplit } from '../bench/proc.ts';

const MAIN = fileURLToPath(new URL('../bench/main.ts', import.meta.url));

interface Report {
  quick: boolean;
  options: { n: number; big: number; rate: number; seconds: number; warm: number; layout: 'split' | 'shared' };
  rows: Row[];
  results: {
    name: string; replication: { replicated: number; flows: number }; warm: { replicated: number; flows: number; dataPackets: number };
    deletions: { flows: number; left: number }[];
    latency: { matched: number; flows: number }; floor: { sender: number; receiver: number; received: number } | null;
  }[];
}

test('npm run bench -- --quick --json: a complete table for conntrackd and ctsync', async () => {
  const [cmd, argv] = scriptCommand(MAIN, ['--quick', '--json']);
  const r = await run(cmd, argv, { check: false, timeoutMs: 280_000 });
  assert.is(r.code, 0, `the harness failed: ${r.stderr.slice(-3000)}`);
  const report = JSON.parse(r.stdout) as Report;
  assert.ok(report.quick);
  assert.equal(report.results.map((x) => x.name), ['conntrackd', 'ctsync']);
  assert.ok(report.rows.length >= 20, `rows: ${report.rows.length}`);
  const ids = report.rows.map((x) => x.id);
  for (const id of ['replication_s', 'cpu_sender_first', 'cpu_receiver_first', 'cpu_sender', 'cpu_receiver', 'bytes_per_flow', 'latency_p50', 'latency_p99', 'commit_n', 'failover_commit_n', 'failover_kernel_n', 'failover_commit_above_kernel', 'rss_per_flow', 'burst_lost', 'commit_big', 'sender_floor', 'receiver_floor', 'delete_s', 'delete_lost', 'delete_cpu_sender']) {
    assert.ok(ids.includes(id), `row ${id} is missing`);
  }
  // CPUs 0 and 1 allowed: one for each firewall, and the busy time of each measured
  const split = report.options.layout === 'split';
  assert.is(split, canSplit(), `layout ${report.options.layout}`);
  for (const row of report.rows) {
    if (!split && ['busy_a', 'busy_b', 'traffic_alone', 'sync_cost_a'].includes(row.id)) continue;
    assert.type(row.conntrackd, 'number', `${row.id}: no conntrackd figure`);
    assert.type(row.ctsync, 'number', `${row.id}: no ctsync figure`);
  }
  // every flow of the small load reached the peer, for both daemons, and was seen on the wire
  for (const res of report.results) {
    assert.is(res.replication.replicated, res.replication.flows, `${res.name}: replicated`);
    assert.is(res.warm.replicated, res.warm.flows, `${res.name}: replicated in the steady state`);
    assert.is(res.latency.matched, res.latency.flows, `${res.name}: flows seen in the capture`);
    // each delete (the first N, then every steady-state burst but the last) emptied the peer's cache
    assert.is(res.deletions.length, report.options.warm, `${res.name}: deletes`);
    for (const d of res.deletions) assert.equal([d.flows, d.left], [report.options.n, 0], `${res.name}: a delete`);
  }
  // node:dgram's floor replayed ctsync's steady-state datagrams, and every one of them arrived
  const [cd, cs] = report.results;
  assert.is(cd.floor, null, 'the floor is measured once, for ctsync\'s datagrams');
  assert.ok(cs.floor !== null && cs.warm.dataPackets > 0);
  assert.is(cs.floor!.received, cs.warm.dataPackets, 'datagrams the floor receiver counted');
  // the kernel's run time of ctsync's BPF program, counted while the bench holds the stats fd
  const bpf = report.rows.find((x) => x.id === 'bpf_sender')!;
  assert.is(bpf.conntrackd, 0, 'conntrackd runs no BPF program');
  assert.ok(bpf.ctsync! > 0, `BPF time of ctsync: ${bpf.ctsync}`);
  // (a quick run is a few ticks of /proc/stat: only their presence is checked, above)
  const table = report.rows.find((x) => x.id === 'replicated')!;
  assert.is(table.conntrackd, report.options.n);
  assert.is(table.ctsync, report.options.n);
});

test.run();
