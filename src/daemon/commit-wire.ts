// Commit without Flows: the ctnetlink create request of an external-cache entry written straight
// from the conntrackd message the cache stores (src/cache/slab.ts), with no address string and no
// object built. The request is byte for byte the one the Flow path makes:
//   encodeFlow(w, { ...decodeCt(message), status without EXPECTED, timeout }, { create, liberal })
// (test/unit/commit-wire.test.ts). Messages with rarer attributes (a master tuple, sequence
// adjustment, SCTP or DCCP state, helper, labels) are refused and take the Flow path.
import { icmpReplyType } from '../flow/flow.ts';
import { sameAddr } from '../flow/addr.ts';
import type { NlWriter } from '../kernel/nlmsg.ts';
import { NLM_F } from '../kernel/nlmsg.ts';
import {
  CTA, CTA_TUPLE, CTA_IP, CTA_PROTO, CTA_PROTOINFO, CTA_TCP, CTA_NAT, CTA_PROTONAT, CTA_SYNPROXY, SUBSYS_CT, CT_MSG,
  AF_INET, AF_INET6, LIBERAL, statusForKernel,
} from '../kernel/ctnetlink.ts';
import { NETHDR_SIZE, NTA, NTA_MAX } from '../sync/wire.ts';
import { STATUS } from '../flow/flow.ts';

/** Where each attribute of the message is (offset of its payload, -1 when absent). */
const at = new Int32Array(NTA_MAX);
/** attributes that send the entry down the Flow path */
const RARE = Int32Array.of(
  NTA.MASTER_IPV4, NTA.MASTER_IPV6, NTA.MASTER_L4PROTO, NTA.MASTER_PORT, NTA.NAT_SEQ_ADJ,
  NTA.SCTP_STATE, NTA.SCTP_VTAG_ORIG, NTA.SCTP_VTAG_REPL, NTA.DCCP_STATE, NTA.DCCP_ROLE,
  NTA.HELPER_NAME, NTA.LABELS,
);

const u16 = (b: Uint8Array, o: number) => (b[o] << 8) | b[o + 1];
const u32 = (b: Uint8Array, o: number) => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;



/** Indexes the attributes of the (already validated) message; false when one sends it the Flow way. */
function index(b: Uint8Array, off: number, len: number): boolean {
  // loops, not fill() and for-of: this runs once per committed entry (bench, issue #8)
  for (let i = 0; i < NTA_MAX; i++) at[i] = -1;
  let rem = len - NETHDR_SIZE;
  let p = off + NETHDR_SIZE;
  while (rem > 4) {
    const n = u16(b, p);
    const id = u16(b, p + 2);
    if (n < 4 || n > rem || id >= NTA_MAX) return false;
    at[id] = p + 4;
    const adv = (n + 3) & ~3;
    p += adv;
    rem -= adv;
  }
  for (let i = 0; i < RARE.length; i++) if (at[RARE[i]] >= 0) return false;
  return at[NTA.IPV4] >= 0 || at[NTA.IPV6] >= 0;
}

/**
 * Writes the create request for the message b[off..off+len) with sequence number `seq` and the
 * timeout `timeout` makes of the message's own (seconds, -1 when it has none); returns false
 * (nothing written) when the entry must take the Flow path.
 */
