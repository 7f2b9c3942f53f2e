// The internal cache (this node's flows) and the external cache (the peer's), with conntrackd's
// counters and rules. One class serves both and both object kinds (conntracks, expectations).
//
// Conntracks are kept in binary form (slab.ts): per flow a key and a conntrackd wire message, found
// through a hash table of ids, with no strings built and no Flow kept. The Flow of an entry is
// rebuilt from its message when someone asks (dumps, commit); a flow that carries something the
// wire cannot (traffic counters, secmark, tuple zones, an unusual reply tuple) keeps its Flow too.
//   internal cache  an Entry object per flow while the sync mode holds it: it is the mode's
//                   SyncObject (and queue node), and the mode copies the stored message onto the
//                   wire (Entry.writeMessage). Once the mode lets go (FTFW: the peer acknowledged
//                   it; see idle()), the cache drops it, so entries die young instead of filling
//                   the old generation with an object per flow; the next event makes a new one.
//   external cache  "compact": no object per flow at all; received messages are stored as they
//                   came (applyWire) and Entry objects are made only for whoever iterates
// Expectations are few and keep a Map of Entry objects by string key.
import type { Flow, Expectation } from '../flow/flow.ts';
import { tupleEqual } from '../flow/flow.ts';
import { flowKey, expectationKey, hashKey, KEY_SIZE } from '../flow/key.ts';
import { natOf, replyFor } from '../flow/nat.ts';
import type { SyncObject, SyncSlot } from '../sync/object.ts';
import { ObjNode } from '../sync/queue.ts';
import { decodeCt, encodeCt, scanCt, type EncodeOptions } from '../sync/codec.ts';
import { MAX_MESSAGE_SIZE, NETHDR_SIZE, NTA, HELPER_NAME_MAX, LABEL_WORDS_MAX } from '../sync/wire.ts';
import { FlowSlab } from './slab.ts';
import { Words } from '../flow/words.ts';
import { writeFlowKey } from './key.ts';

/** Lifecycle of a cached object, as conntrackd's C_OBJ_NEW / C_OBJ_ALIVE / C_OBJ_DEAD. */
export const ObjState = { NEW: 0, ALIVE: 1, DEAD: 2 } as const;
export type ObjStateValue = 0 | 1 | 2;

export interface CacheCounters {
  active: number;
  created: number;
  createFailed: number;
  updated: number;
  updateFailed: number;
  destroyed: number;
  destroyFailed: number;
  /** creation refused: the cache holds `limit` objects already */
  noSpace: number;
  /** creation refused for lack of memory (kept for the layout; JS allocation does not fail softly) */
  noMemory: number;
  /** an update or delete for an object that is not cached */
  updateNotFound: number;
  deleteNotFound: number;
}

export const zeroCacheCounters = (): CacheCounters => ({
  active: 0, created: 0, createFailed: 0, updated: 0, updateFailed: 0, destroyed: 0, destroyFailed: 0,
  noSpace: 0, noMemory: 0, updateNotFound: 0, deleteNotFound: 0,
});

export type Kind = 'ct' | 'exp';
type Data<K extends Kind> = K extends 'ct' ? Flow : Expectation;

/**
 * The form in which conntracks are stored: every attribute encodeCt can write (the timeout and the
 * TCP window scales included); the sync mode leaves out what its options do not send.
 */
const STORE_OPT: EncodeOptions = { commitTimeout: false, tcpWindowTracking: true };

/**
 * One cached object. It is also the sync mode's SyncObject (src/sync/object.ts): `flow`/`exp` and
 * `state` are kept current here; `sync` belongs to the mode, which hangs its queue node there.
 */
export class Entry<K extends Kind = Kind> extends ObjNode implements SyncObject {
  /** the state of an entry outside a cache's per-id tags (expectations, views, dropped entries) */
  private st: ObjStateValue = ObjState.NEW;
  /** the sync mode's node of this object: the object itself (it extends ObjNode) */
  sync: SyncSlot | undefined;
  /** conntracks: the id of the flow in the owning cache's slab (-1 once dropped) */
  id = -1;
  /** expectations: the data; conntracks: the Flow, kept only when its message cannot carry it all */
  private d: Data<K> | undefined;
  private home: Cache<'ct'> | undefined;
  /**
   * The times of an entry outside a cache's per-id arrays (expectations, views, dropped entries).
   * An entry in a cache leaves them undefined: a number field here would cost every entry a boxed
   * double (V8 keeps no unboxed doubles in objects), two allocations per flow.
   */
  private t0: number | undefined = undefined;
  private t1: number | undefined = undefined;

