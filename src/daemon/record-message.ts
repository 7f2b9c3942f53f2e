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
import { LAYOUT, PRESENT as P, TUPLE_HAVE as T } from '../kernel/bpf/ctsync.gen.ts';
import { KEY, KEY_SIZE } from '../flow/key.ts';
import { NETHDR_SIZE, NTA, HELPER_NAME_MAX } from '../sync/wire.ts';

const R = LAYOUT.ct_record;
const TU = LAYOUT.ct_tuple;
const AF_INET6 = 10;
const SRC_NAT_DONE = 0x80, DST_NAT_DONE = 0x100;

/** the record needs the Flow path */
export const RECORD_SLOW = -1;

// DataViews of the message and key arrays, made again only when another array comes (the daemon
// passes the same two every time). The writers store whole big-endian words: an attribute header,
// a value or an address is one store, not four byte stores.
let lastMsg: Uint8Array | undefined;
let mv: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
let lastKey: Uint8Array | undefined;
let kv: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));

function views(m: Uint8Array, key: Uint8Array): void {
  if (m !== lastMsg) { lastMsg = m; mv = new DataView(m.buffer, m.byteOffset, m.byteLength); }
  if (key !== lastKey) { lastKey = key; kv = new DataView(key.buffer, key.byteOffset, key.byteLength); }
}

/** The n-byte addresses at x and y of dv are equal (n 4 or 16). */
function addrEq(dv: DataView, x: number, y: number, n: number): boolean {
  if (dv.getUint32(x) !== dv.getUint32(y)) return false;
  return n === 4 || (dv.getUint32(x + 4) === dv.getUint32(y + 4) && dv.getUint32(x + 8) === dv.getUint32(y + 8) && dv.getUint32(x + 12) === dv.getUint32(y + 12));
}

/** Copies the n-byte address (4 or 16) at dv[x] to mv[w]. */
function copyAddr(w: number, dv: DataView, x: number, n: number): void {
  mv.setUint32(w, dv.getUint32(x));
  if (n === 16) {
    mv.setUint32(w + 4, dv.getUint32(x + 4));
    mv.setUint32(w + 8, dv.getUint32(x + 8));
    mv.setUint32(w + 12, dv.getUint32(x + 12));
  }
}

// attribute writers: header (len, id) big-endian, padding zeroed; each returns the next offset
/** an attribute with a 1-byte value */
function a8(w: number, id: number, v: number): number {
  mv.setInt32(w, (5 << 16) | id);
  mv.setInt32(w + 4, v << 24);
  return w + 8;
}
/** an attribute with a 4-byte value (big-endian) */
function a32(w: number, id: number, v: number): number {
  mv.setInt32(w, (8 << 16) | id);
  mv.setInt32(w + 4, v);
  return w + 8;
}
/** an attribute with a 2-byte value in host (little-endian) order, as conntrackd sends these */
function a16le(w: number, id: number, v: number): number {
  mv.setInt32(w, (6 << 16) | id);
  mv.setInt32(w + 4, ((v & 0xff) << 24) | ((v >>> 8) << 16));
  return w + 8;
}
/** the orig and reply addresses of a tuple, one attribute */
function aAddrs(w: number, id: number, dv: DataView, t: number, alen: number): number {
  mv.setInt32(w, ((4 + 2 * alen) << 16) | id);
  copyAddr(w + 4, dv, t + TU.src, alen);
  copyAddr(w + 4 + alen, dv, t + TU.dst, alen);
  return w + 4 + 2 * alen;
}
/** one address */
function aAddr(w: number, id: number, dv: DataView, x: number, alen: number): number {
  mv.setInt32(w, ((4 + alen) << 16) | id);
  copyAddr(w + 4, dv, x, alen);
  return w + 4 + alen;
}

/**
 * Writes the message of the record at dv[off] into m[0..] (an 8-byte header left for the sender
 * to fill) and its key into key[0..40). Returns the message length, or RECORD_SLOW.
 * The caller has checked the record is a complete conntrack record (not a pass-up marker).
 */
