// A dump message into the ring-buffer record layout (src/kernel/ct-record.ts) against the Flow
// path: for generated kernel-style conntrack messages (families, protocols, NAT, ICMP, every
// optional attribute), the record decodes to exactly the Flow decodeFlow makes of the message,
// the stored message and key written from it are the Flow path's, and a message with anything
// the socket filter would pass up (an unknown attribute, 32-bit counters) is refused.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { netlinkToRecord } from '../../src/kernel/ct-record.ts';
import { decodeRecord, RECORD_SIZE } from '../../src/kernel/bpf/ctsync.gen.ts';
import { recordToMessage } from '../../src/daemon/record-message.ts';
import { NlWriter, eachMessage } from '../../src/kernel/nlmsg.ts';
import {
  CTA, CTA_TUPLE, CTA_IP, CTA_PROTO, CTA_PROTOINFO, CTA_TCP, CTA_SCTP, CTA_DCCP, CTA_COUNTERS, CTA_TS,
  CTA_SEQADJ, CTA_HELP, CTA_SYNPROXY, decodeFlow, AF_INET, AF_INET6,
} from '../../src/kernel/ctnetlink.ts';
import { encodeCt } from '../../src/sync/codec.ts';
import { needsFlow } from '../../src/cache/cache.ts';
import { writeFlowKey } from '../../src/cache/key.ts';
import { KEY_SIZE } from '../../src/flow/key.ts';
import { NETHDR_SIZE } from '../../src/sync/wire.ts';
import { FlowFilter } from '../../src/flow/filter.ts';
import { readTable } from '../../src/daemon/table-read.ts';
import type { Conntrack } from '../../src/kernel/conntrack.ts';

let seed = 0x3c6ef372;
function rnd(n: number): number {
  seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5;
  return (seed >>> 0) % n;
}
const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)];
const addr = (v6: boolean) => new Uint8Array(v6
  ? [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, rnd(3), 1 + rnd(3)]
  : [pick([192, 198, 203]), pick([0, 51]), pick([2, 100, 113]), 1 + rnd(4)]);

interface Tup { src: Uint8Array; dst: Uint8Array; proto: number; sport?: number; dport?: number; icmp?: [number, number, number]; zone?: number }

function tuple(w: NlWriter, type: number, t: Tup, v6: boolean): void {
  w.nest(type);
  w.nest(CTA_TUPLE.IP);
  w.bytes(v6 ? CTA_IP.V6_SRC : CTA_IP.V4_SRC, t.src);
  w.bytes(v6 ? CTA_IP.V6_DST : CTA_IP.V4_DST, t.dst);
  w.nestEnd();
  w.nest(CTA_TUPLE.PROTO);
  w.u8(CTA_PROTO.NUM, t.proto);
  if (t.sport !== undefined) w.u16be(CTA_PROTO.SRC_PORT, t.sport);
  if (t.dport !== undefined) w.u16be(CTA_PROTO.DST_PORT, t.dport);
  if (t.icmp) {
    w.u16be(v6 ? CTA_PROTO.ICMPV6_ID : CTA_PROTO.ICMP_ID, t.icmp[2]);
    w.u8(v6 ? CTA_PROTO.ICMPV6_TYPE : CTA_PROTO.ICMP_TYPE, t.icmp[0]);
    w.u8(v6 ? CTA_PROTO.ICMPV6_CODE : CTA_PROTO.ICMP_CODE, t.icmp[1]);
  }
  w.nestEnd();
  if (t.zone !== undefined) w.u16be(CTA_TUPLE.ZONE, t.zone);
  w.nestEnd();
}

