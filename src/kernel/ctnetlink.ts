// ctnetlink codec: kernel conntrack and expectation messages to and from the Flow model.
// Pure functions over bytes; the socket and the operations are in conntrack.ts.
import { type Flow, type Tuple, type Expectation, type Family, hasPorts, isIcmp, invertTuple, STATUS } from '../flow/flow.ts';
import { type Nat, natOf } from '../flow/nat.ts';
import { ipv4ToString, ipv6ToString, addrBytes } from '../flow/addr.ts';
import { AttrTable, type NlWriter } from './nlmsg.ts';

export const SUBSYS_CT = 1;
export const SUBSYS_EXP = 2;
export const CT_MSG = { NEW: 0, GET: 1, DELETE: 2, GET_CTRZERO: 3, GET_STATS_CPU: 4, GET_STATS: 5 } as const;
export const EXP_MSG = { NEW: 0, GET: 1, DELETE: 2 } as const;
/** ctnetlink multicast groups (NETLINK_ADD_MEMBERSHIP numbers) */
export const GROUP = { NEW: 1, UPDATE: 2, DESTROY: 3, EXP_NEW: 4, EXP_UPDATE: 5, EXP_DESTROY: 6 } as const;

export const AF_INET = 2;
export const AF_INET6 = 10;
export const familyToAf = (f: Family) => (f === 4 ? AF_INET : AF_INET6);

export const CTA = {
  TUPLE_ORIG: 1, TUPLE_REPLY: 2, STATUS: 3, PROTOINFO: 4, HELP: 5, NAT_SRC: 6, TIMEOUT: 7, MARK: 8,
  COUNTERS_ORIG: 9, COUNTERS_REPLY: 10, USE: 11, ID: 12, NAT_DST: 13, TUPLE_MASTER: 14,
  SEQ_ADJ_ORIG: 15, SEQ_ADJ_REPLY: 16, SECMARK: 17, ZONE: 18, SECCTX: 19, TIMESTAMP: 20,
  MARK_MASK: 21, LABELS: 22, LABELS_MASK: 23, SYNPROXY: 24, FILTER: 25, STATUS_MASK: 26,
  TIMESTAMP_EVENT: 27,
} as const;
const CTA_MAX = 27;
export const CTA_TUPLE = { IP: 1, PROTO: 2, ZONE: 3 } as const;
export const CTA_IP = { V4_SRC: 1, V4_DST: 2, V6_SRC: 3, V6_DST: 4 } as const;
export const CTA_PROTO = {
  NUM: 1, SRC_PORT: 2, DST_PORT: 3, ICMP_ID: 4, ICMP_TYPE: 5, ICMP_CODE: 6,
  ICMPV6_ID: 7, ICMPV6_TYPE: 8, ICMPV6_CODE: 9,
} as const;
export const CTA_PROTOINFO = { TCP: 1, DCCP: 2, SCTP: 3 } as const;
export const CTA_TCP = { STATE: 1, WSCALE_ORIG: 2, WSCALE_REPLY: 3, FLAGS_ORIG: 4, FLAGS_REPLY: 5 } as const;
export const CTA_DCCP = { STATE: 1, ROLE: 2, HANDSHAKE_SEQ: 3 } as const;
export const CTA_SCTP = { STATE: 1, VTAG_ORIG: 2, VTAG_REPLY: 3 } as const;
export const CTA_COUNTERS = { PACKETS: 1, BYTES: 2, PACKETS32: 3, BYTES32: 4 } as const;
export const CTA_TS = { START: 1, STOP: 2 } as const;
export const CTA_NAT = { V4_MINIP: 1, V4_MAXIP: 2, PROTO: 3, V6_MINIP: 4, V6_MAXIP: 5 } as const;
export const CTA_PROTONAT = { PORT_MIN: 1, PORT_MAX: 2 } as const;
export const CTA_SEQADJ = { CORRECTION_POS: 1, OFFSET_BEFORE: 2, OFFSET_AFTER: 3 } as const;
export const CTA_HELP = { NAME: 1 } as const;
export const CTA_SYNPROXY = { ISN: 1, ITS: 2, TSOFF: 3 } as const;
export const CTA_EXPECT = {
  MASTER: 1, TUPLE: 2, MASK: 3, TIMEOUT: 4, ID: 5, HELP_NAME: 6, ZONE: 7, FLAGS: 8, CLASS: 9, NAT: 10, FN: 11,
} as const;
export const CTA_EXPECT_NAT = { DIR: 1, TUPLE: 2 } as const;

