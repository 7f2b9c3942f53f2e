// The bench's table (test/bench/table.ts): per-100,000-flow figures, ratios and targets, and the
// two node:dgram floor rows, whose conntrackd column is conntrackd's whole sender or receiver.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildRows } from '../../test/bench/table.ts';
import type { Replication, SubjectResult } from '../../test/bench/run.ts';
import type { Floor } from '../../test/bench/dgram-floor.ts';
import { replication, deletion } from './bench-fixture.ts';

const rep = (flows: number, cpuSender: number, cpuReceiver: number): Replication =>
  replication({ flows, replicated: flows, cpuSender, cpuReceiver, bpfSeconds: 0, busyB: 0.1, dataBytes: 8.6e6, ackBytes: 1e4, ackPackets: 50, rssBefore: 0, rssAfter: 2e7 });

const subject = (name: 'conntrackd' | 'ctsync', cpuSender: number, cpuReceiver: number, floor: Floor | null, del = deletion()): SubjectResult => {
  const warm = rep(200000, cpuSender, cpuReceiver);
  return {
    name, replication: warm, warm, warmRuns: [warm], deletion: del, deletions: [del],
    commit: { entries: 200000, wallSeconds: 1 },
    failover: { entries: 200000, wallSeconds: 1.5, commitSeconds: 0.9, kernelSeconds: 0.25 },
    latency: { flows: 100, matched: 100, p50: 0.1, p99: 0.2, rate: 5000, generatorRate: 5000 } as SubjectResult['latency'],
    burst: rep(261888, 1, 0.3), bigCommit: { entries: 261888, wallSeconds: 2.5 },
    trafficSeconds: 0.2, floor,
  };
};

const row = (rows: ReturnType<typeof buildRows>, id: string) => {
  const r = rows.find((x) => x.id === id);
  if (!r) throw new Error(`no row ${id}`);
  return r;
};

test('the floor rows: conntrackd\'s whole daemon against node:dgram alone, per 100,000 flows', () => {
  // 200,000 flows: conntrackd's sender 1.2 s and receiver 0.24 s; the floor 0.16 s and 0.08 s
  const rows = buildRows([subject('conntrackd', 1.2, 0.24, null), subject('ctsync', 0.8, 0.3, { sender: 0.16, receiver: 0.08, received: 6000 })], 200000, 261888, 5000);
  const tx = row(rows, 'sender_floor'), rx = row(rows, 'receiver_floor');
  assert.ok(Math.abs(tx.conntrackd! - 0.6) < 1e-9 && Math.abs(tx.ctsync! - 0.08) < 1e-9, JSON.stringify(tx));
  assert.ok(Math.abs(rx.conntrackd! - 0.12) < 1e-9 && Math.abs(rx.ctsync! - 0.04) < 1e-9, JSON.stringify(rx));
  assert.ok(Math.abs(rx.ratio! - 1 / 3) < 1e-9);
  // they carry no target: the targets are on the daemons' own rows
  assert.is(rx.target, undefined);
  const cpu = row(rows, 'cpu_receiver');
  assert.ok(Math.abs(cpu.ratio! - 1.25) < 1e-9);
  assert.is(cpu.met, false);
  assert.is(row(rows, 'cpu_sender').met, false);
});

test('no floor measured: the ctsync column is empty and so is the ratio', () => {
  const rows = buildRows([subject('conntrackd', 1.2, 0.24, null), subject('ctsync', 0.4, 0.1, null)], 200000, 261888, 5000);
  const rx = row(rows, 'receiver_floor');
  assert.is(rx.ctsync, null);
  assert.is(rx.ratio, null);
  assert.is(row(rows, 'cpu_sender').met, true);
  assert.is(row(rows, 'cpu_receiver').met, true);
});

test('the deletion rows: time, CPU per 100,000 flows of the delete, losses; no target', () => {
  const rows = buildRows([
    subject('conntrackd', 1.2, 0.24, null, deletion({ flows: 200000, seconds: 3.6, cpuSender: 1.0, cpuReceiver: 0.4 })),
    subject('ctsync', 0.8, 0.3, null, deletion({ flows: 200000, seconds: 0.9, cpuSender: 0.6, cpuReceiver: 0.2, left: 3, sender: { lost: 25000, resyncs: 1 } })),
  ], 200000, 261888, 5000);
  const t = row(rows, 'delete_s');
  assert.ok(Math.abs(t.ratio! - 0.25) < 1e-9, JSON.stringify(t));
  assert.is(t.target, undefined);
  // CPU per 100,000 flows of the delete: 200,000 flows deleted
  assert.ok(Math.abs(row(rows, 'delete_cpu_sender').ctsync! - 0.3) < 1e-9);
  assert.ok(Math.abs(row(rows, 'delete_cpu_receiver').conntrackd! - 0.2) < 1e-9);
  assert.is(row(rows, 'delete_left').ctsync, 3);
  assert.is(row(rows, 'delete_lost').ctsync, 25000);
  assert.is(row(rows, 'delete_resyncs').ctsync, 1);
});

test.run();
