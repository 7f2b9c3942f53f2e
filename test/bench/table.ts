// The benchmark's table: one row per figure, conntrackd and ctsync side by side, the ratio
// ctsync/conntrackd, and the issue's target where there is one.
import type { SubjectResult, Replication } from './run.ts';

export interface Row {
  /** stable identifier, for --json consumers and the CI smoke test */
  id: string;
  metric: string;
  unit: string;
  conntrackd: number | null;
  ctsync: number | null;
  /** ctsync / conntrackd; null when either is missing or conntrackd's is 0 */
  ratio: number | null;
  /** the target, as text ("ratio <= 0.5", "ctsync = 0"), and whether this run met it */
  target?: string;
  met?: boolean;
}

const per100k = (cpu: number, flows: number) => (flows > 0 ? (cpu * 100000) / flows : NaN);
const wireFlows = (r: Replication) => Math.max(1, r.replicated);

interface Spec {
  id: string;
  metric: string;
  unit: string;
  get: (r: SubjectResult) => number;
  /** ratio target (ctsync/conntrackd at most this) */
  maxRatio?: number;
  /** absolute target for ctsync (at most this) */
  ctsyncMax?: number;
}

/**
 * node:dgram alone on ctsync's datagrams (dgram-floor.ts) against conntrackd's whole sender or
 * receiver: the lowest ratio a node:dgram daemon can reach.
 */
function floorSpec(side: 'sender' | 'receiver', what: string, whole: (r: SubjectResult) => number): Spec {
  return {
    id: `${side}_floor`, metric: `${side} floor: node:dgram alone ${what} (conntrackd: its whole ${side})`, unit: 's',
    get: (r) => per100k(r.name === 'ctsync' ? r.floor?.[side] ?? NaN : whole(r), r.warm.flows),
  };
}