/** A conntrack message as a dump or an event carries it; `refuse`: it holds something unknown. */
function kernelMessage(w: NlWriter): { refuse: boolean } {
  const v6 = rnd(4) === 0;
  const proto = pick([6, 6, 6, 17, 17, 1, 58, 132, 33, 47]);
  const ports = ![1, 58].includes(proto);
  const icmp = (proto === 1 && !v6) || (proto === 58 && v6);
  const orig: Tup = { src: addr(v6), dst: addr(v6), proto };
  if (ports) { orig.sport = 1024 + rnd(3); orig.dport = pick([80, 443, 53]); }
  if (icmp) orig.icmp = [pick(proto === 1 ? [8, 13] : [128, 133]), 0, rnd(2) ? 0 : 4660];
  // the reply: inverted, or NATed (source, destination, or ports), now and then odd
  const reply: Tup = { src: orig.dst, dst: orig.src, proto, sport: orig.dport, dport: orig.sport };
  if (icmp) reply.icmp = [orig.icmp![0] === 8 ? 0 : orig.icmp![0] === 13 ? 14 : orig.icmp![0] === 128 ? 129 : orig.icmp![0], 0, orig.icmp![2]];
  let status = pick([0x08, 0x0a, 0x0e, 0x18a, 0x18e]);
  const nat = rnd(4);
  if (nat === 1) { reply.dst = addr(v6); status |= 0x10 | 0x80; }
  if (nat === 2 && ports) { reply.dport = 60000 + rnd(3); status |= 0x10 | 0x80; }
  if (nat === 3) { reply.src = addr(v6); status |= 0x20 | 0x100; }
  if (rnd(40) === 0) orig.zone = rnd(3);
  let refuse = false;
  w.reset();
  w.begin(0x100, 0x600, 1, v6 ? AF_INET6 : AF_INET);
  tuple(w, CTA.TUPLE_ORIG, orig, v6);
  tuple(w, CTA.TUPLE_REPLY, reply, v6);
  if (rnd(20) === 0) tuple(w, CTA.TUPLE_MASTER, { src: orig.src, dst: orig.dst, proto: 6, sport: 40000, dport: 21 }, v6);
  w.u32be(CTA.STATUS, status);
  if (rnd(10)) w.u32be(CTA.TIMEOUT, rnd(500000));
  if (rnd(3) === 0) w.u32be(CTA.MARK, rnd(2) ? 7 : 0xdeadbeef);
  if (rnd(30) === 0) w.u16be(CTA.ZONE, rnd(4));
  if (rnd(2)) w.u32be(CTA.ID, rnd(1 << 30));
  if (rnd(2)) w.u32be(CTA.USE, 1 + rnd(2));
  if (rnd(30) === 0) w.u32be(CTA.SECMARK, 77);
  if (proto === 6 && rnd(10)) {
    w.nest(CTA.PROTOINFO);
    w.nest(CTA_PROTOINFO.TCP);
    w.u8(CTA_TCP.STATE, rnd(10));
    if (rnd(4)) w.u8(CTA_TCP.WSCALE_ORIG, rnd(15));
    if (rnd(4)) w.u8(CTA_TCP.WSCALE_REPLY, rnd(15));
    if (rnd(2)) w.bytes(CTA_TCP.FLAGS_ORIG, new Uint8Array([rnd(64), 0]));
    if (rnd(2)) w.bytes(CTA_TCP.FLAGS_REPLY, new Uint8Array([rnd(64), 0]));
    w.nestEnd();
    w.nestEnd();
  } else if (proto === 132 && rnd(4)) {
    w.nest(CTA.PROTOINFO);
    w.nest(CTA_PROTOINFO.SCTP);
    w.u8(CTA_SCTP.STATE, rnd(8));
    if (rnd(4)) { w.u32be(CTA_SCTP.VTAG_ORIG, rnd(1 << 30)); w.u32be(CTA_SCTP.VTAG_REPLY, rnd(1 << 30)); }
    w.nestEnd();
    w.nestEnd();
  } else if (proto === 33 && rnd(4)) {
    w.nest(CTA.PROTOINFO);
    w.nest(CTA_PROTOINFO.DCCP);
    w.u8(CTA_DCCP.STATE, rnd(8));
    if (rnd(4)) w.u8(CTA_DCCP.ROLE, rnd(2));
    if (rnd(2)) w.u64be(CTA_DCCP.HANDSHAKE_SEQ, BigInt(rnd(1 << 30)));
    w.nestEnd();
    w.nestEnd();
  }
  if (rnd(15) === 0) { w.nest(CTA.HELP); w.cstr(CTA_HELP.NAME, pick(['ftp', 'sip', 'tftp'])); w.nestEnd(); }
  if (rnd(25) === 0) {
    for (const t of [CTA.SEQ_ADJ_ORIG, CTA.SEQ_ADJ_REPLY]) {
      w.nest(t);
      w.u32be(CTA_SEQADJ.CORRECTION_POS, rnd(1000));
      w.u32be(CTA_SEQADJ.OFFSET_BEFORE, rnd(1000));
      w.u32be(CTA_SEQADJ.OFFSET_AFTER, rnd(1000));
      w.nestEnd();
    }
  }
  if (rnd(8) === 0) {
    const small = rnd(6) === 0;
    if (small) refuse = true;
    for (const t of [CTA.COUNTERS_ORIG, CTA.COUNTERS_REPLY]) {
      w.nest(t);
      if (small) { w.u32be(CTA_COUNTERS.PACKETS32, rnd(100)); w.u32be(CTA_COUNTERS.BYTES32, rnd(10000)); }
      else { w.u64be(CTA_COUNTERS.PACKETS, BigInt(rnd(100))); w.u64be(CTA_COUNTERS.BYTES, BigInt(rnd(100000))); }
      w.nestEnd();
    }
  }
  if (rnd(8) === 0) {
    w.nest(CTA.TIMESTAMP);
    w.u64be(CTA_TS.START, BigInt(rnd(1 << 30)) * 1000n);
    if (rnd(2)) w.u64be(CTA_TS.STOP, BigInt(rnd(1 << 30)) * 1000n);
    w.nestEnd();
  }
  if (rnd(10) === 0) {
    const labels = new Uint8Array(16);
    labels[rnd(16)] = 1 << rnd(8);
    w.bytes(CTA.LABELS, labels.subarray(0, pick([4, 8, 16])));
  }
  if (rnd(4) === 0) {
    w.nest(CTA.SYNPROXY);
    w.u32be(CTA_SYNPROXY.ISN, rnd(1000)); w.u32be(CTA_SYNPROXY.ITS, rnd(1000)); w.u32be(CTA_SYNPROXY.TSOFF, rnd(1000));
    w.nestEnd();
  }
  if (rnd(50) === 0) { w.u32be(30, 1); refuse = true; } // an attribute from a future kernel
  w.end();
  return { refuse };
}

