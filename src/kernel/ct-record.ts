// A ctnetlink conntrack message (a dump's) into the ring-buffer record layout of
// src/kernel/bpf/ctsync.gen.ts: the record the socket filter (bpf/ct_socket.bpf.c) writes for an
// event, attribute for attribute, so that a dump takes the same path as the events
// (src/daemon/record-message.ts: stored message and key, no Flow) instead of a Flow per entry.
// A message with anything the filter would pass up (an attribute it has no place for, a size it
// does not expect, nesting deeper than two) is refused, and the caller decodes a Flow instead.
// test/unit/ct-record.test.ts checks the result against the Flow path on generated flows.
import { LAYOUT, PRESENT as P, TUPLE_HAVE as T, RECORD_SIZE } from './bpf/ctsync.gen.ts';
import { NLA_TYPE_MASK } from './nlmsg.ts';
import { CTA, CTA_TUPLE, CTA_IP, CTA_PROTO, CTA_PROTOINFO } from './ctnetlink.ts';

const R = LAYOUT.ct_record;
const TU = LAYOUT.ct_tuple;

/** Field kinds, as in the BPF program's table: exact size, at most, at least (first n bytes kept). */
const FIXED = 0, UPTO = 1, HEAD = 2;

/** [record offset, size, kind, present bit (0: none)] per attribute type of one nest. */
type Field = readonly [number, number, number, number];
type Table = readonly (Field | undefined)[];

const tcpTable: Table = [, [R.tcp_state, 1, FIXED, 0], [R.tcp_wscale_orig, 1, FIXED, P.P_TCP_WSCALE_ORIG],
  [R.tcp_wscale_reply, 1, FIXED, P.P_TCP_WSCALE_REPLY], [R.tcp_flags_orig, 1, HEAD, P.P_TCP_FLAGS_ORIG],
  [R.tcp_flags_reply, 1, HEAD, P.P_TCP_FLAGS_REPLY]];
const dccpTable: Table = [, [R.dccp_state, 1, FIXED, 0], [R.dccp_role, 1, FIXED, P.P_DCCP_ROLE],
  [R.dccp_handshake_seq, 8, FIXED, P.P_DCCP_HSEQ], [0, 0, FIXED, -1]];
const sctpTable: Table = [, [R.sctp_state, 1, FIXED, 0], [R.sctp_vtag_orig, 4, FIXED, P.P_SCTP_VTAG_ORIG],
  [R.sctp_vtag_reply, 4, FIXED, P.P_SCTP_VTAG_REPLY]];
const seqadj = (o: number): Table => [, [o, 4, FIXED, 0], [o + 4, 4, FIXED, 0], [o + 8, 4, FIXED, 0]];
const counters = (o: number): Table => [, [o, 8, FIXED, 0], [o + 8, 8, FIXED, 0], , , [0, 0, FIXED, -1]];
const tstampTable: Table = [, [R.ts_start, 8, FIXED, P.P_TS_START], [R.ts_stop, 8, FIXED, P.P_TS_STOP], [0, 0, FIXED, -1]];
const synproxyTable: Table = [, [R.synproxy_isn, 4, FIXED, 0], [R.synproxy_its, 4, FIXED, 0], [R.synproxy_tsoff, 4, FIXED, 0]];
const helpTable: Table = [, [R.helper, 16, UPTO, P.P_HELPER_NAME]];
const TABLES = {
  seqOrig: seqadj(R.seqadj_orig), seqReply: seqadj(R.seqadj_reply),
  cntOrig: counters(R.counters_orig), cntReply: counters(R.counters_reply),
};

const u16 = (b: Uint8Array, o: number) => b[o] | (b[o + 1] << 8);
/** The length of the attribute at p (host order, as netlink has it) when it fits before end, else -1. */
function attrLen(b: Uint8Array, p: number, end: number): number {
  if (p + 4 > end) return -1;
  const len = u16(b, p);
  return len < 4 || p + len > end ? -1 : len;
}
const attrType = (b: Uint8Array, p: number) => u16(b, p + 2) & NLA_TYPE_MASK;
/** The attribute after the one at p of length len (attributes are 4-aligned). */
const after = (p: number, len: number) => p + ((len + 3) & ~3);

/**
 * Writes the record of the message whose attributes are b[start..end) (after the nfgenmsg) and
 * whose nfgenmsg family is `af` into r[ro..ro+RECORD_SIZE); false when the socket filter would
 * have passed the message up (the caller decodes it as a Flow).
 */
