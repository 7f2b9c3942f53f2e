// The ctnetlink codec without the kernel: every attribute decoded from kernel-style messages,
// requests encoded as the kernel expects them, and malformed input refused without a crash.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { NlWriter, AttrTable, eachMessage, NLA_F_NESTED } from '../../src/kernel/nlmsg.ts';
import {
  CTA, CTA_TUPLE, CTA_IP, CTA_PROTO, CTA_PROTOINFO, CTA_TCP, CTA_SCTP, CTA_DCCP, CTA_COUNTERS, CTA_TS,
  CTA_SEQADJ, CTA_HELP, CTA_SYNPROXY, CTA_NAT, CTA_PROTONAT, CTA_EXPECT, CTA_EXPECT_NAT,
  decodeFlow, decodeExpectation, encodeFlow, encodeExpectation, encodeTuple, DecodeError, AF_INET, AF_INET6,
} from '../../src/kernel/ctnetlink.ts';
import type { Flow, Tuple } from '../../src/flow/flow.ts';

const v4 = (s: string) => new Uint8Array(s.split('.').map(Number));

function kernelTuple(w: NlWriter, type: number, src: string, dst: string, proto: number, l4: (w: NlWriter) => void, zone?: number) {
  w.nest(type);
  w.nest(CTA_TUPLE.IP);
  w.bytes(CTA_IP.V4_SRC, v4(src));
  w.bytes(CTA_IP.V4_DST, v4(dst));
  w.nestEnd();
  w.nest(CTA_TUPLE.PROTO);
  w.u8(CTA_PROTO.NUM, proto);
  l4(w);
  w.nestEnd();
  if (zone !== undefined) w.u16be(CTA_TUPLE.ZONE, zone);
  w.nestEnd();
}

function decodeOne(w: NlWriter): Flow {
  const dv = new DataView(w.buf.buffer, 0, w.len);
  let f: Flow | undefined;
  eachMessage(dv, w.len, (h, p) => { f = decodeFlow(dv, p + 4, p - 16 + h.len, dv.getUint8(p)); });
  return f!;
}

