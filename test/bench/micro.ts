// In-process micro-benchmark of the two hot paths, without the kernel or the network, so that
// their JavaScript cost can be followed while optimising (the machine's other load matters less
// than in the lab):
//   sender    ring-buffer records -> Daemon.record's work (record-message.ts, internal cache) ->
//             FTFW transmit into datagram buffers (a transport that drops them)
//   receiver  those datagrams -> FTFW receive -> external cache (applyWire)
//   [ROUNDS=R] node --import ./build/register.mjs test/bench/micro.ts [FLOWS]
import { LAYOUT, PRESENT as P, TUPLE_HAVE as T } from '../../src/kernel/bpf/ctsync.gen.ts';
import { recordToMessage } from '../../src/daemon/record-message.ts';
import { Cache } from '../../src/cache/cache.ts';
import { createSyncMode } from '../../src/sync/index.ts';
import type { SyncHost, SyncObject } from '../../src/sync/object.ts';
import type { Transport } from '../../src/sync/mode.ts';
import { KEY_SIZE } from '../../src/flow/key.ts';
import { MAX_MESSAGE_SIZE } from '../../src/sync/wire.ts';
import { flowAt } from './generator.ts';

const R = LAYOUT.ct_record, TU = LAYOUT.ct_tuple;

/** A ring-buffer record of the generator's i-th flow, as the socket filter writes it (NEW event). */
function writeRecord(dv: DataView, off: number, i: number): void {
  const f = flowAt(i);
  new Uint8Array(dv.buffer, dv.byteOffset + off, R.size).fill(0);
  const tuple = (o: number, src: string, dst: string, sport: number, dport: number) => {
    src.split('.').forEach((x, k) => dv.setUint8(o + TU.src + k, Number(x)));
    dst.split('.').forEach((x, k) => dv.setUint8(o + TU.dst + k, Number(x)));
    dv.setUint16(o + TU.sport, sport);
    dv.setUint16(o + TU.dport, dport);
    dv.setUint8(o + TU.proto, 6);
    dv.setUint8(o + TU.have, T.T_SRC | T.T_DST | T.T_PROTO | T.T_SPORT | T.T_DPORT);
  };
  tuple(off + R.orig, f.orig.src, f.orig.dst, f.orig.sport!, f.orig.dport!);
  tuple(off + R.reply, f.orig.dst, f.orig.src, f.orig.dport!, f.orig.sport!);
  dv.setUint8(off + R.family, 2);
  dv.setUint8(off + R.event, 0);
  dv.setUint32(off + R.status, f.status | 0x180);
  dv.setUint32(off + R.timeout, 3600);
  dv.setUint8(off + R.tcp_state, 3);
  dv.setUint32(off + R.id, i);
  dv.setUint32(off + R.present, P.P_ORIG | P.P_REPLY | P.P_STATUS | P.P_TIMEOUT | P.P_ID | P.P_USE | P.P_TCP |
    P.P_TCP_WSCALE_ORIG | P.P_TCP_WSCALE_REPLY | P.P_TCP_FLAGS_ORIG | P.P_TCP_FLAGS_REPLY, true);
}

class SinkTransport implements Transport {
  readonly maxPayload = 1500 - 28;
  datagrams: Uint8Array[] = [];
  keep = true;
  private pool: Uint8Array[] = [];
  acquire(): Uint8Array { return this.pool.pop() ?? new Uint8Array(this.maxPayload + MAX_MESSAGE_SIZE); }
  send(buf: Uint8Array, len: number): void {
    if (this.keep) this.datagrams.push(buf.slice(0, len));
    this.pool.push(buf);
  }
}

const N = Number(process.argv[2] ?? 200000);
const BATCH = 256;

function senderRun(keep: boolean): { us: number; datagrams: Uint8Array[] } {
  const internal = new Cache('internal', 'ct');
  const t = new SinkTransport();
  t.keep = keep;
  const host: SyncHost = {
    applyCt() {}, applyExp() {}, release() {},
    forEachObject(fn: (o: SyncObject) => void) { for (const e of internal.live()) fn(e); },
  };
  const mode = createSyncMode('ftfw', { host, transport: t, clock: { now: () => 0, wallSeconds: () => 1, every: () => () => {}, after: () => () => {}, defer: () => {} } }, {});
  const ring = new DataView(new ArrayBuffer(BATCH * R.size));
  const msg = new Uint8Array(MAX_MESSAGE_SIZE), key = new Uint8Array(KEY_SIZE);
  let total = 0;
  for (let i = 0; i < N; i += BATCH) {
    const n = Math.min(BATCH, N - i);
    for (let k = 0; k < n; k++) writeRecord(ring, k * R.size, i + k);
    const t0 = performance.now();
    for (let k = 0; k < n; k++) {
      const len = recordToMessage(ring, k * R.size, msg, key);
      const e = internal.upsertMessage(key, msg, len, true);
      if (e) mode.enqueue(e);
    }
    mode.flush();
    total += performance.now() - t0;
  }
  return { us: (total * 1000) / N, datagrams: t.datagrams };
}

function receiverRun(datagrams: Uint8Array[]): number {
  const external = new Cache('external', 'ct');
  const t = new SinkTransport();
  t.keep = false;
  const host: SyncHost = {
    applyCt(type, flow) { if (type === 0) external.replace(flow); else if (type === 1) external.update(flow); else external.remove(flow); },
    applyCtRaw(type, b, off, len) { return external.applyWire(type, b, off, len); },
    applyExp() {}, release() {}, forEachObject() {},
  };
  const mode = createSyncMode('ftfw', { host, transport: t, clock: { now: () => 0, wallSeconds: () => 1, every: () => () => {}, after: () => () => {}, defer: () => {} } }, {});
  const t0 = performance.now();
  for (const d of datagrams) mode.receive(d, 0);
  mode.flush();
  const us = ((performance.now() - t0) * 1000) / N;
  if (external.size !== N) throw new Error(`receiver holds ${external.size} of ${N}`);
  return us;
}

for (let round = 0; round < Number(process.env.ROUNDS ?? 3); round++) {
  const s = senderRun(true);
  const r = receiverRun(s.datagrams);
  console.log(`sender ${s.us.toFixed(3)} µs/flow, receiver ${r.toFixed(3)} µs/flow (${s.datagrams.length} datagrams, ${(N / s.datagrams.length).toFixed(1)} flows each)`);
}
