// The conntrackd 1.4.7 message codec: pure functions over Uint8Array, no I/O.
//
// Encoding writes one message at `off` into a caller-provided buffer (normally the datagram being
// filled, so nothing is allocated per message) and returns its length, or -1 when the flow cannot
// be expressed (a malformed address). The caller must leave MAX_MESSAGE_SIZE bytes free at `off`.
//
//   encodeControl(buf, off, flags, seq, from?, to?)          -> 8 or 16
//   encodeCt(buf, off, MSG.CT_NEW, flags, seq, flow, opts)    -> len | -1
//   encodeExp(buf, off, MSG.EXP_NEW, flags, seq, exp, opts)   -> len | -1
//
// The attribute set and order are those of the 1.4.7 sender (reference §2.4): NAT attributes are
// derived from the orig/reply tuples with natOf(); NTA_SPAT_PORT, NTA_DPAT_PORT and NTA_ICMP_ID
// go little-endian (conntrackd's double byte swap on x86); NTA_ZONE only for zone != 0;
// NTA_TIMEOUT left out when a commit timeout is configured; padding is always zeroed.
// One deliberate difference: for a NATed ICMP flow conntrackd 1.4.7 also sends SPAT/DPAT = 0
// (a libnetfilter_conntrack quirk, fixed upstream in 2026) which makes a conntrackd receiver
// commit the entry with ICMP id 0; ctsync leaves them out, and ignores them when receiving.
//
// Decoding follows conntrackd's receiver exactly (reference §1.6, §2.1):
//
//   walkDatagram(bytes, length, stats, header, visit)   framing checks, version check, then
//                                                       visit(header) for each message
//   decodeCt(bytes, off, len)  -> Flow | DECODE_MALFORMED | DECODE_NO_ADDRESS
//   decodeExp(bytes, off, len) -> Expectation | DECODE_MALFORMED | DECODE_NO_ADDRESS
//   decodeDatagram(bytes)      -> every message decoded (tools and tests; no sync-mode logic)
//
// A decoded conntrack's reply tuple is rebuilt from the orig tuple and the NAT attributes with
// replyFor(), as conntrackd does (the reply tuple never travels).
import type { Expectation, Family, Flow, Tuple } from '../flow/flow.ts';
import { STATUS } from '../flow/flow.ts';
import { type Nat, natOf, replyFor } from '../flow/nat.ts';
import { get16, get16le, get32, getAddr, put16, put16le, put32, putAddr } from './bytes.ts';
import type { SyncStats } from './stats.ts';
import { KEY, KEY_SIZE } from '../flow/key.ts';
import {
  CT_ATTR_SIZE, EXP_ATTR_SIZE, EXP_FN_MAX, FLAG, HELPER_NAME_MAX, KERNEL_LABEL_WORDS, LABEL_WORDS_MAX,
  MSG, MSG_STATE_MAX, NETHDR_ACK_SIZE, NETHDR_SIZE, NTA, NTA_EXP, NTA_EXP_MAX, NTA_MAX, PROTOCOL_VERSION,
  RANGE_FLAGS, type CtMsgType, type ExpMsgType, align4,
} from './wire.ts';

export interface EncodeOptions {
  /** a CommitTimeout is configured: NTA_TIMEOUT / NTA_EXP_TIMEOUT are left out (as conntrackd) */
  commitTimeout?: boolean;
  /** TCPWindowTracking on: the TCP window scale factors are sent */
  tcpWindowTracking?: boolean;
}

/** Counters the encoder bumps when it leaves something out. */
export type EncodeCounters = Pick<SyncStats, 'sndHelperOmitted' | 'sndLabelsOmitted'>;

// ---------------------------------------------------------------- headers

export function writeHeader(b: Uint8Array, o: number, type: number, flags: number, len: number, seq: number): void {
  b[o] = (PROTOCOL_VERSION << 4) | (type & 0x0f);
  b[o + 1] = flags & 0xff;
  put16(b, o + 2, len);
  put32(b, o + 4, seq >>> 0);
}

/** A control message: 16 bytes with from/to for ACK, NACK and RESYNC, else 8 (ALIVE). */
export function encodeControl(b: Uint8Array, o: number, flags: number, seq: number, from = 0, to = 0): number {
  if (flags & RANGE_FLAGS) {
    writeHeader(b, o, MSG.CTL, flags, NETHDR_ACK_SIZE, seq);
    put32(b, o + 8, from >>> 0);
    put32(b, o + 12, to >>> 0);
    return NETHDR_ACK_SIZE;
  }
  writeHeader(b, o, MSG.CTL, flags, NETHDR_SIZE, seq);
  return NETHDR_SIZE;
}

// ---------------------------------------------------------------- attribute writers
// Each returns the offset after the attribute and its zeroed padding.

