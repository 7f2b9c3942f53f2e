// timeout: 120
// The socket filter's in-kernel parser against the TypeScript codec: ctnetlink event messages
// built here are run through the loaded program with BPF_PROG_TEST_RUN; the record it writes to
// the ring buffer must decode to exactly what decodeFlow makes of the same message, and what it
// cannot represent must go up to the socket (the return value) with a marker record.
// Needs root (BPF); touches no network namespace.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CtsyncObject } from '../../src/kernel/bpf/object.ts';
import { MapWriter } from '../../src/kernel/bpf/maps.ts';
import { libbpf } from '../../src/kernel/bpf/libbpf.ts';
import { RingReader, mapRing } from '../../src/kernel/bpf/ringbuf.ts';
import { decodeRecord, recordFlags, recordNlType, REC_FLAG } from '../../src/kernel/bpf/ctsync.gen.ts';
import { NlWriter, NLM_F } from '../../src/kernel/nlmsg.ts';
import { CTA, CTA_PROTOINFO, CTA_TCP, CTA_SCTP, CTA_HELP, CTA_SEQADJ, CTA_COUNTERS, CTA_TS, CTA_SYNPROXY, CTA_EXPECT, encodeTuple, decodeFlow, AF_INET, AF_INET6 } from '../../src/kernel/ctnetlink.ts';
import { ctEventType } from '../../src/kernel/events/netlink.ts';
import { FlowFilter } from '../../src/flow/filter.ts';
import type { Tuple, Family } from '../../src/flow/flow.ts';
import type { FlowEvent } from '../../src/flow/event.ts';

const ETH_HLEN = 14; // BPF_PROG_TEST_RUN hands a socket filter the data after an Ethernet header

const obj = CtsyncObject.load({ ringBytes: 1 << 20, programs: ['ct_socket'] });
const maps = new MapWriter(obj);
maps.setSettings({ flags: 0, hz: 0, netns: 0n });
maps.setFilter(FlowFilter.all());
const ring = new RingReader(mapRing(obj.mapFd('events'), obj.ringBytes));
const progFd = obj.programFd('ct_socket');

interface Outcome { retval: number; size: number; records: { flags: number; nlType: number; ev?: FlowEvent }[] }

function run(msg: Uint8Array): Outcome {
  const data = new Uint8Array(ETH_HLEN + msg.length);
  data.set(msg, ETH_HLEN);
  const r = libbpf().testRun(progFd, data);
  assert.is(r.ret, 0, 'BPF_PROG_TEST_RUN');
  const records: Outcome['records'] = [];
  ring.drain((dv, off) => {
    const flags = recordFlags(dv, off);
    records.push({ flags, nlType: recordNlType(dv, off), ev: flags & REC_FLAG.REC_PASSED_UP ? undefined : decodeRecord(dv, off) });
  });
  return { retval: r.retval, size: msg.length, records };
}

/** What the TypeScript codec makes of the same message. */
function tsDecode(msg: Uint8Array): FlowEvent {
  const dv = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  const type = dv.getUint16(4, true), flags = dv.getUint16(6, true), pid = dv.getUint32(12, true);
  return { type: ctEventType(type, flags), flow: decodeFlow(dv, 20, msg.length, dv.getUint8(16)), origin: pid };
}

function expectRecord(msg: Uint8Array, what: string): void {
  const out = run(msg);
  assert.is(out.retval, 0, `${what}: the message is not queued`);
  assert.is(out.records.length, 1, `${what}: one record`);
  const rec = out.records[0];
  assert.is(rec.flags, REC_FLAG.REC_COMPLETE, `${what}: complete record`);
  const { kernelNs, ...ev } = rec.ev!;
  assert.ok(typeof kernelNs === 'bigint' && kernelNs > 0n, `${what}: time stamp`);
  assert.equal(ev, tsDecode(msg), `${what}: record equals the TypeScript decoding`);
}

function expectPassedUp(msg: Uint8Array, what: string): void {
  const out = run(msg);
  assert.is(out.retval, out.size, `${what}: passed up whole`);
  assert.is(out.records.length, 1, `${what}: one marker`);
  assert.is(out.records[0].flags, REC_FLAG.REC_PASSED_UP, `${what}: marker record`);
  assert.is(out.records[0].nlType, new DataView(msg.buffer, msg.byteOffset).getUint16(4, true), `${what}: marker names the message type`);
}

