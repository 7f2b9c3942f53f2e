// Counters of the replication protocol, as plain objects the daemon prints or exports. The first
// block mirrors conntrackd's `-s network` and "message tracking" fields one to one; the rest are
// ctsync's own (every dropped or repaired message is counted somewhere).
// Their text layouts (`conntrackd -s network`, `-s rsqueue`, ...) are in src/cli/format/stats.ts.

export interface SyncStats {
  // ---- conntrackd's counters (network statistics / message tracking) ----
  /** every malformed message received (sum of the six kinds below) */
  rcvMalformed: number;
  rcvBadVersion: number;
  /** the mode refused the header: unknown control flags, to before from, ACK/NACK in NOTRACK */
  rcvBadHeader: number;
  rcvBadPayload: number;
  rcvBadType: number;
  rcvTruncated: number;
  rcvBadSize: number;
  /** messages that could not be encoded (bad address, larger than the datagram) */
  sndMalformed: number;
  /** sequence numbers never seen (ctsync counts seq - expected; conntrackd overcounts by 2) */
  rcvLost: number;
  /** messages older than the last one received (FTFW drops them) */
  rcvBefore: number;

  // ---- ctsync's own ----
  /** data messages sent, control messages sent, messages received and accepted */
  sndData: number;
  sndCtl: number;
  rcvData: number;
  rcvCtl: number;
  datagramsSent: number;
  /** conntrack messages without IPV4/IPV6 tuple (conntrackd fails them in its cache hash) */
  rcvNoAddress: number;
  /** helper names too long for the wire (> 11 chars) left out of a message */
  sndHelperOmitted: number;
  /** label sets too large for the wire (> 256 words) left out of a message */
  sndLabelsOmitted: number;
  /** FTFW: entries resent because the peer NACKed them */
  nackResent: number;
  /** FTFW: entries resent because no ACK came within the retransmission timeout */
  timeoutResent: number;
  /** FTFW: unacknowledged objects queued again because the peer restarted (HELLO) */
  helloRequeued: number;
  /** FTFW: control messages dropped from the resend queue because the peer restarted */
  helloCtlDropped: number;
  /** FTFW: resend-queue entries dropped because the queue was full (oldest first) */
  rsQueueOverflow: number;
  /** FTFW: HELLO received (peer restarts seen) */
  helloReceived: number;
  /** FTFW: peer restarts seen without a HELLO we took (its numbering started over) */
  restartUnannounced: number;
  /** RESYNC requests received from the peer / sent by us */
  resyncReceived: number;
  resyncSent: number;
  /** ALARM: external entries expired after CacheTimeout */
  externalExpired: number;
  /** messages the host refused (threw) while applying */
  applyFailed: number;
}

export function newSyncStats(): SyncStats {
  return {
    rcvMalformed: 0, rcvBadVersion: 0, rcvBadHeader: 0, rcvBadPayload: 0, rcvBadType: 0,
    rcvTruncated: 0, rcvBadSize: 0, sndMalformed: 0, rcvLost: 0, rcvBefore: 0,
    sndData: 0, sndCtl: 0, rcvData: 0, rcvCtl: 0, datagramsSent: 0, rcvNoAddress: 0,
    sndHelperOmitted: 0, sndLabelsOmitted: 0, nackResent: 0, timeoutResent: 0, helloRequeued: 0,
    helloCtlDropped: 0, rsQueueOverflow: 0, helloReceived: 0, restartUnannounced: 0, resyncReceived: 0, resyncSent: 0,
    externalExpired: 0, applyFailed: 0,
  };
}

/** The counters of one queue, as `conntrackd -s queue` lists them. */
export interface QueueStat {
  name: string;
  current: number;
  max: number;
  /** "not enough space errors" */
  enospc: number;
}

/** One resend-queue entry, as `conntrackd -s rsqueue` lists it. */
export type RsQueueEntry =
  | { kind: 'control'; seq: number; flags: number }
  | { kind: 'object'; seq: number };