/** Why a message could not be decoded; the caller counts it. */
export class DecodeError extends Error { override name = 'DecodeError'; }

// One table per nesting level, reused: decoding allocates only the Flow it returns.
const tTop = new AttrTable(CTA_MAX);
const tTuple = new AttrTable(3);
const tIp = new AttrTable(4);
const tProto = new AttrTable(9);
const tInfo = new AttrTable(3);
const tInfo2 = new AttrTable(5);
const tSub = new AttrTable(5);
const tExp = new AttrTable(11);
const tExpNat = new AttrTable(2);

// Least payload length of the attributes read as numbers, as [type, bytes, ...] per level: a
// shorter one would be read past its end (the kernel never sends one; a fuzzer does).
const S_TUPLE = [CTA_TUPLE.ZONE, 2];
const S_PROTO = [CTA_PROTO.NUM, 1, CTA_PROTO.SRC_PORT, 2, CTA_PROTO.DST_PORT, 2, CTA_PROTO.ICMP_ID, 2, CTA_PROTO.ICMP_TYPE, 1,
  CTA_PROTO.ICMP_CODE, 1, CTA_PROTO.ICMPV6_ID, 2, CTA_PROTO.ICMPV6_TYPE, 1, CTA_PROTO.ICMPV6_CODE, 1];
const S_TOP = [CTA.STATUS, 4, CTA.TIMEOUT, 4, CTA.MARK, 4, CTA.USE, 4, CTA.ID, 4, CTA.SECMARK, 4, CTA.ZONE, 2];
const S_COUNTERS = [CTA_COUNTERS.PACKETS, 8, CTA_COUNTERS.BYTES, 8, CTA_COUNTERS.PACKETS32, 4, CTA_COUNTERS.BYTES32, 4];
const S_SEQADJ = [CTA_SEQADJ.CORRECTION_POS, 4, CTA_SEQADJ.OFFSET_BEFORE, 4, CTA_SEQADJ.OFFSET_AFTER, 4];
const S_SYNPROXY = [CTA_SYNPROXY.ISN, 4, CTA_SYNPROXY.ITS, 4, CTA_SYNPROXY.TSOFF, 4];
const S_TS = [CTA_TS.START, 8, CTA_TS.STOP, 8];
const S_TCP = [CTA_TCP.STATE, 1, CTA_TCP.WSCALE_ORIG, 1, CTA_TCP.WSCALE_REPLY, 1, CTA_TCP.FLAGS_ORIG, 1, CTA_TCP.FLAGS_REPLY, 1];
const S_SCTP = [CTA_SCTP.STATE, 1, CTA_SCTP.VTAG_ORIG, 4, CTA_SCTP.VTAG_REPLY, 4];
const S_DCCP = [CTA_DCCP.STATE, 1, CTA_DCCP.ROLE, 1, CTA_DCCP.HANDSHAKE_SEQ, 8];
const S_EXP = [CTA_EXPECT.TIMEOUT, 4, CTA_EXPECT.ID, 4, CTA_EXPECT.ZONE, 2, CTA_EXPECT.FLAGS, 4, CTA_EXPECT.CLASS, 4];
const S_EXPNAT = [CTA_EXPECT_NAT.DIR, 4];

function sized(t: AttrTable, min: readonly number[]): void {
  for (let i = 0; i < min.length; i += 2) {
    if (t.at[min[i]] >= 0 && t.len[min[i]] < min[i + 1]) throw new DecodeError(`attribute ${min[i]} of ${t.len[min[i]]} bytes, ${min[i + 1]} needed`);
  }
}

const u8 = (dv: DataView, o: number) => dv.getUint8(o);
const u16 = (dv: DataView, o: number) => dv.getUint16(o, false);
const u32 = (dv: DataView, o: number) => dv.getUint32(o, false);