interface Msg {
  type?: number;
  flags?: number;
  pid?: number;
  family?: Family;
  body: (w: NlWriter, family: Family) => void;
}

function message(m: Msg): Uint8Array {
  const w = new NlWriter(4096);
  const family = m.family ?? 4;
  w.begin(m.type ?? 0x100, m.flags ?? (NLM_F.CREATE | NLM_F.EXCL), 0, family === 4 ? AF_INET : AF_INET6);
  m.body(w, family);
  w.end();
  // the pid goes where the kernel puts the origin port
  const out = w.data().slice();
  new DataView(out.buffer).setUint32(12, m.pid ?? 0, true);
  return out;
}

const o4: Tuple = { src: '192.0.2.10', dst: '203.0.113.10', proto: 6, sport: 40000, dport: 21 };
const r4: Tuple = { src: '198.51.100.20', dst: '192.0.2.10', proto: 6, sport: 2121, dport: 40000 };

function basics(w: NlWriter, f: Family, orig: Tuple, reply: Tuple): void {
  encodeTuple(w, CTA.TUPLE_ORIG, orig, f);
  encodeTuple(w, CTA.TUPLE_REPLY, reply, f);
  w.u32be(CTA.ID, 0x12345678);
  w.u32be(CTA.STATUS, 0x1ae);
}

test('UDP NEW event as the kernel sends it', () => {
  const orig: Tuple = { src: '192.0.2.2', dst: '198.51.100.7', proto: 17, sport: 51000, dport: 1030 };
  expectRecord(message({ pid: 0, body: (w, f) => {
    basics(w, f, orig, { src: orig.dst, dst: orig.src, proto: 17, sport: 1030, dport: 51000 });
    w.u32be(CTA.TIMEOUT, 30);
  } }), 'udp new');
});

test('TCP with protocol info, helper, master, sequence adjustment, labels, synproxy, mark, zones and secctx', () => {
  expectRecord(message({ pid: 777, body: (w, f) => {
    encodeTuple(w, CTA.TUPLE_ORIG, { ...o4, zone: 5 }, f);
    encodeTuple(w, CTA.TUPLE_REPLY, r4, f);
    w.u16be(CTA.ZONE, 5);
    w.u32be(CTA.ID, 0xfedcba98);
    w.u32be(CTA.STATUS, 0x39e);
    w.u32be(CTA.TIMEOUT, 431999);
    w.nest(CTA.PROTOINFO);
    w.nest(CTA_PROTOINFO.TCP);
    w.u8(CTA_TCP.STATE, 3);
    w.u8(CTA_TCP.WSCALE_ORIG, 7);
    w.u8(CTA_TCP.WSCALE_REPLY, 9);
    w.bytes(CTA_TCP.FLAGS_ORIG, new Uint8Array([0x23, 0xff]));
    w.bytes(CTA_TCP.FLAGS_REPLY, new Uint8Array([0x22, 0xff]));
    w.nestEnd();
    w.nestEnd();
    w.nest(CTA.HELP);
    w.cstr(CTA_HELP.NAME, 'ftp');
    w.nestEnd();
    w.nest(CTA.SECCTX);
    w.cstr(1, 'system_u:object_r:unlabeled_t:s0');
    w.nestEnd();
    const labels = new Uint8Array(16);
    new DataView(labels.buffer).setUint32(4, 0x80000001, true);
    w.bytes(CTA.LABELS, labels);
    encodeTuple(w, CTA.TUPLE_MASTER, { ...o4, sport: 39999 }, f);
    w.nest(CTA.SEQ_ADJ_ORIG);
    w.u32be(CTA_SEQADJ.CORRECTION_POS, 1000);
    w.u32be(CTA_SEQADJ.OFFSET_BEFORE, 0xfffffffe);
    w.u32be(CTA_SEQADJ.OFFSET_AFTER, 4);
    w.nestEnd();
    w.nest(CTA.SEQ_ADJ_REPLY);
    w.u32be(CTA_SEQADJ.CORRECTION_POS, 2000);
    w.u32be(CTA_SEQADJ.OFFSET_BEFORE, 0);
    w.u32be(CTA_SEQADJ.OFFSET_AFTER, 0);
    w.nestEnd();
    w.nest(CTA.SYNPROXY);
    w.u32be(CTA_SYNPROXY.ISN, 11);
    w.u32be(CTA_SYNPROXY.ITS, 22);
    w.u32be(CTA_SYNPROXY.TSOFF, 33);
    w.nestEnd();
    w.u32be(CTA.MARK, 0xdeadbeef);
  } }), 'tcp with everything');
});

