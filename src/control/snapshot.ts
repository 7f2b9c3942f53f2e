// What the daemon reports: one JSON-safe object (numbers, strings, booleans, arrays) that the
// daemon fills, the control socket carries, and the CLI formats (conntrackd `-s ...` text, VyOS
// `show conntrack-sync ...`, `--json`, Prometheus). Field names follow the daemon's own counters
// (src/cache CacheCounters, src/sync SyncStats, QueueStat, RsQueueEntry) so filling is a copy.
// Counts are since the daemon started unless a comment says otherwise.

/** Counters of one cache (conntrackd's `cache internal:` / `cache external:` and `-s cache`). */
export interface CacheStats {
  /** entries currently cached and not DEAD ("current active connections") */
  active: number;
  /** objects held, DEAD ones awaiting an ACK included ("active objects" in `-s cache`) */
  objects: number;
  /** entries in the hash table ("total entries" in `-s cache`) */
  total: number;
  /** entries added / additions refused */
  created: number;
  createFailed: number;
  /** additions refused for lack of memory ("no memory available") */
  noMemory: number;
  /** additions refused because the cache is at hash-limit ("no space left in cache") */
  noSpace: number;
  /** entries updated / updates refused */
  updated: number;
  updateFailed: number;
  /** updates of an entry that is not cached ("entry not found") */
  updateNotFound: number;
  /** entries removed / removals refused */
  destroyed: number;
  destroyFailed: number;
  /** removals of an entry that is not cached ("entry not found") */
  deleteNotFound: number;
}

/** Without an internal cache (NOTRACK with DisableInternalCache): events passed straight on. */
export interface BypassStats {
  /** NEW events sent */
  new: number;
  /** UPDATE events sent */
  updated: number;
  /** DESTROY events sent */
  destroyed: number;
}

/** With disable-external-cache: received flows written straight into the kernel. */
export interface InjectStats {
  /** kernel creates that succeeded / failed */
  created: number;
  createFailed: number;
  /** kernel updates that succeeded / failed */
  updated: number;
  updateFailed: number;
  /** kernel deletes that succeeded / failed */
  destroyed: number;
  destroyFailed: number;
}

export type InternalTableStats = ({ kind: 'cache' } & CacheStats) | ({ kind: 'bypass' } & BypassStats);
export type ExternalTableStats = ({ kind: 'cache' } & CacheStats) | ({ kind: 'inject' } & InjectStats);

/** The two caches of one table (conntracks, or expectations). */
export interface TableStats {
  /** this node's entries: a cache, or the "internal bypass" counters */
  internal: InternalTableStats;
  /** the peer's entries: a cache, or the "external inject" counters */
  external: ExternalTableStats;
}

/** One dedicated link (conntrackd's channel). */
export interface LinkStats {
  /** interface name */
  name: string;
  /** carrier state as conntrackd names it */
  status: 'RUNNING' | 'NO-CARRIER' | 'DOWN';
  /** the link messages currently go out on is ACTIVE, the others BACKUP */
  role: 'ACTIVE' | 'BACKUP';
  /** multicast group or UDP unicast to a peer */
  transport: 'multicast' | 'udp';
  /** UDP payload bytes sent / received */
  bytesSent: number;
  bytesRecv: number;
  /** datagrams sent / received */
  packetsSent: number;
  packetsRecv: number;
  /** send failures / receive failures */
  errorsSend: number;
  errorsRecv: number;
  /** ctsync: datagrams dropped because they came from neither the peer nor the link's subnets */
  dropForeign?: number;
  /** ctsync, auth-key-file: datagrams dropped for a missing or wrong HMAC trailer */
  dropAuth?: number;
  /** ctsync, auth-key-file: datagrams dropped as replays (counter seen before or too old) */
  dropReplay?: number;
  /** ctsync, auth-key-file: datagrams dropped because they carried this node's own sender id */
  dropReflected?: number;
}