function decodeTuple(dv: DataView, start: number, len: number, out?: Tuple): Tuple {
  if (!tTuple.parse(dv, start, start + len)) throw new DecodeError('malformed tuple');
  sized(tTuple, S_TUPLE);
  const t: Tuple = out ?? { src: '', dst: '', proto: 0 };
  const ipAt = tTuple.at[CTA_TUPLE.IP], protoAt = tTuple.at[CTA_TUPLE.PROTO];
  const zoneAt = tTuple.at[CTA_TUPLE.ZONE];
  if (zoneAt >= 0) t.zone = u16(dv, zoneAt);
  if (ipAt < 0 || protoAt < 0) throw new DecodeError('tuple without address or protocol');
  const protoLen = tTuple.len[CTA_TUPLE.PROTO];
  if (!tIp.parse(dv, ipAt, ipAt + tTuple.len[CTA_TUPLE.IP])) throw new DecodeError('malformed tuple address');
  const bytes = new Uint8Array(dv.buffer, dv.byteOffset);
  if (tIp.at[CTA_IP.V4_SRC] >= 0 && tIp.len[CTA_IP.V4_SRC] === 4 && tIp.len[CTA_IP.V4_DST] === 4) {
    t.src = ipv4ToString(bytes, tIp.at[CTA_IP.V4_SRC]);
    t.dst = ipv4ToString(bytes, tIp.at[CTA_IP.V4_DST]);
  } else if (tIp.at[CTA_IP.V6_SRC] >= 0 && tIp.len[CTA_IP.V6_SRC] === 16 && tIp.len[CTA_IP.V6_DST] === 16) {
    t.src = ipv6ToString(bytes, tIp.at[CTA_IP.V6_SRC]);
    t.dst = ipv6ToString(bytes, tIp.at[CTA_IP.V6_DST]);
  } else throw new DecodeError('tuple address of unknown family');
  if (!tProto.parse(dv, protoAt, protoAt + protoLen) || tProto.at[CTA_PROTO.NUM] < 0) {
    throw new DecodeError('malformed tuple protocol');
  }
  sized(tProto, S_PROTO);
  const P = tProto.at;
  t.proto = u8(dv, P[CTA_PROTO.NUM]);
  if (P[CTA_PROTO.SRC_PORT] >= 0) t.sport = u16(dv, P[CTA_PROTO.SRC_PORT]);
  if (P[CTA_PROTO.DST_PORT] >= 0) t.dport = u16(dv, P[CTA_PROTO.DST_PORT]);
  if (P[CTA_PROTO.ICMP_TYPE] >= 0) {
    t.icmpType = u8(dv, P[CTA_PROTO.ICMP_TYPE]);
    t.icmpCode = P[CTA_PROTO.ICMP_CODE] >= 0 ? u8(dv, P[CTA_PROTO.ICMP_CODE]) : 0;
    t.icmpId = P[CTA_PROTO.ICMP_ID] >= 0 ? u16(dv, P[CTA_PROTO.ICMP_ID]) : 0;
  } else if (P[CTA_PROTO.ICMPV6_TYPE] >= 0) {
    t.icmpType = u8(dv, P[CTA_PROTO.ICMPV6_TYPE]);
    t.icmpCode = P[CTA_PROTO.ICMPV6_CODE] >= 0 ? u8(dv, P[CTA_PROTO.ICMPV6_CODE]) : 0;
    t.icmpId = P[CTA_PROTO.ICMPV6_ID] >= 0 ? u16(dv, P[CTA_PROTO.ICMPV6_ID]) : 0;
  }
  return t;
}

function decodeCounters(dv: DataView, start: number, len: number) {
  if (!tSub.parse(dv, start, start + len)) throw new DecodeError('malformed counters');
  sized(tSub, S_COUNTERS);
  const num = (a: number, a32: number) =>
    tSub.at[a] >= 0 ? Number(dv.getBigUint64(tSub.at[a], false)) : tSub.at[a32] >= 0 ? u32(dv, tSub.at[a32]) : 0;
  return { packets: num(CTA_COUNTERS.PACKETS, CTA_COUNTERS.PACKETS32), bytes: num(CTA_COUNTERS.BYTES, CTA_COUNTERS.BYTES32) };
}

function decodeSeqAdj(dv: DataView, start: number, len: number) {
  if (!tSub.parse(dv, start, start + len)) throw new DecodeError('malformed seq adjustment');
  sized(tSub, S_SEQADJ);
  const g = (a: number) => (tSub.at[a] >= 0 ? u32(dv, tSub.at[a]) : 0);
  return {
    correctionPos: g(CTA_SEQADJ.CORRECTION_POS),
    offsetBefore: g(CTA_SEQADJ.OFFSET_BEFORE),
    offsetAfter: g(CTA_SEQADJ.OFFSET_AFTER),
  };
}

