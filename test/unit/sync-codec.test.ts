// The conntrackd 1.4.7 wire codec: byte equality with captured messages, round trip of every
// attribute, conntrackd's receive-side validation and counters, datagram packing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Expectation, Flow } from '../../src/flow/flow.ts';
import { STATUS } from '../../src/flow/flow.ts';
import { replyFor, natOf } from '../../src/flow/nat.ts';
import {
  DECODE_MALFORMED, DECODE_NO_ADDRESS, decodeCt, decodeDatagram, decodeExp, encodeControl, encodeCt, encodeExp,
} from '../../src/sync/codec.ts';
import { newSyncStats } from '../../src/sync/stats.ts';
import { FLAG, MAX_MESSAGE_SIZE, MSG, NTA, NTA_EXP } from '../../src/sync/wire.ts';
import { Net, Peer, tcpFlow } from './sync-harness.ts';

const hex = (s: string) => Uint8Array.from((s.replace(/\s+/g, '').match(/../g) ?? []).map((x) => parseInt(x, 16)));
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

function enc(f: Flow, type: 0 | 1 | 2 = 0, flags = 0, seq = 1, opt = {}): Uint8Array {
  const b = new Uint8Array(MAX_MESSAGE_SIZE);
  const n = encodeCt(b, 0, type, flags, seq, f, opt);
  assert.ok(n > 0, 'encodes');
  return b.slice(0, n);
}

function encE(e: Expectation, type: 3 | 4 | 5 = 3, flags = 0, seq = 1, opt = {}): Uint8Array {
  const b = new Uint8Array(MAX_MESSAGE_SIZE);
  const n = encodeExp(b, 0, type, flags, seq, e, opt);
  assert.ok(n > 0, 'encodes');
  return b.slice(0, n);
}

/** Attribute ids and payloads of a message, in order. */
function attrs(m: Uint8Array): { id: number; len: number; payload: Uint8Array }[] {
  const out = [];
  for (let p = 8; p + 4 <= m.length;) {
    const len = (m[p] << 8) | m[p + 1];
    const id = (m[p + 2] << 8) | m[p + 3];
    out.push({ id, len, payload: m.slice(p + 4, p + len) });
    p += (len + 3) & ~3;
  }
  return out;
}

function flowOf(x: Flow | number): Flow {
  assert.type(x, 'object', `decoded, got ${x}`);
  return x as Flow;
}

// ------------------------------------------------------------------ captured bytes

const CAPTURED_CT_NEW = hex(`
  10 20 00 54 6b 02 5f a8
  00 0c 00 00 c0a8010a c0a80214
  00 08 00 05 0000000e
  00 05 00 02 06 000000
  00 08 00 03 9c40 0050
  00 05 00 04 03 000000
  00 08 00 06 00000258
  00 08 00 07 00000007
  00 10 00 1f 000000000000000000000000`);

const CAPTURED_FLOW: Flow = {
  family: 4,
  orig: { src: '192.168.1.10', dst: '192.168.2.20', proto: 6, sport: 40000, dport: 80 },
  reply: { src: '192.168.2.20', dst: '192.168.1.10', proto: 6, sport: 80, dport: 40000 },
  status: STATUS.SEEN_REPLY | STATUS.ASSURED | STATUS.CONFIRMED,
  timeout: 600, mark: 7, tcp: { state: 3 }, synproxy: { isn: 0, its: 0, tsoff: 0 },
};

test('the annotated captured CT_NEW (reference §1.7) is reproduced byte for byte', () => {
  const m = enc(CAPTURED_FLOW, MSG.CT_NEW, FLAG.HELLO, 0x6b025fa8);
  assert.is(m.length, 84);
  assert.is(toHex(m), toHex(CAPTURED_CT_NEW));
});

test('the captured CT_NEW decodes to the flow, reply tuple rebuilt', () => {
  const [msg] = decodeDatagram(CAPTURED_CT_NEW);
  assert.is(msg.type, MSG.CT_NEW);
  assert.is(msg.flags, FLAG.HELLO);
  assert.is(msg.seq, 0x6b025fa8);
  assert.equal(msg.flow, CAPTURED_FLOW);
});