/** Replication protocol errors (`-s network`, "message tracking"); names as in src/sync SyncStats. */
export interface NetworkStats {
  /** every malformed message received (sum of the six kinds below); "Malformed msgs" */
  rcvMalformed: number;
  /** wrong protocol version */
  rcvBadVersion: number;
  /** malformed header */
  rcvBadHeader: number;
  /** malformed payload */
  rcvBadPayload: number;
  /** unknown message type */
  rcvBadType: number;
  /** truncated message */
  rcvTruncated: number;
  /** length field disagrees with the datagram */
  rcvBadSize: number;
  /** messages that could not be built */
  sndMalformed: number;
  /** sequence numbers never received ("Packets lost", "Lost msgs") */
  rcvLost: number;
  /** messages older than the last one received ("Packets before") */
  rcvBefore: number;
}

/** conntrackd's `-s runtime` counters. */
export interface RuntimeStats {
  /** kernel events read */
  eventsReceived: number;
  /** kernel events dropped by accept-protocol / ignore-address */
  eventsFiltered: number;
  /** events of a type the daemon does not handle */
  eventsUnknownType: number;
  /** events lost before they were read (buffer overrun) */
  catchEventFailed: number;
  /** dump entries of an unknown type */
  dumpUnknownType: number;
  /** netlink ENOBUFS or ring-buffer losses */
  netlinkOverrun: number;
  /** kernel table flushes (`-F`, scheduled purges) */
  flushKernelTable: number;
  /** internal cache resyncs from the kernel table (`-R`, overrun recovery) */
  resyncKernelTable: number;
  /** current event socket buffer, bytes */
  bufferSize: number;
  /** child tasks that failed, by cause */
  childProcessFailed: number;
  childProcessSegfault: number;
  childProcessTermsig: number;
  /** main-loop poll failures */
  selectFailed: number;
  /** child wait failures */
  waitFailed: number;
  /** control-socket reads that failed */
  localReadFailed: number;
  /** control-socket requests with an unknown code */
  localUnknownRequest: number;
}

/** One queue (`-s queue`); names as in src/sync QueueStat. */
export interface QueueStat {
  /** txqueue, errorq, rsqueue */
  name: string;
  /** elements queued now */
  current: number;
  /** capacity */
  max: number;
  /** pushes refused because the queue was full ("not enough space errors") */
  enospc: number;
}

/** One resend-queue element (`-s rsqueue`); as src/sync RsQueueEntry. */
export type RsQueueEntry =
  | { kind: 'control'; seq: number; flags: number }
  | { kind: 'object'; seq: number };

/** A running child task (`-s process`). */
export interface ProcessEntry {
  /** process or task id */
  pid: number;
  type: 'any' | 'flush' | 'commit';
}

/** Where kernel events come from (ctsync). */
export interface EventSourceStats {
  /** the source in use */
  kind: 'bpf-tracing' | 'bpf-netlink' | 'netlink';
  /** what the configuration asked for */
  requested: 'auto' | 'bpf-tracing' | 'bpf-netlink' | 'netlink';
  /** why a preferred source was not used (e.g. "fentry refused: EPERM"); absent when none was skipped */
  reason?: string;
  /** the main thread's scheduling (CTSYNC_SCHED): realtime now, and how often auto switched to it */
  scheduler?: { policy: 'rr' | 'other' | 'auto'; realtime: boolean; entered: number };
}

/** BPF ring buffer between the kernel programs and the daemon (ctsync; absent with netlink). */
export interface RingStats {
  /** ring size in bytes */
  size: number;
  /** records consumed */
  records: number;
  /** bytes consumed */
  bytes: number;
  /** records the kernel could not reserve (ring full), each triggering a resync */
  reserveFailed: number;
  /**
   * DESTROY events that found the ring full and went to the event socket instead (not lost; with
   * the socket full too, the kernel sends them again)
   */
  destroysToSocket?: number;
  /** event-socket overruns (ENOBUFS) that can only have dropped such DESTROYs: not a loss, no resync */
  destroyOverruns?: number;
  /** events dropped in the kernel by the filter maps */
  filteredInKernel: number;
  /** times the reader woke up and found data */
  wakeups: number;
  /** bytes written by the kernel and not read yet (occupancy) when the snapshot was taken */
  used?: number;
}

/** Kernel events of one kind by type (ctsync). */
export interface EventCounts { new: number; update: number; destroy: number }

