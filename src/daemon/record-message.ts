// The sender's fast path: a conntrack record read from the BPF ring buffer (the fixed layout of
// src/kernel/bpf/ctsync.gen.ts) turned straight into the conntrackd wire message the internal
// cache stores and the sync mode sends, and into the flow's binary cache key, with no Flow, no
// address string and no allocation.
//
// The result is byte for byte what the slow path makes of the same record:
//   encodeCt(decodeRecord(record).flow, { commitTimeout: false, tcpWindowTracking: true })
// and writeFlowKey(that flow). A record whose Flow the cache would have to keep (traffic
// counters, secmark, tuple zones, an odd helper name, a reply tuple the NAT attributes do not
// rebuild, ...: see needsFlow in src/cache/cache.ts) is refused (-1) and takes the slow path.
// test/unit/record-message.test.ts checks both claims on generated records.
import { icmpReplyType } from '../flow/flow.ts';
import { sameAddr } from '../flow/addr.ts';
import { LAYOUT, PRESENT as P, TUPLE_HAVE as T } from '../kernel/bpf/ctsync.gen.ts';
import { KEY, KEY_SIZE } from '../flow/key.ts';
import { NETHDR_SIZE, NTA, HELPER_NAME_MAX } from '../sync/wire.ts';

const R = LAYOUT.ct_record;
const TU = LAYOUT.ct_tuple;
const AF_INET6 = 10;
const SRC_NAT_DONE = 0x80, DST_NAT_DONE = 0x100;

/** the record needs the Flow path */
export const RECORD_SLOW = -1;

let lastBuffer: ArrayBufferLike | undefined;
let bytes: Uint8Array = new Uint8Array(0);

function view(dv: DataView): Uint8Array {
  if (dv.buffer !== lastBuffer) {
    lastBuffer = dv.buffer;
    bytes = new Uint8Array(dv.buffer);
  }
  return bytes;
}

const u16 = (b: Uint8Array, o: number) => (b[o] << 8) | b[o + 1];
const u32le = (b: Uint8Array, o: number) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;



// attribute writers: header (len, id) big-endian, padding zeroed; each returns the next offset
function hdr(m: Uint8Array, w: number, len: number, id: number): number {
  m[w] = len >>> 8; m[w + 1] = len & 0xff; m[w + 2] = 0; m[w + 3] = id;
  return w + 4;
}
function a8(m: Uint8Array, w: number, id: number, v: number): number {
  w = hdr(m, w, 5, id);
  m[w] = v; m[w + 1] = 0; m[w + 2] = 0; m[w + 3] = 0;
  return w + 4;
}
function a32(m: Uint8Array, w: number, id: number, b: Uint8Array, src: number): number {
  w = hdr(m, w, 8, id);
  m[w] = b[src]; m[w + 1] = b[src + 1]; m[w + 2] = b[src + 2]; m[w + 3] = b[src + 3];
  return w + 4;
}
function a32v(m: Uint8Array, w: number, id: number, v: number): number {
  w = hdr(m, w, 8, id);
  m[w] = v >>> 24; m[w + 1] = (v >>> 16) & 0xff; m[w + 2] = (v >>> 8) & 0xff; m[w + 3] = v & 0xff;
  return w + 4;
}
function a16le(m: Uint8Array, w: number, id: number, v: number): number {
  w = hdr(m, w, 6, id);
  m[w] = v & 0xff; m[w + 1] = v >>> 8; m[w + 2] = 0; m[w + 3] = 0;
  return w + 4;
}
function aPorts(m: Uint8Array, w: number, id: number, s: number, d: number): number {
  w = hdr(m, w, 8, id);
  m[w] = s >>> 8; m[w + 1] = s & 0xff; m[w + 2] = d >>> 8; m[w + 3] = d & 0xff;
  return w + 4;
}
function aAddr(m: Uint8Array, w: number, id: number, b: Uint8Array, src: number, n: number): number {
  w = hdr(m, w, 4 + n, id);
  for (let i = 0; i < n; i++) m[w + i] = b[src + i];
  return w + n;
}

/**
 * Writes the message of the record at dv[off] into m[0..] (an 8-byte header left for the sender
 * to fill) and its key into key[0..40). Returns the message length, or RECORD_SLOW.
 * The caller has checked the record is a complete conntrack record (not a pass-up marker).
 */