export function recordToMessage(dv: DataView, off: number, m: Uint8Array, key: Uint8Array): number {
  const p = dv.getUint32(off + R.present, true);
  const fam = dv.getUint8(off + R.family) === AF_INET6 ? 6 : 4;
  const alen = fam === 4 ? 4 : 16;
  const O = off + R.orig;
  const have = dv.getUint8(O + TU.have);
  if (((have & T.T_V6) ? 6 : 4) !== fam) return RECORD_SLOW;

  // what the stored message cannot carry (cache.ts needsFlow)
  if (p & (P.P_COUNTERS_ORIG | P.P_COUNTERS_REPLY | P.P_SECMARK)) return RECORD_SLOW;
  const zone = p & P.P_ZONE ? dv.getUint16(off + R.zone) : -1;
  if (zone === 0 || (have & T.T_ZONE)) return RECORD_SLOW;
  if (((p & P.P_SEQADJ_ORIG) === 0) !== ((p & P.P_SEQADJ_REPLY) === 0)) return RECORD_SLOW;
  const tcp = (p & P.P_TCP) !== 0;
  const sctp = !tcp && (p & P.P_SCTP) !== 0;
  const dccp = !tcp && !sctp && (p & P.P_DCCP) !== 0;
  if (sctp && (p & (P.P_SCTP_VTAG_ORIG | P.P_SCTP_VTAG_REPLY)) !== (P.P_SCTP_VTAG_ORIG | P.P_SCTP_VTAG_REPLY)) return RECORD_SLOW;
  if (dccp && !(p & P.P_DCCP_ROLE)) return RECORD_SLOW;
  let helperLen = 0;
  if (p & P.P_HELPER_NAME) {
    const h = off + R.helper;
    while (helperLen < 16 && dv.getUint8(h + helperLen) !== 0) {
      if (dv.getUint8(h + helperLen) > 0x7e) return RECORD_SLOW;
      helperLen++;
    }
    if (helperLen === 0 || helperLen > HELPER_NAME_MAX) return RECORD_SLOW;
  }
  const hasReply = (p & P.P_REPLY) !== 0;
  const RT = off + R.reply;
  const rhave = hasReply ? dv.getUint8(RT + TU.have) : 0;
  if (hasReply && (((rhave & T.T_V6) ? 6 : 4) !== fam || (rhave & T.T_ZONE))) return RECORD_SLOW;
  const proto = dv.getUint8(O + TU.proto);

  // the tuples' ports and ICMP fields; -1 where the tuple has none
  const oS = have & T.T_SPORT ? dv.getUint16(O + TU.sport) : -1;
  const oD = have & T.T_DPORT ? dv.getUint16(O + TU.dport) : -1;
  const oIcmp = (have & T.T_ICMP) !== 0;
  const rS = rhave & T.T_SPORT ? dv.getUint16(RT + TU.sport) : -1;
  const rD = rhave & T.T_DPORT ? dv.getUint16(RT + TU.dport) : -1;
  const rIcmp = (rhave & T.T_ICMP) !== 0;
  const status = p & P.P_STATUS ? dv.getUint32(off + R.status) : 0;

  // NAT as natOf derives it from the reply tuple (without one, the reply is the inverted orig)
  let snat = false, dnat = false, spat = -1, dpat = -1;
  // the reply's addresses are the inverted orig's (no address translated)
  const replyDstIsSrc = hasReply && addrEq(dv, RT + TU.dst, O + TU.src, alen);
  const replySrcIsDst = hasReply && addrEq(dv, RT + TU.src, O + TU.dst, alen);
  if (hasReply && (status & SRC_NAT_DONE)) {
    const portChanged = rD >= 0 && rD !== oS;
    if (!replyDstIsSrc || portChanged) {
      snat = true;
      if (portChanged) spat = rD;
    }
  }
  if (hasReply && (status & DST_NAT_DONE)) {
    const portChanged = rS >= 0 && rS !== oD;
    if (!replySrcIsDst || portChanged) {
      dnat = true;
      if (portChanged) dpat = rS;
    }
  }
  // the reply tuple must be the one replyFor(orig, nat) rebuilds, or the Flow is kept
  if (hasReply) {
    if (dv.getUint8(RT + TU.proto) !== proto) return RECORD_SLOW;
    if (!dnat && !replySrcIsDst) return RECORD_SLOW;
    if (!snat && !replyDstIsSrc) return RECORD_SLOW;
    const origPorts = oS >= 0 || oD >= 0;
    const expS = dpat >= 0 ? dpat : origPorts && oD >= 0 ? oD : 0;
    const expD = spat >= 0 ? spat : origPorts && oS >= 0 ? oS : 0;
    if ((rS < 0 ? 0 : rS) !== expS || (rD < 0 ? 0 : rD) !== expD) return RECORD_SLOW;
    if (oIcmp || rIcmp) {
      const expType = oIcmp ? icmpReplyType(proto, dv.getUint8(O + TU.icmp_type)) : 0;
      const expCode = oIcmp ? dv.getUint8(O + TU.icmp_code) : 0;
      const expId = oIcmp ? dv.getUint16(O + TU.icmp_id) : 0;
      const gotType = rIcmp ? dv.getUint8(RT + TU.icmp_type) : 0;
      const gotCode = rIcmp ? dv.getUint8(RT + TU.icmp_code) : 0;
      const gotId = rIcmp ? dv.getUint16(RT + TU.icmp_id) : 0;
      if (gotType !== expType || gotCode !== expCode || gotId !== expId) return RECORD_SLOW;
    }
  } else if (oS > 0 || oD > 0 || (oIcmp && (icmpReplyType(proto, dv.getUint8(O + TU.icmp_type)) !== 0 || dv.getUint8(O + TU.icmp_code) !== 0 || dv.getUint16(O + TU.icmp_id) !== 0))) {
    // without a reply tuple decodeRecord inverts only the addresses; replyFor would swap the
    // ports and invert the ICMP fields too
    return RECORD_SLOW;
  }

  // the master tuple is written in the flow's family
  const hasMaster = (p & P.P_MASTER) !== 0;
  const M = off + R.master;
  if (hasMaster && (((dv.getUint8(M + TU.have) & T.T_V6) ? 6 : 4) !== fam)) return RECORD_SLOW;

  views(m, key);
  // ---- the key
  for (let i = 0; i < KEY_SIZE; i += 4) kv.setInt32(i, 0);
  key[KEY.FAMILY] = fam;
  key[KEY.PROTO] = proto;
  if (zone > 0) kv.setUint16(KEY.ZONE, zone);
  copyKeyAddr(KEY.SRC, dv, O + TU.src, alen);
  copyKeyAddr(KEY.DST, dv, O + TU.dst, alen);
  if (oS >= 0 || oD >= 0) {
    kv.setInt32(KEY.A, ((oS < 0 ? 0 : oS) << 16) | (oD < 0 ? 0 : oD));
  } else if (oIcmp) {
    kv.setInt32(KEY.A, (dv.getUint8(O + TU.icmp_type) << 24) | (dv.getUint8(O + TU.icmp_code) << 16) | dv.getUint16(O + TU.icmp_id));
  }

  // ---- the message, in encodeCt's order
  let w = NETHDR_SIZE;
  w = aAddrs(w, fam === 4 ? NTA.IPV4 : NTA.IPV6, dv, O, alen);
  w = a32(w, NTA.STATUS, status);
  w = a8(w, NTA.L4PROTO, proto);
  if (proto === 6 || proto === 17 || proto === 132 || proto === 33) {
    w = a32(w, NTA.PORT, ((oS < 0 ? 0 : oS) << 16) | (oD < 0 ? 0 : oD));
    if (proto === 6) {
      if (tcp) {
        w = a8(w, NTA.TCP_STATE, dv.getUint8(off + R.tcp_state));
        w = a8(w, NTA.TCP_WSCALE_ORIG, p & P.P_TCP_WSCALE_ORIG ? dv.getUint8(off + R.tcp_wscale_orig) : 0);
        w = a8(w, NTA.TCP_WSCALE_REPL, p & P.P_TCP_WSCALE_REPLY ? dv.getUint8(off + R.tcp_wscale_reply) : 0);
      }
    } else if (proto === 132) {
      if (sctp) {
        w = a8(w, NTA.SCTP_STATE, dv.getUint8(off + R.sctp_state));
        w = a32(w, NTA.SCTP_VTAG_ORIG, dv.getInt32(off + R.sctp_vtag_orig));
        w = a32(w, NTA.SCTP_VTAG_REPL, dv.getInt32(off + R.sctp_vtag_reply));
      }
    } else if (proto === 33) {
      if (dccp) {
        w = a8(w, NTA.DCCP_STATE, dv.getUint8(off + R.dccp_state));
        w = a8(w, NTA.DCCP_ROLE, dv.getUint8(off + R.dccp_role));
      }
    }
  } else if ((proto === 1 || proto === 58) && oIcmp) {
    w = a8(w, NTA.ICMP_TYPE, dv.getUint8(O + TU.icmp_type));
    w = a8(w, NTA.ICMP_CODE, dv.getUint8(O + TU.icmp_code));
    w = a16le(w, NTA.ICMP_ID, dv.getUint16(O + TU.icmp_id));
  }
  if (p & P.P_TIMEOUT) w = a32(w, NTA.TIMEOUT, dv.getInt32(off + R.timeout));
  if (p & P.P_MARK) w = a32(w, NTA.MARK, dv.getInt32(off + R.mark));
  if (hasMaster) {
    const mhave = dv.getUint8(M + TU.have);
    w = aAddrs(w, fam === 4 ? NTA.MASTER_IPV4 : NTA.MASTER_IPV6, dv, M, alen);
    w = a8(w, NTA.MASTER_L4PROTO, dv.getUint8(M + TU.proto));
    if (mhave & (T.T_SPORT | T.T_DPORT)) {
      w = a32(w, NTA.MASTER_PORT, ((mhave & T.T_SPORT ? dv.getUint16(M + TU.sport) : 0) << 16) | (mhave & T.T_DPORT ? dv.getUint16(M + TU.dport) : 0));
    }
  }
  if (status & (SRC_NAT_DONE | DST_NAT_DONE)) {
    if (snat && !replyDstIsSrc) w = aAddr(w, fam === 4 ? NTA.SNAT_IPV4 : NTA.SNAT_IPV6, dv, RT + TU.dst, alen);
    if (dnat && !replySrcIsDst) w = aAddr(w, fam === 4 ? NTA.DNAT_IPV4 : NTA.DNAT_IPV6, dv, RT + TU.src, alen);
    if (spat >= 0) w = a16le(w, NTA.SPAT_PORT, spat);
    if (dpat >= 0) w = a16le(w, NTA.DPAT_PORT, dpat);
  }
  if (p & P.P_SEQADJ_ORIG) {
    mv.setInt32(w, (28 << 16) | NTA.NAT_SEQ_ADJ);
    for (let i = 0; i < 12; i += 4) mv.setInt32(w + 4 + i, dv.getInt32(off + R.seqadj_orig + i));
    for (let i = 0; i < 12; i += 4) mv.setInt32(w + 16 + i, dv.getInt32(off + R.seqadj_reply + i));
    w += 28;
  }
  if (helperLen > 0) {
    const n = helperLen + 1;
    const padded = (4 + n + 3) & ~3;
    mv.setInt32(w, ((4 + n) << 16) | NTA.HELPER_NAME);
    for (let i = 4; i < padded; i += 4) mv.setInt32(w + i, 0);
    for (let i = 0; i < helperLen; i++) m[w + 4 + i] = dv.getUint8(off + R.helper + i);
    w += padded;
  }
  if (p & P.P_LABELS) {
    let last = 3;
    while (last >= 0 && dv.getUint32(off + R.labels + 4 * last, true) === 0) last--;
    if (last >= 0) {
      mv.setInt32(w, (20 << 16) | NTA.LABELS);
      for (let i = 0; i < 4; i++) mv.setUint32(w + 4 + 4 * i, i <= last ? dv.getUint32(off + R.labels + 4 * i, true) : 0);
      w += 20;
    }
  }
  if (p & P.P_SYNPROXY) {
    mv.setInt32(w, (16 << 16) | NTA.SYNPROXY);
    mv.setInt32(w + 4, dv.getInt32(off + R.synproxy_its));
    mv.setInt32(w + 8, dv.getInt32(off + R.synproxy_isn));
    mv.setInt32(w + 12, dv.getInt32(off + R.synproxy_tsoff));
    w += 16;
  }
  if (zone > 0) {
    mv.setInt32(w, (6 << 16) | NTA.ZONE);
    mv.setInt32(w + 4, zone << 16);
    w += 8;
  }
  mv.setInt32(0, 0);
  mv.setInt32(4, 0);
  return w;
}

/**
 * Copies the n-byte address (4 or 16) at dv[x] into the key at k. copyAddr's twin on purpose: one
 * function taking the target view was 7 % slower on the sender's path (test/bench/micro.ts, A/B).
 */
function copyKeyAddr(k: number, dv: DataView, x: number, n: number): void {
  kv.setUint32(k, dv.getUint32(x));
  if (n === 16) {
    kv.setUint32(k + 4, dv.getUint32(x + 4));
    kv.setUint32(k + 8, dv.getUint32(x + 8));
    kv.setUint32(k + 12, dv.getUint32(x + 12));
  }
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