/** Kernel events read, by table, protocol and type (ctsync; the sum is runtime.eventsReceived). */
export interface EventStats {
  /** conntrack events by protocol ("tcp", "udp", "icmp", ...; the number for other protocols) */
  conntrack: Record<string, EventCounts>;
  /** expectation events */
  expect: EventCounts;
  /** events the daemon's own kernel requests caused (commit, inject, flush), included above */
  own: number;
  /**
   * DESTROY events of an earlier conntrack than the one the internal cache's entry mirrors (the
   * kernel redelivers a DESTROY a reliable listener missed, after the tuple came back), left alone
   */
  lateDestroy?: number;
}

/** Replication messages: ctsync's counters beyond `-s network` (src/sync SyncStats). */
export interface MessageStats {
  /** data / control messages sent and accepted on receipt */
  sentData: number;
  sentControl: number;
  receivedData: number;
  receivedControl: number;
  /** datagrams the sync mode handed to the links */
  datagramsSent: number;
  /** FTFW: objects resent after a NACK / after the retransmission timeout */
  resentNack: number;
  resentTimeout: number;
  /** FTFW: objects queued again / control messages dropped because the peer restarted (HELLO) */
  helloRequeued: number;
  helloCtlDropped: number;
  /** FTFW: resend-queue entries dropped because it was full */
  rsQueueOverflow: number;
  /** FTFW: HELLO received */
  helloReceived: number;
  /** FTFW: peer restarts seen without a HELLO we took (its numbering started over) */
  restartUnannounced: number;
  /** resync requests received from / sent to the peer */
  resyncReceived: number;
  resyncSent: number;
  /** ALARM: external entries expired after cache-timeout */
  externalExpired: number;
  /** received messages the daemon failed to apply */
  applyFailed: number;
  /** received conntrack messages without addresses */
  noAddress: number;
  /** fields left out of sent messages because the wire cannot carry them */
  helperOmitted: number;
  labelsOmitted: number;
}

/** One latency distribution, in microseconds (ctsync). */
export interface LatencyStats {
  /** what is measured, e.g. "kernel-to-wire", "event-to-cache", "commit-entry" */
  stage: string;
  /** samples */
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  /** samples refused since start because their end stamp came before their start stamp */
  dropped?: number;
}

/** VRRP failover state (ctsync; feeds `show conntrack-sync status`). */
export interface FailoverStats {
  /** failover-mechanism vrrp sync-group */
  syncGroup: string;
  /** current state; absent before the first notification */
  state?: 'MASTER' | 'BACKUP' | 'FAULT' | 'STOP';
  /** last transition, wall-clock milliseconds since the epoch */
  lastTransition?: { state: 'MASTER' | 'BACKUP' | 'FAULT' | 'STOP'; at: number };
  /** transitions handled / transitions whose actions failed */
  transitions: number;
  failures: number;
  /** when the scheduled kernel purge fires, epoch ms; absent when none is pending */
  purgeAt?: number;
  /** the last transition's source and duration, and the steps that failed */
  last?: { source: string; ms: number; error?: string };
  /** keepalived notify-fifo lines: read, used (our sync group), ignored (others), malformed */
  fifo?: { path: string; lines: number; used: number; ignored: number; malformed: number };
}

/** The nftables commit guard (commit-guard; ctsync). */
export interface GuardStats {
  enabled: boolean;
  /** installed right now (a commit is running) */
  installed: boolean;
  /** armed in its standby form (BACKUP, FAULT, STOP), how often, and what it dropped then */
  standby: boolean;
  standbyArms: number;
  standbyDropped: number;
  installs: number;
  installFailed: number;
  removals: number;
  removeFailed: number;
  /** guard tables found at start, left by a daemon killed during a commit */
  leftovers: number;
  /** packets and bytes dropped, over all commits, and packets by rule */
  droppedPackets: number;
  droppedBytes: number;
  droppedByRule: { invalid: number; loose: number; udp: number };
  /** the last guard: when it was in place (epoch ms), install time, how long it stood, packets dropped */
  last?: { at: number; installMs: number; heldMs: number; dropped: number };
}

