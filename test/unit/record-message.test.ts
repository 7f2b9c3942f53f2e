// The sender's fast path (src/daemon/record-message.ts) against the slow path it replaces: for
// generated ring-buffer records of every shape (families, protocols, NAT, ICMP, optional fields,
// odd reply tuples), the message it writes is byte for byte encodeCt(decodeRecord(record)) in the
// cache's stored form, its key is the Flow's key, and it refuses exactly the records whose Flow
// the cache would have to keep.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LAYOUT, PRESENT as P, TUPLE_HAVE as T, decodeRecord } from '../../src/kernel/bpf/ctsync.gen.ts';
import { recordToMessage, RECORD_SLOW } from '../../src/daemon/record-message.ts';
import { encodeCt } from '../../src/sync/codec.ts';
import { needsFlow } from '../../src/cache/cache.ts';
import { writeFlowKey } from '../../src/cache/key.ts';
import { KEY_SIZE } from '../../src/flow/key.ts';

const R = LAYOUT.ct_record, TU = LAYOUT.ct_tuple;

// a small deterministic generator (xorshift), so a failure can be replayed
let seed = 0x2545f491;
function rnd(n: number): number {
  seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5;
  return ((seed >>> 0) % n);
}
const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)];

interface Tup { src: number[]; dst: number[]; sport?: number; dport?: number; icmp?: [number, number, number]; proto: number; zone?: number }

function writeTuple(dv: DataView, o: number, t: Tup, v6: boolean): void {
  for (let i = 0; i < t.src.length; i++) dv.setUint8(o + TU.src + i, t.src[i]);
  for (let i = 0; i < t.dst.length; i++) dv.setUint8(o + TU.dst + i, t.dst[i]);
  let have = T.T_SRC | T.T_DST | T.T_PROTO | (v6 ? T.T_V6 : 0);
  if (t.sport !== undefined) { dv.setUint16(o + TU.sport, t.sport); have |= T.T_SPORT; }
  if (t.dport !== undefined) { dv.setUint16(o + TU.dport, t.dport); have |= T.T_DPORT; }
  if (t.icmp) { dv.setUint8(o + TU.icmp_type, t.icmp[0]); dv.setUint8(o + TU.icmp_code, t.icmp[1]); dv.setUint16(o + TU.icmp_id, t.icmp[2]); have |= T.T_ICMP; }
  if (t.zone !== undefined) { dv.setUint16(o + TU.zone, t.zone); have |= T.T_ZONE; }
  dv.setUint8(o + TU.proto, t.proto);
  dv.setUint8(o + TU.have, have);
}

const addr = (v6: boolean): number[] => (v6
  ? [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, rnd(3), 1 + rnd(3)]
  : [192, 0, 2, 1 + rnd(4)]);