  /** An entry of id in owner's slab takes its times and state from there (stamp() it first). */
  constructor(readonly kind: K, data: Data<K> | undefined, now: number, owner?: Cache<'ct'>, id = -1) {
    super();
    this.sync = this as ObjNode;
    this.d = data;
    this.home = owner;
    this.id = id;
    if (!owner || id < 0) this.t0 = this.t1 = now;
  }

  get state(): ObjStateValue {
    const h = this.home;
    return h !== undefined && this.id >= 0 ? h.stateOf(this.id) : this.st;
  }
  set state(v: ObjStateValue) {
    const h = this.home;
    if (h !== undefined && this.id >= 0) h.setState(this.id, v);
    else this.st = v;
  }

  /** Whether the entry holds a Flow its stored message cannot give back (the cache must keep it). */
  get keepsFlow(): boolean { return this.kind === 'ct' && this.d !== undefined; }

  /** ms (Date.now) when the object entered the cache */
  get since(): number {
    const h = this.home;
    return h !== undefined && this.id >= 0 ? h.sinceOf(this.id) : this.t0 ?? NaN;
  }

  /** ms of the last change (kernel event, or message received for the external cache) */
  get lastUpdate(): number {
    const h = this.home;
    return h !== undefined && this.id >= 0 ? h.lastUpdateOf(this.id) : this.t1 ?? NaN;
  }
  set lastUpdate(ms: number) {
    const h = this.home;
    if (h !== undefined && this.id >= 0) h.touch(this.id, ms);
    else this.t1 = ms;
  }

  get data(): Data<K> {
    if (this.d !== undefined || !this.home) return this.d as Data<K>;
    return this.home.flowOf(this.id) as Data<K>;
  }
  set data(v: Data<K>) {
    if (this.home && this.id >= 0) this.d = this.home.store(this.id, v as Flow) as Data<K> | undefined;
    else this.d = v;
  }

  get flow(): Flow | undefined { return this.kind === 'ct' ? (this.data as Flow) : undefined; }
  get exp(): Expectation | undefined { return this.kind === 'exp' ? (this.d as Expectation) : undefined; }

  /** The string key (for sets of keys; the caches themselves index binary keys). */
  get key(): string {
    return this.kind === 'ct' ? flowKey(this.data as Flow) : expectationKey(this.d as Expectation);
  }

  /**
   * Writes this conntrack's current message at b[o..] as the sync mode sends it with `opt`;
   * returns its length (the header is the mode's to fill), or -1 when there is no stored message.
   */
  writeMessage(b: Uint8Array, o: number, opt: EncodeOptions): number {
    if (!this.home || this.id < 0) return -1;
    return this.home.copyMessage(this.id, b, o, opt);
  }

  /** The stored message was just replaced by one that says everything: forget the Flow kept. */
  clearFlow(): void {
    if (this.kind === 'ct' && this.home) this.d = undefined;
  }

  /**
   * The cache let go of this idle entry: it no longer stands for the flow (a new entry will).
   * Unlike detach(), its times are not copied out (two numbers allocated per flow for nobody).
   */
  orphan(): void {
    this.st = this.state;
    this.home = undefined;
    this.id = -1;
  }

  /** The cache dropped this entry (flush, release): its storage is gone. */
  detach(flow?: Flow): void {
    if (this.kind === 'ct' && this.d === undefined && flow) this.d = flow as Data<K>;
    if (this.t0 === undefined) {
      this.t0 = this.since;
      this.t1 = this.lastUpdate;
    }
    this.st = this.state;
    this.home = undefined;
    this.id = -1;
  }
}

const scratchKey = new Uint8Array(KEY_SIZE);
const copyDst = new Words();
const scratchMsg = new Uint8Array(MAX_MESSAGE_SIZE + 64);
const TAG_STATE = 0x03;

export interface CacheOptions {
  /**
   * No object per conntrack (the external cache): entries exist only as stored messages. Default:
   * on for a cache named "external".
   */
  compact?: boolean;
}