test('every conntrack attribute of a kernel message is decoded', () => {
  const w = new NlWriter(4096);
  w.begin(0x100, 0x600, 1, AF_INET);
  const ports = (s: number, d: number) => (x: NlWriter) => { x.u16be(CTA_PROTO.SRC_PORT, s); x.u16be(CTA_PROTO.DST_PORT, d); };
  kernelTuple(w, CTA.TUPLE_ORIG, '192.0.2.1', '198.51.100.2', 6, ports(40000, 21), 3);
  kernelTuple(w, CTA.TUPLE_REPLY, '198.51.100.2', '203.0.113.7', 6, ports(21, 61000));
  w.u32be(CTA.STATUS, 0x18e);
  w.u32be(CTA.TIMEOUT, 431999);
  w.u32be(CTA.MARK, 0xdeadbeef);
  w.u16be(CTA.ZONE, 5);
  w.u32be(CTA.ID, 123456789);
  w.u32be(CTA.USE, 2);
  w.u32be(CTA.SECMARK, 77);
  w.nest(CTA.PROTOINFO);
  w.nest(CTA_PROTOINFO.TCP);
  w.u8(CTA_TCP.STATE, 3);
  w.u8(CTA_TCP.WSCALE_ORIG, 7);
  w.u8(CTA_TCP.WSCALE_REPLY, 9);
  w.bytes(CTA_TCP.FLAGS_ORIG, new Uint8Array([0x23, 0]));
  w.bytes(CTA_TCP.FLAGS_REPLY, new Uint8Array([0x31, 0]));
  w.nestEnd();
  w.nestEnd();
  w.nest(CTA.HELP);
  w.cstr(CTA_HELP.NAME, 'ftp');
  w.nestEnd();
  for (const [t, base] of [[CTA.SEQ_ADJ_ORIG, 10], [CTA.SEQ_ADJ_REPLY, 20]] as const) {
    w.nest(t);
    w.u32be(CTA_SEQADJ.CORRECTION_POS, base + 1);
    w.u32be(CTA_SEQADJ.OFFSET_BEFORE, base + 2);
    w.u32be(CTA_SEQADJ.OFFSET_AFTER, base + 3);
    w.nestEnd();
  }
  w.nest(CTA.COUNTERS_ORIG);
  w.u64be(CTA_COUNTERS.PACKETS, 12n);
  w.u64be(CTA_COUNTERS.BYTES, 5_000_000_000n);
  w.nestEnd();
  w.nest(CTA.COUNTERS_REPLY);
  w.u32be(CTA_COUNTERS.PACKETS32, 3);
  w.u32be(CTA_COUNTERS.BYTES32, 300);
  w.nestEnd();
  kernelTuple(w, CTA.TUPLE_MASTER, '192.0.2.1', '198.51.100.2', 6, ports(39999, 21));
  const labels = new Uint8Array(16);
  new DataView(labels.buffer).setUint32(0, 0b101, true);
  new DataView(labels.buffer).setUint32(4, 1, true);
  w.bytes(CTA.LABELS, labels);
  w.nest(CTA.SYNPROXY);
  w.u32be(CTA_SYNPROXY.ISN, 1);
  w.u32be(CTA_SYNPROXY.ITS, 2);
  w.u32be(CTA_SYNPROXY.TSOFF, 3);
  w.nestEnd();
  w.nest(CTA.TIMESTAMP);
  w.u64be(CTA_TS.START, 1000n);
  w.u64be(CTA_TS.STOP, 2000n);
  w.nestEnd();
  w.end();
  const f = decodeOne(w);
  assert.equal(f.orig, { src: '192.0.2.1', dst: '198.51.100.2', proto: 6, sport: 40000, dport: 21, zone: 3 });
  assert.equal(f.reply, { src: '198.51.100.2', dst: '203.0.113.7', proto: 6, sport: 21, dport: 61000 });
  assert.is(f.family, 4);
  assert.is(f.status, 0x18e);
  assert.is(f.timeout, 431999);
  assert.is(f.mark, 0xdeadbeef);
  assert.is(f.zone, 5);
  assert.is(f.id, 123456789);
  assert.is(f.use, 2);
  assert.is(f.secmark, 77);
  assert.equal(f.tcp, { state: 3, wscaleOrig: 7, wscaleReply: 9, flagsOrig: 0x23, flagsReply: 0x31 });
  assert.is(f.helper, 'ftp');
  assert.equal(f.seqAdjOrig, { correctionPos: 11, offsetBefore: 12, offsetAfter: 13 });
  assert.equal(f.seqAdjReply, { correctionPos: 21, offsetBefore: 22, offsetAfter: 23 });
  assert.equal(f.countersOrig, { packets: 12, bytes: 5_000_000_000 });
  assert.equal(f.countersReply, { packets: 3, bytes: 300 });
  assert.equal(f.master, { src: '192.0.2.1', dst: '198.51.100.2', proto: 6, sport: 39999, dport: 21 });
  assert.equal(f.labels, [0b101, 1]);
  assert.equal(f.synproxy, { isn: 1, its: 2, tsoff: 3 });
  assert.is(f.timestampStart, 1000n);
  assert.is(f.timestampStop, 2000n);
});