function makeRecord(buf: ArrayBuffer, off: number): void {
  const dv = new DataView(buf, off, R.size);
  new Uint8Array(buf, off, R.size).fill(0);
  const v6 = rnd(4) === 0;
  const fam = v6 ? 10 : 2;
  dv.setUint8(R.family, fam);
  dv.setUint8(R.event, rnd(3));
  const proto = pick([6, 6, 6, 17, 17, 1, 58, 132, 33, 47, 136, 2]);
  const ports = proto === 6 || proto === 17 || proto === 132 || proto === 33 || proto === 47 || proto === 136;
  const icmp = proto === 1 || proto === 58;
  const orig: Tup = { src: addr(v6), dst: addr(v6), proto };
  if (ports) {
    if (rnd(10)) orig.sport = 1024 + rnd(3);
    if (rnd(10)) orig.dport = pick([80, 443, 0]);
  } else if (icmp && rnd(10)) {
    orig.icmp = [pick(proto === 1 ? [8, 0, 3, 13, 17] : [128, 129, 133]), rnd(2), rnd(2) ? 0 : 4660];
  }
  if (rnd(30) === 0) orig.zone = rnd(3);
  let p = P.P_ORIG;
  writeTuple(dv, R.orig, orig, rnd(40) === 0 ? !v6 : v6);
  let status = 0x8 | (rnd(2) ? 0x2 : 0) | (rnd(2) ? 0x4 : 0);
  if (rnd(8)) {
    // a reply tuple: the inverted orig, often NATed, sometimes odd
    const inv: Tup = { src: orig.dst.slice(), dst: orig.src.slice(), proto: rnd(60) ? proto : 99 };
    if (orig.sport !== undefined || orig.dport !== undefined) { inv.sport = orig.dport; inv.dport = orig.sport; }
    if (orig.icmp) {
      const t = orig.icmp[0];
      const map: Record<number, number> = proto === 1 ? { 8: 0, 0: 8, 13: 14, 14: 13, 17: 18, 18: 17 } : { 128: 129, 129: 128 };
      inv.icmp = [map[t] ?? t, orig.icmp[1], orig.icmp[2]];
    }
    const nat = rnd(3);
    if (nat === 1) { // SNAT
      status |= 0x10 | (rnd(8) ? 0x80 : 0);
      if (rnd(4)) inv.dst = addr(v6);
      if (ports && rnd(2)) inv.dport = 61000 + rnd(3);
    } else if (nat === 2) { // DNAT
      status |= 0x20 | (rnd(8) ? 0x100 : 0);
      if (rnd(4)) inv.src = addr(v6);
      if (ports && rnd(2)) inv.sport = 8000 + rnd(3);
    }
    if (rnd(25) === 0) inv.sport = 7; // a reply the NAT attributes do not explain
    if (rnd(30) === 0) inv.zone = 1;
    writeTuple(dv, R.reply, inv, rnd(50) === 0 ? !v6 : v6);
    p |= P.P_REPLY;
  }
  if (rnd(20)) { p |= P.P_STATUS; dv.setUint32(R.status, status); }
  if (rnd(10)) { p |= P.P_TIMEOUT; dv.setUint32(R.timeout, rnd(500000)); }
  if (rnd(3)) { p |= P.P_MARK; dv.setUint32(R.mark, rnd(3) ? 0 : 0xdeadbeef); }
  if (rnd(10) === 0) { p |= P.P_ZONE; dv.setUint16(R.zone, rnd(3)); }
  p |= P.P_ID | P.P_USE;
  dv.setUint32(R.id, rnd(1 << 30));
  if (rnd(30) === 0) { p |= P.P_SECMARK; dv.setUint32(R.secmark, 5); }
  if (proto === 6 && rnd(10) || rnd(40) === 0) {
    p |= P.P_TCP; dv.setUint8(R.tcp_state, rnd(10));
    if (rnd(2)) { p |= P.P_TCP_WSCALE_ORIG; dv.setUint8(R.tcp_wscale_orig, rnd(15)); }
    if (rnd(2)) { p |= P.P_TCP_WSCALE_REPLY; dv.setUint8(R.tcp_wscale_reply, rnd(15)); }
    if (rnd(2)) { p |= P.P_TCP_FLAGS_ORIG | P.P_TCP_FLAGS_REPLY; dv.setUint8(R.tcp_flags_orig, 0x23); }
  }
  if (proto === 132 && rnd(10) || rnd(40) === 0) {
    p |= P.P_SCTP; dv.setUint8(R.sctp_state, rnd(10));
    if (rnd(10)) { p |= P.P_SCTP_VTAG_ORIG; dv.setUint32(R.sctp_vtag_orig, 0x11223344); }
    if (rnd(10)) { p |= P.P_SCTP_VTAG_REPLY; dv.setUint32(R.sctp_vtag_reply, 0x55667788); }
  }
  if (proto === 33 && rnd(10)) {
    p |= P.P_DCCP; dv.setUint8(R.dccp_state, rnd(8));
    if (rnd(10)) { p |= P.P_DCCP_ROLE; dv.setUint8(R.dccp_role, rnd(2)); }
  }
  if (rnd(12) === 0) {
    p |= P.P_HELPER | P.P_HELPER_NAME;
    const name = pick(['ftp', 'sip', 'tftp', 'netbios-ns', 'verylonghelpername', '', 'caf\xe9']);
    for (let i = 0; i < name.length && i < 16; i++) dv.setUint8(R.helper + i, name.charCodeAt(i) & 0xff);
  }
  if (rnd(15) === 0) { p |= P.P_SEQADJ_ORIG; for (let i = 0; i < 3; i++) dv.setUint32(R.seqadj_orig + 4 * i, 1000 + i); }
  if (rnd(15) === 0) { p |= P.P_SEQADJ_REPLY; for (let i = 0; i < 3; i++) dv.setUint32(R.seqadj_reply + 4 * i, 2000 + i); }
  if (rnd(10) === 0) {
    p |= P.P_MASTER;
    writeTuple(dv, R.master, { src: addr(v6), dst: addr(v6), proto: 6, sport: rnd(2) ? 21 : undefined, dport: 2000 }, rnd(30) === 0 ? !v6 : v6);
  }
  if (rnd(10) === 0) { p |= P.P_LABELS; dv.setUint32(R.labels + 4 * rnd(4), rnd(2) ? 0 : 0x80000001, true); }
  if (rnd(20) === 0) { p |= P.P_SYNPROXY; dv.setUint32(R.synproxy_isn, 1); dv.setUint32(R.synproxy_its, 2); dv.setUint32(R.synproxy_tsoff, 3); }
  if (rnd(25) === 0) { p |= P.P_COUNTERS_ORIG; dv.setBigUint64(R.counters_orig, 10n); }
  if (rnd(8) === 0) { p |= P.P_TIMESTAMP | P.P_TS_START; dv.setBigUint64(R.ts_start, 123456789n); }
  dv.setUint32(R.present, p >>> 0, true);
  dv.setBigUint64(R.ktime_ns, 1_000_000_000n + BigInt(rnd(1000)), true);
}

test('the fast path writes exactly the slow path\'s message and key, and refuses what needs a Flow', () => {
  // records at an offset inside a larger buffer, as in the ring buffer's mapping
  const buf = new ArrayBuffer(8192);
  const dv = new DataView(buf);
  const off = 4096 + 8;
  const fast = new Uint8Array(2048), slow = new Uint8Array(2048);
  const key = new Uint8Array(KEY_SIZE), want = new Uint8Array(KEY_SIZE);
  let fastCount = 0, slowCount = 0;
  for (let i = 0; i < 20000; i++) {
    makeRecord(buf, off);
    const flow = decodeRecord(dv, off).flow;
    const n = encodeCt(slow, 0, 0, 0, 0, flow, { commitTimeout: false, tcpWindowTracking: true });
    const mustSlow = n < 0 || needsFlow(flow);
    const got = recordToMessage(dv, off, fast, key);
    const what = () => `record ${i}: ${JSON.stringify(flow, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`;
    if (mustSlow) {
      assert.is(got, RECORD_SLOW, `refused: ${what()}`);
      slowCount++;
      continue;
    }
    assert.is(got, n, `length: ${what()}`);
    assert.equal([...fast.subarray(8, n)], [...slow.subarray(8, n)], `bytes: ${what()}`);
    assert.ok(writeFlowKey(flow, want, 0));
    assert.equal([...key], [...want], `key: ${what()}`);
    fastCount++;
  }
  // both paths are exercised
  assert.ok(fastCount > 10000, `fast ${fastCount}`);
  assert.ok(slowCount > 1000, `slow ${slowCount}`);
});

test.run();