test('captured control messages are reproduced byte for byte', () => {
  const b = new Uint8Array(16);
  const seq = 0x01020304;
  const ctl = (flags: number, from = 0, to = 0) => toHex(b.slice(0, encodeControl(b, 0, flags, seq, from, to)));
  assert.is(ctl(FLAG.ALIVE | FLAG.HELLO), '1a 30 00 08 01 02 03 04');
  assert.is(ctl(FLAG.ALIVE), '1a 10 00 08 01 02 03 04');
  assert.is(ctl(FLAG.ACK, 5020, 5316), '1a 08 00 10 01 02 03 04 00 00 13 9c 00 00 14 c4');
  assert.is(ctl(FLAG.ACK | FLAG.HELLO_BACK, 1, 2).slice(0, 11), '1a 48 00 10');
  assert.is(ctl(FLAG.RESYNC), '1a 02 00 10 01 02 03 04 00 00 00 00 00 00 00 00');
  assert.is(ctl(FLAG.NACK, 5004, 5007), '1a 04 00 10 01 02 03 04 00 00 13 8c 00 00 13 8f');
});

test('byte-order quirks: DPAT 8080 is 90 1f, SPAT 50000 is 50 c3, ICMP id 4660 is 34 12, zone 5 is BE', () => {
  const dnat: Flow = {
    family: 4, orig: { src: '192.0.2.1', dst: '198.51.100.2', proto: 6, sport: 1000, dport: 80 },
    reply: { src: '198.51.100.9', dst: '192.0.2.1', proto: 6, sport: 8080, dport: 1000 },
    status: STATUS.DST_NAT | STATUS.DST_NAT_DONE | STATUS.CONFIRMED,
  };
  const a = attrs(enc(dnat));
  assert.is(toHex(a.find((x) => x.id === NTA.DPAT_PORT)!.payload), '90 1f');
  assert.is(toHex(a.find((x) => x.id === NTA.DNAT_IPV4)!.payload), 'c6 33 64 09', 'NAT address in network order');
  assert.not.ok(a.find((x) => x.id === NTA.SNAT_IPV4 || x.id === NTA.SPAT_PORT));

  const snat: Flow = {
    family: 4, orig: { src: '192.0.2.1', dst: '198.51.100.2', proto: 17, sport: 1000, dport: 53 },
    reply: { src: '198.51.100.2', dst: '192.0.2.1', proto: 17, sport: 53, dport: 50000 },
    status: STATUS.SRC_NAT | STATUS.SRC_NAT_DONE,
  };
  const s = attrs(enc(snat));
  assert.is(toHex(s.find((x) => x.id === NTA.SPAT_PORT)!.payload), '50 c3');
  assert.not.ok(s.find((x) => x.id === NTA.SNAT_IPV4), 'address unchanged: no SNAT address');

  const icmp: Flow = {
    family: 4, orig: { src: '192.0.2.1', dst: '198.51.100.2', proto: 1, icmpType: 8, icmpCode: 0, icmpId: 4660 },
    reply: { src: '198.51.100.2', dst: '192.0.2.1', proto: 1, icmpType: 0, icmpCode: 0, icmpId: 4660 },
    status: 0, zone: 5,
  };
  const m = enc(icmp);
  const i = attrs(m);
  assert.equal(i.map((x) => x.id), [NTA.IPV4, NTA.STATUS, NTA.L4PROTO, NTA.ICMP_TYPE, NTA.ICMP_CODE, NTA.ICMP_ID, NTA.ZONE]);
  assert.is(toHex(i.find((x) => x.id === NTA.ICMP_ID)!.payload), '34 12');
  assert.ok(toHex(m).endsWith('00 06 00 20 00 05 00 00'), 'zone 5 as 0006 0020 0005 + padding');
  assert.equal(flowOf(decodeCt(m, 0, m.length)), icmp);
});