export function netlinkToRecord(b: Uint8Array, start: number, end: number, af: number, r: Uint8Array, ro: number): boolean {
  for (let i = 0; i < RECORD_SIZE; i++) r[ro + i] = 0;
  r[ro + R.family] = af;
  let present = 0;
  let p = start;
  while (p < end) {
    const len = attrLen(b, p, end), type = attrType(b, p);
    if (len < 0) return false;
    const v = p + 4, n = len - 4;
    let bit = 0;
    switch (type) {
      case CTA.TUPLE_ORIG: if (!tuple(b, v, v + n, r, ro + R.orig)) return false; bit = P.P_ORIG; break;
      case CTA.TUPLE_REPLY: if (!tuple(b, v, v + n, r, ro + R.reply)) return false; bit = P.P_REPLY; break;
      case CTA.TUPLE_MASTER: if (!tuple(b, v, v + n, r, ro + R.master)) return false; bit = P.P_MASTER; break;
      case CTA.STATUS: if (!copy(b, v, n, 4, FIXED, r, ro + R.status)) return false; bit = P.P_STATUS; break;
      case CTA.TIMEOUT: if (!copy(b, v, n, 4, FIXED, r, ro + R.timeout)) return false; bit = P.P_TIMEOUT; break;
      case CTA.MARK: if (!copy(b, v, n, 4, FIXED, r, ro + R.mark)) return false; bit = P.P_MARK; break;
      case CTA.ZONE: if (!copy(b, v, n, 2, FIXED, r, ro + R.zone)) return false; bit = P.P_ZONE; break;
      case CTA.ID: if (!copy(b, v, n, 4, FIXED, r, ro + R.id)) return false; bit = P.P_ID; break;
      case CTA.USE: if (!copy(b, v, n, 4, FIXED, r, ro + R.use)) return false; bit = P.P_USE; break;
      case CTA.SECMARK: if (!copy(b, v, n, 4, FIXED, r, ro + R.secmark)) return false; bit = P.P_SECMARK; break;
      case CTA.LABELS: if (!copy(b, v, n, 16, UPTO, r, ro + R.labels)) return false; bit = P.P_LABELS; break;
      case CTA.SECCTX: case CTA.TIMESTAMP_EVENT: break;
      case CTA.PROTOINFO: {
        const q = protoinfo(b, v, v + n, r, ro);
        if (q < 0) return false;
        present |= q;
        break;
      }
      case CTA.HELP: { const q = fields(b, v, v + n, helpTable, r, ro); if (q < 0) return false; present |= q; bit = P.P_HELPER; break; }
      case CTA.SEQ_ADJ_ORIG: if (fields(b, v, v + n, TABLES.seqOrig, r, ro) < 0) return false; bit = P.P_SEQADJ_ORIG; break;
      case CTA.SEQ_ADJ_REPLY: if (fields(b, v, v + n, TABLES.seqReply, r, ro) < 0) return false; bit = P.P_SEQADJ_REPLY; break;
      case CTA.COUNTERS_ORIG: if (fields(b, v, v + n, TABLES.cntOrig, r, ro) < 0) return false; bit = P.P_COUNTERS_ORIG; break;
      case CTA.COUNTERS_REPLY: if (fields(b, v, v + n, TABLES.cntReply, r, ro) < 0) return false; bit = P.P_COUNTERS_REPLY; break;
      case CTA.TIMESTAMP: { const q = fields(b, v, v + n, tstampTable, r, ro); if (q < 0) return false; present |= q; bit = P.P_TIMESTAMP; break; }
      case CTA.SYNPROXY: if (fields(b, v, v + n, synproxyTable, r, ro) < 0) return false; bit = P.P_SYNPROXY; break;
      default: return false;
    }
    present |= bit;
    p = after(p, len);
  }
  if (p !== end) return false;
  // the present word is host order (little-endian on the targets, as the C side writes it)
  r[ro + R.present] = present & 0xff; r[ro + R.present + 1] = (present >>> 8) & 0xff;
  r[ro + R.present + 2] = (present >>> 16) & 0xff; r[ro + R.present + 3] = present >>> 24;
  const need = T.T_SRC | T.T_DST | T.T_PROTO;
  if ((r[ro + R.orig + TU.have] & need) !== need) return false;
  return (present & P.P_REPLY) === 0 || (r[ro + R.reply + TU.have] & need) === need;
}

/** A payload of n bytes for a field of `size` and `kind` at r[dst..]: copied, or false. */
function copy(b: Uint8Array, v: number, n: number, size: number, kind: number, r: Uint8Array, dst: number): boolean {
  if (kind === FIXED ? n !== size : kind === UPTO ? n > size : n < size) return false;
  const m = kind === HEAD ? size : n;
  for (let i = 0; i < m; i++) r[dst + i] = b[v + i];
  return true;
}

