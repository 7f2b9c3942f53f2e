// The fuzz targets: each takes one (mutated) input and throws a Violation when a property breaks.
// The properties: no exception escapes a decoder (ctnetlink decoders may throw their DecodeError
// only); every bad input is counted (the malformed counters add up, a datagram always moves some
// counter); what is decoded can be keyed, filtered and encoded again, and a second round trip
// changes nothing; a configuration is accepted with a config or refused with one-line errors.
import { isDeepStrictEqual } from 'node:util';
import { type Expectation, type Flow } from '../../src/flow/flow.ts';
import { flowKey, expectationKey } from '../../src/flow/key.ts';
import { FlowFilter } from '../../src/flow/filter.ts';
import { canonicalAddr } from '../../src/flow/addr.ts';
import { decodeCt, decodeDatagram, decodeExp, encodeCt, encodeExp, type FramingCounters } from '../../src/sync/codec.ts';
import { createSyncMode, ManualClock, type SyncMode, type Transport } from '../../src/sync/index.ts';
import { MAX_MESSAGE_SIZE, MSG, type CtMsgType, type ExpMsgType } from '../../src/sync/wire.ts';
import type { SyncHost } from '../../src/sync/object.ts';
import type { SyncStats } from '../../src/sync/stats.ts';
import { Cache } from '../../src/cache/cache.ts';
import { eachMessage } from '../../src/kernel/nlmsg.ts';
import { DecodeError, decodeExpectation, decodeFlow, SUBSYS_CT, SUBSYS_EXP } from '../../src/kernel/ctnetlink.ts';
import { decodeRecord, RECORD_SIZE } from '../../src/kernel/bpf/ctsync.gen.ts';
import { checkEnvironment, configToSetLines, formatIssue, parseConfig } from '../../src/config/index.ts';

export class Violation extends Error {
  override name = 'Violation';
}

function must(cond: unknown, what: string): asserts cond {
  if (!cond) throw new Violation(what);
}

const FILTER = FlowFilter.from({ acceptProtocols: ['tcp', 'udp', 'icmp'], ignoreAddresses: ['192.0.2.0/24', '2001:db8::/32'] });
const BUF = new Uint8Array(MAX_MESSAGE_SIZE * 2);

function validAddr(a: string, fam: 4 | 6, what: string): void {
  const c = canonicalAddr(a);
  must(c !== undefined, `${what}: "${a}" is not an address`);
  must(fam === 6 ? a.includes(':') : !a.includes(':'), `${what}: "${a}" is not IPv${fam}`);
}

/** A decoded wire flow is complete and can go anywhere a received flow goes. */
function checkWireFlow(f: Flow): void {
  must(f.family === 4 || f.family === 6, 'family');
  for (const [n, t] of [['orig', f.orig], ['reply', f.reply]] as const) {
    validAddr(t.src, f.family, `${n} src`);
    validAddr(t.dst, f.family, `${n} dst`);
    must(Number.isInteger(t.proto) && t.proto >= 0 && t.proto < 256, `${n} proto`);
    for (const p of [t.sport, t.dport, t.icmpId]) must(p === undefined || (Number.isInteger(p) && p >= 0 && p < 65536), `${n} port`);
  }
  must(Number.isInteger(f.status) && f.status >= 0 && f.status < 2 ** 32, 'status');
  flowKey(f);
  FILTER.matches(f);
}

/** Round trip: once normalised by one encode/decode, a flow comes back equal. */
function roundTripCt(type: CtMsgType, f: Flow): void {
  const n1 = encodeCt(BUF, 0, type, 0, 1, f, { tcpWindowTracking: true });
  if (n1 < 0) return;
  const f2 = decodeCt(BUF, 0, n1);
  must(typeof f2 === 'object', `re-encoded flow not decodable (${f2})`);
  const n2 = encodeCt(BUF, 0, type, 0, 1, f2, { tcpWindowTracking: true });
  must(n2 > 0, 'normalised flow not encodable');
  const f3 = decodeCt(BUF, 0, n2);
  must(isDeepStrictEqual(f2, f3), `round trip changed the flow: ${JSON.stringify(f2)} -> ${JSON.stringify(f3)}`);
}