test('captured ICMP SNAT message: conntrackd\'s zero SPAT/DPAT are ignored, and not sent', () => {
  // conntrackd 1.4.7 bulk message for: conntrack -I -p icmp -s 192.0.2.3 -d 198.51.100.2
  //   --icmp-type 8 --icmp-code 0 --icmp-id 4661 -t 30 --src-nat 198.51.100.78
  const captured = hex(`10 20 00 74 6b 02 6e 8f 000c 0000 c0000203 c6336402 0008 0005 00000198 0005 0002 01000000
    0005 0016 08000000 0005 0017 00000000 0006 0018 35120000 0008 0006 0000001e 0008 0007 00000000
    0008 000c c633644e 0006 000e 00000000 0006 000f 00000000 0010 001f 000000000000000000000000`);
  const f = flowOf(decodeCt(captured, 0, captured.length));
  assert.equal(f.reply, { src: '198.51.100.2', dst: '198.51.100.78', proto: 1, icmpType: 0, icmpCode: 0, icmpId: 4661 });
  const ours = enc(f, MSG.CT_NEW, FLAG.HELLO, 0x6b026e8f);
  assert.equal(attrs(ours).map((a) => a.id), attrs(captured).map((a) => a.id).filter((id) => id !== NTA.SPAT_PORT && id !== NTA.DPAT_PORT));
  assert.is(ours.length, captured.length - 16);
});

test('the observed 124-byte EXP_NEW of the ftp helper', () => {
  const e: Expectation = {
    family: 4,
    master: { src: '127.0.0.1', dst: '127.0.0.1', proto: 6, sport: 47496, dport: 21 },
    tuple: { src: '127.0.0.1', dst: '127.0.0.1', proto: 6, sport: 0, dport: 50002 },
    mask: { src: '255.255.255.255', dst: '255.255.255.255', proto: 6, sport: 0, dport: 65535 },
    timeout: 300, flags: 0, class: 0, helper: 'ftp',
  };
  const m = encE(e);
  assert.is(m.length, 124);
  assert.equal(attrs(m).map((x) => x.id), [0, 2, 3, 4, 6, 7, 8, 10, 11, 12, 13, 14, 19]);
  assert.is(toHex(attrs(m).at(-1)!.payload), '66 74 70 00');
  assert.equal(decodeExp(m, 0, m.length), e);
});

// ------------------------------------------------------------------ attribute set and order

test('1.4.7 sender attribute order, with every NAT and optional attribute', () => {
  const f: Flow = {
    family: 4,
    orig: { src: '192.0.2.1', dst: '198.51.100.2', proto: 6, sport: 1111, dport: 21 },
    reply: { src: '203.0.113.7', dst: '203.0.113.1', proto: 6, sport: 2121, dport: 60000 },
    status: STATUS.SRC_NAT_DONE | STATUS.DST_NAT_DONE | STATUS.SEEN_REPLY | STATUS.HELPER,
    timeout: 100, mark: 9, zone: 3, tcp: { state: 3, wscaleOrig: 7, wscaleReply: 8 },
    master: { src: '192.0.2.1', dst: '198.51.100.2', proto: 6, sport: 5000, dport: 21 },
    seqAdjOrig: { correctionPos: 1, offsetBefore: 2, offsetAfter: 3 },
    seqAdjReply: { correctionPos: 4, offsetBefore: 5, offsetAfter: 6 },
    helper: 'ftp', labels: [1], synproxy: { isn: 1, its: 2, tsoff: 3 },
  };
  const ids = attrs(enc(f, 1, 0, 1, { tcpWindowTracking: true })).map((x) => x.id);
  assert.equal(ids, [
    NTA.IPV4, NTA.STATUS, NTA.L4PROTO, NTA.PORT, NTA.TCP_STATE, NTA.TCP_WSCALE_ORIG, NTA.TCP_WSCALE_REPL,
    NTA.TIMEOUT, NTA.MARK, NTA.MASTER_IPV4, NTA.MASTER_L4PROTO, NTA.MASTER_PORT, NTA.SNAT_IPV4, NTA.DNAT_IPV4,
    NTA.SPAT_PORT, NTA.DPAT_PORT, NTA.NAT_SEQ_ADJ, NTA.HELPER_NAME, NTA.LABELS, NTA.SYNPROXY, NTA.ZONE,
  ]);
  // without window tracking, and with a commit timeout configured
  const ids2 = attrs(enc(f, 1, 0, 1, { commitTimeout: true })).map((x) => x.id);
  assert.not.ok(ids2.includes(NTA.TIMEOUT));
  assert.not.ok(ids2.includes(NTA.TCP_WSCALE_ORIG));
  // zone 0 is never sent
  assert.not.ok(attrs(enc({ ...f, zone: 0 })).some((x) => x.id === NTA.ZONE));
});