test('SCTP, DCCP, ICMP, ICMPv6 and IPv6 tuples', () => {
  const w = new NlWriter();
  w.begin(0x100, 0, 1, AF_INET);
  kernelTuple(w, CTA.TUPLE_ORIG, '192.0.2.1', '198.51.100.2', 132, (x) => { x.u16be(CTA_PROTO.SRC_PORT, 5000); x.u16be(CTA_PROTO.DST_PORT, 6000); });
  w.nest(CTA.PROTOINFO);
  w.nest(CTA_PROTOINFO.SCTP);
  w.u8(CTA_SCTP.STATE, 4);
  w.u32be(CTA_SCTP.VTAG_ORIG, 0x11223344);
  w.u32be(CTA_SCTP.VTAG_REPLY, 0x55667788);
  w.nestEnd();
  w.nestEnd();
  w.end();
  const s = decodeOne(w);
  assert.equal(s.sctp, { state: 4, vtagOrig: 0x11223344, vtagReply: 0x55667788 });

  w.reset();
  w.begin(0x100, 0, 1, AF_INET);
  kernelTuple(w, CTA.TUPLE_ORIG, '192.0.2.1', '198.51.100.2', 33, (x) => { x.u16be(CTA_PROTO.SRC_PORT, 1); x.u16be(CTA_PROTO.DST_PORT, 2); });
  w.nest(CTA.PROTOINFO);
  w.nest(CTA_PROTOINFO.DCCP);
  w.u8(CTA_DCCP.STATE, 4);
  w.u8(CTA_DCCP.ROLE, 1);
  w.u64be(CTA_DCCP.HANDSHAKE_SEQ, 99n);
  w.nestEnd();
  w.nestEnd();
  w.end();
  assert.equal(decodeOne(w).dccp, { state: 4, role: 1, handshakeSeq: 99n });

  w.reset();
  w.begin(0x100, 0, 1, AF_INET);
  kernelTuple(w, CTA.TUPLE_ORIG, '192.0.2.1', '198.51.100.2', 1, (x) => {
    x.u16be(CTA_PROTO.ICMP_ID, 4660); x.u8(CTA_PROTO.ICMP_TYPE, 8); x.u8(CTA_PROTO.ICMP_CODE, 0);
  });
  w.end();
  assert.equal(decodeOne(w).orig, { src: '192.0.2.1', dst: '198.51.100.2', proto: 1, icmpType: 8, icmpCode: 0, icmpId: 4660 });

  w.reset();
  w.begin(0x100, 0, 1, AF_INET6);
  w.nest(CTA.TUPLE_ORIG);
  w.nest(CTA_TUPLE.IP);
  const a = new Uint8Array(16); a.set([0x20, 0x01, 0x0d, 0xb8]); a[15] = 1;
  const b = new Uint8Array(16); b.set([0x20, 0x01, 0x0d, 0xb8, 0, 2]); b[15] = 0x10;
  w.bytes(CTA_IP.V6_SRC, a);
  w.bytes(CTA_IP.V6_DST, b);
  w.nestEnd();
  w.nest(CTA_TUPLE.PROTO);
  w.u8(CTA_PROTO.NUM, 58);
  w.u16be(CTA_PROTO.ICMPV6_ID, 7);
  w.u8(CTA_PROTO.ICMPV6_TYPE, 128);
  w.u8(CTA_PROTO.ICMPV6_CODE, 0);
  w.nestEnd();
  w.nestEnd();
  w.end();
  const six = decodeOne(w);
  assert.is(six.family, 6);
  assert.equal(six.orig, { src: '2001:db8::1', dst: '2001:db8:2::10', proto: 58, icmpType: 128, icmpCode: 0, icmpId: 7 });
});

test('expectations are decoded with master, tuple, mask, NAT and helper', () => {
  const w = new NlWriter();
  w.begin(0x200, 0, 1, AF_INET);
  const ports = (s: number, d: number) => (x: NlWriter) => { x.u16be(CTA_PROTO.SRC_PORT, s); x.u16be(CTA_PROTO.DST_PORT, d); };
  kernelTuple(w, CTA_EXPECT.MASTER, '192.0.2.1', '198.51.100.2', 6, ports(47496, 21));
  kernelTuple(w, CTA_EXPECT.TUPLE, '198.51.100.2', '192.0.2.1', 6, ports(0, 50002));
  kernelTuple(w, CTA_EXPECT.MASK, '255.255.255.255', '255.255.255.255', 6, ports(0, 0xffff));
  w.u32be(CTA_EXPECT.TIMEOUT, 300);
  w.u32be(CTA_EXPECT.ID, 42);
  w.cstr(CTA_EXPECT.HELP_NAME, 'ftp');
  w.u16be(CTA_EXPECT.ZONE, 2);
  w.u32be(CTA_EXPECT.FLAGS, 4);
  w.u32be(CTA_EXPECT.CLASS, 1);
  w.nest(CTA_EXPECT.NAT);
  w.u32be(CTA_EXPECT_NAT.DIR, 1);
  kernelTuple(w, CTA_EXPECT_NAT.TUPLE, '203.0.113.1', '0.0.0.0', 6, ports(40000, 0));
  w.nestEnd();
  w.cstr(CTA_EXPECT.FN, 'nat-follow-master');
  w.end();
  const dv = new DataView(w.buf.buffer, 0, w.len);
  let e;
  eachMessage(dv, w.len, (h, p) => { e = decodeExpectation(dv, p + 4, p - 16 + h.len, AF_INET); });
  assert.equal(e, {
    family: 4,
    master: { src: '192.0.2.1', dst: '198.51.100.2', proto: 6, sport: 47496, dport: 21 },
    tuple: { src: '198.51.100.2', dst: '192.0.2.1', proto: 6, sport: 0, dport: 50002 },
    mask: { src: '255.255.255.255', dst: '255.255.255.255', proto: 6, sport: 0, dport: 0xffff },
    timeout: 300, id: 42, helper: 'ftp', zone: 2, flags: 4, class: 1,
    nat: { dir: 1, tuple: { src: '203.0.113.1', dst: '0.0.0.0', proto: 6, sport: 40000, dport: 0 } },
    fn: 'nat-follow-master',
  });
});