function roundTripExp(type: ExpMsgType, e: Expectation): void {
  expectationKey(e);
  const n1 = encodeExp(BUF, 0, type, 0, 1, e);
  if (n1 < 0) return;
  const e2 = decodeExp(BUF, 0, n1);
  must(typeof e2 === 'object', `re-encoded expectation not decodable (${e2})`);
  const n2 = encodeExp(BUF, 0, type, 0, 1, e2);
  must(n2 > 0, 'normalised expectation not encodable');
  must(isDeepStrictEqual(e2, decodeExp(BUF, 0, n2)), 'round trip changed the expectation');
}

function framingSum(s: FramingCounters): boolean {
  return s.rcvMalformed === s.rcvTruncated + s.rcvBadSize + s.rcvBadVersion;
}

/** The wire decoder on one datagram. */
export function wireDecode(b: Uint8Array): void {
  const st: FramingCounters = { rcvMalformed: 0, rcvTruncated: 0, rcvBadSize: 0, rcvBadVersion: 0 };
  const msgs = decodeDatagram(b, st);
  must(framingSum(st), `malformed counter ${st.rcvMalformed} is not the sum of its kinds`);
  must(b.length === 0 || msgs.length > 0 || st.rcvMalformed > 0, 'a non-empty datagram neither decoded nor counted');
  for (const m of msgs) {
    if (m.flow) { checkWireFlow(m.flow); roundTripCt(m.type as CtMsgType, m.flow); }
    if (m.exp) roundTripExp(m.type as ExpMsgType, m.exp);
  }
}

/** A host like the daemon's: real caches, and nothing it is given may make it throw. */
class FuzzHost implements SyncHost {
  readonly ct = new Cache('external', 'ct', 100_000);
  readonly exp = new Cache('external', 'exp', 100_000);
  applyCt(type: CtMsgType, f: Flow): void {
    checkWireFlow(f);
    if (type === MSG.CT_NEW) this.ct.replace(f); else if (type === MSG.CT_UPD) this.ct.update(f); else this.ct.remove(f);
  }
  applyExp(type: ExpMsgType, e: Expectation): void {
    if (type === MSG.EXP_NEW) this.exp.replace(e); else if (type === MSG.EXP_UPD) this.exp.update(e); else this.exp.remove(e);
  }
  /** the daemon's fast path: the message stored as it came (scanned, not decoded) */
  applyCtRaw(type: CtMsgType, b: Uint8Array, off: number, len: number): number {
    return this.ct.applyWire(type, b, off, len);
  }
  forEachObject(): void {}
  release(): void {}
  peerRestarted(): boolean { return this.ct.size > 0; }
  reconciled(): void {}
  /** What the cache stored must come back out: dumps and commits rebuild every flow. */
  verify(): void {
    for (const e of this.ct.values()) checkWireFlow(e.data);
    for (const e of this.exp.values()) expectationKey(e.data);
  }
}

const NULL_TRANSPORT: Transport = {
  maxPayload: 1472,
  acquire: () => new Uint8Array(1472 + MAX_MESSAGE_SIZE),
  send: () => {},
};

const totals = (s: SyncStats) => s.rcvData + s.rcvCtl + s.rcvMalformed + s.rcvNoAddress + s.rcvBefore;
const malformedSum = (s: SyncStats) =>
  s.rcvBadVersion + s.rcvBadHeader + s.rcvBadPayload + s.rcvBadType + s.rcvTruncated + s.rcvBadSize;

/** The three sync modes receiving the same datagrams, as the daemon would. */
export class ModeTarget {
  private readonly clock = new ManualClock(0);
  private modes: { mode: SyncMode; host: FuzzHost }[];
  private n = 0;

  constructor() {
    this.modes = this.make();
  }

  private reset(): void {
    for (const { mode } of this.modes) mode.stop();
    this.modes = this.make();
  }

