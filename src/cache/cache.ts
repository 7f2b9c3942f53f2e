// The internal cache (this node's flows) and the external cache (the peer's), with conntrackd's
// counters and rules. One class serves both and both object kinds (conntracks, expectations).
import type { Flow, Expectation } from '../flow/flow.ts';
import { flowKey, expectationKey } from '../flow/key.ts';
import type { SyncObject, SyncSlot } from '../sync/object.ts';

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
 * One cached object. It is also the sync mode's SyncObject (src/sync/object.ts): `flow`/`exp` and
 * `state` are kept current here; `sync` belongs to the mode, which hangs its queue node there.
 */
export class Entry<K extends Kind = Kind> implements SyncObject {
  state: ObjStateValue = ObjState.NEW;
  flow?: Flow;
  exp?: Expectation;
  sync: SyncSlot | undefined = undefined;
  /** ms (Date.now) when the object entered the cache */
  readonly since: number;
  /** ms of the last change (kernel event, or message received for the external cache) */
  lastUpdate: number;

  constructor(readonly kind: K, data: Data<K>, readonly key: string, now: number) {
    this.data = data;
    this.since = now;
    this.lastUpdate = now;
  }

  get data(): Data<K> { return (this.kind === 'ct' ? this.flow : this.exp) as Data<K>; }
  set data(d: Data<K>) {
    if (this.kind === 'ct') this.flow = d as Flow; else this.exp = d as Expectation;
  }
}

export class Cache<K extends Kind> {
  private readonly map = new Map<string, Entry<K>>();
  readonly counters: CacheCounters = zeroCacheCounters();

  constructor(readonly name: string, readonly kind: K, public limit = Infinity, private readonly now: () => number = Date.now) {}

  keyOf(d: Data<K>): string {
    return this.kind === 'ct' ? flowKey(d as Flow) : expectationKey(d as Expectation);
  }

  get size(): number { return this.map.size; }

  get(d: Data<K>): Entry<K> | undefined { return this.map.get(this.keyOf(d)); }

  values(): IterableIterator<Entry<K>> { return this.map.values(); }

  /** Live objects (DEAD ones wait for their DEL to be acknowledged and are not shown). */
  *live(): IterableIterator<Entry<K>> {
    for (const e of this.map.values()) if (e.state !== ObjState.DEAD) yield e;
  }

  private insert(key: string, d: Data<K>): Entry<K> | undefined {
    if (this.map.size >= this.limit) {
      this.counters.noSpace++;
      this.counters.createFailed++;
      return undefined;
    }
    const e = new Entry(this.kind, d, key, this.now());
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
    const key = this.keyOf(d);
    const e = this.map.get(key);
    if (!e) return this.insert(key, d);
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

  /** A received CT_NEW (external cache): an existing object is replaced, as delete then add. */
  replace(d: Data<K>): Entry<K> | undefined {
    const key = this.keyOf(d);
    if (this.map.has(key)) {
      this.map.delete(key);
      this.counters.destroyed++;
      this.counters.active--;
    }
    return this.insert(key, d);
  }

  /** A received CT_UPD: update, or create when unknown. */
  update(d: Data<K>): Entry<K> | undefined {
    const key = this.keyOf(d);
    const e = this.map.get(key);
    if (!e) return this.insert(key, d);
    e.data = d;
    e.state = ObjState.ALIVE;
    e.lastUpdate = this.now();
    this.counters.updated++;
    return e;
  }

  /** Marks an object DEAD (internal cache, waiting for its DEL to be sent or acknowledged). */
  kill(d: Data<K>): Entry<K> | undefined {
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

  /** Removes an object for good: a received CT_DEL, or a DEAD object whose DEL went through. */
  remove(d: Data<K>): boolean {
    const key = this.keyOf(d);
    const e = this.map.get(key);
    if (!e) {
      this.counters.deleteNotFound++;
      this.counters.destroyFailed++;
      return false;
    }
    this.map.delete(key);
    if (e.state !== ObjState.DEAD) {
      this.counters.destroyed++;
      this.counters.active--;
    }
    return true;
  }

  /** Frees a DEAD entry (the sync mode no longer references it). */
  release(e: Entry<K>): void {
    if (e.state === ObjState.DEAD && this.map.get(e.key) === e) this.map.delete(e.key);
  }

  /** Empties the cache; the counters of activity stay, `active` drops to 0. */
  flush(): Entry<K>[] {
    const all = [...this.map.values()];
    this.map.clear();
    this.counters.active = 0;
    return all;
  }
}