test('a create request carries the un-NATed reply and the NAT setup, encoded as the kernel expects', () => {
  const f: Flow = {
    family: 4,
    orig: { src: '192.0.2.5', dst: '198.51.100.2', proto: 6, sport: 50000, dport: 443 },
    reply: { src: '198.51.100.2', dst: '198.51.100.77', proto: 6, sport: 443, dport: 61000 },
    status: 0x18e, timeout: 300, mark: 1, zone: 4, tcp: { state: 3, wscaleOrig: 7, wscaleReply: 7 },
  };
  const w = new NlWriter();
  w.begin(0x100, 0x605, 1, AF_INET);
  encodeFlow(w, f, { create: true, liberal: true });
  w.end();
  const dv = new DataView(w.buf.buffer, 0, w.len);
  const top = new AttrTable(30);
  assert.ok(top.parse(dv, 20, w.len));
  // nested attributes carry NLA_F_NESTED, as the kernel's own messages do
  assert.is(dv.getUint16(20 + 2, true), CTA.TUPLE_ORIG | NLA_F_NESTED);
  const back = decodeFlow(dv, 20, w.len, AF_INET);
  assert.equal(back.orig, f.orig);
  assert.equal(back.reply, { src: '198.51.100.2', dst: '192.0.2.5', proto: 6, sport: 443, dport: 50000 }, 'reply before NAT');
  assert.is(back.status, 0x18e, 'CONFIRMED kept, EXPECTED/DYING never sent');
  assert.is(back.zone, 4);
  assert.is(back.tcp!.flagsOrig, 0x08, 'be liberal');
  const nat = new AttrTable(5);
  assert.ok(top.has(CTA.NAT_SRC) && !top.has(CTA.NAT_DST));
  assert.ok(nat.parse(dv, top.at[CTA.NAT_SRC], top.at[CTA.NAT_SRC] + top.len[CTA.NAT_SRC]));
  assert.equal([...new Uint8Array(dv.buffer, nat.at[CTA_NAT.V4_MINIP], 4)], [198, 51, 100, 77]);
  assert.equal([...new Uint8Array(dv.buffer, nat.at[CTA_NAT.V4_MAXIP], 4)], [198, 51, 100, 77]);
  const pn = new AttrTable(2);
  assert.ok(pn.parse(dv, nat.at[CTA_NAT.PROTO], nat.at[CTA_NAT.PROTO] + nat.len[CTA_NAT.PROTO]));
  assert.is(dv.getUint16(pn.at[CTA_PROTONAT.PORT_MIN], false), 61000);
  assert.is(dv.getUint16(pn.at[CTA_PROTONAT.PORT_MAX], false), 61000);
});

test('a key-only request carries the original tuple and zone and nothing else', () => {
  const w = new NlWriter();
  w.begin(0x102, 1, 1, AF_INET);
  encodeFlow(w, { family: 4, orig: { src: '192.0.2.1', dst: '198.51.100.2', proto: 17, sport: 1, dport: 2 }, reply: { src: '', dst: '', proto: 17 }, status: 2, mark: 5, zone: 3 }, { keyOnly: true });
  w.end();
  const top = new AttrTable(30);
  top.parse(new DataView(w.buf.buffer, 0, w.len), 20, w.len);
  const present = [...top.at.keys()].filter((k) => top.at[k] >= 0);
  assert.equal(present, [CTA.TUPLE_ORIG, CTA.ZONE]);
});