test('synproxy goes its, isn, tsoff; labels as BE words padded to the kernel 128 bits', () => {
  const f = tcpFlow(1, { synproxy: { isn: 0x11111111, its: 0x22222222, tsoff: 0x33333333 }, labels: [0x80000001, 0, 0x2] });
  const a = attrs(enc(f));
  assert.is(toHex(a.find((x) => x.id === NTA.SYNPROXY)!.payload), '22 22 22 22 11 11 11 11 33 33 33 33');
  const l = a.find((x) => x.id === NTA.LABELS)!;
  assert.is(l.len, 4 + 16);
  assert.is(toHex(l.payload), '80 00 00 01 00 00 00 00 00 00 00 02 00 00 00 00');
  const back = flowOf(decodeCt(enc(f), 0, enc(f).length));
  assert.equal(back.labels, [0x80000001, 0, 0x2], 'trailing zero words trimmed on decode');
  // no bit set: no attribute
  assert.not.ok(attrs(enc(tcpFlow(1, { labels: [0, 0] }))).some((x) => x.id === NTA.LABELS));
});

test('helper names longer than the receiver accepts are left out and counted', () => {
  const b = new Uint8Array(MAX_MESSAGE_SIZE);
  const c = newSyncStats();
  let n = encodeCt(b, 0, 0, 0, 1, tcpFlow(1, { helper: 'abcdefghijk' }), {}, c);
  assert.is(toHex(attrs(b.slice(0, n)).find((x) => x.id === NTA.HELPER_NAME)!.payload), '61 62 63 64 65 66 67 68 69 6a 6b 00');
  assert.is(c.sndHelperOmitted, 0);
  n = encodeCt(b, 0, 0, 0, 1, tcpFlow(1, { helper: 'abcdefghijkl' }), {}, c);
  assert.not.ok(attrs(b.slice(0, n)).some((x) => x.id === NTA.HELPER_NAME));
  assert.is(c.sndHelperOmitted, 1);
});

test('no stale bytes: padding is zeroed and a port protocol without ports sends zero ports', () => {
  const dirty = new Uint8Array(MAX_MESSAGE_SIZE).fill(0xaa);
  const noPorts: Flow = {
    family: 4, orig: { src: '192.0.2.1', dst: '198.51.100.2', proto: 33 },
    reply: { src: '198.51.100.2', dst: '192.0.2.1', proto: 33 }, status: 0, dccp: { state: 4 },
  };
  encodeCt(dirty, 0, 0, 0, 1, tcpFlow(7), {});
  const n = encodeCt(dirty, 0, 0, 0, 1, noPorts, {});
  const clean = enc(noPorts);
  assert.is(toHex(dirty.slice(0, n)), toHex(clean));
  assert.is(toHex(attrs(clean).find((x) => x.id === NTA.PORT)!.payload), '00 00 00 00');
  // GRE and UDPLITE carry no ports in 1.4.7
  const gre: Flow = { ...noPorts, orig: { ...noPorts.orig, proto: 47, sport: 5, dport: 6 }, reply: { ...noPorts.reply, proto: 47 }, dccp: undefined };
  delete gre.dccp;
  assert.equal(attrs(enc(gre)).map((x) => x.id), [NTA.IPV4, NTA.STATUS, NTA.L4PROTO]);
});

// ------------------------------------------------------------------ round trips

