// The sync modes behind one interface: FTFW (reliable), NOTRACK (best effort), ALARM (periodic
// refresh), wire-compatible with conntrackd 1.4.7 (reference §3).
//
//   const mode = createSyncMode('ftfw', { host, transport, clock? , random? }, options);
//   mode.start();                       // timers: ALIVE / idle ACK, retransmission, refresh
//   cache change     -> mode.enqueue(obj)          (see object.ts for the contract)
//   datagram arrives -> mode.receive(bytes, link)  (link: index of the link it came in on)
//   `-n`             -> mode.requestResync()       `-B` -> mode.bulkSend()
//   mode.flush()     builds datagrams from the transmit queue now; it also runs by itself right
//                    after the current batch of work whenever something was queued
//   mode.stats / queueStats() / rsQueueEntries() / allocatedNodes()   for `-s` (see stats.ts)
//   mode.stop()
//
// Everything time-related comes from the injected Clock and everything sent goes through the
// injected Transport, so two modes can be run against each other in memory (test/unit/sync-*).
import type { Clock } from './clock.ts';
import type { SyncHost, SyncObject } from './object.ts';
import type { QueueStat, RsQueueEntry, SyncStats } from './stats.ts';

/**
 * Where datagrams go. `acquire()` hands out a buffer of at least maxPayload + MAX_MESSAGE_SIZE
 * bytes that the mode fills with messages; `send(buf, len)` transmits its first len bytes and takes
 * the buffer back (the mode never touches it again). A link set (links.ts) implements this.
 */
export interface Transport {
  /** largest datagram payload: messages are packed while used + len < maxPayload (MTU - 28) */
  readonly maxPayload: number;
  acquire(): Uint8Array;
  send(buf: Uint8Array, len: number): void;
  /** a valid message arrived on this link (the link set makes it the active one) */
  heard?(link: number): void;
}

export type ModeKind = 'ftfw' | 'notrack' | 'alarm';

export interface SyncOptions {
  /** CommitTimeout configured: NTA_TIMEOUT is left out of messages (default false) */
  commitTimeout?: boolean;
  /** TCPWindowTracking: send the TCP window scale factors (default false) */
  tcpWindowTracking?: boolean;
  /** ALIVE / idle-ACK interval, ms (conntrackd: 1000, hard-coded) */
  aliveMs?: number;
  /** internal timer resolution, ms (default 200) */
  tickMs?: number;
  // ---- FTFW ----
  /** ACKWindowSize (default 300) */
  ackWindow?: number;
  /** ResendQueueSize (default 131072) */
  resendQueueSize?: number;
  /**
   * ctsync extension: resend objects still unacknowledged after this many ms (as a NACK would:
   * fresh sequence numbers, current state), with backoff up to 16x while nothing is acknowledged;
   * 0 disables it (conntrackd behaviour). Default 2000.
   */
  retransmitMs?: number;
  /**
   * ctsync extension: acknowledge received messages at most this many ms after the first
   * unacknowledged one even while we keep transmitting (conntrackd only ACKs after a window or
   * 1 s of silence). Default 1000; 0 disables it.
   */
  ackDelayMs?: number;
  /**
   * ctsync extension: on the peer's HELLO, queue unacknowledged objects for sending again instead
   * of dropping them as conntrackd does. Default true.
   */
  requeueOnHello?: boolean;
  /**
   * ctsync extension: when the peer restarts (its HELLO after we had heard from it), send it our
   * whole table once its handshake is done, since its external cache is empty. Default true.
   */
  bulkOnPeerRestart?: boolean;
  /**
   * ctsync extension: when the peer restarts and the host wants it (SyncHost.peerRestarted), ask
   * the peer for its table (RESYNC) and tell the host (SyncHost.reconciled) once the peer has
   * acknowledged that request and every NACK sent after it: all of its table has arrived.
   * Default true.
   */
  reconcileOnPeerRestart?: boolean;
  // ---- ALARM ----
  /** RefreshTime, seconds (default 60) */
  refreshTime?: number;
  /** CacheTimeout, seconds (default 180) */
  cacheTimeout?: number;
}

export const DEFAULTS = {
  aliveMs: 1000, tickMs: 200, ackWindow: 300, resendQueueSize: 131072, retransmitMs: 2000,
  ackDelayMs: 1000, refreshTime: 60, cacheTimeout: 180,
} as const;

export interface SyncDeps {
  host: SyncHost;
  transport: Transport;
  clock?: Clock;
  /** uniform in [0, 1); ALARM's refresh jitter (default Math.random) */
  random?: () => number;
}

export interface SyncMode {
  readonly kind: ModeKind;
  readonly stats: SyncStats;
  start(): void;
  stop(): void;
  enqueue(obj: SyncObject): void;
  forget(obj: SyncObject): void;
  receive(bytes: Uint8Array, link?: number): void;
  /** `-n`: ask the peer for a full dump (FTFW, NOTRACK; nothing in ALARM) */
  requestResync(): void;
  /** `-B`: queue every internal object (FTFW, NOTRACK; nothing in ALARM) */
  bulkSend(): void;
  flush(): void;
  queueStats(): QueueStat[];
  /** control-message nodes alive ("allocated queue nodes") */
  allocatedNodes(): number;
  /** FTFW resend queue, oldest first (empty for the other modes) */
  rsQueueEntries(): RsQueueEntry[];
  /** rsQueueEntries().length without listing them (statistics ask often, the queue may be long) */
  rsQueueLength(): number;
}