test('expectation requests round-trip through the decoder', () => {
  const tuple = (src: string, dst: string, sport: number, dport: number): Tuple => ({ src, dst, proto: 6, sport, dport });
  const e = {
    family: 4 as const, master: tuple('192.0.2.1', '198.51.100.2', 47496, 21), tuple: tuple('198.51.100.2', '192.0.2.1', 0, 50002),
    mask: tuple('255.255.255.255', '255.255.255.255', 0, 0xffff), timeout: 300, helper: 'ftp', flags: 0, class: 0,
  };
  const w = new NlWriter();
  w.begin(0x200, 0, 1, AF_INET);
  encodeExpectation(w, e);
  w.end();
  const back = decodeExpectation(new DataView(w.buf.buffer, 0, w.len), 20, w.len, AF_INET);
  assert.equal(back, e);
});

test('malformed messages raise DecodeError and never crash', () => {
  const good = new NlWriter();
  good.begin(0x100, 0, 1, AF_INET);
  encodeTuple(good, CTA.TUPLE_ORIG, { src: '192.0.2.1', dst: '198.51.100.2', proto: 17, sport: 1, dport: 2 }, 4);
  good.u32be(CTA.STATUS, 8);
  good.end();
  const bytes = good.data().slice();
  const dec = (b: Uint8Array, end = b.length) => decodeFlow(new DataView(b.buffer), 20, end, AF_INET);
  assert.is(dec(bytes).orig.dport, 2);
  // truncated in the middle of an attribute
  assert.throws(() => dec(bytes, bytes.length - 6), (e: Error) => e instanceof DecodeError);
  // attribute length below its header
  const short = bytes.slice(); short[20] = 2; short[21] = 0;
  assert.throws(() => dec(short), (e: Error) => e instanceof DecodeError);
  // attribute length beyond the message
  const long = bytes.slice(); long[20] = 0xff; long[21] = 0x0f;
  assert.throws(() => dec(long), (e: Error) => e instanceof DecodeError);
  // no original tuple
  const none = new NlWriter();
  none.begin(0x100, 0, 1, AF_INET);
  none.u32be(CTA.STATUS, 8);
  none.end();
  assert.throws(() => decodeFlow(new DataView(none.buf.buffer), 20, none.len, AF_INET), /without original tuple/);
  // an address of the wrong size
  const bad = new NlWriter();
  bad.begin(0x100, 0, 1, AF_INET);
  bad.nest(CTA.TUPLE_ORIG);
  bad.nest(CTA_TUPLE.IP);
  bad.bytes(CTA_IP.V4_SRC, new Uint8Array(3));
  bad.bytes(CTA_IP.V4_DST, new Uint8Array(4));
  bad.nestEnd();
  bad.nest(CTA_TUPLE.PROTO);
  bad.u8(CTA_PROTO.NUM, 6);
  bad.nestEnd();
  bad.nestEnd();
  bad.end();
  assert.throws(() => decodeFlow(new DataView(bad.buf.buffer), 20, bad.len, AF_INET), /unknown family/);
  // random garbage: never anything but DecodeError
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  for (let i = 0; i < 2000; i++) {
    const m = bytes.slice();
    for (let k = 0; k < 3; k++) m[20 + (rnd() % (m.length - 20))] = rnd();
    try { dec(m); } catch (e) { assert.ok(e instanceof DecodeError, String(e)); }
  }
});

test('netlink framing: messages are walked and a bad length stops the walk', () => {
  const w = new NlWriter();
  for (let i = 0; i < 3; i++) { w.begin(0x100, 0, i, AF_INET); w.u32be(CTA.MARK, i); w.end(); }
  const dv = new DataView(w.buf.buffer, 0, w.len);
  const seqs: number[] = [];
  assert.ok(eachMessage(dv, w.len, (h) => seqs.push(h.seq)));
  assert.equal(seqs, [0, 1, 2]);
  dv.setUint32(0, 8, true);
  assert.not.ok(eachMessage(dv, w.len, () => {}));
});

test.run();