/**
 * Decodes the attributes of a ctnetlink conntrack message (after the nfgenmsg header).
 * `family` is nfgen_family (AF_INET / AF_INET6).
 */
export function decodeFlow(dv: DataView, start: number, end: number, af: number): Flow {
  if (!tTop.parse(dv, start, end)) throw new DecodeError('malformed conntrack attributes');
  sized(tTop, S_TOP);
  const A = tTop.at, L = tTop.len;
  if (A[CTA.TUPLE_ORIG] < 0) throw new DecodeError('conntrack message without original tuple');
  // nested levels parse into tables of their own, so tTop stays valid throughout
  const at = A, len = L;
  const orig = decodeTuple(dv, at[CTA.TUPLE_ORIG], len[CTA.TUPLE_ORIG]);
  const reply = at[CTA.TUPLE_REPLY] >= 0 ? decodeTuple(dv, at[CTA.TUPLE_REPLY], len[CTA.TUPLE_REPLY]) : undefined;
  const f: Flow = {
    family: af === AF_INET6 ? 6 : 4,
    orig,
    reply: reply ?? { src: orig.dst, dst: orig.src, proto: orig.proto },
    status: at[CTA.STATUS] >= 0 ? u32(dv, at[CTA.STATUS]) : 0,
  };
  if (at[CTA.TIMEOUT] >= 0) f.timeout = u32(dv, at[CTA.TIMEOUT]);
  if (at[CTA.MARK] >= 0) f.mark = u32(dv, at[CTA.MARK]);
  if (at[CTA.ZONE] >= 0) f.zone = u16(dv, at[CTA.ZONE]);
  if (at[CTA.ID] >= 0) f.id = u32(dv, at[CTA.ID]);
  if (at[CTA.USE] >= 0) f.use = u32(dv, at[CTA.USE]);
  if (at[CTA.SECMARK] >= 0) f.secmark = u32(dv, at[CTA.SECMARK]);
  if (at[CTA.PROTOINFO] >= 0) decodeProtoinfo(dv, at[CTA.PROTOINFO], len[CTA.PROTOINFO], f);
  if (at[CTA.HELP] >= 0) {
    if (!tSub.parse(dv, at[CTA.HELP], at[CTA.HELP] + len[CTA.HELP])) throw new DecodeError('malformed helper');
    if (tSub.at[CTA_HELP.NAME] >= 0) f.helper = cstring(dv, tSub.at[CTA_HELP.NAME], tSub.len[CTA_HELP.NAME]);
  }
  if (at[CTA.SEQ_ADJ_ORIG] >= 0) f.seqAdjOrig = decodeSeqAdj(dv, at[CTA.SEQ_ADJ_ORIG], len[CTA.SEQ_ADJ_ORIG]);
  if (at[CTA.SEQ_ADJ_REPLY] >= 0) f.seqAdjReply = decodeSeqAdj(dv, at[CTA.SEQ_ADJ_REPLY], len[CTA.SEQ_ADJ_REPLY]);
  if (at[CTA.COUNTERS_ORIG] >= 0) f.countersOrig = decodeCounters(dv, at[CTA.COUNTERS_ORIG], len[CTA.COUNTERS_ORIG]);
  if (at[CTA.COUNTERS_REPLY] >= 0) f.countersReply = decodeCounters(dv, at[CTA.COUNTERS_REPLY], len[CTA.COUNTERS_REPLY]);
  if (at[CTA.TUPLE_MASTER] >= 0) f.master = decodeTuple(dv, at[CTA.TUPLE_MASTER], len[CTA.TUPLE_MASTER]);
  if (at[CTA.LABELS] >= 0) {
    const words: number[] = [];
    for (let i = 0; i + 4 <= len[CTA.LABELS]; i += 4) words.push(dv.getUint32(at[CTA.LABELS] + i, true));
    if (words.some((w) => w !== 0)) f.labels = trimWords(words);
  }
  if (at[CTA.SYNPROXY] >= 0) {
    if (!tSub.parse(dv, at[CTA.SYNPROXY], at[CTA.SYNPROXY] + len[CTA.SYNPROXY])) throw new DecodeError('malformed synproxy');
    sized(tSub, S_SYNPROXY);
    const g = (a: number) => (tSub.at[a] >= 0 ? u32(dv, tSub.at[a]) : 0);
    f.synproxy = { isn: g(CTA_SYNPROXY.ISN), its: g(CTA_SYNPROXY.ITS), tsoff: g(CTA_SYNPROXY.TSOFF) };
  }
  if (at[CTA.TIMESTAMP] >= 0) {
    if (!tSub.parse(dv, at[CTA.TIMESTAMP], at[CTA.TIMESTAMP] + len[CTA.TIMESTAMP])) throw new DecodeError('malformed timestamp');
    sized(tSub, S_TS);
    if (tSub.at[CTA_TS.START] >= 0) f.timestampStart = dv.getBigUint64(tSub.at[CTA_TS.START], false);
    if (tSub.at[CTA_TS.STOP] >= 0) f.timestampStop = dv.getBigUint64(tSub.at[CTA_TS.STOP], false);
  }
  return f;
}

