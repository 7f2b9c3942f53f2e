// The Flow model: one kernel conntrack entry with everything ctnetlink reports and conntrackd syncs.

export type Family = 4 | 6;

export const IPPROTO = {
  ICMP: 1, IGMP: 2, TCP: 6, UDP: 17, DCCP: 33, GRE: 47, ICMPV6: 58, SCTP: 132, UDPLITE: 136,
} as const;

/** One direction of a connection. Ports for TCP/UDP/UDPLITE/SCTP/DCCP (GRE keys ride in them too). */
export interface Tuple {
  src: string;
  dst: string;
  proto: number;
  sport?: number;
  dport?: number;
  icmpType?: number;
  icmpCode?: number;
  icmpId?: number;
  /** directional zone (CTA_TUPLE_ZONE); rarely set */
  zone?: number;
}

export interface TcpInfo {
  state: number;
  wscaleOrig?: number;
  wscaleReply?: number;
  flagsOrig?: number;
  flagsReply?: number;
}

export interface SctpInfo { state: number; vtagOrig?: number; vtagReply?: number }
export interface DccpInfo { state: number; role?: number; handshakeSeq?: bigint }

export interface SeqAdj { correctionPos: number; offsetBefore: number; offsetAfter: number }

export interface Counters { packets: number; bytes: number }

export interface Synproxy { isn: number; its: number; tsoff: number }

export interface Flow {
  family: Family;
  orig: Tuple;
  reply: Tuple;
  status: number;
  /** seconds left, as the kernel last reported */
  timeout?: number;
  mark?: number;
  /** the conntrack zone (CTA_ZONE); 0 when absent */
  zone?: number;
  /** kernel conntrack id */
  id?: number;
  use?: number;
  secmark?: number;
  tcp?: TcpInfo;
  sctp?: SctpInfo;
  dccp?: DccpInfo;
  seqAdjOrig?: SeqAdj;
  seqAdjReply?: SeqAdj;
  helper?: string;
  /** connlabel bitmap as 32-bit words: bit b of word n is label 32n+b */
  labels?: number[];
  countersOrig?: Counters;
  countersReply?: Counters;
  /** orig tuple of the master connection, for related flows */
  master?: Tuple;
  synproxy?: Synproxy;
  timestampStart?: bigint;
  timestampStop?: bigint;
}

/** An expectation: the kernel's promise to classify a future connection as related to `master`. */
export interface Expectation {
  family: Family;
  master: Tuple;
  tuple: Tuple;
  mask: Tuple;
  timeout?: number;
  id?: number;
  helper?: string;
  zone?: number;
  flags?: number;
  class?: number;
  nat?: { dir: number; tuple: Tuple };
  fn?: string;
}

export const STATUS = {
  EXPECTED: 0x1, SEEN_REPLY: 0x2, ASSURED: 0x4, CONFIRMED: 0x8, SRC_NAT: 0x10, DST_NAT: 0x20,
  SEQ_ADJUST: 0x40, SRC_NAT_DONE: 0x80, DST_NAT_DONE: 0x100, DYING: 0x200, FIXED_TIMEOUT: 0x400,
  TEMPLATE: 0x800, UNTRACKED: 0x1000, HELPER: 0x2000, OFFLOAD: 0x4000, HW_OFFLOAD: 0x8000,
} as const;

export const TCP_STATES = [
  'NONE', 'SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT', 'CLOSE_WAIT', 'LAST_ACK', 'TIME_WAIT',
  'CLOSE', 'LISTEN', // kernel 9 is SYN_SENT2, shown by conntrack as LISTEN
] as const;
export const SCTP_STATES = [
  'NONE', 'CLOSED', 'COOKIE_WAIT', 'COOKIE_ECHOED', 'ESTABLISHED', 'SHUTDOWN_SENT',
  'SHUTDOWN_RECD', 'SHUTDOWN_ACK_SENT', 'HEARTBEAT_SENT', 'HEARTBEAT_ACKED',
] as const;
export const DCCP_STATES = [
  'NONE', 'REQUEST', 'RESPOND', 'PARTOPEN', 'OPEN', 'CLOSEREQ', 'CLOSING', 'TIMEWAIT',
] as const;

export const TCP_STATE = {
  NONE: 0, SYN_SENT: 1, SYN_RECV: 2, ESTABLISHED: 3, FIN_WAIT: 4, CLOSE_WAIT: 5, LAST_ACK: 6,
  TIME_WAIT: 7, CLOSE: 8, SYN_SENT2: 9,
} as const;

const PROTO_NAMES: Record<number, string> = {
  1: 'icmp', 2: 'igmp', 6: 'tcp', 17: 'udp', 33: 'dccp', 47: 'gre', 58: 'icmpv6', 132: 'sctp',
  136: 'udplite', 112: 'vrrp',
};
export function protoName(p: number): string {
  return PROTO_NAMES[p] ?? 'unknown';
}

/** Protocols whose tuple carries ports (GRE's keys share the port attributes). */
export function hasPorts(proto: number): boolean {
  return proto === 6 || proto === 17 || proto === 132 || proto === 33 || proto === 136 || proto === 47;
}
export function isIcmp(proto: number): boolean {
  return proto === 1 || proto === 58;
}

export function tupleEqual(a: Tuple, b: Tuple): boolean {
  return a.src === b.src && a.dst === b.dst && a.proto === b.proto &&
    (a.sport ?? 0) === (b.sport ?? 0) && (a.dport ?? 0) === (b.dport ?? 0) &&
    (a.icmpType ?? 0) === (b.icmpType ?? 0) && (a.icmpCode ?? 0) === (b.icmpCode ?? 0) &&
    (a.icmpId ?? 0) === (b.icmpId ?? 0);
}

/** The reverse of a tuple: what the other direction looks like without NAT. */
export function invertTuple(t: Tuple): Tuple {
  const r: Tuple = { src: t.dst, dst: t.src, proto: t.proto };
  if (t.sport !== undefined || t.dport !== undefined) { r.sport = t.dport; r.dport = t.sport; }
  if (t.icmpType !== undefined) {
    r.icmpType = icmpReplyType(t.proto, t.icmpType);
    r.icmpCode = t.icmpCode;
    r.icmpId = t.icmpId;
  }
  return r;
}

// ICMP request -> reply types, as nf_conntrack_proto_icmp{,v6} invert them.
const ICMP_INVERT: Record<number, number> = { 8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 17: 18, 18: 17 };
const ICMPV6_INVERT: Record<number, number> = { 128: 129, 129: 128, 130: 131, 131: 130 };
/** The ICMP/ICMPv6 type of the other direction (echo request <-> reply, ...). */
export function icmpReplyType(proto: number, type: number): number {
  const m = proto === 1 ? ICMP_INVERT : ICMPV6_INVERT;
  return m[type] ?? type;
}