/** A flow as the peer rebuilds it: reply tuple from the orig tuple and the NAT. */
function wireForm(f: Flow): Flow {
  const w: Flow = { ...f, reply: replyFor(f.orig, natOf(f)) };
  // with window tracking on, TCP entries always carry both scale factors
  if (f.tcp) w.tcp = { wscaleOrig: 0, wscaleReply: 0, ...f.tcp };
  return w;
}

const ROUND_TRIP_FLOWS: Flow[] = [
  {
    family: 4,
    orig: { src: '192.0.2.1', dst: '198.51.100.2', proto: 6, sport: 1111, dport: 21 },
    reply: { src: '203.0.113.7', dst: '203.0.113.1', proto: 6, sport: 2121, dport: 60000 },
    status: STATUS.SRC_NAT_DONE | STATUS.DST_NAT_DONE | STATUS.SEEN_REPLY | STATUS.ASSURED,
    timeout: 100, mark: 0xdeadbeef, zone: 65535, tcp: { state: 9, wscaleOrig: 7, wscaleReply: 14 },
    master: { src: '192.0.2.1', dst: '198.51.100.2', proto: 6, sport: 5000, dport: 21 },
    seqAdjOrig: { correctionPos: 0xffffffff, offsetBefore: 2, offsetAfter: 3 },
    seqAdjReply: { correctionPos: 4, offsetBefore: 5, offsetAfter: 0x80000000 },
    helper: 'ftp', labels: [1, 0, 0, 0, 0x80000000], synproxy: { isn: 1, its: 2, tsoff: 3 },
  },
  {
    family: 6,
    orig: { src: '2001:db8::1', dst: '2001:db8:2::9', proto: 6, sport: 40000, dport: 443 },
    reply: { src: '2001:db8:3::1', dst: '2001:db8:4::1', proto: 6, sport: 443, dport: 40000 },
    status: STATUS.SRC_NAT_DONE | STATUS.DST_NAT_DONE, timeout: 7, mark: 1, tcp: { state: 1 },
    master: { src: '2001:db8::1', dst: '2001:db8:2::9', proto: 17, sport: 1, dport: 2 },
  },
  {
    family: 4, orig: { src: '192.0.2.1', dst: '198.51.100.2', proto: 132, sport: 36412, dport: 36412 },
    reply: { src: '198.51.100.2', dst: '192.0.2.1', proto: 132, sport: 36412, dport: 36412 },
    status: STATUS.SEEN_REPLY, timeout: 30, sctp: { state: 4, vtagOrig: 0x01020304, vtagReply: 0xa0b0c0d0 },
  },
  {
    family: 6, orig: { src: '2001:db8::1', dst: '2001:db8::2', proto: 33, sport: 5001, dport: 5002 },
    reply: { src: '2001:db8::2', dst: '2001:db8::1', proto: 33, sport: 5002, dport: 5001 },
    status: 0, timeout: 30, dccp: { state: 3, role: 1 },
  },
  {
    family: 6, orig: { src: '2001:db8::1', dst: '2001:db8::2', proto: 58, icmpType: 128, icmpCode: 0, icmpId: 0xbeef },
    reply: { src: '2001:db8::2', dst: '2001:db8::1', proto: 58, icmpType: 129, icmpCode: 0, icmpId: 0xbeef },
    status: 0, timeout: 30, zone: 1,
  },
  {
    family: 4, orig: { src: '192.0.2.1', dst: '198.51.100.2', proto: 17, sport: 53, dport: 53 },
    reply: { src: '198.51.100.2', dst: '192.0.2.1', proto: 17, sport: 53, dport: 53 },
    status: STATUS.CONFIRMED, timeout: 30, mark: 0,
  },
];

test('round trip of every conntrack attribute (ids 0-32)', () => {
  const seen = new Set<number>();
  for (const f of ROUND_TRIP_FLOWS) {
    for (const type of [MSG.CT_NEW, MSG.CT_UPD, MSG.CT_DEL] as const) {
      const m = enc(f, type, 0, 42, { tcpWindowTracking: true });
      for (const a of attrs(m)) seen.add(a.id);
      const [d] = decodeDatagram(m);
      assert.is(d.type, type);
      assert.equal(d.flow, wireForm(f), `${f.orig.proto}/${f.family}`);
    }
  }
  assert.equal([...seen].sort((a, b) => a - b), Array.from({ length: 33 }, (_, i) => i));
});