export function specs(n: number, big: number, rate: number): Spec[] {
  const k = (x: number) => x.toLocaleString('en-US');
  return [
    { id: 'generator_rate', metric: `generator rate, burst of ${k(n)}`, unit: 'flows/s', get: (r) => r.replication.generatorRate },
    { id: 'replication_s', metric: `end-to-end replication of ${k(n)} new flows`, unit: 's', get: (r) => r.replication.seconds },
    { id: 'replicated', metric: `flows in the peer's external cache (of ${k(n)})`, unit: 'flows', get: (r) => r.replication.replicated },
    { id: 'cpu_sender_first', metric: 'CPU of the sender per 100,000 flows, first burst', unit: 's', get: (r) => per100k(r.replication.cpuSender, r.replication.flows) },
    { id: 'cpu_receiver_first', metric: 'CPU of the receiver per 100,000 flows, first burst', unit: 's', get: (r) => per100k(r.replication.cpuReceiver, r.replication.flows) },
    { id: 'warm_replication_s', metric: `steady state: replication of ${k(n)} other new flows`, unit: 's', get: (r) => r.warm.seconds },
    { id: 'warm_replicated', metric: `steady state: flows in the peer's external cache`, unit: 'flows', get: (r) => r.warm.replicated },
    { id: 'cpu_sender', metric: 'steady state: CPU of the sender per 100,000 flows', unit: 's', get: (r) => per100k(r.warm.cpuSender, r.warm.flows), maxRatio: 0.5 },
    { id: 'cpu_receiver', metric: 'steady state: CPU of the receiver per 100,000 flows', unit: 's', get: (r) => per100k(r.warm.cpuReceiver, r.warm.flows), maxRatio: 0.5 },
    floorSpec('sender', 'sending ctsync\'s datagrams', (r) => r.warm.cpuSender),
    floorSpec('receiver', 'on ctsync\'s datagrams', (r) => r.warm.cpuReceiver),
    { id: 'sys_sender', metric: 'sender: of which in the kernel (stime)', unit: 's', get: (r) => per100k(r.warm.sysSender, r.warm.flows) },
    { id: 'bpf_sender', metric: 'sender: BPF kernel time where events are raised (in no CPU above)', unit: 's', get: (r) => per100k(r.warm.bpfSeconds, r.warm.flows) },
    { id: 'cpu_sender_bpf', metric: 'steady state: sender CPU and that BPF time, per 100,000 flows', unit: 's', get: (r) => per100k(r.warm.cpuSender + r.warm.bpfSeconds, r.warm.flows) },
    { id: 'sys_receiver', metric: 'receiver: of which in the kernel (stime)', unit: 's', get: (r) => per100k(r.warm.sysReceiver, r.warm.flows) },
    { id: 'busy_a', metric: 'firewall A, CPU 0 busy: traffic, kernel events, sender (split layout)', unit: 's', get: (r) => per100k(r.warm.busyA, r.warm.flows) },
    { id: 'traffic_alone', metric: 'firewall A: the same burst with no daemon running (median of 3)', unit: 's', get: (r) => per100k(r.trafficSeconds, r.warm.flows) },
    { id: 'sync_cost_a', metric: 'firewall A: what synchronising costs it (busy less the traffic alone)', unit: 's', get: (r) => per100k(r.warm.busyA - r.trafficSeconds, r.warm.flows) },
    { id: 'busy_b', metric: 'firewall B, CPU 1 busy: receiver (split layout)', unit: 's', get: (r) => per100k(r.warm.busyB, r.warm.flows) },
    { id: 'lost', metric: 'events lost (reported by the daemon)', unit: 'events', get: (r) => r.warm.sender.lost },
    { id: 'resyncs', metric: 'resyncs with the kernel table', unit: 'count', get: (r) => r.warm.sender.resyncs },
    { id: 'delete_s', metric: `steady state: deletion of ${k(n)} replicated flows (one flush, until the peer's cache is empty)`, unit: 's', get: (r) => r.deletion.seconds },
    { id: 'delete_left', metric: "deletion: flows left in the peer's external cache", unit: 'flows', get: (r) => r.deletion.left },
    { id: 'delete_cpu_sender', metric: 'deletion: CPU of the sender per 100,000 flows', unit: 's', get: (r) => per100k(r.deletion.cpuSender, r.deletion.flows) },
    { id: 'delete_cpu_receiver', metric: 'deletion: CPU of the receiver per 100,000 flows', unit: 's', get: (r) => per100k(r.deletion.cpuReceiver, r.deletion.flows) },
    { id: 'delete_lost', metric: 'deletion: events lost (reported by the sender)', unit: 'events', get: (r) => r.deletion.sender.lost },
    { id: 'delete_resyncs', metric: 'deletion: resyncs with the kernel table (sender)', unit: 'count', get: (r) => r.deletion.sender.resyncs },
    { id: 'bytes_per_flow', metric: 'bytes on the wire per flow (both directions, L2)', unit: 'bytes', get: (r) => (r.replication.dataBytes + r.replication.ackBytes) / wireFlows(r.replication), maxRatio: 1.0 },
    { id: 'datagrams_per_flow', metric: 'datagrams per flow (both directions)', unit: 'datagrams', get: (r) => (r.replication.dataPackets + r.replication.ackPackets) / wireFlows(r.replication) },
    { id: 'latency_p50', metric: `replication latency p50 at ${k(rate)} flows/s`, unit: 'ms', get: (r) => r.latency.p50 },
    { id: 'latency_p99', metric: `replication latency p99 at ${k(rate)} flows/s`, unit: 'ms', get: (r) => r.latency.p99 },
    { id: 'latency_seen', metric: 'flows seen on the wire in the latency run', unit: 'flows', get: (r) => r.latency.matched },
    { id: 'commit_n', metric: `commit of ${k(n)} entries`, unit: 's', get: (r) => r.commit.wallSeconds, maxRatio: 0.25 },
    { id: 'failover_commit_n', metric: `commit of ${k(n)} entries at a failover (the sender's daemon stopped)`, unit: 's', get: (r) => r.failover.commitSeconds ?? NaN, maxRatio: 0.25 },
    { id: 'failover_kernel_n', metric: `the kernel alone: ${k(n)} creates from a bare socket, no NEW listener (median of 3)`, unit: 's', get: (r) => r.failover.kernelSeconds ?? NaN },
    { id: 'failover_commit_above_kernel', metric: 'commit at a failover, less the kernel alone', unit: 's', get: (r) => (r.failover.commitSeconds ?? NaN) - (r.failover.kernelSeconds ?? NaN) },
    { id: 'failover_n', metric: 'failover to master: commit, flush, resync, bulk send', unit: 's', get: (r) => r.failover.wallSeconds },
    { id: 'rss_per_flow', metric: 'receiver RSS per cached flow', unit: 'bytes', get: (r) => (r.replication.rssAfter - r.replication.rssBefore) / Math.max(1, r.replication.replicated), maxRatio: 1.0 },
    { id: 'burst_rate', metric: `generator rate, burst of ${k(big)}`, unit: 'flows/s', get: (r) => r.burst.generatorRate },
    { id: 'burst_s', metric: `replication of the ${k(big)} burst`, unit: 's', get: (r) => r.burst.seconds },
    { id: 'burst_lost', metric: 'burst: events lost (reported)', unit: 'events', get: (r) => r.burst.sender.lost, ctsyncMax: 0 },
    { id: 'burst_resyncs', metric: 'burst: resyncs with the kernel table', unit: 'count', get: (r) => r.burst.sender.resyncs },
    { id: 'burst_missing', metric: 'burst: flows missing at the peer', unit: 'flows', get: (r) => r.burst.flows - r.burst.replicated, ctsyncMax: 0 },
    { id: 'commit_big', metric: 'commit of the burst (entries that arrived)', unit: 's', get: (r) => r.bigCommit.wallSeconds },
    { id: 'commit_big_entries', metric: 'entries in that commit', unit: 'entries', get: (r) => r.bigCommit.entries },
  ];
}