test('DESTROY with counters and time stamps; UPDATE without NEW flags', () => {
  expectRecord(message({ type: 0x102, flags: 0, body: (w, f) => {
    basics(w, f, o4, r4);
    for (const dir of [CTA.COUNTERS_ORIG, CTA.COUNTERS_REPLY]) {
      w.nest(dir);
      w.u64be(CTA_COUNTERS.PACKETS, 12n + BigInt(dir));
      w.u64be(CTA_COUNTERS.BYTES, 3456n * BigInt(dir));
      w.nestEnd();
    }
    w.nest(CTA.TIMESTAMP);
    w.u64be(CTA_TS.START, 1_700_000_000_000_000_000n);
    w.u64be(CTA_TS.STOP, 1_700_000_009_000_000_000n);
    w.nestEnd();
    w.u64be(27 /* CTA_TIMESTAMP_EVENT */, 1_700_000_009_500_000_000n);
    w.u32be(CTA.MARK, 7);
  } }), 'destroy');
  expectRecord(message({ flags: 0, body: (w, f) => {
    basics(w, f, o4, r4);
    w.u32be(CTA.TIMEOUT, 120);
  } }), 'update');
});

test('IPv6: ICMPv6 echo and SCTP with vtags', () => {
  const icmp: Tuple = { src: '2001:db8:1::2', dst: '2001:db8:2::55', proto: 58, icmpType: 128, icmpCode: 0, icmpId: 4711 };
  expectRecord(message({ family: 6, body: (w, f) => {
    basics(w, f, icmp, { src: icmp.dst, dst: icmp.src, proto: 58, icmpType: 129, icmpCode: 0, icmpId: 4711 });
    w.u32be(CTA.TIMEOUT, 30);
  } }), 'icmpv6');
  const sctp: Tuple = { src: '2001:db8:1::2', dst: '2001:db8:2::56', proto: 132, sport: 5000, dport: 36412 };
  expectRecord(message({ family: 6, body: (w, f) => {
    basics(w, f, sctp, { src: sctp.dst, dst: sctp.src, proto: 132, sport: 36412, dport: 5000 });
    w.nest(CTA.PROTOINFO);
    w.nest(CTA_PROTOINFO.SCTP);
    w.u8(CTA_SCTP.STATE, 4);
    w.u32be(CTA_SCTP.VTAG_ORIG, 0x01020304);
    w.u32be(CTA_SCTP.VTAG_REPLY, 0xa0b0c0d0);
    w.nestEnd();
    w.nestEnd();
  } }), 'sctp');
});

test('IPv4 ICMP and a protocol without ports (GRE keys ride in the ports; VRRP has none)', () => {
  expectRecord(message({ body: (w, f) => {
    basics(w, f, { src: '192.0.2.1', dst: '192.0.2.9', proto: 1, icmpType: 8, icmpCode: 0, icmpId: 9 },
      { src: '192.0.2.9', dst: '192.0.2.1', proto: 1, icmpType: 0, icmpCode: 0, icmpId: 9 });
  } }), 'icmp');
  expectRecord(message({ body: (w, f) => {
    basics(w, f, { src: '192.0.2.1', dst: '224.0.0.18', proto: 112 }, { src: '224.0.0.18', dst: '192.0.2.1', proto: 112 });
  } }), 'vrrp');
});

