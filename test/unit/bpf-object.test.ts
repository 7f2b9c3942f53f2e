// timeout: 120
// The committed BPF object and its generated bindings: not stale against the C sources, the
// embedded bytes equal bpf/ctsync.bpf.o, a rebuild (where clang and bpftool exist) gives the same
// bytes, and the generated decoder reads a record laid out by the C struct.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as gen from '../../src/kernel/bpf/ctsync.gen.ts';
import { sourceHash, toolsAvailable, build, vmlinuxHeader } from '../../build/bpf.mjs';
import { readBtf } from '../../build/bpf2ts.mjs';
import { EV } from '../../src/flow/event.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('the generated bindings were made from the current C sources (run `npm run build:bpf` if not)', () => {
  assert.is(sourceHash(), gen.SOURCE_SHA256, 'bpf/*.c, bpf/*.h or build/bpf*.mjs changed after the last build');
});

test('the embedded object is bpf/ctsync.bpf.o', () => {
  const committed = new Uint8Array(readFileSync(join(root, 'bpf/ctsync.bpf.o')));
  const embedded = gen.objectBytes();
  assert.is(embedded.length, gen.OBJECT_SIZE);
  assert.is(sha256(embedded), gen.OBJECT_SHA256);
  assert.is(sha256(committed), gen.OBJECT_SHA256, 'bpf/ctsync.bpf.o differs from the generated TS');
  assert.ok(committed.length < 128 * 1024, `object is ${committed.length} bytes`);
  // an ELF object for eBPF (EM_BPF = 247)
  assert.equal([...committed.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46]);
  assert.is(new DataView(committed.buffer, committed.byteOffset).getUint16(18, true), 247);
});

test('programs, maps and layout are the ones the loader expects', () => {
  assert.equal([...gen.PROGRAMS], ['ct_socket', 'ct_trace_event', 'ct_trace_verify']);
  assert.equal([...gen.MAPS], ['accept_proto', 'counters', 'ct_config', 'events', 'ignore_v4', 'ignore_v6', 'msg_scratch']);
  assert.is(gen.RECORD_SIZE % 8, 0, 'records stay 8-aligned in the ring buffer');
  assert.is(gen.LAYOUT.ct_tuple.size, 44);
  assert.is(gen.LAYOUT.ct_record.ktime_ns, 0);
});