const ROUND_TRIP_EXPS: Expectation[] = [
  {
    family: 4,
    master: { src: '192.0.2.1', dst: '198.51.100.2', proto: 6, sport: 47496, dport: 21 },
    tuple: { src: '192.0.2.1', dst: '198.51.100.2', proto: 6, sport: 0, dport: 50002 },
    mask: { src: '255.255.255.255', dst: '255.255.255.255', proto: 6, sport: 0, dport: 65535 },
    timeout: 300, flags: 5, class: 1, helper: 'ftp', fn: 'nat-follow-master',
    nat: { dir: 1, tuple: { src: '0.0.0.0', dst: '203.0.113.5', proto: 6, sport: 0, dport: 50002 } },
  },
  {
    family: 6,
    master: { src: '2001:db8::1', dst: '2001:db8::2', proto: 17, sport: 1000, dport: 69 },
    tuple: { src: '2001:db8::2', dst: '2001:db8::1', proto: 17, sport: 0, dport: 1000 },
    mask: { src: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', dst: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', proto: 17, sport: 0, dport: 65535 },
    timeout: 10, flags: 0,
  },
];

test('round trip of every expectation attribute (ids 0-20)', () => {
  const seen = new Set<number>();
  for (const e of ROUND_TRIP_EXPS) {
    for (const type of [MSG.EXP_NEW, MSG.EXP_UPD, MSG.EXP_DEL] as const) {
      const m = encE(e, type);
      for (const a of attrs(m)) seen.add(a.id);
      const [d] = decodeDatagram(m);
      assert.is(d.type, type);
      assert.equal(d.exp, e);
    }
  }
  // the IPv6 NAT tuple has no address attribute on the wire (conntrackd sends IPv4 only)
  const v6nat = { ...ROUND_TRIP_EXPS[1], nat: { dir: 0, tuple: { src: '2001:db8::5', dst: '2001:db8::6', proto: 17, sport: 1, dport: 2 } } };
  const m = encE(v6nat);
  for (const a of attrs(m)) seen.add(a.id);
  assert.not.ok(attrs(m).some((a) => a.id === NTA_EXP.NAT_IPV4));
  assert.equal(
    [...seen].sort((a, b) => a - b),
    Array.from({ length: 21 }, (_, i) => i),
  );
});

// ------------------------------------------------------------------ receive validation

/** A message: header + raw attribute bytes. */
function raw(type: number, flags: number, seq: number, body: Uint8Array = new Uint8Array(0), len?: number, version = 1): Uint8Array {
  const m = new Uint8Array(8 + body.length);
  m[0] = (version << 4) | type;
  m[1] = flags;
  const l = len ?? m.length;
  m[2] = l >> 8; m[3] = l & 0xff;
  m[4] = seq >>> 24; m[5] = (seq >>> 16) & 0xff; m[6] = (seq >>> 8) & 0xff; m[7] = seq & 0xff;
  m.set(body, 8);
  return m;
}
const ctl = (flags: number, seq: number, from = 0, to = 0) => {
  const b = new Uint8Array(16);
  return b.slice(0, encodeControl(b, 0, flags, seq, from, to));
};
const cat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
};
/** The attributes of a valid TCP message, to which bad ones are appended. */
const goodBody = enc(tcpFlow(3)).slice(8);

function counters(p: Peer) {
  const s = p.mode.stats;
  return {
    malformed: s.rcvMalformed, version: s.rcvBadVersion, header: s.rcvBadHeader, payload: s.rcvBadPayload,
    type: s.rcvBadType, truncated: s.rcvTruncated, size: s.rcvBadSize,
  };
}
const zero = { malformed: 0, version: 0, header: 0, payload: 0, type: 0, truncated: 0, size: 0 };