export function writeCreateFromWire(
  w: NlWriter, b: Uint8Array, off: number, len: number, timeout: (received: number) => number, seq: number,
): boolean {
  if (!index(b, off, len)) return false;
  // decodeCt keeps the last address attribute it meets
  const v6 = at[NTA.IPV6] >= 0 && (at[NTA.IPV4] < 0 || at[NTA.IPV6] > at[NTA.IPV4]);
  const alen = v6 ? 16 : 4;
  const A = v6 ? at[NTA.IPV6] : at[NTA.IPV4];
  const src = A, dst = A + alen;
  const proto = at[NTA.L4PROTO] >= 0 ? b[at[NTA.L4PROTO]] : 0;
  const icmpProto = proto === 1 || proto === 58;
  const portProto = proto === 6 || proto === 17 || proto === 136 || proto === 132 || proto === 33 || proto === 47;
  const portAt = at[NTA.PORT];
  const sport = portAt >= 0 ? u16(b, portAt) : -1;
  const dport = portAt >= 0 ? u16(b, portAt + 2) : -1;
  const hasIcmp = at[NTA.ICMP_TYPE] >= 0 || at[NTA.ICMP_CODE] >= 0 || at[NTA.ICMP_ID] >= 0;
  const icmpType = at[NTA.ICMP_TYPE] >= 0 ? b[at[NTA.ICMP_TYPE]] : 0;
  const icmpCode = at[NTA.ICMP_CODE] >= 0 ? b[at[NTA.ICMP_CODE]] : 0;
  const icmpId = at[NTA.ICMP_ID] >= 0 ? (b[at[NTA.ICMP_ID]] | (b[at[NTA.ICMP_ID] + 1] << 8)) : 0;
  const status = at[NTA.STATUS] >= 0 ? u32(b, at[NTA.STATUS]) : 0;

  // the NAT the reply tuple rebuilt by decodeCt implies, as natOf sees it
  const snatAt = v6 ? at[NTA.SNAT_IPV6] : at[NTA.SNAT_IPV4];
  const dnatAt = v6 ? at[NTA.DNAT_IPV6] : at[NTA.DNAT_IPV4];
  const spat = !icmpProto && at[NTA.SPAT_PORT] >= 0 ? (b[at[NTA.SPAT_PORT]] | (b[at[NTA.SPAT_PORT] + 1] << 8)) : -1;
  const dpat = !icmpProto && at[NTA.DPAT_PORT] >= 0 ? (b[at[NTA.DPAT_PORT]] | (b[at[NTA.DPAT_PORT] + 1] << 8)) : -1;
  // reply.dst / reply.dport of decodeCt's flow, and whether natOf finds a source NAT in them
  const rDst = snatAt >= 0 ? snatAt : src;
  const rDport = spat >= 0 ? spat : (portAt >= 0 ? sport : -1);
  const snat = (status & STATUS.SRC_NAT_DONE) !== 0 ? natChange(b, rDst, src, alen, rDport, sport) : NO_NAT;
  const rSrc = dnatAt >= 0 ? dnatAt : dst;
  const rSport = dpat >= 0 ? dpat : (portAt >= 0 ? dport : -1);
  const dnat = (status & STATUS.DST_NAT_DONE) !== 0 ? natChange(b, rSrc, dst, alen, rSport, dport) : NO_NAT;

  w.begin((SUBSYS_CT << 8) | CT_MSG.NEW, NLM_F.REQUEST | NLM_F.CREATE | NLM_F.EXCL, seq, v6 ? AF_INET6 : AF_INET);
  const id = hasIcmp ? icmpId : 0, code = hasIcmp ? icmpCode : 0;
  const l4 = icmpProto ? L4_ICMP : portProto ? L4_PORTS : L4_NONE;
  writeTuple(w, CTA.TUPLE_ORIG, v6, b, src, dst, alen, proto, l4, hasIcmp ? icmpType : 0, code, id, sport, dport);
  // the reply tuple before NAT: the inverted original
  writeTuple(w, CTA.TUPLE_REPLY, v6, b, dst, src, alen, proto, l4, hasIcmp ? icmpReplyType(proto, icmpType) : 0, code, id, dport, sport);
  if (snat !== NO_NAT) nat(w, CTA.NAT_SRC, v6, b, rDst, alen, snat);
  if (dnat !== NO_NAT) nat(w, CTA.NAT_DST, v6, b, rSrc, alen, dnat);
  const zone = at[NTA.ZONE] >= 0 ? u16(b, at[NTA.ZONE]) : 0;
  if (zone) w.u16be(CTA.ZONE, zone);
  w.u32be(CTA.STATUS, statusForKernel(status & ~STATUS.EXPECTED));
  w.u32be(CTA.TIMEOUT, timeout(at[NTA.TIMEOUT] >= 0 ? u32(b, at[NTA.TIMEOUT]) : -1));
  if (at[NTA.MARK] >= 0) w.u32be(CTA.MARK, u32(b, at[NTA.MARK]));
  const tcp = at[NTA.TCP_STATE] >= 0 || at[NTA.TCP_WSCALE_ORIG] >= 0 || at[NTA.TCP_WSCALE_REPL] >= 0;
  if (tcp) {
    w.nest(CTA.PROTOINFO);
    w.nest(CTA_PROTOINFO.TCP);
    w.u8(CTA_TCP.STATE, at[NTA.TCP_STATE] >= 0 ? b[at[NTA.TCP_STATE]] : 0);
    if (at[NTA.TCP_WSCALE_ORIG] >= 0) w.u8(CTA_TCP.WSCALE_ORIG, b[at[NTA.TCP_WSCALE_ORIG]]);
    if (at[NTA.TCP_WSCALE_REPL] >= 0) w.u8(CTA_TCP.WSCALE_REPLY, b[at[NTA.TCP_WSCALE_REPL]]);
    w.copy(CTA_TCP.FLAGS_ORIG, LIBERAL, 0, LIBERAL.length);
    w.copy(CTA_TCP.FLAGS_REPLY, LIBERAL, 0, LIBERAL.length);
    w.nestEnd();
    w.nestEnd();
  }
  const sp = at[NTA.SYNPROXY];
  if (sp >= 0) {
    // the wire carries its, isn, tsoff; the request wants isn, its, tsoff
    w.nest(CTA.SYNPROXY);
    w.copy(CTA_SYNPROXY.ISN, b, sp + 4, 4);
    w.copy(CTA_SYNPROXY.ITS, b, sp, 4);
    w.copy(CTA_SYNPROXY.TSOFF, b, sp + 8, 4);
    w.nestEnd();
  }
  w.end();
  return true;
}