export class Cache<K extends Kind> {
  readonly counters: CacheCounters = zeroCacheCounters();
  /** expectations */
  private readonly map = new Map<string, Entry<K>>();
  /** conntracks */
  private readonly slab: FlowSlab | undefined;
  readonly compact: boolean;
  /**
   * internal cache: the Entry of an id while one exists (the sync mode holds it, it keeps a Flow,
   * or someone asked for it); per-id state and times live in the slab and the arrays below
   */
  private objects: (Entry<'ct'> | undefined)[] = [];
  /** since / lastUpdate of each id (ms) */
  private since = new Float64Array(0);
  private updated = new Float64Array(0);
  /**
   * internal cache: the kernel's id (CTA_ID) of the conntrack each entry mirrors, 0 when not known.
   * The kernel sends a DESTROY it could not deliver to a reliable listener again later (and to every
   * listener), by which time the tuple may belong to a new conntrack: the ids tell the two apart.
   * Two live conntracks never share an id (it hashes the object's address, and the old one lives
   * until its DESTROY is delivered).
   */
  private kids = new Uint32Array(0);
  /** DESTROY events left alone because they were about an earlier conntrack (late ones) */
  lateDestroys = 0;

  constructor(readonly name: string, readonly kind: K, public limit = Infinity, private readonly now: () => number = Date.now, opts: CacheOptions = {}) {
    this.compact = kind === 'ct' && (opts.compact ?? name === 'external');
    if (kind === 'ct') this.slab = new FlowSlab();
  }

  keyOf(d: Data<K>): string {
    return this.kind === 'ct' ? flowKey(d as Flow) : expectationKey(d as Expectation);
  }

  get size(): number { return this.slab ? this.slab.count : this.map.size; }

  // ---------------------------------------------------------------- conntrack storage

  /** Finds the id of a flow's key; -1 when absent (or the flow's addresses do not parse). */
  private findFlow(f: Flow): number {
    if (!writeFlowKey(f, scratchKey, 0)) return -1;
    return this.slab!.find(scratchKey, 0, hashKey(scratchKey, 0));
  }

  /**
   * Stores f as id's message; returns f when the message cannot carry everything a dump of the
   * cache shows (the entry keeps it), else undefined.
   */
  store(id: number, f: Flow): Flow | undefined {
    const n = encodeCt(scratchMsg, 0, 0, 0, 0, f, STORE_OPT);
    if (n < 0) {
      // an address that does not parse: keep the Flow, with an empty message
      this.slab!.setMessage(id, scratchMsg, 0, 0);
      return f;
    }
    this.slab!.setMessage(id, scratchMsg, 0, n);
    return needsFlow(f) ? f : undefined;
  }

  /** The Flow rebuilt from id's message. */
  flowOf(id: number): Flow {
    const s = this.slab!;
    const r = decodeCt(s.msgBuf(id), s.msgOff(id), s.msgLen(id));
    if (typeof r === 'number') throw new Error(`cache ${this.name}: stored message ${id} does not decode (${r})`);
    return r;
  }

  /** Copies id's message into b at o, without the attributes `opt` does not send. */
  copyMessage(id: number, b: Uint8Array, o: number, opt: EncodeOptions): number {
    const s = this.slab!;
    const src = s.msgBuf(id), so = s.msgOff(id), n = s.msgLen(id);
    if (n < NETHDR_SIZE) return -1;
    const dropTimeout = opt.commitTimeout === true, dropWscale = opt.tcpWindowTracking !== true;
    const sw = s.msgWords(id), dw = copyDst.of(b);
    const end = so + n;
    if (sw === undefined || dw === undefined || ((so | o | n) & 3) !== 0) return copyAttrs(src, so, end, b, o, dropTimeout, dropWscale);
    // attributes are 4-aligned: walk their headers only, and copy the runs between the ones left
    // out (usually a TCP flow's two window scales) a word at a time
    let w = o >> 2, from = so;
    let p = so + NETHDR_SIZE;
    while (p + 4 <= end) {
      const id2 = src[p + 3] | (src[p + 2] << 8);
      const next = p + ((((src[p] << 8) | src[p + 1]) + 3) & ~3);
      if ((dropTimeout && id2 === NTA.TIMEOUT) || (dropWscale && (id2 === NTA.TCP_WSCALE_ORIG || id2 === NTA.TCP_WSCALE_REPL))) {
        for (let q = from >> 2, e = p >> 2; q < e; q++) dw[w++] = sw[q];
        from = next;
      }
      p = next;
    }
    // a last attribute running past the end (never made by this cache's writers) is cut there
    const stop = Math.min(p, end);
    for (let q = from >> 2, e = stop >> 2; q < e; q++) dw[w++] = sw[q];
    return (w << 2) - o;
  }