test('what the filter cannot represent goes up to the socket, with a marker', () => {
  expectPassedUp(message({ type: 0x200, body: (w, f) => {
    encodeTuple(w, CTA_EXPECT.MASTER, o4, f);
    encodeTuple(w, CTA_EXPECT.TUPLE, r4, f);
    encodeTuple(w, CTA_EXPECT.MASK, r4, f);
  } }), 'expectation event');
  expectPassedUp(message({ body: (w, f) => { basics(w, f, o4, r4); w.u32be(31, 1); } }), 'unknown attribute type');
  expectPassedUp(message({ body: (w, f) => { basics(w, f, o4, r4); w.u32be(CTA.TIMEOUT, 1); w.nest(CTA.NAT_SRC); w.nestEnd(); } }), 'NAT attribute');
  expectPassedUp(message({ body: (w, f) => { basics(w, f, o4, r4); w.bytes(CTA.LABELS, new Uint8Array(32)); } }), 'labels beyond 128 bits');
  expectPassedUp(message({ body: (w, f) => { basics(w, f, o4, r4); w.u16be(CTA.STATUS, 1); } }), 'wrong attribute length');
  expectPassedUp(message({ body: (w, f) => {
    basics(w, f, o4, r4);
    w.nest(CTA.COUNTERS_ORIG);
    w.u32be(3, 1);
    w.nestEnd();
  } }), '32-bit counters');
  expectPassedUp(message({ body: (w) => { w.u32be(CTA.STATUS, 1); } }), 'no original tuple');
  // a truncated attribute: the message length cuts the last one short
  const m = message({ body: (w, f) => { basics(w, f, o4, r4); w.u32be(CTA.TIMEOUT, 1); } });
  const cut = m.slice(0, m.length - 4);
  new DataView(cut.buffer).setUint32(0, cut.length, true);
  expectPassedUp(cut, 'truncated attribute');
  // more attributes than the parser's bound
  expectPassedUp(message({ body: (w, f) => { basics(w, f, o4, r4); for (let i = 0; i < 100; i++) w.u32be(CTA.MARK, i); } }), 'too many attributes');
});

test('the program parses its own copy of the message: up to 1,024 bytes; a longer one goes up to the socket', () => {
  // a security context long enough to bring the message to `size` bytes, then a mark as the last attribute
  const sized = (size: number) => {
    const build = (n: number) => message({ body: (w, f) => {
      basics(w, f, o4, r4);
      w.nest(CTA.SECCTX);
      w.cstr(1, 'x'.repeat(n));
      w.nestEnd();
      w.u32be(CTA.MARK, 0x5a5a5a5a);
    } });
    for (let n = 1; n < 2048; n++) {
      const m = build(n);
      if (m.length === size) return m;
    }
    throw new Error(`no message of ${size} bytes`);
  };
  const atLimit = sized(1024);
  expectRecord(atLimit, 'a message of 1,024 bytes, its last attribute at the end of the copy');
  assert.is(run(atLimit).records[0].ev!.flow.mark, 0x5a5a5a5a);
  expectPassedUp(sized(1028), 'a message of 1,028 bytes');
});

test('the filter maps decide in the kernel: dropped events leave no record and nothing queued', () => {
  const udp = (dst: string) => message({ body: (w, f) => {
    const orig: Tuple = { src: '192.0.2.2', dst, proto: 17, sport: 1, dport: 2 };
    basics(w, f, orig, { src: dst, dst: orig.src, proto: 17, sport: 2, dport: 1 });
  } });
  maps.setFilter(FlowFilter.from({ acceptProtocols: ['udp'], ignoreAddresses: ['198.51.100.0/24'] }));
  try {
    let out = run(udp('198.51.100.7'));
    assert.is(out.retval, 0);
    assert.is(out.records.length, 0, 'ignored address: no record');
    out = run(message({ body: (w, f) => basics(w, f, o4, r4) }));
    assert.is(out.records.length, 0, 'tcp not accepted: no record');
    expectRecord(udp('203.0.113.7'), 'accepted udp');
  } finally {
    maps.setFilter(FlowFilter.all());
  }
  expectRecord(udp('198.51.100.7'), 'filter removed');
});

test('teardown', async () => {
  await ring.close();
  obj.close();
  assert.ok(ring.isClosed);
});

test.run();