function attr8(b: Uint8Array, o: number, id: number, v: number): number {
  put16(b, o, 5);
  put16(b, o + 2, id);
  b[o + 4] = v & 0xff;
  b[o + 5] = 0; b[o + 6] = 0; b[o + 7] = 0;
  return o + 8;
}
function attr16(b: Uint8Array, o: number, id: number, v: number, le: boolean): number {
  put16(b, o, 6);
  put16(b, o + 2, id);
  if (le) put16le(b, o + 4, v); else put16(b, o + 4, v);
  b[o + 6] = 0; b[o + 7] = 0;
  return o + 8;
}
function attr32(b: Uint8Array, o: number, id: number, v: number): number {
  put16(b, o, 8);
  put16(b, o + 2, id);
  put32(b, o + 4, v >>> 0);
  return o + 8;
}
function attrPorts(b: Uint8Array, o: number, id: number, sport: number | undefined, dport: number | undefined): number {
  put16(b, o, 8);
  put16(b, o + 2, id);
  put16(b, o + 4, sport ?? 0);
  put16(b, o + 6, dport ?? 0);
  return o + 8;
}
/** src+dst of one family; -1 on a malformed address. */
function attrAddrs(b: Uint8Array, o: number, id: number, src: string, dst: string, fam: Family): number {
  const n = fam === 4 ? 4 : 16;
  put16(b, o, 4 + 2 * n);
  put16(b, o + 2, id);
  if (!putAddr(b, o + 4, src, fam) || !putAddr(b, o + 4 + n, dst, fam)) return -1;
  return o + 4 + 2 * n;
}
function attrAddr(b: Uint8Array, o: number, id: number, a: string, fam: Family): number {
  const n = fam === 4 ? 4 : 16;
  put16(b, o, 4 + n);
  put16(b, o + 2, id);
  if (!putAddr(b, o + 4, a, fam)) return -1;
  return o + 4 + n;
}
/** NUL-terminated string; the caller has checked the length. */
function attrStr(b: Uint8Array, o: number, id: number, s: string): number {
  const n = s.length + 1;
  put16(b, o, 4 + n);
  put16(b, o + 2, id);
  for (let i = 0; i < s.length; i++) b[o + 4 + i] = s.charCodeAt(i) & 0xff;
  const end = o + 4 + n;
  b[end - 1] = 0;
  const padded = o + align4(4 + n);
  for (let i = end; i < padded; i++) b[i] = 0;
  return padded;
}

function isAsciiName(s: string, max: number): boolean {
  if (s.length === 0 || s.length > max) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c > 0x7e) return false;
  }
  return true;
}

/** Protocols whose conntracks carry NTA_PORT in 1.4.7 (UDPLITE and GRE carry nothing). */
function sendsPorts(proto: number): boolean {
  return proto === 6 || proto === 17 || proto === 132 || proto === 33;
}

// ---------------------------------------------------------------- conntrack

