// The daemon's statistics as Prometheus metrics: every counter of the Snapshot (what `statistics`
// and `--json` show, the same numbers) plus the latency histograms. Names follow Prometheus
// conventions: ctsync_ prefix, _total for counters, base units (_seconds, _bytes) in the name.
// Counters that only exist in conntrackd (child processes, select/wait failures) are always zero
// in ctsync and are not exported.
import type { Snapshot, CacheStats, TableStats } from '../control/snapshot.ts';
import type { Latency } from './histogram.ts';
import { Exposition, type Labels, type Sample, type HistogramSeries } from './exposition.ts';

const VRRP_STATES = ['MASTER', 'BACKUP', 'FAULT', 'STOP'] as const;

type CacheCounter = { [K in keyof CacheStats]: CacheStats[K] extends number ? K : never }[keyof CacheStats];

/** [field, metric suffix, help] of the cache counters. */
const CACHE_COUNTERS: readonly [CacheCounter, string, string][] = [
  ['created', 'created_total', 'Entries added to the cache.'],
  ['createFailed', 'create_failed_total', 'Additions the cache refused.'],
  ['noMemory', 'no_memory_total', 'Additions refused for lack of memory.'],
  ['noSpace', 'no_space_total', 'Additions refused because the cache was at hash-limit.'],
  ['updated', 'updated_total', 'Entries updated.'],
  ['updateFailed', 'update_failed_total', 'Updates the cache refused.'],
  ['updateNotFound', 'update_not_found_total', 'Updates of entries that were not cached.'],
  ['destroyed', 'destroyed_total', 'Entries removed.'],
  ['destroyFailed', 'destroy_failed_total', 'Removals the cache refused.'],
  ['deleteNotFound', 'delete_not_found_total', 'Removals of entries that were not cached.'],
];

/** Latency stages exported as ctsync_latency_seconds{stage}; "commit" has its own family. */
const COMMIT_STAGE = 'commit';

