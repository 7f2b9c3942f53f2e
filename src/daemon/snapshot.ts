// Fills the Snapshot (src/control/snapshot.ts) from the daemon's parts.
import process from 'node:process';
import type { Snapshot, CacheStats, LatencyStats } from '../control/snapshot.ts';
import type { Cache, Kind } from '../cache/cache.ts';
import type { Daemon } from './daemon.ts';
import type { PipelineStats } from '../kernel/bpf/pipeline.ts';
import { VERSION } from '../cli/version.ts';

function cacheStats(c: Cache<Kind>): CacheStats {
  const k = c.counters;
  return {
    active: k.active, objects: c.size, total: c.size, created: k.created, createFailed: k.createFailed,
    noMemory: k.noMemory, noSpace: k.noSpace, updated: k.updated, updateFailed: k.updateFailed,
    updateNotFound: k.updateNotFound, destroyed: k.destroyed, destroyFailed: k.destroyFailed,
    deleteNotFound: k.deleteNotFound,
  };
}

/** rsqueue: list the resend queue; latency: false leaves the percentiles at zero (a sort each) */
export function takeSnapshot(d: Daemon, opts: { rsqueue?: boolean; latency?: boolean } = {}): Snapshot {
  const now = Date.now();
  const sync = d.mode.stats;
  const src = d.source.counters();
  const pipeline = (d.source as { stats?: () => PipelineStats }).stats?.();
  const external = d.injector
    ? { kind: 'inject' as const, ...d.injector.stats }
    : { kind: 'cache' as const, ...cacheStats(d.external) };
  const latency: LatencyStats[] = opts.latency === false ? [] : Object.values(d.latency).map((l) => ({ stage: l.stage, ...l.percentiles(now), dropped: l.dropped }));
  const ringUsed = (d.source as { pipeline?: { ring: { available(): number } } }).pipeline?.ring.available();
  const f = d.failover;
  return {
    version: 1,
    takenAt: now,
    daemon: { pid: process.pid, version: VERSION, uptimeSeconds: Math.floor((now - d.startedAt) / 1000), mode: d.config.mode },
    conntrack: { internal: { kind: 'cache', ...cacheStats(d.internal) }, external },
    ...(d.expectSync ? {
      expect: {
        internal: { kind: 'cache' as const, ...cacheStats(d.internalExp) },
        external: { kind: 'cache' as const, ...cacheStats(d.externalExp) },
      },
    } : {}),
    traffic: { bytes: d.counters.trafficBytes % 2 ** 32, packets: d.counters.trafficPackets % 2 ** 32 },
    links: d.links.linkStats().map((l) => ({
      name: l.device, status: l.status, role: l.role, transport: l.kind === 'multicast' ? 'multicast' : 'udp',
      bytesSent: l.counters.bytesSent, bytesRecv: l.counters.bytesRecv, packetsSent: l.counters.pktsSent,
      packetsRecv: l.counters.pktsRecv, errorsSend: l.counters.errSend, errorsRecv: l.counters.errRecv,
      dropForeign: l.counters.dropForeign,
      ...(d.auth ? { dropAuth: l.counters.dropAuth, dropReplay: l.counters.dropReplay, dropReflected: l.counters.dropReflected } : {}),
    })),
    network: {
      rcvMalformed: sync.rcvMalformed, rcvBadVersion: sync.rcvBadVersion, rcvBadHeader: sync.rcvBadHeader,
      rcvBadPayload: sync.rcvBadPayload, rcvBadType: sync.rcvBadType, rcvTruncated: sync.rcvTruncated,
      rcvBadSize: sync.rcvBadSize, sndMalformed: sync.sndMalformed, rcvLost: sync.rcvLost, rcvBefore: sync.rcvBefore,
    },
    runtime: {
      eventsReceived: d.counters.eventsReceived, eventsFiltered: src.filtered + d.counters.eventsFiltered,
      eventsUnknownType: 0, catchEventFailed: src.lost, dumpUnknownType: 0, netlinkOverrun: src.overruns,
      flushKernelTable: d.counters.flushKernelTable, resyncKernelTable: d.counters.resyncKernelTable,
      bufferSize: pipeline ? pipeline.ringBytes : d.config.eventListenQueueSize * 1024 * 1024,
      childProcessFailed: 0, childProcessSegfault: 0, childProcessTermsig: 0, selectFailed: 0, waitFailed: 0,
      localReadFailed: 0, localUnknownRequest: d.controlCounters.unknown,
    },
    resendQueue: { length: d.mode.rsQueueLength(), ...(opts.rsqueue ? { entries: d.mode.rsQueueEntries() } : {}) },
    queues: { allocatedNodes: d.mode.allocatedNodes(), list: d.mode.queueStats() },
    processes: d.commitRunning ? [{ pid: process.pid, type: 'commit' }] : [],
    eventSource: {
      kind: d.source.kind, requested: d.config.eventSource, reason: d.source.reason,
      ...(d.sched ? { scheduler: { policy: d.sched.policy, realtime: d.sched.realtime, entered: d.sched.entered } } : {}),
    },
    ...(pipeline ? {
      ring: {
        size: pipeline.ringBytes, records: pipeline.ring.records, bytes: pipeline.ring.bytes,
        reserveFailed: pipeline.bpf.ringFull, destroysToSocket: pipeline.bpf.destroyUp, destroyOverruns: pipeline.socketOverrunsResent, filteredInKernel: pipeline.bpf.filtered, wakeups: pipeline.ring.batches,
        ...(ringUsed !== undefined ? { used: ringUsed } : {}),
      },
    } : {}),
    latency,
    events: d.probes.events.snapshot(d.counters.eventsOwn, d.internal.lateDestroys),
    messages: {
      sentData: sync.sndData, sentControl: sync.sndCtl, receivedData: sync.rcvData, receivedControl: sync.rcvCtl,
      datagramsSent: sync.datagramsSent, resentNack: sync.nackResent, resentTimeout: sync.timeoutResent,
      helloRequeued: sync.helloRequeued, helloCtlDropped: sync.helloCtlDropped, rsQueueOverflow: sync.rsQueueOverflow,
      helloReceived: sync.helloReceived, restartUnannounced: sync.restartUnannounced, resyncReceived: sync.resyncReceived, resyncSent: sync.resyncSent,
      externalExpired: sync.externalExpired, applyFailed: sync.applyFailed, noAddress: sync.rcvNoAddress,
      helperOmitted: sync.sndHelperOmitted, labelsOmitted: sync.sndLabelsOmitted,
    },
    failover: {
      syncGroup: d.config.failover.syncGroup,
      ...(f.state ? { state: f.state } : {}),
      ...(f.last ? { lastTransition: { state: f.last.state, at: f.last.at.getTime() } } : {}),
      transitions: f.transitions,
      failures: f.failures,
      ...(d.purgeAt !== undefined ? { purgeAt: d.purgeAt } : {}),
      ...(f.last ? { last: { source: f.last.source, ms: f.last.ms ?? 0, ...(f.last.error ? { error: f.last.error } : {}) } } : {}),
      ...(d.fifo ? { fifo: { path: d.fifo.path, ...d.fifo.counters } } : {}),
    },
    commit: {
      running: d.commitRunning, commits: d.counters.commits, committed: d.counters.committed, failed: d.counters.commitFailed,
      ...(d.lastCommit ? { last: d.lastCommit } : {}),
      guard: { enabled: d.config.commitGuard, installed: d.guard.installed, standby: d.guard.standby, ...d.guard.counters },
    },
    reconcile: { ...d.reconcile.counters },
  };
}