  /** id entered the cache at `now` (ms). */
  stamp(id: number, now: number): void {
    this.growMeta();
    this.since[id] = now;
    this.updated[id] = now;
    this.kids[id] = 0;
  }
  /** ms when id entered the cache */
  sinceOf(id: number): number { return this.since[id]; }
  /** id changed at `ms` */
  touch(id: number, ms: number): void { this.updated[id] = ms; }

  private growMeta(): void {
    const cap = this.slab!.capacity;
    if (this.since.length >= cap) return;
    const s = new Float64Array(cap); s.set(this.since); this.since = s;
    const u = new Float64Array(cap); u.set(this.updated); this.updated = u;
    const k = new Uint32Array(cap); k.set(this.kids); this.kids = k;
  }

  /** The kernel's conntrack `kid` (0: unknown, nothing changes) is what the entry now mirrors. */
  noteKernelId(e: Entry<'ct'> | undefined, kid: number): void {
    if (e !== undefined && e.id >= 0 && kid !== 0) this.kids[e.id] = kid;
  }

  /**
   * A DESTROY of the kernel's conntrack `kid` for id's key is about an earlier conntrack than the
   * one the entry mirrors (a late DESTROY): it must leave the entry alone. Counted.
   */
  private late(id: number, kid: number): boolean {
    if (kid === 0 || this.kids[id] === 0 || this.kids[id] === kid) return false;
    this.lateDestroys++;
    return true;
  }

  private withKernelId(e: Entry<K> | undefined, f: Flow): Entry<K> | undefined {
    if (f.id !== undefined) this.noteKernelId(e as Entry<'ct'> | undefined, f.id);
    return e;
  }

  /** A new id for the key in scratchKey (hash h), with f stored; undefined when the cache is full. */
  private insertFlow(f: Flow, h: number): Entry<K> | number | undefined {
    if (this.slab!.count >= this.limit) {
      this.counters.noSpace++;
      this.counters.createFailed++;
      return undefined;
    }
    const s = this.slab!;
    const id = s.alloc();
    s.setKey(id, scratchKey, 0, h);
    s.insert(id);
    this.counters.created++;
    this.counters.active++;
    const now = this.now();
    if (this.compact) {
      this.stamp(id, now);
      s.tag[id] = ObjState.NEW;
      this.store(id, f);
      return id;
    }
    this.stamp(id, now);
    s.tag[id] = ObjState.NEW;
    const e = this.objectOf(id);
    e.data = f;
    return e as unknown as Entry<K>;
  }

  /** A transient Entry for id of the compact cache. */
  private view(id: number): Entry<K> {
    const e = new Entry<'ct'>('ct', this.flowOf(id), this.since[id], undefined, id);
    e.lastUpdate = this.updated[id];
    e.state = (this.slab!.tag[id] & TAG_STATE) as ObjStateValue;
    return e as unknown as Entry<K>;
  }

  private entryOf(id: number): Entry<K> {
    return this.compact ? this.view(id) : (this.objectOf(id) as unknown as Entry<K>);
  }

  /** The internal cache's Entry of id: the one that exists, or a new one kept until idle(). */
  private objectOf(id: number): Entry<'ct'> {
    let e = this.objects[id];
    if (e === undefined) {
      e = new Entry<'ct'>('ct', undefined, 0, this as unknown as Cache<'ct'>, id);
      this.objects[id] = e;
    }
    return e;
  }

  /**
   * The sync mode let go of e (not DEAD; FTFW: the peer acknowledged it): the cache forgets the
   * object, its flow stays in the slab. An entry that keeps a Flow stays.
   */
  idle(e: Entry<K>): void {
    const id = e.id;
    if (this.compact || id < 0 || this.objects[id] !== (e as unknown as Entry<'ct'>)) return;
    if (e.keepsFlow || e.sync?.owner || e.slot >= 0) return;
    this.objects[id] = undefined;
    e.orphan();
  }

  private dropId(id: number): void {
    const s = this.slab!;
    s.remove(id);
    if (!this.compact) this.detachObject(id);
    s.free(id);
  }

  /** The Entry of id leaves the cache; one the sync mode still holds keeps its Flow to be sent. */
  private detachObject(id: number): Entry<'ct'> | undefined {
    const e = this.objects[id];
    this.objects[id] = undefined;
    e?.detach(e.sync?.owner ? this.flowOf(id) : undefined);
    return e;
  }