/** Encodes a conntrack message (type CT_NEW/UPD/DEL); returns its length or -1. */
export function encodeCt(
  b: Uint8Array, off: number, type: CtMsgType, flags: number, seq: number, f: Flow,
  opt: EncodeOptions = {}, counters?: EncodeCounters,
): number {
  const fam = f.family;
  const t = f.orig;
  const proto = t.proto;
  let o = attrAddrs(b, off + NETHDR_SIZE, fam === 4 ? NTA.IPV4 : NTA.IPV6, t.src, t.dst, fam);
  if (o < 0) return -1;
  o = attr32(b, o, NTA.STATUS, f.status);
  o = attr8(b, o, NTA.L4PROTO, proto);

  if (sendsPorts(proto)) {
    o = attrPorts(b, o, NTA.PORT, t.sport, t.dport);
    if (proto === 6) {
      if (f.tcp) {
        o = attr8(b, o, NTA.TCP_STATE, f.tcp.state);
        if (opt.tcpWindowTracking) {
          o = attr8(b, o, NTA.TCP_WSCALE_ORIG, f.tcp.wscaleOrig ?? 0);
          o = attr8(b, o, NTA.TCP_WSCALE_REPL, f.tcp.wscaleReply ?? 0);
        }
      }
    } else if (proto === 132) {
      if (f.sctp) {
        o = attr8(b, o, NTA.SCTP_STATE, f.sctp.state);
        o = attr32(b, o, NTA.SCTP_VTAG_ORIG, f.sctp.vtagOrig ?? 0);
        o = attr32(b, o, NTA.SCTP_VTAG_REPL, f.sctp.vtagReply ?? 0);
      }
    } else if (proto === 33) {
      if (f.dccp) {
        o = attr8(b, o, NTA.DCCP_STATE, f.dccp.state);
        o = attr8(b, o, NTA.DCCP_ROLE, f.dccp.role ?? 0);
      }
    }
  } else if ((proto === 1 || proto === 58) && t.icmpType !== undefined) {
    o = attr8(b, o, NTA.ICMP_TYPE, t.icmpType);
    o = attr8(b, o, NTA.ICMP_CODE, t.icmpCode ?? 0);
    o = attr16(b, o, NTA.ICMP_ID, t.icmpId ?? 0, true);
  }

  if (!opt.commitTimeout && f.timeout !== undefined) o = attr32(b, o, NTA.TIMEOUT, f.timeout);
  if (f.mark !== undefined) o = attr32(b, o, NTA.MARK, f.mark);

  const m = f.master;
  if (m) {
    o = attrAddrs(b, o, fam === 4 ? NTA.MASTER_IPV4 : NTA.MASTER_IPV6, m.src, m.dst, fam);
    if (o < 0) return -1;
    o = attr8(b, o, NTA.MASTER_L4PROTO, m.proto);
    if (m.sport !== undefined || m.dport !== undefined) o = attrPorts(b, o, NTA.MASTER_PORT, m.sport, m.dport);
  }

  if (f.status & (STATUS.SRC_NAT_DONE | STATUS.DST_NAT_DONE)) {
    const nat = natOf(f);
    if (nat.snat && nat.snat.addr !== t.src) {
      o = attrAddr(b, o, fam === 4 ? NTA.SNAT_IPV4 : NTA.SNAT_IPV6, nat.snat.addr, fam);
      if (o < 0) return -1;
    }
    if (nat.dnat && nat.dnat.addr !== t.dst) {
      o = attrAddr(b, o, fam === 4 ? NTA.DNAT_IPV4 : NTA.DNAT_IPV6, nat.dnat.addr, fam);
      if (o < 0) return -1;
    }
    if (nat.snat?.port !== undefined) o = attr16(b, o, NTA.SPAT_PORT, nat.snat.port, true);
    if (nat.dnat?.port !== undefined) o = attr16(b, o, NTA.DPAT_PORT, nat.dnat.port, true);
  }

  if (f.seqAdjOrig && f.seqAdjReply) {
    put16(b, o, 28);
    put16(b, o + 2, NTA.NAT_SEQ_ADJ);
    put32(b, o + 4, f.seqAdjOrig.correctionPos >>> 0);
    put32(b, o + 8, f.seqAdjOrig.offsetBefore >>> 0);
    put32(b, o + 12, f.seqAdjOrig.offsetAfter >>> 0);
    put32(b, o + 16, f.seqAdjReply.correctionPos >>> 0);
    put32(b, o + 20, f.seqAdjReply.offsetBefore >>> 0);
    put32(b, o + 24, f.seqAdjReply.offsetAfter >>> 0);
    o += 28;
  }

  if (f.helper) {
    // a longer name would make the receiver drop the whole message as malformed
    if (isAsciiName(f.helper, HELPER_NAME_MAX)) o = attrStr(b, o, NTA.HELPER_NAME, f.helper);
    else if (counters) counters.sndHelperOmitted++;
  }

  const labels = f.labels;
  if (labels && labels.length) {
    let last = labels.length - 1;
    while (last >= 0 && (labels[last] >>> 0) === 0) last--;
    if (last >= 0) {
      // the kernel's 128-bit label area: conntrackd sends all of its words
      const words = Math.max(last + 1, KERNEL_LABEL_WORDS);
      if (words <= LABEL_WORDS_MAX) {
        put16(b, o, 4 + 4 * words);
        put16(b, o + 2, NTA.LABELS);
        for (let i = 0; i < words; i++) put32(b, o + 4 + 4 * i, i <= last ? labels[i] >>> 0 : 0);
        o += 4 + 4 * words;
      } else if (counters) counters.sndLabelsOmitted++;
    }
  }

  if (f.synproxy) {
    put16(b, o, 16);
    put16(b, o + 2, NTA.SYNPROXY);
    put32(b, o + 4, f.synproxy.its >>> 0);
    put32(b, o + 8, f.synproxy.isn >>> 0);
    put32(b, o + 12, f.synproxy.tsoff >>> 0);
    o += 16;
  }

  if (f.zone) o = attr16(b, o, NTA.ZONE, f.zone, false);

  const len = o - off;
  writeHeader(b, off, type, flags, len, seq);
  return len;
}

// ---------------------------------------------------------------- expectation

