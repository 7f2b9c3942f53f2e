// The Prometheus exposition: the test parser refuses what the format forbids; the daemon's
// rendering of a snapshot passes it, exports every counter of the snapshot under the documented
// name and labels (each counter holds a distinct value, so a swapped field cannot pass), and
// renders the latency histograms with cumulative buckets.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseExposition, promValue } from './metrics-prom.ts';
import { renderMetrics } from '../../src/metrics/prometheus.ts';
import { Exposition } from '../../src/metrics/exposition.ts';
import { Latency } from '../../src/metrics/histogram.ts';
import { emptySnapshot, emptyCacheStats, type Snapshot } from '../../src/control/snapshot.ts';

// ---------------------------------------------------------------- the parser itself

const GOOD = `# HELP a_total A counter.
# TYPE a_total counter
a_total{x="1"} 3
a_total{x="2",y="q\\"uote\\\\ and \\n"} 4 1700000000000
# a plain comment
# TYPE h histogram
h_bucket{le="0.1"} 1
h_bucket{le="1"} 2
h_bucket{le="+Inf"} 2
h_sum 0.5
h_count 2
g NaN
`;

test('parser: a valid text, label escapes and untyped samples', () => {
  const f = parseExposition(GOOD);
  assert.is(promValue(f, 'a_total', { x: '1' }), 3);
  assert.is(f.get('a_total')!.samples[1].labels.y, 'q"uote\\ and \n');
  assert.is(promValue(f, 'h', {}, 'h_count'), 2);
  assert.ok(Number.isNaN(promValue(f, 'g')));
  assert.is(f.get('g')!.type, 'untyped');
});