  /** The state of id (conntracks). */
  stateOf(id: number): ObjStateValue {
    return (this.slab!.tag[id] & TAG_STATE) as ObjStateValue;
  }
  setState(id: number, v: ObjStateValue): void {
    const t = this.slab!.tag;
    t[id] = (t[id] & ~TAG_STATE) | v;
  }

  // ---------------------------------------------------------------- the received wire path

  /**
   * A received conntrack message applied as it is, without a Flow (external cache): CT_NEW
   * replaces, CT_UPD updates or creates, CT_DEL removes. Returns 1 when applied (or refused by
   * the cache's limit, counted as conntrackd does), or the DECODE_* code when the message is
   * malformed (nothing changes).
   */
  applyWire(type: 0 | 1 | 2, b: Uint8Array, off: number, len: number, now = this.now()): number {
    const s = this.slab!;
    const r = scanCt(b, off, len, scratchKey, 0);
    if (r !== 0) return r;
    const h = hashKey(scratchKey, 0);
    let id = s.find(scratchKey, 0, h);
    if (type === 2) {
      if (id < 0) {
        this.counters.deleteNotFound++;
        this.counters.destroyFailed++;
        return 1;
      }
      if (this.stateOf(id) !== ObjState.DEAD) {
        this.counters.destroyed++;
        this.counters.active--;
      }
      this.dropId(id);
      return 1;
    }
    if (id >= 0 && type === 0) {
      // CT_NEW for a known key: delete, then add (conntrackd counts both)
      this.counters.destroyed++;
      this.counters.active--;
      this.dropId(id);
      id = -1;
    }
    if (id < 0) {
      if (s.count >= this.limit) {
        this.counters.noSpace++;
        this.counters.createFailed++;
        return 1;
      }
      id = s.alloc();
      s.setKey(id, scratchKey, 0, h);
      s.insert(id);
      this.counters.created++;
      this.counters.active++;
      this.stamp(id, now);
      s.tag[id] = ObjState.NEW;
    } else {
      this.counters.updated++;
      s.tag[id] = ObjState.ALIVE;
    }
    s.setMessage(id, b, off, len);
    this.updated[id] = now;
    return 1;
  }

  // ---------------------------------------------------------------- the kernel event fast path

  /**
   * upsert() for a conntrack given as its key (key[0..40)) and stored message (msg[0..n)), as
   * src/daemon/record-message.ts makes them from a kernel record (internal cache).
   */
  upsertMessage(key: Uint8Array, msg: Uint8Array, n: number, isNew: boolean, now = this.now(), kid = 0): Entry<'ct'> | undefined {
    const id = this.putMessage(key, msg, n, isNew, now, kid);
    return id < 0 ? undefined : this.objectOf(id);
  }

  /**
   * upsertMessage() for a caller that queues nothing (the events of our own commit, a resync):
   * returns the id, -1 when the cache is full, and makes no Entry. An Entry made for each would
   * stay in `objects` until its flow next changes: after a commit of 100,000, 100,000 objects
   * for the collector to carry.
   */
  putMessage(key: Uint8Array, msg: Uint8Array, n: number, isNew: boolean, now = this.now(), kid = 0): number {
    const s = this.slab!;
    const h = hashKey(key, 0);
    let id = s.find(key, 0, h);
    if (id < 0) {
      if (s.count >= this.limit) {
        this.counters.noSpace++;
        this.counters.createFailed++;
        return -1;
      }
      id = s.alloc();
      s.setKey(id, key, 0, h);
      s.insert(id);
      this.counters.created++;
      this.counters.active++;
      this.stamp(id, now);
      s.tag[id] = ObjState.NEW;
    } else {
      const st = this.stateOf(id);
      if (st === ObjState.DEAD) {
        this.setState(id, ObjState.NEW);
        this.counters.active++;
        this.counters.created++;
      } else {
        if (isNew) this.setState(id, ObjState.NEW);
        else if (st === ObjState.NEW) this.setState(id, ObjState.ALIVE);
        this.counters.updated++;
      }
      // the new message says everything: an Entry that kept a Flow lets it go
      this.objects[id]?.clearFlow();
      this.updated[id] = now;
    }
    s.setMessage(id, msg, 0, n);
    if (kid !== 0) this.kids[id] = kid;
    return id;
  }