/** Encodes an expectation message (type EXP_NEW/UPD/DEL); returns its length or -1. */
export function encodeExp(
  b: Uint8Array, off: number, type: ExpMsgType, flags: number, seq: number, e: Expectation,
  opt: EncodeOptions = {}, counters?: EncodeCounters,
): number {
  const fam = e.family;
  // port groups follow the master's protocol, for every tuple of the expectation
  const ports = sendsPorts(e.master.proto);
  let o = off + NETHDR_SIZE;
  const group = (t: Tuple, ipv4: number, ipv6: number, l4: number, port: number): number => {
    o = attrAddrs(b, o, fam === 4 ? ipv4 : ipv6, t.src, t.dst, fam);
    if (o < 0) return -1;
    o = attr8(b, o, l4, t.proto);
    if (ports) o = attrPorts(b, o, port, t.sport, t.dport);
    return o;
  };
  if (group(e.master, NTA_EXP.MASTER_IPV4, NTA_EXP.MASTER_IPV6, NTA_EXP.MASTER_L4PROTO, NTA_EXP.MASTER_PORT) < 0) return -1;
  if (group(e.tuple, NTA_EXP.EXPECT_IPV4, NTA_EXP.EXPECT_IPV6, NTA_EXP.EXPECT_L4PROTO, NTA_EXP.EXPECT_PORT) < 0) return -1;
  if (group(e.mask, NTA_EXP.MASK_IPV4, NTA_EXP.MASK_IPV6, NTA_EXP.MASK_L4PROTO, NTA_EXP.MASK_PORT) < 0) return -1;
  if (!opt.commitTimeout && e.timeout !== undefined) o = attr32(b, o, NTA_EXP.TIMEOUT, e.timeout);
  o = attr32(b, o, NTA_EXP.FLAGS, e.flags ?? 0);
  if (e.class !== undefined) o = attr32(b, o, NTA_EXP.CLASS, e.class);
  if (e.nat) {
    const t = e.nat.tuple;
    if (fam === 4) {
      o = attrAddrs(b, o, NTA_EXP.NAT_IPV4, t.src, t.dst, 4);
      if (o < 0) return -1;
    }
    o = attr8(b, o, NTA_EXP.NAT_L4PROTO, t.proto);
    if (ports) o = attrPorts(b, o, NTA_EXP.NAT_PORT, t.sport, t.dport);
    o = attr32(b, o, NTA_EXP.NAT_DIR, e.nat.dir);
  }
  if (e.helper) {
    if (isAsciiName(e.helper, HELPER_NAME_MAX)) o = attrStr(b, o, NTA_EXP.HELPER_NAME, e.helper);
    else if (counters) counters.sndHelperOmitted++;
  }
  if (e.fn) {
    if (isAsciiName(e.fn, EXP_FN_MAX)) o = attrStr(b, o, NTA_EXP.FN, e.fn);
    else if (counters) counters.sndHelperOmitted++;
  }
  const len = o - off;
  writeHeader(b, off, type, flags, len, seq);
  return len;
}

// ---------------------------------------------------------------- receiving

/** One message header, host order; a single object is reused across a datagram walk. */
export interface MsgHeader {
  version: number;
  type: number;
  flags: number;
  len: number;
  seq: number;
  /** ACK, NACK, RESYNC only (0 otherwise) */
  from: number;
  to: number;
  /** offset of the message in the datagram */
  off: number;
}

export function newHeader(): MsgHeader {
  return { version: 0, type: 0, flags: 0, len: 0, seq: 0, from: 0, to: 0, off: 0 };
}

export type FramingCounters = Pick<SyncStats, 'rcvMalformed' | 'rcvTruncated' | 'rcvBadSize' | 'rcvBadVersion'>;

/**
 * Walks a datagram message by message with conntrackd's framing checks; a framing error ends the
 * walk, a wrong version skips one message. `visit` gets each well-framed version-1 message.
 */
export function walkDatagram(
  b: Uint8Array, length: number, stats: FramingCounters, h: MsgHeader, visit: (h: MsgHeader) => void,
): void {
  let p = 0;
  let remain = length;
  while (remain > 0) {
    if (remain < NETHDR_SIZE) { stats.rcvMalformed++; stats.rcvTruncated++; return; }
    const len = get16(b, p + 2);
    if (len === 0 || len > remain) { stats.rcvMalformed++; stats.rcvBadSize++; return; }
    const type = b[p] & 0x0f;
    const flags = b[p + 1];
    const range = type === MSG.CTL && (flags & RANGE_FLAGS) !== 0;
    if (range) {
      if (remain < NETHDR_ACK_SIZE) { stats.rcvMalformed++; stats.rcvTruncated++; return; }
      if (len < NETHDR_ACK_SIZE) { stats.rcvMalformed++; stats.rcvBadSize++; return; }
    } else if (len < NETHDR_SIZE) {
      stats.rcvMalformed++; stats.rcvBadSize++; return;
    }
    h.version = b[p] >> 4;
    h.type = type;
    h.flags = flags;
    h.len = len;
    h.seq = get32(b, p + 4);
    h.from = range ? get32(b, p + 8) : 0;
    h.to = range ? get32(b, p + 12) : 0;
    h.off = p;
    if (h.version !== PROTOCOL_VERSION) { stats.rcvMalformed++; stats.rcvBadVersion++; }
    else visit(h);
    p += len;
    remain -= len;
  }
}