  private make(): { mode: SyncMode; host: FuzzHost }[] {
    return (['ftfw', 'notrack', 'alarm'] as const).map((kind) => {
      const host = new FuzzHost();
      const mode = createSyncMode(kind, { host, transport: NULL_TRANSPORT, clock: this.clock, random: () => 0.5 }, { resendQueueSize: 4096 });
      mode.start();
      return { mode, host };
    });
  }

  run(b: Uint8Array): void {
    for (const { mode } of this.modes) {
      const before = totals(mode.stats);
      mode.receive(b, 0);
      const s = mode.stats;
      must(s.rcvMalformed === malformedSum(s), `${mode.kind}: malformed ${s.rcvMalformed} is not the sum of its kinds`);
      must(b.length === 0 || totals(s) > before, `${mode.kind}: a datagram left no trace in the counters`);
      must(s.applyFailed === 0, `${mode.kind}: the host threw on a decoded message`);
    }
    this.clock.runDeferred();
    // time moves now and then: ACKs, NACKs, retransmissions and expiry run too
    if (++this.n % 64 === 0) this.clock.advance(250);
    if (this.n % 2048 === 0) {
      for (const { mode, host } of this.modes) {
        try {
          host.verify();
        } catch (e) {
          // start afresh so that one bad entry is reported once
          this.reset();
          throw new Violation(`${mode.kind}: the external cache holds an entry that cannot be read back: ${(e as Error).message}`);
        }
      }
    }
  }
}

/** The ctnetlink decoders on one netlink message, as the event sources and dumps call them. */
export function netlinkDecode(b: Uint8Array): void {
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  eachMessage(dv, b.length, (h, p) => {
    const subsys = h.type >> 8;
    const end = Math.min(b.length, p - 16 + h.len);
    if (p + 4 > end) return;
    try {
      if (subsys === SUBSYS_CT) {
        const f = decodeFlow(dv, p + 4, end, dv.getUint8(p));
        flowKey(f);
        FILTER.matches(f);
        encodeCt(BUF, 0, MSG.CT_NEW, 0, 1, f);
      } else if (subsys === SUBSYS_EXP) {
        const e = decodeExpectation(dv, p + 4, end, dv.getUint8(p));
        expectationKey(e);
        encodeExp(BUF, 0, MSG.EXP_NEW, 0, 1, e);
      }
    } catch (e) {
      if (!(e instanceof DecodeError)) throw new Violation(`the decoder threw ${(e as Error).name}: ${(e as Error).message}`);
    }
  });
}

/** The ring-buffer record decoder on one record (the ring always hands over whole records). */
export function recordDecode(b: Uint8Array): void {
  const r = new Uint8Array(RECORD_SIZE);
  r.set(b.subarray(0, RECORD_SIZE));
  const ev = decodeRecord(new DataView(r.buffer), 0);
  flowKey(ev.flow);
  FILTER.matches(ev.flow);
  encodeCt(BUF, 0, MSG.CT_UPD, 0, 1, ev.flow);
}

const HOST = { interfaces: [{ name: 'eth1', addresses: ['192.0.2.1/24', '2001:db8::1/64'] }, { name: 'eth2', addresses: ['198.51.100.1/24'] }] };

/** The configuration parser on one text (set lines or JSON). */
export function configParse(text: string): void {
  const r = parseConfig(text);
  must(r.ok === (r.errors.length === 0), 'ok disagrees with the errors');
  must(!r.ok || r.config, 'accepted without a configuration');
  for (const i of [...r.errors, ...r.warnings]) {
    const line = formatIssue(i);
    must(line.length > 0 && !line.includes('\n'), `an issue is not one line: ${JSON.stringify(line)}`);
  }
  if (r.config) {
    for (const i of checkEnvironment(r.config, HOST, r.origins)) must(!formatIssue(i).includes('\n'), 'environment issue not one line');
    // what is accepted renders to set lines that parse back to the same configuration
    const again = parseConfig(configToSetLines(r.config).join('\n'), 'set');
    must(again.ok && isDeepStrictEqual(again.config, r.config), `render/parse round trip differs: ${again.errors.map(formatIssue).join('; ')}`);
  }
}