test('framing errors are counted as conntrackd counts them and end the datagram', () => {
  const p = new Peer(new Net(), 'ftfw');
  let seq = 1000;
  // a good ALIVE then 5 stray bytes: truncated
  p.mode.receive(cat(ctl(FLAG.ALIVE, seq++), new Uint8Array(5)));
  assert.equal(counters(p), { ...zero, malformed: 1, truncated: 1 });
  assert.is(p.mode.stats.rcvCtl, 1, 'the ALIVE before the stray bytes was processed');
  // len 0
  p.mode.receive(raw(MSG.CTL, FLAG.ALIVE, seq++, new Uint8Array(8), 0));
  // len beyond the datagram
  p.mode.receive(raw(MSG.CTL, FLAG.ALIVE, seq++, new Uint8Array(8), 200));
  // ACK with fewer than 16 bytes left
  p.mode.receive(raw(MSG.CTL, FLAG.ACK, seq++, new Uint8Array(4)));
  // ACK whose len says 8 (16 bytes available)
  p.mode.receive(cat(raw(MSG.CTL, FLAG.ACK, seq++, new Uint8Array(0), 8), new Uint8Array(8)));
  // a data message shorter than its header
  p.mode.receive(cat(raw(MSG.CT_NEW, 0, seq++, new Uint8Array(0), 4), new Uint8Array(4)));
  assert.equal(counters(p), { ...zero, malformed: 6, truncated: 2, size: 4 });
  // wrong version skips one message only: the next one in the datagram is processed
  const before = p.mode.stats.rcvCtl;
  p.mode.receive(cat(raw(MSG.CTL, FLAG.ALIVE, seq++, new Uint8Array(0), 8, 2), ctl(FLAG.ALIVE, seq++)));
  assert.equal(counters(p), { ...zero, malformed: 7, truncated: 2, size: 4, version: 1 });
  assert.is(p.mode.stats.rcvCtl, before + 1);
});

test('header errors: unknown control flags, to before from, undefined data type (FTFW)', () => {
  const p = new Peer(new Net(), 'ftfw');
  let seq = 2000;
  p.mode.receive(ctl(FLAG.ALIVE, seq++));
  p.mode.receive(raw(MSG.CTL, FLAG.UNUSED, seq++));
  p.mode.receive(ctl(FLAG.ACK, seq++, 10, 9));
  p.mode.receive(ctl(FLAG.NACK, seq++, 10, 9));
  p.mode.receive(raw(7, 0, seq++));
  assert.equal(counters(p), { ...zero, malformed: 4, header: 4 });
});

test('NOTRACK counts ACK and NACK as malformed headers; ALARM counts an undefined type as bad type', () => {
  const n = new Peer(new Net(), 'notrack');
  n.mode.receive(cat(ctl(FLAG.ACK, 1, 1, 1), ctl(FLAG.NACK, 2, 1, 1), ctl(FLAG.ALIVE, 3)));
  assert.equal(counters(n), { ...zero, malformed: 2, header: 2 });
  const a = new Peer(new Net(), 'alarm');
  a.mode.receive(cat(raw(7, 0, 1), raw(MSG.CTL, 0, 2), ctl(FLAG.ACK, 3, 1, 1), raw(9, FLAG.ALIVE, 4)));
  assert.equal(counters(a), { ...zero, malformed: 2, type: 2 }, 'flagged messages are ignored, unflagged types > 5 are bad');
});