export const DECODE_MALFORMED = -1;
/** A conntrack without IPV4/IPV6 tuple (or an expectation without master addresses). */
export const DECODE_NO_ADDRESS = -2;

/**
 * Walks the attributes of the message at `off` with conntrackd's checks and calls `each` for every
 * well-formed one. Returns false when the message must be dropped as a malformed payload.
 */
function eachAttr(
  b: Uint8Array, off: number, len: number, max: number, sizes: readonly number[],
  each: (id: number, p: number, n: number) => void,
): boolean {
  let rem = len - NETHDR_SIZE;
  let p = off + NETHDR_SIZE;
  while (rem > 4) {
    const n = get16(b, p);
    const id = get16(b, p + 2);
    if (n > rem || n < 4 || id >= max) return false;
    const size = sizes[id];
    if (size > 0 ? n !== size : n > -size) return false;
    each(id, p + 4, n - 4);
    const adv = align4(n);
    p += adv;
    rem -= adv;
  }
  return true;
}

function readStr(b: Uint8Array, p: number, n: number): string {
  let s = '';
  for (let i = 0; i < n && b[p + i] !== 0; i++) s += String.fromCharCode(b[p + i]);
  return s;
}

/** Label words from the wire, trailing zero words trimmed; undefined when no bit is set. */
function readLabels(b: Uint8Array, p: number, n: number): number[] | undefined {
  // conntrackd ignores (does not reject) a label payload that is not whole words
  if (n === 0 || n & 3) return undefined;
  let words = n >> 2;
  while (words > 0 && get32(b, p + 4 * (words - 1)) === 0) words--;
  if (words === 0) return undefined;
  const out = new Array<number>(words);
  for (let i = 0; i < words; i++) out[i] = get32(b, p + 4 * i);
  return out;
}