  /** kill() for a conntrack given as key and message (internal cache). */
  killMessage(key: Uint8Array, msg: Uint8Array, n: number, kid = 0): Entry<'ct'> | undefined {
    const s = this.slab!;
    const id = s.find(key, 0, hashKey(key, 0));
    if (id < 0) {
      this.counters.deleteNotFound++;
      return undefined;
    }
    if (this.stateOf(id) === ObjState.DEAD || this.late(id, kid)) return undefined;
    this.setState(id, ObjState.DEAD);
    const e = this.objectOf(id);
    e.clearFlow();
    s.setMessage(id, msg, 0, n);
    this.counters.destroyed++;
    this.counters.active--;
    return e;
  }

  /** remove() for a conntrack given as key (internal cache). */
  removeKey(key: Uint8Array, kid = 0): boolean {
    const id = this.slab!.find(key, 0, hashKey(key, 0));
    if (id < 0) {
      this.counters.deleteNotFound++;
      this.counters.destroyFailed++;
      return false;
    }
    if (this.late(id, kid)) return false;
    const dead = this.stateOf(id) === ObjState.DEAD;
    this.dropId(id);
    if (!dead) {
      this.counters.destroyed++;
      this.counters.active--;
    }
    return true;
  }

  // ---------------------------------------------------------------- the API both kinds share

  get(d: Data<K>): Entry<K> | undefined {
    if (!this.slab) return this.map.get(this.keyOf(d));
    const id = this.findFlow(d as Flow);
    return id < 0 ? undefined : this.entryOf(id);
  }

  /** Every entry; for the compact cache, Entry objects made for the occasion. */
  *values(): IterableIterator<Entry<K>> {
    if (!this.slab) {
      yield* this.map.values();
      return;
    }
    for (const id of this.slab.ids()) {
      if (this.slab.msgLen(id) === 0) continue;
      yield this.entryOf(id);
    }
  }

  /** Live objects (DEAD ones wait for their DEL to be acknowledged and are not shown). */
  *live(): IterableIterator<Entry<K>> {
    if (!this.slab) {
      for (const e of this.map.values()) if (e.state !== ObjState.DEAD) yield e;
      return;
    }
    for (const id of this.slab.ids()) {
      if (this.slab.msgLen(id) === 0 || this.stateOf(id) === ObjState.DEAD) continue;
      yield this.entryOf(id);
    }
  }

  private insertObj(key: string, d: Data<K>): Entry<K> | undefined {
    if (this.map.size >= this.limit) {
      this.counters.noSpace++;
      this.counters.createFailed++;
      return undefined;
    }
    const e = new Entry(this.kind, d, this.now());
    this.map.set(key, e);
    this.counters.created++;
    this.counters.active++;
    return e;
  }

  /**
   * A local NEW or UPDATE event (internal cache): update the object, or create it; a DEAD object
   * with the same key comes back to life as NEW (the kernel reused the tuple).
   */
  upsert(d: Data<K>, isNew: boolean): Entry<K> | undefined {
    let e: Entry<K> | undefined;
    if (this.slab) {
      if (!writeFlowKey(d as Flow, scratchKey, 0)) return this.unparsable();
      const h = hashKey(scratchKey, 0);
      const id = this.slab.find(scratchKey, 0, h);
      if (id < 0) return this.withKernelId(this.asEntry(this.insertFlow(d as Flow, h)), d as Flow);
      if (this.compact) return this.upsertCompact(id, d as Flow, isNew);
      e = this.objectOf(id) as unknown as Entry<K>;
      this.withKernelId(e, d as Flow);
    } else {
      const key = this.keyOf(d);
      e = this.map.get(key);
      if (!e) return this.insertObj(key, d);
    }
    if (e.state === ObjState.DEAD) {
      e.state = ObjState.NEW;
      this.counters.active++;
      this.counters.created++;
    } else {
      if (isNew) e.state = ObjState.NEW;
      else if (e.state === ObjState.NEW && !isNew) e.state = ObjState.ALIVE;
      this.counters.updated++;
    }
    e.data = d;
    e.lastUpdate = this.now();
    return e;
  }

  private upsertCompact(id: number, f: Flow, isNew: boolean): Entry<K> {
    const s = this.slab!;
    const st = s.tag[id] & TAG_STATE;
    if (st === ObjState.DEAD) {
      s.tag[id] = ObjState.NEW;
      this.counters.active++;
      this.counters.created++;
    } else {
      if (isNew) s.tag[id] = ObjState.NEW;
      else if (st === ObjState.NEW) s.tag[id] = ObjState.ALIVE;
      this.counters.updated++;
    }
    this.store(id, f);
    this.updated[id] = this.now();
    return this.view(id);
  }