function trimWords(w: number[]): number[] {
  let n = w.length;
  while (n > 0 && w[n - 1] === 0) n--;
  return w.slice(0, n);
}

function decodeProtoinfo(dv: DataView, start: number, len: number, f: Flow): void {
  if (!tInfo.parse(dv, start, start + len)) throw new DecodeError('malformed protoinfo');
  const I = tInfo.at;
  if (I[CTA_PROTOINFO.TCP] >= 0) {
    if (!tInfo2.parse(dv, I[CTA_PROTOINFO.TCP], I[CTA_PROTOINFO.TCP] + tInfo.len[CTA_PROTOINFO.TCP])) throw new DecodeError('malformed tcp info');
    sized(tInfo2, S_TCP);
    const T = tInfo2.at;
    f.tcp = { state: T[CTA_TCP.STATE] >= 0 ? u8(dv, T[CTA_TCP.STATE]) : 0 };
    if (T[CTA_TCP.WSCALE_ORIG] >= 0) f.tcp.wscaleOrig = u8(dv, T[CTA_TCP.WSCALE_ORIG]);
    if (T[CTA_TCP.WSCALE_REPLY] >= 0) f.tcp.wscaleReply = u8(dv, T[CTA_TCP.WSCALE_REPLY]);
    if (T[CTA_TCP.FLAGS_ORIG] >= 0) f.tcp.flagsOrig = u8(dv, T[CTA_TCP.FLAGS_ORIG]);
    if (T[CTA_TCP.FLAGS_REPLY] >= 0) f.tcp.flagsReply = u8(dv, T[CTA_TCP.FLAGS_REPLY]);
  } else if (I[CTA_PROTOINFO.SCTP] >= 0) {
    if (!tInfo2.parse(dv, I[CTA_PROTOINFO.SCTP], I[CTA_PROTOINFO.SCTP] + tInfo.len[CTA_PROTOINFO.SCTP])) throw new DecodeError('malformed sctp info');
    sized(tInfo2, S_SCTP);
    const S = tInfo2.at;
    f.sctp = { state: S[CTA_SCTP.STATE] >= 0 ? u8(dv, S[CTA_SCTP.STATE]) : 0 };
    if (S[CTA_SCTP.VTAG_ORIG] >= 0) f.sctp.vtagOrig = u32(dv, S[CTA_SCTP.VTAG_ORIG]);
    if (S[CTA_SCTP.VTAG_REPLY] >= 0) f.sctp.vtagReply = u32(dv, S[CTA_SCTP.VTAG_REPLY]);
  } else if (I[CTA_PROTOINFO.DCCP] >= 0) {
    if (!tInfo2.parse(dv, I[CTA_PROTOINFO.DCCP], I[CTA_PROTOINFO.DCCP] + tInfo.len[CTA_PROTOINFO.DCCP])) throw new DecodeError('malformed dccp info');
    sized(tInfo2, S_DCCP);
    const D = tInfo2.at;
    f.dccp = { state: D[CTA_DCCP.STATE] >= 0 ? u8(dv, D[CTA_DCCP.STATE]) : 0 };
    if (D[CTA_DCCP.ROLE] >= 0) f.dccp.role = u8(dv, D[CTA_DCCP.ROLE]);
    if (D[CTA_DCCP.HANDSHAKE_SEQ] >= 0) f.dccp.handshakeSeq = dv.getBigUint64(D[CTA_DCCP.HANDSHAKE_SEQ], false);
  }
}