test('a rebuild from the sources gives the same object and bindings (when clang and bpftool exist)', () => {
  if (!toolsAvailable()) {
    // nothing to rebuild with: the source hash above is the whole check on this machine
    assert.is(sourceHash(), gen.SOURCE_SHA256);
    return;
  }
  const out = mkdtempSync(join(tmpdir(), 'ctsync-bpf-test-'));
  try {
    const r = build(out);
    const rebuilt = new Uint8Array(readFileSync(r.objPath));
    if (vmlinuxHeader().sha256 === gen.VMLINUX_SHA256) {
      assert.is(sha256(rebuilt), gen.OBJECT_SHA256, 'rebuilt object differs: the committed one is stale');
      // the deflated blob depends on the zlib of the runtime that generated it; the bytes it
      // holds were compared above through OBJECT_SHA256
      const text = (f: string) => readFileSync(f, 'utf8').replace(/const OBJECT_DEFLATED = `[^`]*`/, '');
      assert.is(text(r.tsPath), text(join(root, 'src/kernel/bpf/ctsync.gen.ts')));
    } else {
      // another kernel's BTF changes the bytes, not the record layout shared with TypeScript
      const btf = readBtf(r.objPath);
      for (const [name, layout] of Object.entries(gen.LAYOUT)) {
        const s = btf.structs[name];
        assert.is(s.size, layout.size, `${name} size`);
        for (const [f, off] of Object.entries(layout)) if (f !== 'size') assert.is(s.fields[f].offset, off, `${name}.${f}`);
      }
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

// ---- the decoder on records laid out by hand from LAYOUT ----

const R = gen.LAYOUT.ct_record, T = gen.LAYOUT.ct_tuple, S = gen.LAYOUT.ct_seqadj, C = gen.LAYOUT.ct_counters;
const P = gen.PRESENT, H = gen.TUPLE_HAVE;

function tuple(dv: DataView, o: number, t: { src: number[]; dst: number[]; proto: number; sport?: number; dport?: number; icmp?: [number, number, number]; zone?: number }): void {
  t.src.forEach((b, i) => dv.setUint8(o + T.src + i, b));
  t.dst.forEach((b, i) => dv.setUint8(o + T.dst + i, b));
  dv.setUint8(o + T.proto, t.proto);
  let have = H.T_SRC | H.T_DST | H.T_PROTO | (t.src.length === 16 ? H.T_V6 : 0);
  if (t.sport !== undefined) { dv.setUint16(o + T.sport, t.sport); have |= H.T_SPORT; }
  if (t.dport !== undefined) { dv.setUint16(o + T.dport, t.dport); have |= H.T_DPORT; }
  if (t.icmp) {
    dv.setUint8(o + T.icmp_type, t.icmp[0]);
    dv.setUint8(o + T.icmp_code, t.icmp[1]);
    dv.setUint16(o + T.icmp_id, t.icmp[2]);
    have |= H.T_ICMP;
  }
  if (t.zone !== undefined) { dv.setUint16(o + T.zone, t.zone); have |= H.T_ZONE; }
  dv.setUint8(o + T.have, have);
}

test('the generated decoder reads an IPv4 TCP record with NAT, helper, master, labels and sequence adjustment', () => {
  const base = 24; // records sit at arbitrary 8-aligned offsets in the ring
  const buf = new ArrayBuffer(base + gen.RECORD_SIZE + 8);
  const dv = new DataView(buf);
  const o = base;
  dv.setBigUint64(o + R.ktime_ns, 123456789012345n, true);
  dv.setUint32(o + R.flags, gen.REC_FLAG.REC_COMPLETE, true);
  dv.setUint16(o + R.nl_type, 0x100, true);
  dv.setUint16(o + R.nl_flags, 0x600, true);
  dv.setUint32(o + R.portid, 4242, true);
  dv.setUint8(o + R.family, 2);
  dv.setUint8(o + R.event, gen.REC_EVENT.REC_EV_NEW);
  tuple(dv, o + R.orig, { src: [192, 0, 2, 10], dst: [203, 0, 113, 10], proto: 6, sport: 40000, dport: 21 });
  tuple(dv, o + R.reply, { src: [198, 51, 100, 20], dst: [192, 0, 2, 10], proto: 6, sport: 2121, dport: 40000 });
  tuple(dv, o + R.master, { src: [192, 0, 2, 10], dst: [203, 0, 113, 10], proto: 6, sport: 39999, dport: 21, zone: 3 });
  dv.setUint32(o + R.status, 0x1ae);
  dv.setUint32(o + R.timeout, 431999);
  dv.setUint32(o + R.mark, 0xdeadbeef);
  dv.setUint16(o + R.zone, 7);
  dv.setUint32(o + R.id, 0x89abcdef);
  dv.setUint8(o + R.tcp_state, 3);
  dv.setUint8(o + R.tcp_wscale_orig, 7);
  dv.setUint8(o + R.tcp_wscale_reply, 9);
  dv.setUint8(o + R.tcp_flags_orig, 0x23);
  dv.setUint8(o + R.tcp_flags_reply, 0x22);
  'ftp'.split('').forEach((c, i) => dv.setUint8(o + R.helper + i, c.charCodeAt(0)));
  dv.setUint32(o + R.seqadj_orig + S.correction_pos, 1000);
  dv.setUint32(o + R.seqadj_orig + S.offset_before, 0xfffffffe);
  dv.setUint32(o + R.seqadj_orig + S.offset_after, 4);
  dv.setUint32(o + R.labels + 4, 0x80000001, true);
  dv.setBigUint64(o + R.counters_reply + C.packets, 12n);
  dv.setBigUint64(o + R.counters_reply + C.bytes, 3456n);
  dv.setUint32(o + R.present, P.P_ORIG | P.P_REPLY | P.P_STATUS | P.P_TIMEOUT | P.P_MARK | P.P_ZONE | P.P_ID |
    P.P_TCP | P.P_TCP_WSCALE_ORIG | P.P_TCP_WSCALE_REPLY | P.P_TCP_FLAGS_ORIG | P.P_TCP_FLAGS_REPLY |
    P.P_HELPER | P.P_HELPER_NAME | P.P_SEQADJ_ORIG | P.P_MASTER | P.P_LABELS | P.P_COUNTERS_REPLY, true);

  assert.is(gen.recordFlags(dv, o), gen.REC_FLAG.REC_COMPLETE);
  const ev = gen.decodeRecord(dv, o);
  assert.equal(ev, {
    type: EV.NEW,
    origin: 4242,
    kernelNs: 123456789012345n,
    flow: {
      family: 4,
      orig: { src: '192.0.2.10', dst: '203.0.113.10', proto: 6, sport: 40000, dport: 21 },
      reply: { src: '198.51.100.20', dst: '192.0.2.10', proto: 6, sport: 2121, dport: 40000 },
      master: { src: '192.0.2.10', dst: '203.0.113.10', proto: 6, sport: 39999, dport: 21, zone: 3 },
      status: 0x1ae,
      timeout: 431999,
      mark: 0xdeadbeef,
      zone: 7,
      id: 0x89abcdef,
      tcp: { state: 3, wscaleOrig: 7, wscaleReply: 9, flagsOrig: 0x23, flagsReply: 0x22 },
      helper: 'ftp',
      seqAdjOrig: { correctionPos: 1000, offsetBefore: 0xfffffffe, offsetAfter: 4 },
      labels: [0, 0x80000001],
      countersReply: { packets: 12, bytes: 3456 },
    },
  });
});

test('the generated decoder reads an IPv6 record: ICMPv6, SCTP and absent optional fields', () => {
  const buf = new ArrayBuffer(2 * gen.RECORD_SIZE);
  const dv = new DataView(buf);
  const v6 = (last: number) => [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, last];
  // an ICMPv6 echo, destroyed, without a reply tuple in the message
  let o = 0;
  dv.setUint8(o + R.family, 10);
  dv.setUint8(o + R.event, gen.REC_EVENT.REC_EV_DESTROY);
  tuple(dv, o + R.orig, { src: v6(1), dst: v6(2), proto: 58, icmp: [128, 0, 77] });
  dv.setUint32(o + R.present, P.P_ORIG, true);
  let ev = gen.decodeRecord(dv, o);
  assert.is(ev.type, EV.DESTROY);
  assert.equal(ev.flow, {
    family: 6,
    orig: { src: '2001:db8:1::1', dst: '2001:db8:1::2', proto: 58, icmpType: 128, icmpCode: 0, icmpId: 77 },
    reply: { src: '2001:db8:1::2', dst: '2001:db8:1::1', proto: 58 },
    status: 0,
  });
  // an SCTP update
  o = gen.RECORD_SIZE;
  dv.setUint8(o + R.family, 10);
  dv.setUint8(o + R.event, gen.REC_EVENT.REC_EV_UPDATE);
  tuple(dv, o + R.orig, { src: v6(3), dst: v6(4), proto: 132, sport: 5000, dport: 36412 });
  tuple(dv, o + R.reply, { src: v6(4), dst: v6(3), proto: 132, sport: 36412, dport: 5000 });
  dv.setUint32(o + R.status, 0xe);
  dv.setUint8(o + R.sctp_state, 4);
  dv.setUint32(o + R.sctp_vtag_orig, 0x01020304);
  dv.setUint32(o + R.sctp_vtag_reply, 0xa0b0c0d0);
  dv.setUint32(o + R.present, P.P_ORIG | P.P_REPLY | P.P_STATUS | P.P_SCTP | P.P_SCTP_VTAG_ORIG | P.P_SCTP_VTAG_REPLY, true);
  ev = gen.decodeRecord(dv, o);
  assert.is(ev.type, EV.UPDATE);
  assert.equal(ev.flow.sctp, { state: 4, vtagOrig: 0x01020304, vtagReply: 0xa0b0c0d0 });
  assert.is(ev.flow.reply.sport, 36412);
  assert.is(ev.flow.timeout, undefined);
  assert.is(ev.flow.tcp, undefined);
});

test.run();