  private asEntry(r: Entry<K> | number | undefined): Entry<K> | undefined {
    return typeof r === 'number' ? this.view(r) : r;
  }

  /** A flow whose addresses do not parse cannot be cached (nor sent): counted as a failed create. */
  private unparsable(): undefined {
    this.counters.createFailed++;
    return undefined;
  }

  /** A received CT_NEW (external cache): an existing object is replaced, as delete then add. */
  replace(d: Data<K>): Entry<K> | undefined {
    if (this.slab) {
      if (!writeFlowKey(d as Flow, scratchKey, 0)) return this.unparsable();
      const h = hashKey(scratchKey, 0);
      const id = this.slab.find(scratchKey, 0, h);
      if (id >= 0) {
        this.dropId(id);
        this.counters.destroyed++;
        this.counters.active--;
      }
      return this.asEntry(this.insertFlow(d as Flow, h));
    }
    const key = this.keyOf(d);
    if (this.map.has(key)) {
      this.map.delete(key);
      this.counters.destroyed++;
      this.counters.active--;
    }
    return this.insertObj(key, d);
  }

  /** A received CT_UPD: update, or create when unknown. */
  update(d: Data<K>): Entry<K> | undefined {
    if (this.slab) {
      if (!writeFlowKey(d as Flow, scratchKey, 0)) return this.unparsable();
      const h = hashKey(scratchKey, 0);
      const id = this.slab.find(scratchKey, 0, h);
      if (id < 0) return this.asEntry(this.insertFlow(d as Flow, h));
      this.counters.updated++;
      if (this.compact) {
        this.slab.tag[id] = ObjState.ALIVE;
        this.store(id, d as Flow);
        this.updated[id] = this.now();
        return this.view(id);
      }
      const o = this.objectOf(id);
      o.data = d as Flow;
      o.state = ObjState.ALIVE;
      o.lastUpdate = this.now();
      return o as unknown as Entry<K>;
    }
    const key = this.keyOf(d);
    const e = this.map.get(key);
    if (!e) return this.insertObj(key, d);
    e.data = d;
    e.state = ObjState.ALIVE;
    e.lastUpdate = this.now();
    this.counters.updated++;
    return e;
  }

  /**
   * Marks an object DEAD (internal cache, waiting for its DEL to be sent or acknowledged); `kid` as
   * for remove().
   */
  kill(d: Data<K>, kid = 0): Entry<K> | undefined {
    if (this.slab) {
      const id = this.findFlow(d as Flow);
      if (id < 0 || this.stateOf(id) === ObjState.DEAD || this.late(id, kid)) {
        if (id < 0) this.counters.deleteNotFound++;
        return undefined;
      }
      this.counters.destroyed++;
      this.counters.active--;
      if (this.compact) {
        this.slab.tag[id] = ObjState.DEAD;
        this.store(id, d as Flow);
        return this.view(id);
      }
      const o = this.objectOf(id);
      o.state = ObjState.DEAD;
      o.data = d as Flow;
      return o as unknown as Entry<K>;
    }
    const e = this.map.get(this.keyOf(d));
    if (!e || e.state === ObjState.DEAD) {
      if (!e) this.counters.deleteNotFound++;
      return undefined;
    }
    e.state = ObjState.DEAD;
    e.data = d;
    this.counters.destroyed++;
    this.counters.active--;
    return e;
  }

  /**
   * Removes an object for good: a received CT_DEL, or a DEAD object whose DEL went through (a
   * kernel event's conntrack id `kid`, when given, must be the entry's: see late()).
   */
  remove(d: Data<K>, kid = 0): boolean {
    let dead: boolean;
    if (this.slab) {
      const id = this.findFlow(d as Flow);
      if (id < 0) {
        this.counters.deleteNotFound++;
        this.counters.destroyFailed++;
        return false;
      }
      if (this.late(id, kid)) return false;
      dead = this.stateOf(id) === ObjState.DEAD;
      this.dropId(id);
    } else {
      const key = this.keyOf(d);
      const e = this.map.get(key);
      if (!e) {
        this.counters.deleteNotFound++;
        this.counters.destroyFailed++;
        return false;
      }
      this.map.delete(key);
      dead = e.state === ObjState.DEAD;
    }
    if (!dead) {
      this.counters.destroyed++;
      this.counters.active--;
    }
    return true;
  }

