// In-memory peers for the sync-mode tests: a host with an internal and an external cache, a
// simulated network with seeded loss, duplication and reordering, and a shared manual clock.
import type { Expectation, Flow } from '../../src/flow/flow.ts';
import { STATUS } from '../../src/flow/flow.ts';
import { ManualClock } from '../../src/sync/clock.ts';
import { decodeDatagram, type DecodedMessage } from '../../src/sync/codec.ts';
import { createSyncMode } from '../../src/sync/index.ts';
import type { ModeKind, SyncMode, SyncOptions, Transport } from '../../src/sync/mode.ts';
import { OBJ_STATE, type SyncHost, type SyncObject } from '../../src/sync/object.ts';
import { flowKey } from '../../src/flow/key.ts';
import { MAX_MESSAGE_SIZE, MSG, type CtMsgType, type ExpMsgType } from '../../src/sync/wire.ts';

/** Deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function tcpFlow(i: number, extra: Partial<Flow> = {}): Flow {
  const sport = 10000 + (i % 50000);
  const dst = `198.51.100.${1 + (Math.floor(i / 50000) % 250)}`;
  return {
    family: 4,
    orig: { src: '192.0.2.10', dst, proto: 6, sport, dport: 443 },
    reply: { src: dst, dst: '192.0.2.10', proto: 6, sport: 443, dport: sport },
    status: STATUS.SEEN_REPLY | STATUS.ASSURED | STATUS.CONFIRMED,
    timeout: 432000, mark: 0, tcp: { state: 3 }, synproxy: { isn: 0, its: 0, tsoff: 0 },
    ...extra,
  };
}

export class Obj implements SyncObject {
  sync = undefined;
  constructor(readonly kind: 'ct' | 'exp', public flow: Flow | undefined, public exp: Expectation | undefined, public state: 0 | 1 | 2) {}
}

export class TestHost implements SyncHost {
  readonly internal = new Map<string, Obj>();
  readonly external = new Map<string, Flow>();
  readonly released: Obj[] = [];
  /** objects the mode said it let go of (idle), in order */
  readonly idled: Obj[] = [];
  readonly applied: { type: number; flow?: Flow; exp?: Expectation }[] = [];
  readonly expired: Flow[] = [];
  readonly logs: string[] = [];
  useExpire = false;
  mode!: SyncMode;

  applyCt(type: CtMsgType, flow: Flow): void {
    this.applied.push({ type, flow });
    const k = flowKey(flow);
    if (type === MSG.CT_DEL) this.external.delete(k);
    else this.external.set(k, flow);
  }
  applyExp(type: ExpMsgType, exp: Expectation): void {
    this.applied.push({ type, exp });
  }
  forEachObject(fn: (obj: SyncObject) => void): void {
    for (const o of this.internal.values()) if (o.state !== OBJ_STATE.DEAD) fn(o);
  }
  release(obj: SyncObject): void {
    if (obj.state !== OBJ_STATE.DEAD) throw new Error('released an object that is not DEAD');
    if (this.released.includes(obj as Obj)) throw new Error('released twice');
    this.released.push(obj as Obj);
    const k = flowKey(obj.flow!);
    if (this.internal.get(k) === obj) this.internal.delete(k);
  }
  idle(obj: SyncObject): void {
    if (obj.state === OBJ_STATE.DEAD) throw new Error('idle for a DEAD object: that is release()');
    if (obj.sync?.owner) throw new Error(`idle for an object still in the ${obj.sync.owner.name}`);
    this.idled.push(obj as Obj);
  }
  superseded(obj: SyncObject): boolean {
    const cur = this.internal.get(flowKey(obj.flow!));
    return cur !== undefined && cur !== obj;
  }
  get expireCt(): ((f: Flow) => void) | undefined {
    return this.useExpire ? (f: Flow) => { this.expired.push(f); this.external.delete(flowKey(f)); } : undefined;
  }
  log(_level: string, message: string): void {
    this.logs.push(message);
  }

  // local changes, as the internal cache would make them
  create(flow: Flow): Obj {
    const k = flowKey(flow);
    const old = this.internal.get(k);
    if (old && old.state !== OBJ_STATE.DEAD) return this.update(flow);
    const o = new Obj('ct', flow, undefined, OBJ_STATE.NEW);
    this.internal.set(k, o);
    this.mode.enqueue(o);
    return o;
  }
  update(flow: Flow): Obj {
    const o = this.internal.get(flowKey(flow));
    if (!o || o.state === OBJ_STATE.DEAD) return this.create(flow);
    o.flow = flow;
    o.state = OBJ_STATE.ALIVE;
    this.mode.enqueue(o);
    return o;
  }
  destroy(flow: Flow): void {
    const o = this.internal.get(flowKey(flow));
    if (!o || o.state === OBJ_STATE.DEAD) return;
    o.state = OBJ_STATE.DEAD;
    this.mode.enqueue(o);
  }
  /** Live internal flows by key. */
  live(): Map<string, Flow> {
    const m = new Map<string, Flow>();
    for (const [k, o] of this.internal) if (o.state !== OBJ_STATE.DEAD) m.set(k, o.flow!);
    return m;
  }
}