/** External cache commits into the kernel (ctsync). */
export interface CommitStats {
  /** a commit is in progress */
  running: boolean;
  /** commits run */
  commits: number;
  /** entries committed / refused by the kernel, over all commits */
  committed: number;
  failed: number;
  /** the last commit, if any: start (epoch ms), duration, entries committed and refused */
  last?: { at: number; ms: number; committed: number; failed: number };
  /** the nftables guard around commits */
  guard?: GuardStats;
}

export interface Snapshot {
  /** layout version of this object */
  version: 1;
  /** when it was taken, epoch ms */
  takenAt: number;
  /** daemon identity and age */
  daemon: { pid: number; version: string; uptimeSeconds: number; mode: 'ftfw' | 'notrack' | 'alarm' };
  /** conntrack caches ("Main Table") */
  conntrack: TableStats;
  /** expectation caches; absent when expect-sync is off */
  expect?: TableStats;
  /** bytes and packets of destroyed flows, both directions, low 32 bits of each ("traffic processed") */
  traffic: { bytes: number; packets: number };
  /** every configured link; the ACTIVE one is printed by `-s` */
  links: LinkStats[];
  /** protocol errors; also the "message tracking" block (rcvMalformed, rcvLost) */
  network: NetworkStats;
  /** netlink and runtime counters */
  runtime: RuntimeStats;
  /** FTFW resend queue; `entries` only when asked for (`-s rsqueue`) */
  resendQueue?: { length: number; entries?: RsQueueEntry[] };
  /** queue nodes allocated, and each queue, most recently created first */
  queues: { allocatedNodes: number; list: QueueStat[] };
  /** running child tasks */
  processes: ProcessEntry[];
  /** ctsync: the kernel event path */
  eventSource: EventSourceStats;
  /** ctsync: BPF ring buffer, absent with the netlink source */
  ring?: RingStats;
  /** ctsync: latency percentiles per stage */
  latency: LatencyStats[];
  /** ctsync: kernel events by protocol and type */
  events?: EventStats;
  /** ctsync: replication message counters */
  messages?: MessageStats;
  /** ctsync: VRRP state */
  failover: FailoverStats;
  /** ctsync: external cache commits */
  commit: CommitStats;
  /** ctsync, FTFW: external cache repairs after peer restarts (src/daemon/reconcile.ts) */
  reconcile?: { started: number; completed: number; abandoned: number; removed: number };
}

/** A cache with every counter at zero; handy for tests and for a daemon that just started. */
export function emptyCacheStats(): CacheStats {
  return {
    active: 0, objects: 0, total: 0, created: 0, createFailed: 0, noMemory: 0, noSpace: 0,
    updated: 0, updateFailed: 0, updateNotFound: 0, destroyed: 0, destroyFailed: 0, deleteNotFound: 0,
  };
}

/** A snapshot with every counter at zero, caches on both sides and no links. */
export function emptySnapshot(): Snapshot {
  return {
    version: 1,
    takenAt: 0,
    daemon: { pid: 0, version: '', uptimeSeconds: 0, mode: 'ftfw' },
    conntrack: { internal: { kind: 'cache', ...emptyCacheStats() }, external: { kind: 'cache', ...emptyCacheStats() } },
    traffic: { bytes: 0, packets: 0 },
    links: [],
    network: {
      rcvMalformed: 0, rcvBadVersion: 0, rcvBadHeader: 0, rcvBadPayload: 0, rcvBadType: 0, rcvTruncated: 0,
      rcvBadSize: 0, sndMalformed: 0, rcvLost: 0, rcvBefore: 0,
    },
    runtime: {
      eventsReceived: 0, eventsFiltered: 0, eventsUnknownType: 0, catchEventFailed: 0, dumpUnknownType: 0,
      netlinkOverrun: 0, flushKernelTable: 0, resyncKernelTable: 0, bufferSize: 0, childProcessFailed: 0,
      childProcessSegfault: 0, childProcessTermsig: 0, selectFailed: 0, waitFailed: 0, localReadFailed: 0,
      localUnknownRequest: 0,
    },
    queues: { allocatedNodes: 0, list: [] },
    processes: [],
    eventSource: { kind: 'netlink', requested: 'auto' },
    latency: [],
    failover: { syncGroup: '', transitions: 0, failures: 0 },
    commit: { running: false, commits: 0, committed: 0, failed: 0 },
  };
}