export function buildRows(results: SubjectResult[], n: number, big: number, rate: number): Row[] {
  const by = (name: string) => results.find((r) => r.name === name);
  const a = by('conntrackd'), b = by('ctsync');
  return specs(n, big, rate).map((s) => {
    const x = a ? s.get(a) : null;
    const y = b ? s.get(b) : null;
    const ratio = x !== null && y !== null && Number.isFinite(x) && Number.isFinite(y) && x !== 0 ? y / x : null;
    const row: Row = { id: s.id, metric: s.metric, unit: s.unit, conntrackd: fin(x), ctsync: fin(y), ratio };
    if (s.maxRatio !== undefined) {
      row.target = `ratio <= ${s.maxRatio}`;
      row.met = ratio !== null && ratio <= s.maxRatio;
    } else if (s.ctsyncMax !== undefined) {
      row.target = `ctsync <= ${s.ctsyncMax}`;
      row.met = y !== null && y <= s.ctsyncMax;
    }
    return row;
  });
}

function fin(v: number | null): number | null {
  return v === null || !Number.isFinite(v) ? null : v;
}

function num(v: number | null): string {
  if (v === null) return '-';
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  if (a === 0) return '0';
  return v.toFixed(3);
}

/** Plain-text table (also valid Markdown). */
export function formatTable(rows: Row[]): string {
  const head = ['figure', 'unit', 'conntrackd', 'ctsync', 'ctsync/conntrackd', 'target'];
  const body = rows.map((r) => [
    r.metric, r.unit, num(r.conntrackd), num(r.ctsync), r.ratio === null ? '-' : r.ratio.toFixed(2),
    r.target ? `${r.target}: ${r.met ? 'met' : 'NOT met'}` : '',
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (c: string[]) => `| ${c.map((x, i) => (i >= 2 && i <= 4 ? x.padStart(w[i]) : x.padEnd(w[i]))).join(' | ')} |`;
  const sep = `|${w.map((x, i) => (i >= 2 && i <= 4 ? `${'-'.repeat(x + 1)}:` : '-'.repeat(x + 2))).join('|')}|`;
  return [line(head), sep, ...body.map(line)].join('\n');
}