const BAD: [string, string, RegExp][] = [
  ['HELP twice', '# HELP a x\n# HELP a y\na 1\n', /second HELP/],
  ['TYPE twice', '# TYPE a gauge\n# TYPE a gauge\na 1\n', /second TYPE/],
  ['TYPE after samples', 'a 1\n# TYPE a gauge\n', /TYPE after samples/],
  ['family split', '# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na{x="1"} 2\n', /not in one group/],
  ['bad metric name', '1a 1\n', /no metric name/],
  ['bad label name', 'a{1x="1"} 1\n', /bad label name/],
  ['unquoted label', 'a{x=1} 1\n', /without ="value"/],
  ['bad escape', 'a{x="\\t"} 1\n', /bad escape/],
  ['label twice', 'a{x="1",x="2"} 1\n', /label x twice/],
  ['sample twice', 'a{x="1"} 1\na{x="1"} 2\n', /twice/],
  ['not a number', 'a 1,5\n', /not a number/],
  ['negative counter', '# TYPE a_total counter\na_total -1\n', /counter/],
  ['no final newline', 'a 1', /newline/],
  ['decreasing buckets', '# TYPE h histogram\nh_bucket{le="1"} 3\nh_bucket{le="2"} 2\nh_bucket{le="+Inf"} 3\nh_sum 1\nh_count 3\n', /decrease/],
  ['le not increasing', '# TYPE h histogram\nh_bucket{le="2"} 1\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 2\n', /not increasing/],
  ['no +Inf', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', /\+Inf/],
  ['+Inf != count', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n', /differs from _count/],
  ['no sum', '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_count 2\n', /_sum or _count missing/],
];

for (const [what, text, err] of BAD) {
  test(`parser refuses: ${what}`, () => {
    assert.throws(() => parseExposition(text), err);
  });
}

// ---------------------------------------------------------------- the writer

test('writer: a family is written once, names are checked', () => {
  const x = new Exposition();
  x.counter('ok_total', 'h', [[{}, 1]]);
  assert.throws(() => x.counter('ok_total', 'h', [[{}, 1]]), /twice/);
  assert.throws(() => x.gauge('bad-name', 'h', [[{}, 1]]), /not valid/);
  assert.throws(() => x.gauge('g', 'h', [[{ 'bad-label': 'v' }, 1]]), /not valid/);
  x.gauge('empty', 'h', []);
  assert.not.match(x.text(), /empty/, 'a family without samples is left out');
});

// ---------------------------------------------------------------- the daemon's metrics

/** Every number in the snapshot set to a distinct value (1001, 1002, ...), booleans true. */
function distinct<T>(o: T, next: () => number): T {
  if (typeof o === 'number') return next() as T;
  if (Array.isArray(o)) return o.map((v) => distinct(v, next)) as T;
  if (o && typeof o === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) out[k] = distinct(v, next);
    return out as T;
  }
  return o;
}

function fullSnapshot(): Snapshot {
  let n = 1000;
  const next = () => ++n;
  const base = emptySnapshot();
  const s: Snapshot = {
    ...base,
    daemon: { pid: 42, version: '1.2.3', uptimeSeconds: 0, mode: 'ftfw' },
    expect: { internal: { kind: 'cache', ...emptyCacheStats() }, external: { kind: 'cache', ...emptyCacheStats() } },
    links: [
      { name: 'sync0', status: 'RUNNING', role: 'ACTIVE', transport: 'multicast', bytesSent: 0, bytesRecv: 0, packetsSent: 0, packetsRecv: 0, errorsSend: 0, errorsRecv: 0, dropForeign: 0, dropAuth: 0, dropReplay: 0, dropReflected: 0 },
      { name: 'sync1', status: 'DOWN', role: 'BACKUP', transport: 'multicast', bytesSent: 0, bytesRecv: 0, packetsSent: 0, packetsRecv: 0, errorsSend: 0, errorsRecv: 0, dropForeign: 0 },
    ],
    resendQueue: { length: 0 },
    queues: { allocatedNodes: 0, list: [{ name: 'txqueue', current: 0, max: 0, enospc: 0 }, { name: 'rsqueue', current: 0, max: 0, enospc: 0 }] },
    eventSource: { kind: 'bpf-netlink', requested: 'auto' },
    ring: { size: 0, records: 0, bytes: 0, reserveFailed: 0, destroysToSocket: 0, destroyOverruns: 0, filteredInKernel: 0, wakeups: 0, used: 0 },
    latency: [{ stage: 'kernel-to-wire', count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, dropped: 0 }],
    events: { conntrack: { tcp: { new: 0, update: 0, destroy: 0 }, udp: { new: 0, update: 0, destroy: 0 } }, expect: { new: 0, update: 0, destroy: 0 }, own: 0 },
    messages: {
      sentData: 0, sentControl: 0, receivedData: 0, receivedControl: 0, datagramsSent: 0, resentNack: 0, resentTimeout: 0,
      helloRequeued: 0, helloCtlDropped: 0, rsQueueOverflow: 0, helloReceived: 0, restartUnannounced: 0, resyncReceived: 0, resyncSent: 0,
      externalExpired: 0, applyFailed: 0, noAddress: 0, helperOmitted: 0, labelsOmitted: 0,
    },
    failover: {
      syncGroup: 'SG1', state: 'BACKUP', lastTransition: { state: 'BACKUP', at: 0 }, transitions: 0, failures: 0, purgeAt: 0,
      last: { source: 'x', ms: 0 }, fifo: { path: '/run/f', lines: 0, used: 0, ignored: 0, malformed: 0 },
    },
    commit: {
      running: true, commits: 0, committed: 0, failed: 0, last: { at: 0, ms: 0, committed: 0, failed: 0 },
      guard: {
        enabled: true, installed: false, standby: false, standbyArms: 0, standbyDropped: 0, installs: 0, installFailed: 0, removals: 0, removeFailed: 0, leftovers: 0,
        droppedPackets: 0, droppedBytes: 0, droppedByRule: { invalid: 0, loose: 0, udp: 0 }, last: { at: 0, installMs: 0, heldMs: 0, dropped: 0 },
      },
    },
    reconcile: { started: 0, completed: 0, abandoned: 0, removed: 0 },
  };
  const d = distinct(s, next);
  d.daemon.pid = 42;
  return d;
}

/** Numeric fields of the snapshot that are not exported, and why. */
const NOT_EXPORTED = new Set([
  'version', 'takenAt', 'daemon.pid', // layout and identity, not metrics
  'conntrack.internal.total', 'conntrack.external.total', 'expect.internal.total', 'expect.external.total', // = objects
  'network.rcvMalformed', // the sum of the kinds, each exported
  'runtime.eventsUnknownType', 'runtime.dumpUnknownType', 'runtime.childProcessFailed', 'runtime.childProcessSegfault',
  'runtime.childProcessTermsig', 'runtime.selectFailed', 'runtime.waitFailed', 'runtime.localReadFailed', // conntrackd only: always 0 in ctsync
  'commit.last.committed', 'commit.last.failed', // in commit_entries_total over all commits
]);

function leaves(o: unknown, path = ''): [string, number][] {
  if (typeof o === 'number') return [[path, o]];
  if (Array.isArray(o)) return o.flatMap((v, i) => leaves(v, `${path}[${i}]`));
  if (o && typeof o === 'object') return Object.entries(o).flatMap(([k, v]) => leaves(v, path ? `${path}.${k}` : k));
  return [];
}

test('every counter of the snapshot is exported (distinct values: found once, by value and unit)', () => {
  const s = fullSnapshot();
  const fams = parseExposition(renderMetrics(s));
  const values = new Set<number>();
  for (const f of fams.values()) for (const x of f.samples) values.add(x.value);
  const missing: string[] = [];
  for (const [path, v] of leaves(s)) {
    if (NOT_EXPORTED.has(path)) continue;
    // seconds from ms or µs where the metric is in seconds
    if (!values.has(v) && !values.has(v / 1000) && !values.has(v / 1e6)) missing.push(`${path}=${v}`);
  }
  assert.equal(missing, [], 'snapshot fields without a metric');
});

test('metric names, labels and values agree with the snapshot', () => {
  const s = fullSnapshot();
  const f = parseExposition(renderMetrics(s));
  const ct = s.conntrack.internal as Extract<Snapshot['conntrack']['internal'], { kind: 'cache' }>;
  const ext = s.conntrack.external as Extract<Snapshot['conntrack']['external'], { kind: 'cache' }>;
  const expExt = s.expect!.external as typeof ext;
  assert.is(promValue(f, 'ctsync_cache_created_total', { cache: 'internal', table: 'conntrack' }), ct.created);
  assert.is(promValue(f, 'ctsync_cache_created_total', { cache: 'external', table: 'conntrack' }), ext.created);
  assert.is(promValue(f, 'ctsync_cache_active_entries', { cache: 'external', table: 'conntrack' }), ext.active);
  assert.is(promValue(f, 'ctsync_cache_delete_not_found_total', { cache: 'external', table: 'expect' }), expExt.deleteNotFound);
  assert.is(promValue(f, 'ctsync_events_received_total', { source: 'bpf-netlink' }), s.runtime.eventsReceived);
  assert.is(promValue(f, 'ctsync_events_lost_total', { source: 'bpf-netlink' }), s.runtime.catchEventFailed);
  assert.is(promValue(f, 'ctsync_kernel_events_total', { table: 'conntrack', protocol: 'udp', type: 'destroy' }), s.events!.conntrack.udp.destroy);
  assert.is(promValue(f, 'ctsync_kernel_events_total', { table: 'expect', type: 'update' }), s.events!.expect.update);
  assert.is(promValue(f, 'ctsync_ring_used_bytes'), s.ring!.used);
  assert.is(promValue(f, 'ctsync_ring_reserve_failed_total'), s.ring!.reserveFailed);
  assert.is(promValue(f, 'ctsync_ring_destroys_to_socket_total'), s.ring!.destroysToSocket);
  assert.is(promValue(f, 'ctsync_ring_destroy_overruns_total'), s.ring!.destroyOverruns);
  assert.is(promValue(f, 'ctsync_link_sent_bytes_total', { link: 'sync1' }), s.links[1].bytesSent);
  assert.is(promValue(f, 'ctsync_link_errors_total', { link: 'sync0', direction: 'receive' }), s.links[0].errorsRecv);
  assert.is(promValue(f, 'ctsync_link_up', { link: 'sync0' }), 1);
  assert.is(promValue(f, 'ctsync_link_up', { link: 'sync1' }), 0);
  assert.is(promValue(f, 'ctsync_link_active', { link: 'sync1' }), 0);
  assert.is(promValue(f, 'ctsync_messages_malformed_total', { direction: 'receive', kind: 'bad_size' }), s.network.rcvBadSize);
  assert.is(promValue(f, 'ctsync_messages_sent_total', { kind: 'control' }), s.messages!.sentControl);
  assert.is(promValue(f, 'ctsync_messages_resent_total', { reason: 'nack' }), s.messages!.resentNack);
  assert.is(promValue(f, 'ctsync_queue_full_total', { queue: 'rsqueue' }), s.queues.list[1].enospc);
  assert.is(promValue(f, 'ctsync_resend_queue_length'), s.resendQueue!.length);
  assert.is(promValue(f, 'ctsync_commit_entries_total', { result: 'failed' }), s.commit.failed);
  assert.is(promValue(f, 'ctsync_commit_last_duration_seconds'), s.commit.last!.ms / 1000);
  assert.is(promValue(f, 'ctsync_commit_running'), 1);
  assert.is(promValue(f, 'ctsync_failover_state', { state: 'BACKUP', sync_group: 'SG1' }), 1);
  assert.is(promValue(f, 'ctsync_failover_state', { state: 'MASTER' }), 0);
  assert.is(promValue(f, 'ctsync_failover_transitions_total'), s.failover.transitions);
  assert.is(promValue(f, 'ctsync_latency_window_seconds', { stage: 'kernel-to-wire', quantile: '0.99' }), s.latency[0].p99 / 1e6);
  assert.is(promValue(f, 'ctsync_info', { version: '1.2.3', mode: 'ftfw', event_source: 'bpf-netlink' }), 1);
  // types and naming conventions
  for (const fam of f.values()) {
    assert.ok(fam.help && fam.help.length > 3, `${fam.name}: HELP`);
    if (fam.type === 'counter') assert.ok(fam.name.endsWith('_total'), `${fam.name}: counters end in _total`);
    else assert.not.ok(fam.name.endsWith('_total'), `${fam.name}: only counters end in _total`);
    assert.ok(fam.name.startsWith('ctsync_'), fam.name);
  }
});

test('bypass and inject tables get their own families; absent parts are left out', () => {
  const s = emptySnapshot();
  s.conntrack = {
    internal: { kind: 'bypass', new: 5, updated: 6, destroyed: 7 },
    external: { kind: 'inject', created: 8, createFailed: 1, updated: 9, updateFailed: 2, destroyed: 10, destroyFailed: 3 },
  };
  const f = parseExposition(renderMetrics(s));
  assert.is(promValue(f, 'ctsync_bypass_events_total', { type: 'update' }), 6);
  assert.is(promValue(f, 'ctsync_inject_total', { op: 'destroy' }), 10);
  assert.is(promValue(f, 'ctsync_inject_failed_total', { op: 'create' }), 1);
  assert.not.ok(f.has('ctsync_cache_created_total'), 'no cache, no cache metrics');
  assert.not.ok(f.has('ctsync_ring_size_bytes'), 'no ring buffer with netlink');
  assert.not.ok(f.has('ctsync_commit_last_duration_seconds'), 'no commit yet');
});

test('latency histograms: cumulative buckets in seconds, +Inf = count, sum in seconds', () => {
  const l = new Latency('kernel-to-wire');
  const samples = [0.5, 1, 3, 3, 100, 1e5, 2e7];
  for (const v of samples) l.add(v);
  const c = new Latency('commit');
  c.add(250_000);
  const f = parseExposition(renderMetrics(emptySnapshot(), [l, c]));
  const bucket = (le: string) => promValue(f, 'ctsync_latency_seconds', { stage: 'kernel-to-wire', le }, 'ctsync_latency_seconds_bucket');
  assert.is(bucket('0.000001'), 2, '<= 1 µs');
  assert.is(bucket('0.000002'), 2);
  assert.is(bucket('0.000004'), 4, '3 µs twice');
  assert.is(bucket('0.000128'), 5, '100 µs');
  assert.is(bucket('0.131072'), 6, '100 ms');
  assert.is(bucket('16.777216'), 6, '20 s is beyond the last bound');
  assert.is(bucket('+Inf'), 7);
  assert.is(promValue(f, 'ctsync_latency_seconds', { stage: 'kernel-to-wire' }, 'ctsync_latency_seconds_count'), 7);
  const sum = promValue(f, 'ctsync_latency_seconds', { stage: 'kernel-to-wire' }, 'ctsync_latency_seconds_sum');
  assert.ok(Math.abs(sum - samples.reduce((a, b) => a + b, 0) / 1e6) < 1e-9, `sum ${sum}`);
  assert.is(promValue(f, 'ctsync_commit_duration_seconds', {}, 'ctsync_commit_duration_seconds_count'), 1);
  assert.is(promValue(f, 'ctsync_commit_duration_seconds', {}, 'ctsync_commit_duration_seconds_sum'), 0.25);
  assert.not.ok(f.get('ctsync_latency_seconds')!.samples.some((x) => x.labels.stage === 'commit'), 'commit has its own family');
});

test.run();