/** Decodes the conntrack message at `off` (its header already validated). */
export function decodeCt(b: Uint8Array, off: number, len: number): Flow | number {
  let fam: 0 | Family = 0;
  let src = '', dst = '';
  let proto = 0, status = 0;
  let sport: number | undefined, dport: number | undefined;
  let icmpType: number | undefined, icmpCode: number | undefined, icmpId: number | undefined;
  let tcpState: number | undefined, wsOrig: number | undefined, wsReply: number | undefined;
  let sctpState: number | undefined, vtagOrig: number | undefined, vtagReply: number | undefined;
  let dccpState: number | undefined, dccpRole: number | undefined;
  let timeout: number | undefined, mark: number | undefined, zone: number | undefined;
  let mFam: 0 | Family = 0, mSrc = '', mDst = '';
  let mProto: number | undefined, mSport: number | undefined, mDport: number | undefined;
  let snat4: string | undefined, dnat4: string | undefined, snat6: string | undefined, dnat6: string | undefined;
  let spat: number | undefined, dpat: number | undefined;
  let seqAdj: number[] | undefined;
  let helper: string | undefined, labels: number[] | undefined;
  let synproxy: Flow['synproxy'];

  const ok = eachAttr(b, off, len, NTA_MAX, CT_ATTR_SIZE, (id, p, n) => {
    switch (id) {
      case NTA.IPV4: fam = 4; src = getAddr(b, p, 4); dst = getAddr(b, p + 4, 4); break;
      case NTA.IPV6: fam = 6; src = getAddr(b, p, 6); dst = getAddr(b, p + 16, 6); break;
      case NTA.L4PROTO: proto = b[p]; break;
      case NTA.PORT: sport = get16(b, p); dport = get16(b, p + 2); break;
      case NTA.TCP_STATE: tcpState = b[p]; break;
      case NTA.STATUS: status = get32(b, p); break;
      case NTA.TIMEOUT: timeout = get32(b, p); break;
      case NTA.MARK: mark = get32(b, p); break;
      case NTA.MASTER_IPV4: mFam = 4; mSrc = getAddr(b, p, 4); mDst = getAddr(b, p + 4, 4); break;
      case NTA.MASTER_IPV6: mFam = 6; mSrc = getAddr(b, p, 6); mDst = getAddr(b, p + 16, 6); break;
      case NTA.MASTER_L4PROTO: mProto = b[p]; break;
      case NTA.MASTER_PORT: mSport = get16(b, p); mDport = get16(b, p + 2); break;
      case NTA.SNAT_IPV4: snat4 = getAddr(b, p, 4); break;
      case NTA.DNAT_IPV4: dnat4 = getAddr(b, p, 4); break;
      case NTA.SPAT_PORT: spat = get16le(b, p); break;
      case NTA.DPAT_PORT: dpat = get16le(b, p); break;
      case NTA.NAT_SEQ_ADJ: seqAdj = [0, 4, 8, 12, 16, 20].map((k) => get32(b, p + k)); break;
      case NTA.SCTP_STATE: sctpState = b[p]; break;
      case NTA.SCTP_VTAG_ORIG: vtagOrig = get32(b, p); break;
      case NTA.SCTP_VTAG_REPL: vtagReply = get32(b, p); break;
      case NTA.DCCP_STATE: dccpState = b[p]; break;
      case NTA.DCCP_ROLE: dccpRole = b[p]; break;
      case NTA.ICMP_TYPE: icmpType = b[p]; break;
      case NTA.ICMP_CODE: icmpCode = b[p]; break;
      case NTA.ICMP_ID: icmpId = get16le(b, p); break;
      case NTA.TCP_WSCALE_ORIG: wsOrig = b[p]; break;
      case NTA.TCP_WSCALE_REPL: wsReply = b[p]; break;
      case NTA.HELPER_NAME: helper = readStr(b, p, n) || undefined; break;
      case NTA.LABELS: labels = readLabels(b, p, n); break;
      case NTA.SNAT_IPV6: snat6 = getAddr(b, p, 6); break;
      case NTA.DNAT_IPV6: dnat6 = getAddr(b, p, 6); break;
      case NTA.SYNPROXY: synproxy = { its: get32(b, p), isn: get32(b, p + 4), tsoff: get32(b, p + 8) }; break;
      case NTA.ZONE: zone = get16(b, p); break;
    }
  });
  if (!ok) return DECODE_MALFORMED;
  if (fam === 0) return DECODE_NO_ADDRESS;
  // a master of the other family cannot belong to this conntrack (nor be cached or committed)
  if (mFam !== 0 && mFam !== fam) return DECODE_MALFORMED;

  const orig: Tuple = { src, dst, proto };
  if (sport !== undefined) { orig.sport = sport; orig.dport = dport; }
  if (icmpType !== undefined || icmpCode !== undefined || icmpId !== undefined) {
    orig.icmpType = icmpType ?? 0;
    orig.icmpCode = icmpCode ?? 0;
    orig.icmpId = icmpId ?? 0;
  }
  // conntrackd 1.4.7 sends SPAT/DPAT for NATed ICMP flows too, always 0 (libnetfilter_conntrack
  // compares the ICMP id with type/code as if they were ports): they carry nothing
  if (proto === 1 || proto === 58) spat = dpat = undefined;
  const nat: Nat = {};
  const snatAddr = fam === 4 ? snat4 : snat6;
  const dnatAddr = fam === 4 ? dnat4 : dnat6;
  if (snatAddr !== undefined || spat !== undefined) {
    nat.snat = { addr: snatAddr ?? src };
    if (spat !== undefined) nat.snat.port = spat;
  }
  if (dnatAddr !== undefined || dpat !== undefined) {
    nat.dnat = { addr: dnatAddr ?? dst };
    if (dpat !== undefined) nat.dnat.port = dpat;
  }
  const f: Flow = { family: fam, orig, reply: replyFor(orig, nat), status };
  if (timeout !== undefined) f.timeout = timeout;
  if (mark !== undefined) f.mark = mark;
  if (zone) f.zone = zone;
  if (tcpState !== undefined || wsOrig !== undefined || wsReply !== undefined) {
    f.tcp = { state: tcpState ?? 0 };
    if (wsOrig !== undefined) f.tcp.wscaleOrig = wsOrig;
    if (wsReply !== undefined) f.tcp.wscaleReply = wsReply;
  }
  if (sctpState !== undefined || vtagOrig !== undefined || vtagReply !== undefined) {
    f.sctp = { state: sctpState ?? 0 };
    if (vtagOrig !== undefined) f.sctp.vtagOrig = vtagOrig;
    if (vtagReply !== undefined) f.sctp.vtagReply = vtagReply;
  }
  if (dccpState !== undefined || dccpRole !== undefined) {
    f.dccp = { state: dccpState ?? 0 };
    if (dccpRole !== undefined) f.dccp.role = dccpRole;
  }
  if (seqAdj) {
    f.seqAdjOrig = { correctionPos: seqAdj[0], offsetBefore: seqAdj[1], offsetAfter: seqAdj[2] };
    f.seqAdjReply = { correctionPos: seqAdj[3], offsetBefore: seqAdj[4], offsetAfter: seqAdj[5] };
  }
  if (helper !== undefined) f.helper = helper;
  if (labels !== undefined) f.labels = labels;
  if (mFam !== 0 || mProto !== undefined || mSport !== undefined) {
    const mf = mFam === 0 ? fam : mFam;
    const master: Tuple = {
      src: mFam === 0 ? (mf === 4 ? '0.0.0.0' : '::') : mSrc,
      dst: mFam === 0 ? (mf === 4 ? '0.0.0.0' : '::') : mDst,
      proto: mProto ?? 0,
    };
    if (mSport !== undefined) { master.sport = mSport; master.dport = mDport; }
    f.master = master;
  }
  if (synproxy) f.synproxy = synproxy;
  return f;
}