export interface LinkRule {
  /** probability a datagram is lost */
  loss?: number;
  /** probability it is delivered twice */
  dup?: number;
  /** extra random delay, ms (reorders) */
  jitterMs?: number;
  /** base delay, ms */
  delayMs?: number;
  /** return true to drop this datagram (after decoding it) */
  drop?: (msgs: DecodedMessage[], bytes: Uint8Array) => boolean;
}

interface InFlight { at: number; bytes: Uint8Array; to: Peer }

export class Net {
  readonly clock: ManualClock;
  readonly random: () => number;
  private flight: InFlight[] = [];
  constructor(seed = 1, start = 0, wall?: number) {
    this.clock = new ManualClock(start, wall);
    this.random = prng(seed);
    this.clock.every(1, () => this.deliver());
  }
  push(bytes: Uint8Array, to: Peer, rule: LinkRule): void {
    if (rule.drop?.(decodeDatagram(bytes), bytes)) return;
    if (rule.loss && this.random() < rule.loss) return;
    const copies = rule.dup && this.random() < rule.dup ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const at = this.clock.now() + (rule.delayMs ?? 1) + (rule.jitterMs ? Math.floor(this.random() * rule.jitterMs) : 0);
      this.flight.push({ at, bytes, to });
    }
  }
  private deliver(): void {
    const now = this.clock.now();
    const due = this.flight.filter((f) => f.at <= now);
    if (!due.length) return;
    this.flight = this.flight.filter((f) => f.at > now);
    due.sort((a, b) => a.at - b.at);
    for (const f of due) f.to.mode.receive(f.bytes, 0);
  }
  get inFlight(): number { return this.flight.length; }
}

export class Peer implements Transport {
  readonly host = new TestHost();
  mode!: SyncMode;
  peer?: Peer;
  rule: LinkRule = {};
  /** every datagram this peer sent, decoded */
  readonly sent: DecodedMessage[][] = [];
  readonly maxPayload: number;

  constructor(readonly net: Net, kind: ModeKind, opt: SyncOptions = {}, mtu = 1500) {
    this.maxPayload = mtu - 28;
    this.start(kind, opt);
  }

  /** (Re)creates the mode: a restart when called again (caches of the host are kept). */
  start(kind: ModeKind, opt: SyncOptions = {}): void {
    this.mode?.stop();
    this.mode = createSyncMode(kind, { host: this.host, transport: this, clock: this.net.clock, random: this.net.random }, opt);
    this.host.mode = this.mode;
    this.mode.start();
  }

  acquire(): Uint8Array {
    return new Uint8Array(this.maxPayload + MAX_MESSAGE_SIZE);
  }
  send(buf: Uint8Array, len: number): void {
    const bytes = buf.slice(0, len);
    this.sent.push(decodeDatagram(bytes));
    if (this.peer) this.net.push(bytes, this.peer, this.rule);
  }
  sentMessages(): DecodedMessage[] {
    return this.sent.flat();
  }
}

export function pair(kind: ModeKind, opt: SyncOptions = {}, seed = 1, mtu = 1500, wall?: number, start = 0): { net: Net; a: Peer; b: Peer } {
  const net = new Net(seed, start, wall);
  const a = new Peer(net, kind, opt, mtu);
  const b = new Peer(net, kind, opt, mtu);
  a.peer = b;
  b.peer = a;
  return { net, a, b };
}

/** Same keys and same synced content. */
export function sameTable(x: Map<string, Flow>, y: Map<string, Flow>): string | undefined {
  if (x.size !== y.size) return `sizes differ: ${x.size} vs ${y.size}`;
  for (const [k, f] of x) {
    const g = y.get(k);
    if (!g) return `missing ${k}`;
    if (g.status !== f.status || g.mark !== f.mark || g.timeout !== f.timeout || g.tcp?.state !== f.tcp?.state) {
      return `differs at ${k}: ${JSON.stringify(f)} vs ${JSON.stringify(g)}`;
    }
  }
  return undefined;
}