function cstring(dv: DataView, o: number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) {
    const c = dv.getUint8(o + i);
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

export function decodeExpectation(dv: DataView, start: number, end: number, af: number): Expectation {
  if (!tExp.parse(dv, start, end)) throw new DecodeError('malformed expectation attributes');
  sized(tExp, S_EXP);
  const at = tExp.at, len = tExp.len;
  if (at[CTA_EXPECT.MASTER] < 0 || at[CTA_EXPECT.TUPLE] < 0 || at[CTA_EXPECT.MASK] < 0) {
    throw new DecodeError('expectation without master, tuple or mask');
  }
  const e: Expectation = {
    family: af === AF_INET6 ? 6 : 4,
    master: decodeTuple(dv, at[CTA_EXPECT.MASTER], len[CTA_EXPECT.MASTER]),
    tuple: decodeTuple(dv, at[CTA_EXPECT.TUPLE], len[CTA_EXPECT.TUPLE]),
    mask: decodeTuple(dv, at[CTA_EXPECT.MASK], len[CTA_EXPECT.MASK]),
  };
  if (at[CTA_EXPECT.TIMEOUT] >= 0) e.timeout = u32(dv, at[CTA_EXPECT.TIMEOUT]);
  if (at[CTA_EXPECT.ID] >= 0) e.id = u32(dv, at[CTA_EXPECT.ID]);
  if (at[CTA_EXPECT.HELP_NAME] >= 0) e.helper = cstring(dv, at[CTA_EXPECT.HELP_NAME], len[CTA_EXPECT.HELP_NAME]);
  if (at[CTA_EXPECT.ZONE] >= 0) e.zone = u16(dv, at[CTA_EXPECT.ZONE]);
  if (at[CTA_EXPECT.FLAGS] >= 0) e.flags = u32(dv, at[CTA_EXPECT.FLAGS]);
  if (at[CTA_EXPECT.CLASS] >= 0) e.class = u32(dv, at[CTA_EXPECT.CLASS]);
  if (at[CTA_EXPECT.FN] >= 0) e.fn = cstring(dv, at[CTA_EXPECT.FN], len[CTA_EXPECT.FN]);
  if (at[CTA_EXPECT.NAT] >= 0) {
    if (!tExpNat.parse(dv, at[CTA_EXPECT.NAT], at[CTA_EXPECT.NAT] + len[CTA_EXPECT.NAT])) throw new DecodeError('malformed expectation nat');
    sized(tExpNat, S_EXPNAT);
    const dirAt = tExpNat.at[CTA_EXPECT_NAT.DIR], tupAt = tExpNat.at[CTA_EXPECT_NAT.TUPLE], tupLen = tExpNat.len[CTA_EXPECT_NAT.TUPLE];
    if (tupAt >= 0) e.nat = { dir: dirAt >= 0 ? u32(dv, dirAt) : 0, tuple: decodeTuple(dv, tupAt, tupLen) };
  }
  return e;
}

// ---- encoding ----

export function encodeTuple(w: NlWriter, type: number, t: Tuple, family: Family): void {
  w.nest(type);
  w.nest(CTA_TUPLE.IP);
  if (family === 4) {
    w.bytes(CTA_IP.V4_SRC, addrBytes(t.src));
    w.bytes(CTA_IP.V4_DST, addrBytes(t.dst));
  } else {
    w.bytes(CTA_IP.V6_SRC, addrBytes(t.src));
    w.bytes(CTA_IP.V6_DST, addrBytes(t.dst));
  }
  w.nestEnd();
  w.nest(CTA_TUPLE.PROTO);
  w.u8(CTA_PROTO.NUM, t.proto);
  if (isIcmp(t.proto)) {
    const v6 = t.proto === 58;
    w.u16be(v6 ? CTA_PROTO.ICMPV6_ID : CTA_PROTO.ICMP_ID, t.icmpId ?? 0);
    w.u8(v6 ? CTA_PROTO.ICMPV6_TYPE : CTA_PROTO.ICMP_TYPE, t.icmpType ?? 0);
    w.u8(v6 ? CTA_PROTO.ICMPV6_CODE : CTA_PROTO.ICMP_CODE, t.icmpCode ?? 0);
  } else if (hasPorts(t.proto)) {
    w.u16be(CTA_PROTO.SRC_PORT, t.sport ?? 0);
    w.u16be(CTA_PROTO.DST_PORT, t.dport ?? 0);
  }
  w.nestEnd();
  if (t.zone !== undefined) w.u16be(CTA_TUPLE.ZONE, t.zone);
  w.nestEnd();
}

function encodeNat(w: NlWriter, type: number, family: Family, n: { addr: string; port?: number }): void {
  w.nest(type);
  const a = addrBytes(n.addr);
  w.bytes(family === 4 ? CTA_NAT.V4_MINIP : CTA_NAT.V6_MINIP, a);
  w.bytes(family === 4 ? CTA_NAT.V4_MAXIP : CTA_NAT.V6_MAXIP, a);
  if (n.port !== undefined) {
    w.nest(CTA_NAT.PROTO);
    w.u16be(CTA_PROTONAT.PORT_MIN, n.port);
    w.u16be(CTA_PROTONAT.PORT_MAX, n.port);
    w.nestEnd();
  }
  w.nestEnd();
}

function encodeSeqAdj(w: NlWriter, type: number, s: { correctionPos: number; offsetBefore: number; offsetAfter: number }): void {
  w.nest(type);
  w.u32be(CTA_SEQADJ.CORRECTION_POS, s.correctionPos);
  w.u32be(CTA_SEQADJ.OFFSET_BEFORE, s.offsetBefore);
  w.u32be(CTA_SEQADJ.OFFSET_AFTER, s.offsetAfter);
  w.nestEnd();
}

// The kernel refuses (EBUSY) a status that differs from its own in EXPECTED, CONFIRMED or DYING,
// and marks created entries CONFIRMED before it looks; the NAT bits it ignores and derives itself.
export const statusForKernel = (s: number): number =>
  ((s & ~(STATUS.EXPECTED | STATUS.DYING | STATUS.TEMPLATE | STATUS.UNTRACKED)) | STATUS.CONFIRMED) >>> 0;

export interface EncodeOptions {
  /** create: send NAT setup and the un-NATed reply so the kernel sets up translation itself */
  create?: boolean;
  /** only the key (delete/get) */
  keyOnly?: boolean;
  /** TCP "be liberal" in both directions, as conntrackd does for recovered entries */
  liberal?: boolean;
}

const IP_CT_TCP_FLAG_BE_LIBERAL = 0x08;
/** struct nf_ct_tcp_flags { u8 flags; u8 mask; }: "be liberal", for CTA_TCP_FLAGS_ORIG/REPLY */
export const LIBERAL = new Uint8Array([IP_CT_TCP_FLAG_BE_LIBERAL, IP_CT_TCP_FLAG_BE_LIBERAL]);

/** Writes the attributes of a conntrack create/update/delete/get request for f. */
export function encodeFlow(w: NlWriter, f: Flow, opt: EncodeOptions = {}): void {
  if (opt.create) {
    const nat: Nat = natOf(f);
    encodeTuple(w, CTA.TUPLE_ORIG, f.orig, f.family);
    // the reply before NAT: the kernel derives the translated one from CTA_NAT_* and sets the NAT bits
    encodeTuple(w, CTA.TUPLE_REPLY, { ...invertTuple(f.orig), zone: f.reply.zone }, f.family);
    if (nat.snat) encodeNat(w, CTA.NAT_SRC, f.family, nat.snat);
    if (nat.dnat) encodeNat(w, CTA.NAT_DST, f.family, nat.dnat);
  } else {
    encodeTuple(w, CTA.TUPLE_ORIG, f.orig, f.family);
  }
  if (f.zone) w.u16be(CTA.ZONE, f.zone);
  if (opt.keyOnly) return;
  if (f.master && opt.create) encodeTuple(w, CTA.TUPLE_MASTER, f.master, f.family);
  w.u32be(CTA.STATUS, statusForKernel(f.status));
  if (f.timeout !== undefined) w.u32be(CTA.TIMEOUT, f.timeout);
  if (f.mark !== undefined) w.u32be(CTA.MARK, f.mark);
  if (f.helper && opt.create) {
    w.nest(CTA.HELP);
    w.cstr(CTA_HELP.NAME, f.helper);
    w.nestEnd();
  }
  if (f.tcp || f.sctp || f.dccp) {
    w.nest(CTA.PROTOINFO);
    if (f.tcp) {
      w.nest(CTA_PROTOINFO.TCP);
      w.u8(CTA_TCP.STATE, f.tcp.state);
      if (f.tcp.wscaleOrig !== undefined) w.u8(CTA_TCP.WSCALE_ORIG, f.tcp.wscaleOrig);
      if (f.tcp.wscaleReply !== undefined) w.u8(CTA_TCP.WSCALE_REPLY, f.tcp.wscaleReply);
      if (opt.liberal) {
        w.bytes(CTA_TCP.FLAGS_ORIG, LIBERAL);
        w.bytes(CTA_TCP.FLAGS_REPLY, LIBERAL);
      }
      w.nestEnd();
    } else if (f.sctp) {
      w.nest(CTA_PROTOINFO.SCTP);
      w.u8(CTA_SCTP.STATE, f.sctp.state);
      if (f.sctp.vtagOrig !== undefined) w.u32be(CTA_SCTP.VTAG_ORIG, f.sctp.vtagOrig);
      if (f.sctp.vtagReply !== undefined) w.u32be(CTA_SCTP.VTAG_REPLY, f.sctp.vtagReply);
      w.nestEnd();
    } else if (f.dccp) {
      w.nest(CTA_PROTOINFO.DCCP);
      w.u8(CTA_DCCP.STATE, f.dccp.state);
      if (f.dccp.role !== undefined) w.u8(CTA_DCCP.ROLE, f.dccp.role);
      if (f.dccp.handshakeSeq !== undefined) w.u64be(CTA_DCCP.HANDSHAKE_SEQ, f.dccp.handshakeSeq);
      w.nestEnd();
    }
    w.nestEnd();
  }
  if (f.seqAdjOrig) encodeSeqAdj(w, CTA.SEQ_ADJ_ORIG, f.seqAdjOrig);
  if (f.seqAdjReply) encodeSeqAdj(w, CTA.SEQ_ADJ_REPLY, f.seqAdjReply);
  if (f.labels && f.labels.length) {
    const n = 4 * f.labels.length;
    const b = new Uint8Array(n), m = new Uint8Array(n);
    const dvb = new DataView(b.buffer), dvm = new DataView(m.buffer);
    f.labels.forEach((x, i) => { dvb.setUint32(4 * i, x >>> 0, true); dvm.setUint32(4 * i, 0xffffffff, true); });
    w.bytes(CTA.LABELS, b);
    w.bytes(CTA.LABELS_MASK, m);
  }
  if (f.synproxy && opt.create) {
    w.nest(CTA.SYNPROXY);
    w.u32be(CTA_SYNPROXY.ISN, f.synproxy.isn);
    w.u32be(CTA_SYNPROXY.ITS, f.synproxy.its);
    w.u32be(CTA_SYNPROXY.TSOFF, f.synproxy.tsoff);
    w.nestEnd();
  }
}

export function encodeExpectation(w: NlWriter, e: Expectation, opt: { keyOnly?: boolean } = {}): void {
  encodeTuple(w, CTA_EXPECT.MASTER, e.master, e.family);
  encodeTuple(w, CTA_EXPECT.TUPLE, e.tuple, e.family);
  encodeTuple(w, CTA_EXPECT.MASK, e.mask, e.family);
  if (e.zone) w.u16be(CTA_EXPECT.ZONE, e.zone);
  if (opt.keyOnly) return;
  if (e.timeout !== undefined) w.u32be(CTA_EXPECT.TIMEOUT, e.timeout);
  if (e.helper) w.cstr(CTA_EXPECT.HELP_NAME, e.helper);
  if (e.flags !== undefined) w.u32be(CTA_EXPECT.FLAGS, e.flags);
  if (e.class !== undefined) w.u32be(CTA_EXPECT.CLASS, e.class);
  if (e.nat) {
    w.nest(CTA_EXPECT.NAT);
    w.u32be(CTA_EXPECT_NAT.DIR, e.nat.dir);
    encodeTuple(w, CTA_EXPECT_NAT.TUPLE, e.nat.tuple, e.family);
    w.nestEnd();
  }
  if (e.fn) w.cstr(CTA_EXPECT.FN, e.fn);
}