/** Renders the exposition text of a snapshot and the daemon's latency histograms. */
export function renderMetrics(s: Snapshot, latency: readonly Latency[] = []): string {
  const x = new Exposition();
  const one = (v: number): Sample[] => [[{}, v]];

  x.gauge('ctsync_info', 'Daemon version, sync mode and event source (value 1).', [[{
    version: s.daemon.version, mode: s.daemon.mode, event_source: s.eventSource.kind, event_source_requested: s.eventSource.requested,
  }, 1]]);
  x.gauge('ctsync_uptime_seconds', 'Seconds since the daemon started.', one(s.daemon.uptimeSeconds));

  // ---- caches, per table and side ----
  const tables: [string, TableStats][] = [['conntrack', s.conntrack]];
  if (s.expect) tables.push(['expect', s.expect]);
  const caches: [Labels, CacheStats][] = [];
  const bypass: Sample[] = [];
  const inject: Sample[] = [];
  const injectFailed: Sample[] = [];
  for (const [table, t] of tables) {
    if (t.internal.kind === 'cache') caches.push([{ cache: 'internal', table }, t.internal]);
    else {
      bypass.push([{ table, type: 'new' }, t.internal.new], [{ table, type: 'update' }, t.internal.updated],
        [{ table, type: 'destroy' }, t.internal.destroyed]);
    }
    if (t.external.kind === 'cache') caches.push([{ cache: 'external', table }, t.external]);
    else {
      const e = t.external;
      inject.push([{ table, op: 'create' }, e.created], [{ table, op: 'update' }, e.updated], [{ table, op: 'destroy' }, e.destroyed]);
      injectFailed.push([{ table, op: 'create' }, e.createFailed], [{ table, op: 'update' }, e.updateFailed], [{ table, op: 'destroy' }, e.destroyFailed]);
    }
  }
  x.gauge('ctsync_cache_active_entries', 'Entries cached and alive ("current active connections").', caches.map(([l, c]) => [l, c.active]));
  x.gauge('ctsync_cache_objects', 'Objects held, dead ones awaiting acknowledgement included.', caches.map(([l, c]) => [l, c.objects]));
  for (const [field, suffix, help] of CACHE_COUNTERS) x.counter(`ctsync_cache_${suffix}`, help, caches.map(([l, c]) => [l, c[field]]));
  x.counter('ctsync_bypass_events_total', 'Events sent without an internal cache, by type.', bypass);
  x.counter('ctsync_inject_total', 'Received entries written into the kernel (disable-external-cache), by operation.', inject);
  x.counter('ctsync_inject_failed_total', 'Kernel writes of received entries that failed, by operation.', injectFailed);
  x.counter('ctsync_traffic_bytes_total', 'Bytes of destroyed flows, both directions (low 32 bits, wraps).', one(s.traffic.bytes));
  x.counter('ctsync_traffic_packets_total', 'Packets of destroyed flows, both directions (low 32 bits, wraps).', one(s.traffic.packets));

  // ---- kernel events ----
  const src = { source: s.eventSource.kind };
  const r = s.runtime;
  x.counter('ctsync_events_received_total', 'Kernel events read (conntrack and expectation).', [[src, r.eventsReceived]]);
  x.counter('ctsync_events_filtered_total', 'Kernel events dropped by accept-protocol / ignore-address.', [[src, r.eventsFiltered]]);
  x.counter('ctsync_events_lost_total', 'Kernel events lost before they were read (buffer overrun).', [[src, r.catchEventFailed]]);
  x.counter('ctsync_event_overruns_total', 'Event buffer overruns (ENOBUFS or ring buffer full), each followed by a resync.', [[src, r.netlinkOverrun]]);
  x.gauge('ctsync_event_buffer_bytes', 'Size of the event buffer (ring buffer or socket receive buffer).', [[src, r.bufferSize]]);
  if (s.events) {
    const by: Sample[] = [];
    for (const [protocol, c] of Object.entries(s.events.conntrack)) {
      by.push([{ table: 'conntrack', protocol, type: 'new' }, c.new], [{ table: 'conntrack', protocol, type: 'update' }, c.update],
        [{ table: 'conntrack', protocol, type: 'destroy' }, c.destroy]);
    }
    const e = s.events.expect;
    if (e.new + e.update + e.destroy > 0) {
      by.push([{ table: 'expect', protocol: 'all', type: 'new' }, e.new], [{ table: 'expect', protocol: 'all', type: 'update' }, e.update],
        [{ table: 'expect', protocol: 'all', type: 'destroy' }, e.destroy]);
    }
    x.counter('ctsync_kernel_events_total', 'Kernel events read, by table, protocol and type.', by);
    x.counter('ctsync_events_own_total', 'Kernel events caused by the daemon\'s own requests (commit, inject, flush).', one(s.events.own));
    x.counter('ctsync_events_late_destroy_total', 'DESTROY events of an earlier conntrack than the cached one (redelivered late), left alone.', one(s.events.lateDestroy ?? 0));
  }
  x.counter('ctsync_kernel_table_flushes_total', 'Kernel conntrack table flushes (flush-kernel, scheduled purges).', one(r.flushKernelTable));
  x.counter('ctsync_kernel_table_resyncs_total', 'Internal cache resyncs from the kernel table.', one(r.resyncKernelTable));
  x.counter('ctsync_control_unknown_requests_total', 'Control requests with an unknown code.', one(r.localUnknownRequest));

  // ---- BPF ring buffer ----
  if (s.ring) {
    const g = s.ring;
    x.gauge('ctsync_ring_size_bytes', 'BPF ring buffer size.', one(g.size));
    if (g.used !== undefined) x.gauge('ctsync_ring_used_bytes', 'BPF ring buffer bytes written and not read yet.', one(g.used));
    x.counter('ctsync_ring_records_total', 'Records read from the BPF ring buffer.', one(g.records));
    x.counter('ctsync_ring_read_bytes_total', 'Bytes read from the BPF ring buffer, headers included.', one(g.bytes));
    x.counter('ctsync_ring_reserve_failed_total', 'Events the kernel could not put in the full ring buffer (drops).', one(g.reserveFailed));
    if (g.destroyOverruns !== undefined) x.counter('ctsync_ring_destroy_overruns_total', 'Event socket overruns that dropped only DESTROY events, which the kernel sends again (no resync).', one(g.destroyOverruns));
    if (g.destroysToSocket !== undefined) x.counter('ctsync_ring_destroys_to_socket_total', 'DESTROY events that found the ring buffer full and went to the event socket (not lost).', one(g.destroysToSocket));
    x.counter('ctsync_ring_kernel_filtered_total', 'Events dropped in the kernel by the BPF filter maps.', one(g.filteredInKernel));
    x.counter('ctsync_ring_wakeups_total', 'Reader passes that found records.', one(g.wakeups));
  }

  // ---- links ----
  const links = s.links.map((l) => [{ link: l.name, transport: l.transport }, l] as const);
  x.gauge('ctsync_link_up', 'Link interface RUNNING (1) or not (0).', links.map(([k, l]) => [k, l.status === 'RUNNING' ? 1 : 0]));
  x.gauge('ctsync_link_active', 'The link messages go out on (1), a backup link (0).', links.map(([k, l]) => [k, l.role === 'ACTIVE' ? 1 : 0]));
  x.counter('ctsync_link_sent_bytes_total', 'UDP payload bytes sent.', links.map(([k, l]) => [k, l.bytesSent]));
  x.counter('ctsync_link_received_bytes_total', 'UDP payload bytes received.', links.map(([k, l]) => [k, l.bytesRecv]));
  x.counter('ctsync_link_sent_datagrams_total', 'Datagrams sent.', links.map(([k, l]) => [k, l.packetsSent]));
  x.counter('ctsync_link_received_datagrams_total', 'Datagrams received.', links.map(([k, l]) => [k, l.packetsRecv]));
  x.counter('ctsync_link_errors_total', 'Socket errors, by direction.', links.flatMap(([k, l]) => [
    [{ ...k, direction: 'send' }, l.errorsSend], [{ ...k, direction: 'receive' }, l.errorsRecv],
  ] as Sample[]));
  x.counter('ctsync_link_foreign_dropped_total', 'Datagrams dropped for coming from neither the peer nor the link\'s subnets.',
    links.filter(([, l]) => l.dropForeign !== undefined).map(([k, l]) => [k, l.dropForeign!]));
  x.counter('ctsync_link_auth_dropped_total', 'Datagrams dropped by link authentication (auth-key-file), by reason.',
    links.filter(([, l]) => l.dropAuth !== undefined).flatMap(([k, l]) => [
      [{ ...k, reason: 'bad_mac' }, l.dropAuth ?? 0], [{ ...k, reason: 'replay' }, l.dropReplay ?? 0], [{ ...k, reason: 'reflected' }, l.dropReflected ?? 0],
    ] as Sample[]));

  // ---- replication messages ----
  const n = s.network;
  x.counter('ctsync_messages_malformed_total', 'Malformed messages, by direction and kind.', [
    [{ direction: 'receive', kind: 'bad_version' }, n.rcvBadVersion], [{ direction: 'receive', kind: 'bad_header' }, n.rcvBadHeader],
    [{ direction: 'receive', kind: 'bad_payload' }, n.rcvBadPayload], [{ direction: 'receive', kind: 'bad_type' }, n.rcvBadType],
    [{ direction: 'receive', kind: 'truncated' }, n.rcvTruncated], [{ direction: 'receive', kind: 'bad_size' }, n.rcvBadSize],
    [{ direction: 'send', kind: 'encode' }, n.sndMalformed],
  ]);
  x.counter('ctsync_messages_lost_total', 'Sequence numbers never received from the peer.', one(n.rcvLost));
  x.counter('ctsync_messages_before_total', 'Messages older than the last one received.', one(n.rcvBefore));
  const m = s.messages;
  if (m) {
    x.counter('ctsync_messages_sent_total', 'Replication messages sent, by kind.', [[{ kind: 'data' }, m.sentData], [{ kind: 'control' }, m.sentControl]]);
    x.counter('ctsync_messages_received_total', 'Replication messages received and accepted, by kind.',
      [[{ kind: 'data' }, m.receivedData], [{ kind: 'control' }, m.receivedControl]]);
    x.counter('ctsync_datagrams_sent_total', 'Datagrams the sync mode handed to the links.', one(m.datagramsSent));
    x.counter('ctsync_messages_resent_total', 'Objects sent again, by cause.', [
      [{ reason: 'nack' }, m.resentNack], [{ reason: 'timeout' }, m.resentTimeout], [{ reason: 'hello' }, m.helloRequeued],
    ]);
    x.counter('ctsync_messages_apply_failed_total', 'Received messages the daemon failed to apply.', one(m.applyFailed));
    x.counter('ctsync_messages_no_address_total', 'Received conntrack messages without addresses.', one(m.noAddress));
    x.counter('ctsync_fields_omitted_total', 'Fields left out of sent messages (too large for the wire), by field.',
      [[{ field: 'helper' }, m.helperOmitted], [{ field: 'labels' }, m.labelsOmitted]]);
    x.counter('ctsync_peer_hello_received_total', 'HELLO received (peer restarts seen).', one(m.helloReceived));
    x.counter('ctsync_peer_restart_unannounced_total', 'Peer restarts seen without a HELLO (its numbering started over).', one(m.restartUnannounced));
    x.counter('ctsync_resync_requests_total', 'Resync requests, by direction.', [[{ direction: 'sent' }, m.resyncSent], [{ direction: 'received' }, m.resyncReceived]]);
    x.counter('ctsync_external_expired_total', 'External entries expired after cache-timeout (ALARM).', one(m.externalExpired));
    x.counter('ctsync_resend_queue_overflow_total', 'Resend-queue entries dropped because the queue was full.', one(m.rsQueueOverflow));
    x.counter('ctsync_resend_queue_hello_dropped_total', 'Control messages dropped from the resend queue on a peer restart.', one(m.helloCtlDropped));
  }

  // ---- queues ----
  if (s.resendQueue) x.gauge('ctsync_resend_queue_length', 'Messages awaiting acknowledgement (FTFW).', one(s.resendQueue.length));
  x.gauge('ctsync_queue_allocated_nodes', 'Control message nodes allocated.', one(s.queues.allocatedNodes));
  x.gauge('ctsync_queue_length', 'Elements queued, by queue.', s.queues.list.map((q) => [{ queue: q.name }, q.current]));
  x.gauge('ctsync_queue_capacity', 'Queue capacity, by queue.', s.queues.list.map((q) => [{ queue: q.name }, q.max]));
  x.counter('ctsync_queue_full_total', 'Pushes refused because the queue was full, by queue.', s.queues.list.map((q) => [{ queue: q.name }, q.enospc]));

  // ---- commit ----
  const c = s.commit;
  x.gauge('ctsync_commit_running', 'A commit is in progress (1).', one(c.running ? 1 : 0));
  x.counter('ctsync_commits_total', 'External cache commits into the kernel.', one(c.commits));
  x.counter('ctsync_commit_entries_total', 'Entries committed into the kernel, by result.', [[{ result: 'ok' }, c.committed], [{ result: 'failed' }, c.failed]]);
  if (c.last) {
    x.gauge('ctsync_commit_last_duration_seconds', 'Duration of the last commit.', one(c.last.ms / 1000));
    x.gauge('ctsync_commit_last_timestamp_seconds', 'Start of the last commit, Unix time.', one(c.last.at / 1000));
  }
  const gd = c.guard;
  if (gd) {
    x.gauge('ctsync_commit_guard_enabled', 'commit-guard is configured (1).', one(gd.enabled ? 1 : 0));
    x.gauge('ctsync_commit_guard_installed', 'The nftables commit guard stands right now (1).', one(gd.installed ? 1 : 0));
    x.gauge('ctsync_commit_guard_standby', 'The guard stands in its standby form (BACKUP, FAULT, STOP) (1).', one(gd.standby ? 1 : 0));
    x.counter('ctsync_commit_guard_standby_arms_total', 'Times the standby form of the guard was armed.', one(gd.standbyArms));
    x.counter('ctsync_commit_guard_standby_dropped_packets_total', 'Packets the guard dropped in its standby form.', one(gd.standbyDropped));
    x.counter('ctsync_commit_guard_installs_total', 'Commit guard installations, by result.', [[{ result: 'ok' }, gd.installs], [{ result: 'failed' }, gd.installFailed]]);
    x.counter('ctsync_commit_guard_removals_total', 'Commit guard removals, by result.', [[{ result: 'ok' }, gd.removals], [{ result: 'failed' }, gd.removeFailed]]);
    x.counter('ctsync_commit_guard_leftovers_total', 'Guard tables found at start, left by a daemon stopped during a commit.', one(gd.leftovers));
    x.counter('ctsync_commit_guard_dropped_packets_total', 'Packets the commit guard dropped.', one(gd.droppedPackets));
    x.counter('ctsync_commit_guard_dropped_bytes_total', 'Bytes the commit guard dropped.', one(gd.droppedBytes));
    x.counter('ctsync_commit_guard_rule_dropped_packets_total', 'Packets the commit guard dropped, by rule.',
      Object.entries(gd.droppedByRule).map(([rule, v]) => [{ rule }, v]));
    if (gd.last) {
      x.gauge('ctsync_commit_guard_last_timestamp_seconds', 'When the last guard was installed, Unix time.', one(gd.last.at / 1000));
      x.gauge('ctsync_commit_guard_last_install_seconds', 'Time the last guard took to install.', one(gd.last.installMs / 1000));
      x.gauge('ctsync_commit_guard_last_held_seconds', 'Time the last guard stood.', one(gd.last.heldMs / 1000));
      x.gauge('ctsync_commit_guard_last_dropped_packets', 'Packets the last guard dropped.', one(gd.last.dropped));
    }
  }
  const rc = s.reconcile;
  if (rc) {
    x.counter('ctsync_reconciles_total', 'External cache repairs after a peer restart, by outcome.',
      [[{ outcome: 'started' }, rc.started], [{ outcome: 'completed' }, rc.completed], [{ outcome: 'abandoned' }, rc.abandoned]]);
    x.counter('ctsync_reconcile_removed_entries_total', 'External entries removed by repairs (the peer no longer had them).', one(rc.removed));
  }

  // ---- failover ----
  const f = s.failover;
  x.gauge('ctsync_failover_state', 'VRRP state of the sync group (1 for the current state; all 0 before the first notification).',
    VRRP_STATES.map((st) => [{ sync_group: f.syncGroup, state: st }, f.state === st ? 1 : 0]));
  x.counter('ctsync_failover_transitions_total', 'VRRP transitions handled.', one(f.transitions));
  x.counter('ctsync_failover_failures_total', 'VRRP transitions whose actions failed.', one(f.failures));
  if (f.lastTransition) x.gauge('ctsync_failover_last_transition_timestamp_seconds', 'Last VRRP transition, Unix time.', one(f.lastTransition.at / 1000));
  x.gauge('ctsync_purge_scheduled_timestamp_seconds', 'When the scheduled kernel purge fires, Unix time (0: none pending).', one((f.purgeAt ?? 0) / 1000));
  if (f.last) x.gauge('ctsync_failover_last_duration_seconds', 'Time the last VRRP transition\'s actions took.', one(f.last.ms / 1000));
  if (f.fifo) {
    x.counter('ctsync_notify_fifo_lines_read_total', 'Lines read from the keepalived notify FIFO.', one(f.fifo.lines));
    x.counter('ctsync_notify_fifo_lines_total', 'Notify FIFO lines, by what became of them.', [
      [{ result: 'used' }, f.fifo.used], [{ result: 'ignored' }, f.fifo.ignored], [{ result: 'malformed' }, f.fifo.malformed],
    ]);
  }

  // ---- latency ----
  const stages = latency.filter((l) => l.stage !== COMMIT_STAGE);
  x.histogram('ctsync_latency_seconds', 'Latency of each stage from the kernel event to the wire and from the wire to the cache or kernel.',
    stages.map((l) => series({ stage: l.stage }, l)));
  const commit = latency.find((l) => l.stage === COMMIT_STAGE);
  if (commit) x.histogram('ctsync_commit_duration_seconds', 'Duration of external cache commits.', [series({}, commit)]);
  const window: Sample[] = [];
  const samples: Sample[] = [];
  for (const l of s.latency) {
    const st = { stage: l.stage };
    window.push([{ ...st, quantile: '0.5' }, l.p50 / 1e6], [{ ...st, quantile: '0.9' }, l.p90 / 1e6], [{ ...st, quantile: '0.99' }, l.p99 / 1e6],
      [{ ...st, quantile: '0.999' }, l.p999 / 1e6], [{ ...st, quantile: '1' }, l.max / 1e6]);
    samples.push([st, l.count]);
  }
  x.gauge('ctsync_latency_window_seconds', 'Latency percentiles over the recent window (quantile 1: the maximum).', window);
  x.gauge('ctsync_latency_window_samples', 'Samples in the recent window.', samples);
  x.counter('ctsync_latency_dropped_total', 'Samples refused because the end stamp came before the start stamp.',
    s.latency.filter((l) => l.dropped !== undefined).map((l) => [{ stage: l.stage }, l.dropped!]));
  return x.text();
}

function series(labels: Labels, l: Latency): HistogramSeries {
  return { labels, buckets: l.cumulative().map(([us, n]) => [us / 1e6, n] as const), sum: l.sum / 1e6, count: l.total };
}
