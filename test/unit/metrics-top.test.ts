// `ctsync top`'s frame from two snapshots: rates are deltas over the time between them, by
// protocol and type; no previous snapshot shows "-"; the frame fits the terminal.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { renderTop, formatRate, formatBytes } from '../../src/cli/top.ts';
import { emptySnapshot, type Snapshot } from '../../src/control/snapshot.ts';

function snap(at: number, k: number): Snapshot {
  const s = emptySnapshot();
  s.takenAt = at;
  s.daemon = { pid: 7, version: '0.1.0', uptimeSeconds: 3725, mode: 'ftfw' };
  s.eventSource = { kind: 'bpf-netlink', requested: 'auto' };
  s.events = {
    conntrack: { tcp: { new: 100 * k, update: 10 * k, destroy: 50 * k }, ...(k > 1 ? { udp: { new: 4, update: 0, destroy: 0 } } : {}) },
    expect: { new: 0, update: 0, destroy: 0 }, own: 0,
  };
  s.runtime.eventsReceived = 160 * k;
  if (s.conntrack.internal.kind === 'cache') { s.conntrack.internal.active = 1000 * k; s.conntrack.internal.created = 100 * k; }
  s.ring = { size: 8 << 20, used: 2 << 20, records: 160 * k, bytes: 0, reserveFailed: 3, filteredInKernel: 0, wakeups: 0 };
  s.links = [{ name: 'sync0', status: 'RUNNING', role: 'ACTIVE', transport: 'multicast', bytesSent: 4096 * k, bytesRecv: 0, packetsSent: 20 * k, packetsRecv: 0, errorsSend: 0, errorsRecv: 0 }];
  s.failover = { syncGroup: 'SG1', state: 'MASTER', transitions: 2, failures: 0 };
  s.latency = [{ stage: 'kernel-to-wire', count: 9, p50: 85, p90: 400, p99: 1500, p999: 1500, max: 2_000_000 }];
  return s;
}

const row = (lines: string[], label: RegExp) => lines.find((l) => label.test(l.trim()))!.trim().split(/\s{2,}/);

test('rates over the time between two snapshots', () => {
  const lines = renderTop(snap(10_000, 1), snap(12_000, 3), { width: 120, height: 40 });
  assert.equal(row(lines, /^tcp\s/), ['tcp', '100', '10', '50', '160'], '(300-100)/2 s new, ...');
  assert.equal(row(lines, /^udp\s/), ['udp', '2.0', '0', '0', '2.0'], 'a protocol new since the last frame counts from 0');
  assert.equal(row(lines, /^all\s/), ['all', '102', '10', '50', '162']);
  assert.equal(row(lines, /^internal\s/).slice(0, 4), ['internal', '3,000', '0', '100']);
  assert.equal(row(lines, /^sync0 /).slice(1, 4), ['ACTIVE RUNNING', '20', '4.0 KiB']);
  assert.match(lines.join('\n'), /RING  \[#{8}\.{22}\] 25\.0% of 8\.0 MiB, 160 records\/s, drops 3 \(0\/s\)/);
  assert.match(lines[0], /^ctsync top - pid 7, up 1:02:05, FTFW, event source bpf-netlink/);
  assert.match(lines[1], /^VRRP MASTER \(sync-group SG1\), 2 transitions, 0 failed/);
  assert.equal(row(lines, /^kernel-to-wire/), ['kernel-to-wire', '9', '85 µs', '400 µs', '1.5 ms', '2 s']);
  assert.is(lines.length, 40);
  assert.is(lines[39], 'q quits');
});

test('first frame: totals but no rates; narrow terminal: lines cut, height kept', () => {
  const lines = renderTop(undefined, snap(1000, 1), { width: 50, height: 20, note: 'daemon not reachable' });
  assert.equal(row(lines, /^tcp\s/), ['tcp', '-', '-', '-', '-']);
  assert.equal(row(lines, /^internal\s/).slice(0, 4), ['internal', '1,000', '0', '-']);
  assert.ok(lines.every((l) => l.length <= 50));
  assert.is(lines.length, 20);
  assert.is(lines[19], 'daemon not reachable');
});

test('number formats', () => {
  assert.is(formatRate(undefined), '-');
  assert.is(formatRate(0), '0');
  assert.is(formatRate(0.25), '0.3');
  assert.is(formatRate(1234567.4), '1,234,567');
  assert.is(formatBytes(512), '512 B');
  assert.is(formatBytes(1536), '1.5 KiB');
  assert.is(formatBytes(3 * 1024 ** 3), '3.0 GiB');
});

test.run();