/** natChange: the tuples show no NAT of this kind */
const NO_NAT = -2;

/**
 * A NAT natOf would find: the reply tuple's address (at rAddr) or port differs from the original
 * one. Returns NO_NAT, the new port, or -1 when only the address changed.
 */
function natChange(b: Uint8Array, rAddr: number, addr: number, alen: number, rPort: number, port: number): number {
  if (rPort >= 0 && rPort !== port) return rPort;
  return sameAddr(b, rAddr, addr, alen) ? NO_NAT : -1;
}

function nat(w: NlWriter, type: number, v6: boolean, b: Uint8Array, addr: number, alen: number, port: number): void {
  w.nest(type);
  w.copy(v6 ? CTA_NAT.V6_MINIP : CTA_NAT.V4_MINIP, b, addr, alen);
  w.copy(v6 ? CTA_NAT.V6_MAXIP : CTA_NAT.V4_MAXIP, b, addr, alen);
  if (port >= 0) {
    w.nest(CTA_NAT.PROTO);
    w.u16be(CTA_PROTONAT.PORT_MIN, port);
    w.u16be(CTA_PROTONAT.PORT_MAX, port);
    w.nestEnd();
  }
  w.nestEnd();
}

const L4_NONE = 0, L4_ICMP = 1, L4_PORTS = 2;

/** One tuple (CTA_TUPLE_ORIG or _REPLY) from addresses at b[src..] and b[dst..]; a port < 0 is 0. */
function writeTuple(
  w: NlWriter, attr: number, v6: boolean, b: Uint8Array, src: number, dst: number, alen: number,
  proto: number, l4: number, type: number, code: number, id: number, sport: number, dport: number,
): void {
  w.nest(attr);
  w.nest(CTA_TUPLE.IP);
  w.copy(v6 ? CTA_IP.V6_SRC : CTA_IP.V4_SRC, b, src, alen);
  w.copy(v6 ? CTA_IP.V6_DST : CTA_IP.V4_DST, b, dst, alen);
  w.nestEnd();
  w.nest(CTA_TUPLE.PROTO);
  w.u8(CTA_PROTO.NUM, proto);
  if (l4 === L4_ICMP) {
    w.u16be(proto === 58 ? CTA_PROTO.ICMPV6_ID : CTA_PROTO.ICMP_ID, id);
    w.u8(proto === 58 ? CTA_PROTO.ICMPV6_TYPE : CTA_PROTO.ICMP_TYPE, type);
    w.u8(proto === 58 ? CTA_PROTO.ICMPV6_CODE : CTA_PROTO.ICMP_CODE, code);
  } else if (l4 === L4_PORTS) {
    w.u16be(CTA_PROTO.SRC_PORT, sport >= 0 ? sport : 0);
    w.u16be(CTA_PROTO.DST_PORT, dport >= 0 ? dport : 0);
  }
  w.nestEnd();
  w.nestEnd();
}