/**
 * Checks the conntrack message at `off` exactly as decodeCt does and writes its binary key
 * (src/flow/key.ts) at key[ko..ko+40), without building a Flow: 0 when the message is good,
 * DECODE_MALFORMED or DECODE_NO_ADDRESS otherwise. scanCt(m) === 0 exactly when decodeCt(m) is a
 * Flow, and the key is then the one src/cache/key.ts writes for that Flow.
 */
export function scanCt(b: Uint8Array, off: number, len: number, key: Uint8Array, ko: number): number {
  let rem = len - NETHDR_SIZE;
  let p = off + NETHDR_SIZE;
  let fam = 0, proto = 0, zone = 0, src = -1, dst = -1, mFam = 0;
  let port = -1, icmpType = -1, icmpCode = -1, icmpId = -1;
  while (rem > 4) {
    const n = (b[p] << 8) | b[p + 1];
    const id = (b[p + 2] << 8) | b[p + 3];
    if (n > rem || n < 4 || id >= NTA_MAX) return DECODE_MALFORMED;
    const size = CT_ATTR_SIZE[id];
    if (size > 0 ? n !== size : n > -size) return DECODE_MALFORMED;
    const v = p + 4;
    switch (id) {
      case NTA.IPV4: fam = 4; src = v; dst = v + 4; break;
      case NTA.IPV6: fam = 6; src = v; dst = v + 16; break;
      case NTA.L4PROTO: proto = b[v]; break;
      case NTA.PORT: port = v; break;
      case NTA.ICMP_TYPE: icmpType = b[v]; break;
      case NTA.ICMP_CODE: icmpCode = b[v]; break;
      case NTA.ICMP_ID: icmpId = b[v] | (b[v + 1] << 8); break;
      case NTA.ZONE: zone = (b[v] << 8) | b[v + 1]; break;
      case NTA.MASTER_IPV4: mFam = 4; break;
      case NTA.MASTER_IPV6: mFam = 6; break;
    }
    const adv = (n + 3) & ~3;
    p += adv;
    rem -= adv;
  }
  if (fam === 0) return DECODE_NO_ADDRESS;
  if (mFam !== 0 && mFam !== fam) return DECODE_MALFORMED;
  // a loop, not fill(): a builtin call per message costs more than the 40 stores
  for (let i = 0; i < KEY_SIZE; i++) key[ko + i] = 0;
  key[ko + KEY.FAMILY] = fam;
  key[ko + KEY.PROTO] = proto;
  key[ko + KEY.ZONE] = zone >>> 8;
  key[ko + KEY.ZONE + 1] = zone & 0xff;
  const n = fam === 4 ? 4 : 16;
  for (let i = 0; i < n; i++) {
    key[ko + KEY.SRC + i] = b[src + i];
    key[ko + KEY.DST + i] = b[dst + i];
  }
  if (port >= 0) {
    key[ko + KEY.A] = b[port]; key[ko + KEY.A + 1] = b[port + 1];
    key[ko + KEY.B] = b[port + 2]; key[ko + KEY.B + 1] = b[port + 3];
  } else if (icmpType >= 0 || icmpCode >= 0 || icmpId >= 0) {
    key[ko + KEY.A] = icmpType < 0 ? 0 : icmpType;
    key[ko + KEY.A + 1] = icmpCode < 0 ? 0 : icmpCode;
    const id = icmpId < 0 ? 0 : icmpId;
    key[ko + KEY.B] = id >>> 8; key[ko + KEY.B + 1] = id & 0xff;
  }
  return 0;
}