export function recordToMessage(dv: DataView, off: number, m: Uint8Array, key: Uint8Array): number {
  const b = view(dv);
  const o = dv.byteOffset + off;
  const p = u32le(b, o + R.present);
  const fam = b[o + R.family] === AF_INET6 ? 6 : 4;
  const alen = fam === 4 ? 4 : 16;
  const O = o + R.orig;
  const have = b[O + TU.have];
  if (((have & T.T_V6) ? 6 : 4) !== fam) return RECORD_SLOW;

  // what the stored message cannot carry (cache.ts needsFlow)
  if (p & (P.P_COUNTERS_ORIG | P.P_COUNTERS_REPLY | P.P_SECMARK)) return RECORD_SLOW;
  const zone = p & P.P_ZONE ? u16(b, o + R.zone) : -1;
  if (zone === 0 || (have & T.T_ZONE)) return RECORD_SLOW;
  if (((p & P.P_SEQADJ_ORIG) === 0) !== ((p & P.P_SEQADJ_REPLY) === 0)) return RECORD_SLOW;
  const tcp = (p & P.P_TCP) !== 0;
  const sctp = !tcp && (p & P.P_SCTP) !== 0;
  const dccp = !tcp && !sctp && (p & P.P_DCCP) !== 0;
  if (sctp && (p & (P.P_SCTP_VTAG_ORIG | P.P_SCTP_VTAG_REPLY)) !== (P.P_SCTP_VTAG_ORIG | P.P_SCTP_VTAG_REPLY)) return RECORD_SLOW;
  if (dccp && !(p & P.P_DCCP_ROLE)) return RECORD_SLOW;
  let helperLen = 0;
  if (p & P.P_HELPER_NAME) {
    const h = o + R.helper;
    while (helperLen < 16 && b[h + helperLen] !== 0) {
      const c = b[h + helperLen];
      if (c > 0x7e) return RECORD_SLOW;
      helperLen++;
    }
    if (helperLen === 0 || helperLen > HELPER_NAME_MAX) return RECORD_SLOW;
  }
  const hasReply = (p & P.P_REPLY) !== 0;
  const RT = o + R.reply;
  const rhave = hasReply ? b[RT + TU.have] : 0;
  if (hasReply && (((rhave & T.T_V6) ? 6 : 4) !== fam || (rhave & T.T_ZONE))) return RECORD_SLOW;
  const proto = b[O + TU.proto];

  // the tuples' ports and ICMP fields; -1 where the tuple has none
  const oS = have & T.T_SPORT ? u16(b, O + TU.sport) : -1;
  const oD = have & T.T_DPORT ? u16(b, O + TU.dport) : -1;
  const oIcmp = (have & T.T_ICMP) !== 0;
  const rS = rhave & T.T_SPORT ? u16(b, RT + TU.sport) : -1;
  const rD = rhave & T.T_DPORT ? u16(b, RT + TU.dport) : -1;
  const rIcmp = (rhave & T.T_ICMP) !== 0;
  const status = p & P.P_STATUS ? (((b[o + R.status] << 24) | (b[o + R.status + 1] << 16) | (b[o + R.status + 2] << 8) | b[o + R.status + 3]) >>> 0) : 0;

  // NAT as natOf derives it from the reply tuple (without one, the reply is the inverted orig)
  let snat = false, dnat = false, spat = -1, dpat = -1;
  if (hasReply && (status & SRC_NAT_DONE)) {
    const portChanged = rD >= 0 && rD !== oS;
    if (!sameAddr(b, RT + TU.dst, O + TU.src, alen) || portChanged) {
      snat = true;
      if (portChanged) spat = rD;
    }
  }
  if (hasReply && (status & DST_NAT_DONE)) {
    const portChanged = rS >= 0 && rS !== oD;
    if (!sameAddr(b, RT + TU.src, O + TU.dst, alen) || portChanged) {
      dnat = true;
      if (portChanged) dpat = rS;
    }
  }
  // the reply tuple must be the one replyFor(orig, nat) rebuilds, or the Flow is kept
  if (hasReply) {
    if (b[RT + TU.proto] !== proto) return RECORD_SLOW;
    if (!dnat && !sameAddr(b, RT + TU.src, O + TU.dst, alen)) return RECORD_SLOW;
    if (!snat && !sameAddr(b, RT + TU.dst, O + TU.src, alen)) return RECORD_SLOW;
    const origPorts = oS >= 0 || oD >= 0;
    const expS = dpat >= 0 ? dpat : origPorts && oD >= 0 ? oD : 0;
    const expD = spat >= 0 ? spat : origPorts && oS >= 0 ? oS : 0;
    if ((rS < 0 ? 0 : rS) !== expS || (rD < 0 ? 0 : rD) !== expD) return RECORD_SLOW;
    const expType = oIcmp ? icmpReplyType(proto, b[O + TU.icmp_type]) : 0;
    const expCode = oIcmp ? b[O + TU.icmp_code] : 0;
    const expId = oIcmp ? u16(b, O + TU.icmp_id) : 0;
    const gotType = rIcmp ? b[RT + TU.icmp_type] : 0;
    const gotCode = rIcmp ? b[RT + TU.icmp_code] : 0;
    const gotId = rIcmp ? u16(b, RT + TU.icmp_id) : 0;
    if (gotType !== expType || gotCode !== expCode || gotId !== expId) return RECORD_SLOW;
  } else if (oS > 0 || oD > 0 || (oIcmp && (icmpReplyType(proto, b[O + TU.icmp_type]) !== 0 || b[O + TU.icmp_code] !== 0 || u16(b, O + TU.icmp_id) !== 0))) {
    // without a reply tuple decodeRecord inverts only the addresses; replyFor would swap the
    // ports and invert the ICMP fields too
    return RECORD_SLOW;
  }

  // the master tuple is written in the flow's family
  const hasMaster = (p & P.P_MASTER) !== 0;
  const M = o + R.master;
  if (hasMaster && (((b[M + TU.have] & T.T_V6) ? 6 : 4) !== fam)) return RECORD_SLOW;

  // ---- the key (zeroed by a loop: cheaper than a call to fill() for 40 bytes)
  for (let i = 0; i < KEY_SIZE; i++) key[i] = 0;
  key[KEY.FAMILY] = fam;
  key[KEY.PROTO] = proto;
  if (zone > 0) { key[KEY.ZONE] = zone >>> 8; key[KEY.ZONE + 1] = zone & 0xff; }
  for (let i = 0; i < alen; i++) { key[KEY.SRC + i] = b[O + TU.src + i]; key[KEY.DST + i] = b[O + TU.dst + i]; }
  if (oS >= 0 || oD >= 0) {
    const s = oS < 0 ? 0 : oS, d = oD < 0 ? 0 : oD;
    key[KEY.A] = s >>> 8; key[KEY.A + 1] = s & 0xff; key[KEY.B] = d >>> 8; key[KEY.B + 1] = d & 0xff;
  } else if (oIcmp) {
    key[KEY.A] = b[O + TU.icmp_type]; key[KEY.A + 1] = b[O + TU.icmp_code];
    key[KEY.B] = b[O + TU.icmp_id]; key[KEY.B + 1] = b[O + TU.icmp_id + 1];
  }

  // ---- the message, in encodeCt's order
  let w = NETHDR_SIZE;
  w = hdr(m, w, 4 + 2 * alen, fam === 4 ? NTA.IPV4 : NTA.IPV6);
  for (let i = 0; i < alen; i++) { m[w + i] = b[O + TU.src + i]; m[w + alen + i] = b[O + TU.dst + i]; }
  w += 2 * alen;
  w = a32v(m, w, NTA.STATUS, status);
  w = a8(m, w, NTA.L4PROTO, proto);
  if (proto === 6 || proto === 17 || proto === 132 || proto === 33) {
    w = aPorts(m, w, NTA.PORT, oS < 0 ? 0 : oS, oD < 0 ? 0 : oD);
    if (proto === 6) {
      if (tcp) {
        w = a8(m, w, NTA.TCP_STATE, b[o + R.tcp_state]);
        w = a8(m, w, NTA.TCP_WSCALE_ORIG, p & P.P_TCP_WSCALE_ORIG ? b[o + R.tcp_wscale_orig] : 0);
        w = a8(m, w, NTA.TCP_WSCALE_REPL, p & P.P_TCP_WSCALE_REPLY ? b[o + R.tcp_wscale_reply] : 0);
      }
    } else if (proto === 132) {
      if (sctp) {
        w = a8(m, w, NTA.SCTP_STATE, b[o + R.sctp_state]);
        w = a32(m, w, NTA.SCTP_VTAG_ORIG, b, o + R.sctp_vtag_orig);
        w = a32(m, w, NTA.SCTP_VTAG_REPL, b, o + R.sctp_vtag_reply);
      }
    } else if (proto === 33) {
      if (dccp) {
        w = a8(m, w, NTA.DCCP_STATE, b[o + R.dccp_state]);
        w = a8(m, w, NTA.DCCP_ROLE, b[o + R.dccp_role]);
      }
    }
  } else if ((proto === 1 || proto === 58) && oIcmp) {
    w = a8(m, w, NTA.ICMP_TYPE, b[O + TU.icmp_type]);
    w = a8(m, w, NTA.ICMP_CODE, b[O + TU.icmp_code]);
    w = a16le(m, w, NTA.ICMP_ID, u16(b, O + TU.icmp_id));
  }
  if (p & P.P_TIMEOUT) w = a32(m, w, NTA.TIMEOUT, b, o + R.timeout);
  if (p & P.P_MARK) w = a32(m, w, NTA.MARK, b, o + R.mark);
  if (hasMaster) {
    const mhave = b[M + TU.have];
    w = hdr(m, w, 4 + 2 * alen, fam === 4 ? NTA.MASTER_IPV4 : NTA.MASTER_IPV6);
    for (let i = 0; i < alen; i++) { m[w + i] = b[M + TU.src + i]; m[w + alen + i] = b[M + TU.dst + i]; }
    w += 2 * alen;
    w = a8(m, w, NTA.MASTER_L4PROTO, b[M + TU.proto]);
    if (mhave & (T.T_SPORT | T.T_DPORT)) {
      w = aPorts(m, w, NTA.MASTER_PORT, mhave & T.T_SPORT ? u16(b, M + TU.sport) : 0, mhave & T.T_DPORT ? u16(b, M + TU.dport) : 0);
    }
  }
  if (status & (SRC_NAT_DONE | DST_NAT_DONE)) {
    if (snat && !sameAddr(b, RT + TU.dst, O + TU.src, alen)) w = aAddr(m, w, fam === 4 ? NTA.SNAT_IPV4 : NTA.SNAT_IPV6, b, RT + TU.dst, alen);
    if (dnat && !sameAddr(b, RT + TU.src, O + TU.dst, alen)) w = aAddr(m, w, fam === 4 ? NTA.DNAT_IPV4 : NTA.DNAT_IPV6, b, RT + TU.src, alen);
    if (spat >= 0) w = a16le(m, w, NTA.SPAT_PORT, spat);
    if (dpat >= 0) w = a16le(m, w, NTA.DPAT_PORT, dpat);
  }
  if (p & P.P_SEQADJ_ORIG) {
    w = hdr(m, w, 28, NTA.NAT_SEQ_ADJ);
    for (let i = 0; i < 12; i++) m[w + i] = b[o + R.seqadj_orig + i];
    for (let i = 0; i < 12; i++) m[w + 12 + i] = b[o + R.seqadj_reply + i];
    w += 24;
  }
  if (helperLen > 0) {
    const n = helperLen + 1;
    w = hdr(m, w, 4 + n, NTA.HELPER_NAME);
    for (let i = 0; i < helperLen; i++) m[w + i] = b[o + R.helper + i];
    m[w + helperLen] = 0;
    const padded = (4 + n + 3) & ~3;
    for (let i = n; i < padded - 4; i++) m[w + i] = 0;
    w += padded - 4;
  }
  if (p & P.P_LABELS) {
    let last = 3;
    while (last >= 0 && u32le(b, o + R.labels + 4 * last) === 0) last--;
    if (last >= 0) {
      w = hdr(m, w, 4 + 16, NTA.LABELS);
      for (let i = 0; i < 4; i++) {
        const v = i <= last ? u32le(b, o + R.labels + 4 * i) : 0;
        m[w] = v >>> 24; m[w + 1] = (v >>> 16) & 0xff; m[w + 2] = (v >>> 8) & 0xff; m[w + 3] = v & 0xff;
        w += 4;
      }
    }
  }
  if (p & P.P_SYNPROXY) {
    w = hdr(m, w, 16, NTA.SYNPROXY);
    for (let i = 0; i < 4; i++) m[w + i] = b[o + R.synproxy_its + i];
    for (let i = 0; i < 4; i++) m[w + 4 + i] = b[o + R.synproxy_isn + i];
    for (let i = 0; i < 4; i++) m[w + 8 + i] = b[o + R.synproxy_tsoff + i];
    w += 12;
  }
  if (zone > 0) {
    w = hdr(m, w, 6, NTA.ZONE);
    m[w] = zone >>> 8; m[w + 1] = zone & 0xff; m[w + 2] = 0; m[w + 3] = 0;
    w += 4;
  }
  for (let i = 0; i < NETHDR_SIZE; i++) m[i] = 0;
  return w;
}

/** Event type (0 NEW, 1 UPDATE, 2 DESTROY), origin port id and kernel stamp (ns) of a record. */
export function recordEvent(dv: DataView, off: number): number { return dv.getUint8(off + R.event); }
export function recordOrigin(dv: DataView, off: number): number { return dv.getUint32(off + R.portid, true); }
export function recordKernelNs(dv: DataView, off: number): number {
  return dv.getUint32(off + R.ktime_ns, true) + dv.getUint32(off + R.ktime_ns + 4, true) * 4294967296;
}
export function recordProto(dv: DataView, off: number): number { return dv.getUint8(off + R.orig + TU.proto); }
/** The kernel's id of the record's conntrack (CTA_ID), 0 when it carries none (a tracing record). */
export function recordKernelId(dv: DataView, off: number): number {
  return (dv.getUint32(off + R.present, true) & P.P_ID) !== 0 ? dv.getUint32(off + R.id) : 0;
}