  /** Frees a DEAD entry (the sync mode no longer references it). */
  release(e: Entry<K>): void {
    if (e.state !== ObjState.DEAD) return;
    if (this.slab) {
      if (!this.compact && e.id >= 0 && this.objects[e.id] === (e as unknown as Entry<'ct'>)) this.dropId(e.id);
      return;
    }
    const key = e.key;
    if (this.map.get(key) === e) this.map.delete(key);
  }

  /** Empties the cache; the counters of activity stay, `active` drops to 0. */
  flush(): Entry<K>[] {
    let all: Entry<K>[];
    if (this.slab) {
      all = [];
      if (!this.compact) {
        for (const id of this.slab.ids()) {
          const e = this.detachObject(id);
          if (e) all.push(e as unknown as Entry<K>);
        }
      }
      this.slab.clear();
      this.objects = [];
      this.since = new Float64Array(0);
      this.updated = new Float64Array(0);
      this.kids = new Uint32Array(0);
    } else {
      all = [...this.map.values()];
      this.map.clear();
    }
    this.counters.active = 0;
    return all;
  }

  // ---------------------------------------------------------------- stored messages (commit)

  /** Every conntrack's id is below this: walk 0..idLimit() with isLive() to visit them in slot order. */
  idLimit(): number { return this.slab!.idLimit; }
  /** Whether id still holds a live conntrack (the cache may have changed since ids were taken). */
  isLive(id: number): boolean {
    const s = this.slab!;
    if (id < 0 || id >= s.capacity || s.msgLen(id) < NETHDR_SIZE) return false;
    return this.stateOf(id) !== ObjState.DEAD;
  }
  messageBuf(id: number): Uint8Array { return this.slab!.msgBuf(id); }
  messageOff(id: number): number { return this.slab!.msgOff(id); }
  messageLen(id: number): number { return this.slab!.msgLen(id); }
  /** ms of the entry's last change */
  lastUpdateOf(id: number): number { return this.updated[id]; }
  /** The entry's Flow (the kept one, or rebuilt from its message). */
  dataOf(id: number): Flow {
    const e = this.objects[id];
    return e !== undefined ? e.data : this.flowOf(id);
  }

  /** Bytes the binary storage holds (conntracks). */
  storageBytes(): number {
    return (this.slab?.bytes() ?? 0) + this.since.byteLength + this.updated.byteLength;
  }
}

/** copyMessage for buffers that are not 4-aligned: attribute by attribute, byte by byte. */
function copyAttrs(src: Uint8Array, so: number, end: number, b: Uint8Array, o: number, dropTimeout: boolean, dropWscale: boolean): number {
  for (let i = 0; i < NETHDR_SIZE; i++) b[o + i] = src[so + i];
  let w = o + NETHDR_SIZE;
  let p = so + NETHDR_SIZE;
  while (p + 4 <= end) {
    const id2 = (src[p + 2] << 8) | src[p + 3];
    const adv = (((src[p] << 8) | src[p + 1]) + 3) & ~3;
    if (!((dropTimeout && id2 === NTA.TIMEOUT) || (dropWscale && (id2 === NTA.TCP_WSCALE_ORIG || id2 === NTA.TCP_WSCALE_REPL)))) {
      for (let i = 0; i < adv; i++) b[w + i] = src[p + i];
      w += adv;
    }
    p += adv;
  }
  return w - o;
}

/**
 * Whether a Flow holds something its stored message cannot give back, that a dump of the cache
 * shows: traffic counters, secmark, tuple zones, a helper name or labels the wire leaves out,
 * half a sequence adjustment, or a reply tuple its NAT attributes do not rebuild.
 */
export function needsFlow(f: Flow): boolean {
  if (f.countersOrig || f.countersReply || f.secmark !== undefined || f.zone === 0) return true;
  if (f.orig.zone !== undefined || f.reply.zone !== undefined) return true;
  if (f.helper !== undefined && !asciiName(f.helper, HELPER_NAME_MAX)) return true;
  if (f.labels && f.labels.length > LABEL_WORDS_MAX) return true;
  if ((f.seqAdjOrig === undefined) !== (f.seqAdjReply === undefined)) return true;
  if (f.sctp && (f.sctp.vtagOrig === undefined || f.sctp.vtagReply === undefined)) return true;
  if (f.dccp && f.dccp.role === undefined) return true;
  return !tupleEqual(f.reply, replyFor(f.orig, natOf(f)));
}

function asciiName(s: string, max: number): boolean {
  if (s.length === 0 || s.length > max) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c > 0x7e) return false;
  }
  return true;
}