test('the record of a dump message is the Flow decodeFlow makes, and stores the same message and key', () => {
  const w = new NlWriter(4096);
  const rec = new Uint8Array(RECORD_SIZE);
  const dv = new DataView(rec.buffer);
  const msg = new Uint8Array(2048), want = new Uint8Array(2048);
  const key = new Uint8Array(KEY_SIZE), wantKey = new Uint8Array(KEY_SIZE);
  let taken = 0, refused = 0, stored = 0;
  for (let i = 0; i < 20000; i++) {
    const { refuse } = kernelMessage(w);
    const mdv = new DataView(w.buf.buffer, 0, w.len);
    eachMessage(mdv, w.len, (h, p) => {
      const ok = netlinkToRecord(w.buf, p + 4, p - 16 + h.len, w.buf[p], rec, 0);
      assert.is(ok, !refuse, `message ${i}: ${Buffer.from(w.data()).toString('hex')}`);
      if (!ok) { refused++; return; }
      taken++;
      const flow = decodeFlow(mdv, p + 4, p - 16 + h.len, w.buf[p]);
      assert.equal(decodeRecord(dv, 0).flow, flow, `message ${i}`);
      const n = recordToMessage(dv, 0, msg, key);
      const m = encodeCt(want, 0, 0, 0, 0, flow, { commitTimeout: false, tcpWindowTracking: true });
      if (m < 0 || needsFlow(flow)) { assert.is(n, -1, `message ${i}: the Flow path's`); return; }
      stored++;
      // the header is the sync mode's to fill
      assert.is(n, m, `message ${i}: length`);
      assert.equal([...msg.subarray(NETHDR_SIZE, n)], [...want.subarray(NETHDR_SIZE, m)], `message ${i}`);
      assert.ok(writeFlowKey(flow, wantKey, 0));
      assert.equal([...key], [...wantKey]);
    });
  }
  assert.ok(taken > 15000 && refused > 200 && stored > 10000, `${taken} taken, ${refused} refused, ${stored} stored`);
});