/** The attributes of one nest by `table`; returns the present bits they set (unsigned), or -1. */
function fields(b: Uint8Array, p: number, end: number, table: Table, r: Uint8Array, ro: number): number {
  let bits = 0;
  while (p < end) {
    const len = attrLen(b, p, end), type = attrType(b, p);
    if (len < 0) return -1;
    const f = table[type];
    if (f === undefined) return -1;
    // a present bit of -1: padding, known and skipped
    if (f[3] >= 0) {
      if (!copy(b, p + 4, len - 4, f[1], f[2], r, ro + f[0])) return -1;
      bits |= f[3];
    }
    p = after(p, len);
  }
  // unsigned: P_TS_STOP is the sign bit, and -1 means refused
  return bits >>> 0;
}

function protoinfo(b: Uint8Array, p: number, end: number, r: Uint8Array, ro: number): number {
  let bits = 0;
  while (p < end) {
    const len = attrLen(b, p, end), type = attrType(b, p);
    if (len < 0) return -1;
    const table = type === CTA_PROTOINFO.TCP ? tcpTable : type === CTA_PROTOINFO.DCCP ? dccpTable : type === CTA_PROTOINFO.SCTP ? sctpTable : undefined;
    if (!table) return -1;
    const q = fields(b, p + 4, p + len, table, r, ro);
    if (q < 0) return -1;
    bits |= q | (type === CTA_PROTOINFO.TCP ? P.P_TCP : type === CTA_PROTOINFO.DCCP ? P.P_DCCP : P.P_SCTP);
    p = after(p, len);
  }
  return bits;
}

/** CTA_TUPLE_*: addresses, protocol, ports or ICMP fields, zone, into the tuple at r[t..]. */
function tuple(b: Uint8Array, p: number, end: number, r: Uint8Array, t: number): boolean {
  let have = 0;
  while (p < end) {
    const len = attrLen(b, p, end), type = attrType(b, p);
    if (len < 0) return false;
    const v = p + 4, vend = p + len, n = len - 4;
    if (type === CTA_TUPLE.IP) {
      let q = v;
      while (q < vend) {
        const l = attrLen(b, q, vend), ty = attrType(b, q);
        if (l < 0) return false;
        if (ty < CTA_IP.V4_SRC || ty > CTA_IP.V6_DST) return false;
        const v6 = ty === CTA_IP.V6_SRC || ty === CTA_IP.V6_DST, src = ty === CTA_IP.V4_SRC || ty === CTA_IP.V6_SRC;
        if (!copy(b, q + 4, l - 4, v6 ? 16 : 4, FIXED, r, t + (src ? TU.src : TU.dst))) return false;
        have |= (src ? T.T_SRC : T.T_DST) | (v6 ? T.T_V6 : 0);
        q = after(q, l);
      }
    } else if (type === CTA_TUPLE.PROTO) {
      let q = v;
      while (q < vend) {
        const l = attrLen(b, q, vend), ty = attrType(b, q);
        if (l < 0) return false;
        const a = q + 4, pl = l - 4;
        switch (ty) {
          case CTA_PROTO.NUM: if (!copy(b, a, pl, 1, FIXED, r, t + TU.proto)) return false; have |= T.T_PROTO; break;
          case CTA_PROTO.SRC_PORT: if (!copy(b, a, pl, 2, FIXED, r, t + TU.sport)) return false; have |= T.T_SPORT; break;
          case CTA_PROTO.DST_PORT: if (!copy(b, a, pl, 2, FIXED, r, t + TU.dport)) return false; have |= T.T_DPORT; break;
          case CTA_PROTO.ICMP_ID: case CTA_PROTO.ICMPV6_ID: if (!copy(b, a, pl, 2, FIXED, r, t + TU.icmp_id)) return false; break;
          case CTA_PROTO.ICMP_TYPE: case CTA_PROTO.ICMPV6_TYPE: if (!copy(b, a, pl, 1, FIXED, r, t + TU.icmp_type)) return false; have |= T.T_ICMP; break;
          case CTA_PROTO.ICMP_CODE: case CTA_PROTO.ICMPV6_CODE: if (!copy(b, a, pl, 1, FIXED, r, t + TU.icmp_code)) return false; break;
          default: return false;
        }
        q = after(q, l);
      }
    } else if (type === CTA_TUPLE.ZONE) {
      if (!copy(b, v, n, 2, FIXED, r, t + TU.zone)) return false;
      have |= T.T_ZONE;
    } else {
      return false;
    }
    p = after(p, len);
  }
  r[t + TU.have] |= have;
  return true;
}