/** Decodes the expectation message at `off` (its header already validated). */
export function decodeExp(b: Uint8Array, off: number, len: number): Expectation | number {
  interface G { fam: 0 | Family; src: string; dst: string; proto?: number; sport?: number; dport?: number }
  const g: G[] = [{ fam: 0, src: '', dst: '' }, { fam: 0, src: '', dst: '' }, { fam: 0, src: '', dst: '' }, { fam: 0, src: '', dst: '' }];
  let natSeen = false;
  let timeout: number | undefined, flags: number | undefined, cls: number | undefined, dir: number | undefined;
  let helper: string | undefined, fn: string | undefined;
  const ok = eachAttr(b, off, len, NTA_EXP_MAX, EXP_ATTR_SIZE, (id, p, n) => {
    if (id < 12) {
      const x = g[id >> 2];
      switch (id & 3) {
        case 0: x.fam = 4; x.src = getAddr(b, p, 4); x.dst = getAddr(b, p + 4, 4); break;
        case 1: x.fam = 6; x.src = getAddr(b, p, 6); x.dst = getAddr(b, p + 16, 6); break;
        case 2: x.proto = b[p]; break;
        case 3: x.sport = get16(b, p); x.dport = get16(b, p + 2); break;
      }
      return;
    }
    switch (id) {
      case NTA_EXP.TIMEOUT: timeout = get32(b, p); break;
      case NTA_EXP.FLAGS: flags = get32(b, p); break;
      case NTA_EXP.CLASS: cls = get32(b, p); break;
      case NTA_EXP.NAT_IPV4: natSeen = true; g[3].fam = 4; g[3].src = getAddr(b, p, 4); g[3].dst = getAddr(b, p + 4, 4); break;
      case NTA_EXP.NAT_PORT: natSeen = true; g[3].sport = get16(b, p); g[3].dport = get16(b, p + 2); break;
      case NTA_EXP.NAT_L4PROTO: natSeen = true; g[3].proto = b[p]; break;
      case NTA_EXP.NAT_DIR: natSeen = true; dir = get32(b, p); break;
      case NTA_EXP.HELPER_NAME: helper = readStr(b, p, n) || undefined; break;
      case NTA_EXP.FN: fn = readStr(b, p, n) || undefined; break;
    }
  });
  if (!ok) return DECODE_MALFORMED;
  const fam = g[0].fam || g[1].fam;
  if (fam === 0) return DECODE_NO_ADDRESS;
  if (g.some((x) => x.fam !== 0 && x.fam !== fam)) return DECODE_MALFORMED;
  const any = fam === 4 ? '0.0.0.0' : '::';
  const tuple = (x: G): Tuple => {
    const t: Tuple = { src: x.fam ? x.src : any, dst: x.fam ? x.dst : any, proto: x.proto ?? 0 };
    if (x.sport !== undefined) { t.sport = x.sport; t.dport = x.dport; }
    return t;
  };
  const e: Expectation = { family: fam, master: tuple(g[0]), tuple: tuple(g[1]), mask: tuple(g[2]) };
  if (timeout !== undefined) e.timeout = timeout;
  if (flags !== undefined) e.flags = flags;
  if (cls !== undefined) e.class = cls;
  if (natSeen) e.nat = { dir: dir ?? 0, tuple: tuple(g[3]) };
  if (helper !== undefined) e.helper = helper;
  if (fn !== undefined) e.fn = fn;
  return e;
}

// ---------------------------------------------------------------- convenience

export interface DecodedMessage {
  type: number;
  flags: number;
  seq: number;
  len: number;
  from?: number;
  to?: number;
  flow?: Flow;
  exp?: Expectation;
  /** set for data messages whose payload was rejected */
  error?: 'malformed' | 'no-address';
  /** the message bytes (a view into the datagram) */
  bytes: Uint8Array;
}

/** Decodes every message of a datagram, without any sync-mode logic (tools, captures, tests). */
export function decodeDatagram(bytes: Uint8Array, stats?: FramingCounters): DecodedMessage[] {
  const out: DecodedMessage[] = [];
  const st = stats ?? { rcvMalformed: 0, rcvTruncated: 0, rcvBadSize: 0, rcvBadVersion: 0 };
  walkDatagram(bytes, bytes.length, st, newHeader(), (h) => {
    const m: DecodedMessage = { type: h.type, flags: h.flags, seq: h.seq, len: h.len, bytes: bytes.subarray(h.off, h.off + h.len) };
    if (h.type === MSG.CTL) {
      if (h.flags & RANGE_FLAGS) { m.from = h.from; m.to = h.to; }
    } else if (h.type <= MSG_STATE_MAX) {
      const r = h.type <= MSG.CT_DEL ? decodeCt(bytes, h.off, h.len) : decodeExp(bytes, h.off, h.len);
      if (typeof r === 'number') m.error = r === DECODE_MALFORMED ? 'malformed' : 'no-address';
      else if (h.type <= MSG.CT_DEL) m.flow = r as Flow;
      else m.exp = r as Expectation;
    }
    out.push(m);
  });
  return out;
}

/** Flags that make a message a control message of a known kind. */
export const CONTROL_FLAGS = FLAG.ACK | FLAG.NACK | FLAG.RESYNC | FLAG.ALIVE;