test('malformed input is refused, never read past its end', () => {
  const w = new NlWriter(4096);
  const rec = new Uint8Array(RECORD_SIZE);
  for (let i = 0; i < 3000; i++) {
    kernelMessage(w);
    const whole = w.data().slice();
    // cut anywhere, or a length byte changed
    const cut = 20 + rnd(whole.length - 20);
    const bad = whole.slice(0, cut);
    if (rnd(2)) bad[20 + rnd(Math.max(1, cut - 20))] ^= 0xff;
    const buf = new Uint8Array(bad.length + 64).fill(0xaa);
    buf.set(bad);
    let threw = false;
    try { netlinkToRecord(buf, 20, bad.length, buf[16], rec, 0); } catch { threw = true; }
    assert.not.ok(threw);
  }
});

test('the filter on bytes is the filter on Flows', () => {
  const filter = FlowFilter.from({ ignoreAddresses: ['192.0.2.0/30', '2001:db8::1', '203.0.113.0/24'], acceptProtocols: ['tcp', 'udp', 'icmp6'] });
  const w = new NlWriter(4096);
  const rec = new Uint8Array(RECORD_SIZE);
  let agree = 0, kept = 0;
  for (let i = 0; i < 5000; i++) {
    const { refuse } = kernelMessage(w);
    if (refuse) continue;
    const mdv = new DataView(w.buf.buffer, 0, w.len);
    eachMessage(mdv, w.len, (h, p) => {
      assert.ok(netlinkToRecord(w.buf, p + 4, p - 16 + h.len, w.buf[p], rec, 0));
      const f = decodeFlow(mdv, p + 4, p - 16 + h.len, w.buf[p]);
      const v6 = f.family === 6;
      const got = filter.matchesBytes(rec[80 + 42], v6, rec, 80, 80 + 16, 124);
      const want = filter.matches(f);
      if (got !== want) assert.is(got, want, JSON.stringify(f, (_k, v) => (typeof v === 'bigint' ? String(v) : v)));
      agree++;
      if (got) kept++;
    });
  }
  assert.ok(agree > 4000 && kept > 500 && kept < agree - 500, `${agree} compared, ${kept} kept`);
});

test('readTable: what the filter drops goes nowhere, the rest as stored messages or Flows', () => {
  const filter = FlowFilter.from({ ignoreAddresses: ['192.0.2.0/30'] });
  const w = new NlWriter(4096);
  const msgs: Uint8Array[] = [];
  for (let i = 0; i < 3000; i++) { kernelMessage(w); msgs.push(w.data().slice()); }
  // a Conntrack whose dump is those messages, each in its own receive buffer
  const ct = { dumpRaw(fn: (dv: DataView, payload: number, end: number) => void) {
    for (const m of msgs) fn(new DataView(m.buffer), 16, m.length);
  } } as unknown as Conntrack;
  let steps = 0, stored = 0, flows = 0, kept = 0;
  readTable(ct, filter, {
    step: () => { steps++; },
    stored: (key, msg, n) => { stored++; assert.ok(n > NETHDR_SIZE && key[0] !== 0); },
    flow: (f) => { flows++; assert.ok(filter.matches(f)); },
  });
  for (const m of msgs) if (filter.matches(decodeFlow(new DataView(m.buffer), 20, m.length, m[16]))) kept++;
  assert.is(steps, msgs.length);
  assert.is(stored + flows, kept, 'every flow the filter keeps, once');
  assert.ok(stored > 1500 && flows > 100 && kept < msgs.length - 100, `${stored} stored, ${flows} Flows, ${kept} of ${msgs.length} kept`);
});

test.run();