test('payload errors drop the message as malformed payload, and FTFW still acknowledges it', () => {
  const p = new Peer(new Net(), 'ftfw');
  let seq = 3000;
  const bad: [string, Uint8Array][] = [
    ['unknown attribute id 40', hex('0008 0028 00000000')],
    ['unknown expectation-range id 33', hex('0008 0021 00000000')],
    ['2-byte MARK', hex('0006 0007 0001 0000')],
    ['over-long helper name', hex('0014 001b 616263646566676869 6a6b6c6d6e6f00 00')],
    ['attribute shorter than its header', hex('0003 0007 00000000')],
    ['attribute longer than the message', hex('0040 0007 00000000')],
    ['over-long labels', cat(hex('0408 001c'), new Uint8Array(1028))],
  ];
  for (const [, a] of bad) p.mode.receive(raw(MSG.CT_NEW, 0, seq++, cat(goodBody, a)));
  // expectations have their own id space
  p.mode.receive(raw(MSG.EXP_NEW, 0, seq++, hex('0008 0015 00000000')));
  assert.equal(counters(p), { ...zero, malformed: bad.length + 1, payload: bad.length + 1 });
  assert.is(p.host.applied.length, 0, 'nothing applied');
  // a message without addresses is not malformed for conntrackd (it fails later); ctsync counts it apart
  p.mode.receive(raw(MSG.CT_NEW, 0, seq++, hex('0005 0002 06000000')));
  assert.is(p.mode.stats.rcvNoAddress, 1);
  assert.is(p.mode.stats.rcvMalformed, bad.length + 1);
  // the sequence went on: no gap, no NACK
  p.mode.receive(raw(MSG.CT_NEW, 0, seq++, goodBody));
  assert.is(p.mode.stats.rcvLost, 0);
  assert.is(p.host.applied.length, 1);
  p.mode.flush();
  assert.not.ok(p.sentMessages().some((m) => m.flags & FLAG.NACK));
  // attribute order does not matter, a duplicate overwrites, a 4-byte tail is ignored
  const swapped = raw(MSG.CT_UPD, 0, seq++, cat(goodBody.slice(12), goodBody.slice(0, 12), hex('0008 0007 00000063'), hex('00000000')));
  p.mode.receive(swapped);
  assert.is(p.host.applied.at(-1)!.flow!.mark, 0x63);
  assert.is(p.host.applied.at(-1)!.flow!.orig.sport, tcpFlow(3).orig.sport);
  assert.is(decodeCt(raw(0, 0, 1, hex('0008 0028 00000000')), 0, 16), DECODE_MALFORMED);
  assert.is(decodeCt(raw(0, 0, 1), 0, 8), DECODE_NO_ADDRESS);
});

// ------------------------------------------------------------------ packing

function bulk(p: Peer, n: number): void {
  for (let i = 0; i < n; i++) p.host.create(tcpFlow(i));
  p.mode.flush();
}

test('packing: messages are appended while buffered + len < MTU - 28, never split', () => {
  const p = new Peer(new Net(), 'ftfw', { retransmitMs: 0 });
  bulk(p, 100);
  const sizes = p.sent.map((d) => d.reduce((n, m) => n + m.len, 0));
  assert.ok(sizes.every((s) => s < 1472), `datagrams ${sizes}`);
  assert.equal(p.sent.map((d) => d.length), [17, 17, 17, 17, 17, 15]);
  assert.is(sizes[0], 17 * 84);
  assert.is(p.sentMessages().filter((m) => m.flow).length, 100);
  // control and data mixed: a NACK for a gap and a local change leave in one datagram
  p.mode.receive(ctl(FLAG.ALIVE, 10));
  p.mode.receive(ctl(FLAG.ALIVE, 20));
  p.host.create(tcpFlow(500));
  p.mode.flush();
  assert.ok(p.sent.some((d) => d.some((m) => m.flow) && d.some((m) => m.type === MSG.CTL)), 'a datagram holds data and control');
});

test('packing is strict: two 84-byte messages need a payload of 169', () => {
  for (const [payload, perDatagram] of [[168, 1], [169, 2]] as const) {
    const p = new Peer(new Net(), 'notrack', {}, payload + 28);
    bulk(p, 6);
    assert.ok(p.sent.every((d) => d.length === perDatagram), `${payload}: ${p.sent.map((d) => d.length)}`);
  }
  // a message that can never fit is dropped and counted, not looped on
  const p = new Peer(new Net(), 'notrack', {}, 84 + 28);
  bulk(p, 1);
  assert.is(p.sent.length, 0);
  assert.is(p.mode.stats.sndMalformed, 1);
});

test.run();
