// Storage of the conntrack caches without a JavaScript object per flow: each flow is an id into
// typed arrays and fixed-size slots of large shared buffers. A slot holds the flow's binary key
// (src/flow/key.ts) and its conntrackd wire message (header + attributes, src/sync/codec.ts),
// which is at once what goes on the wire, what the peer sent, and enough to rebuild the Flow.
// Ids are found by key through an open-addressing hash table (linear probing, deletion by
// backward shift, so no tombstones); the table doubles to stay at most half full.
//
// Per flow this costs one 160-byte slot, 4+2+1 bytes of per-id arrays and 8-16 bytes of table,
// where a Map of Flow objects costs about a kilobyte of heap.
import { KEY_SIZE, keysEqual } from '../flow/key.ts';
import { Words } from '../flow/words.ts';

/** Bytes of a slot: the key, then up to MSG_INLINE bytes of message. */
const MSG_INLINE = 120;
const SLOT = KEY_SIZE + MSG_INLINE;
const CHUNK_BITS = 12;
const CHUNK_IDS = 1 << CHUNK_BITS;
const CHUNK_MASK = CHUNK_IDS - 1;
/** first size of the index (slots); it doubles from there */
const TABLE_START = 1 << 15;
/** message length marking a free id */
const FREE = 0;

export class FlowSlab {
  /** per id: key hash, message length (0 = free id), a byte for the cache's use */
  hash = new Int32Array(CHUNK_IDS);
  len = new Uint16Array(CHUNK_IDS);
  tag = new Uint8Array(CHUNK_IDS);
  private chunks: Uint8Array[] = [];
  private chunks32: Int32Array[] = [];
  private readonly srcWords = new Words();
  private readonly keyWords = new Words();
  private readonly findWords = new Words();
  /** messages longer than MSG_INLINE, by id */
  private readonly big = new Map<number, Uint8Array>();
  private freeIds = new Int32Array(CHUNK_IDS);
  /** sortFree's bitmap of free ids, all zero between calls */
  private freeBits = new Int32Array(0);
  private freeTop = 0;
  /** ids freed since the free list was last sorted */
  private freedUnsorted = 0;
  private nextId = 0;
  /** index: pairs (hash, id + 1) per slot, 0 = empty; the hash beside the id saves a memory access per probe */
  private table = new Int32Array(2 * TABLE_START);
  private mask = TABLE_START - 1;
  /** ids in the index */
  count = 0;

  /** Every id ever handed out since the last clear() is below this. */
  get idLimit(): number { return this.nextId; }

  /** Capacity in ids (the per-id arrays' length). */
  get capacity(): number { return this.len.length; }

  // ---------------------------------------------------------------- ids and slots

  /** A free id with an empty slot (not yet in the index). */
  alloc(): number {
    if (this.freedUnsorted > 256 && this.freedUnsorted * 4 > this.freeTop) this.sortFree();
    const id = this.freeTop > 0 ? this.freeIds[--this.freeTop] : this.nextId++;
    if (id >= this.len.length) this.grow();
    if ((id >>> CHUNK_BITS) >= this.chunks.length) {
      const c = new Uint8Array(CHUNK_IDS * SLOT);
      this.chunks.push(c);
      this.chunks32.push(new Int32Array(c.buffer));
    }
    this.len[id] = 1;
    return id;
  }

  /** Gives an id back (it must not be in the index). */
  free(id: number): void {
    if (this.len[id] === FREE) return;
    this.len[id] = FREE;
    this.tag[id] = 0;
    if (this.big.size) this.big.delete(id);
    if (this.freeTop === this.freeIds.length) {
      const f = new Int32Array(this.freeIds.length * 2);
      f.set(this.freeIds);
      this.freeIds = f;
    }
    this.freeIds[this.freeTop++] = id;
    this.freedUnsorted++;
  }

  /**
   * Orders the free ids so that the next ones handed out are the lowest, in ascending order.
   * Ids are freed in whatever order flows end (after a mass expiry, effectively at random); handed
   * out in that order, every new flow would touch a slot and per-id entries far from the last
   * one's, a cache miss each. Sorted, a burst of new flows fills memory front to back. Sorting
   * only once a quarter of the free list is new keeps the cost low; it is a bitmap of the ids
   * walked from the top (linear, no comparisons: 100,000 ids sorted took 7 ms, this takes under 1).
   */
  private sortFree(): void {
    const n = this.freeTop, ids = this.freeIds;
    const words = (this.nextId + 31) >>> 5;
    if (this.freeBits.length < words) this.freeBits = new Int32Array(this.len.length >>> 5);
    const bits = this.freeBits;
    for (let i = 0; i < n; i++) bits[ids[i] >>> 5] |= 1 << (ids[i] & 31);
    // highest first, so that the stack's top (the end) is the lowest id
    let k = 0;
    for (let w = words - 1; w >= 0 && k < n; w--) {
      let v = bits[w];
      if (v === 0) continue;
      bits[w] = 0;
      while (v !== 0) {
        const bit = 31 - Math.clz32(v);
        ids[k++] = (w << 5) | bit;
        v &= ~(1 << bit);
      }
    }
    this.freeTop = k;
    this.freedUnsorted = 0;
  }

  private grow(): void {
    const n = this.len.length * 2;
    const h = new Int32Array(n); h.set(this.hash); this.hash = h;
    const l = new Uint16Array(n); l.set(this.len); this.len = l;
    const t = new Uint8Array(n); t.set(this.tag); this.tag = t;
  }

  /** The buffer holding id's slot, and the slot's offset in it. */
  buf(id: number): Uint8Array { return this.chunks[id >>> CHUNK_BITS]; }
  keyOff(id: number): number { return (id & CHUNK_MASK) * SLOT; }

  /** Where id's message is: buffer, offset, length (the message may live outside the slot). */
  msgBuf(id: number): Uint8Array {
    return this.len[id] > MSG_INLINE ? this.big.get(id)! : this.chunks[id >>> CHUNK_BITS];
  }
  msgOff(id: number): number {
    return this.len[id] > MSG_INLINE ? 0 : (id & CHUNK_MASK) * SLOT + KEY_SIZE;
  }
  msgLen(id: number): number { return this.len[id]; }
  /** msgBuf as words (offset msgOff / 4), for messages in their slot; undefined for long ones. */
  msgWords(id: number): Int32Array | undefined {
    return this.len[id] > MSG_INLINE ? undefined : this.chunks32[id >>> CHUNK_BITS];
  }

  /** Copies a message of `n` bytes into id's slot (or beside it when it is long). */
  setMessage(id: number, src: Uint8Array, so: number, n: number): void {
    if (n > MSG_INLINE) {
      this.big.set(id, src.slice(so, so + n));
    } else {
      if (this.len[id] > MSG_INLINE) this.big.delete(id);
      const o = (id & CHUNK_MASK) * SLOT + KEY_SIZE;
      const w = this.srcWords.of(src);
      if (w && ((so | n) & 3) === 0) {
        const d = this.chunks32[id >>> CHUNK_BITS], dw = o >> 2, sw = so >> 2;
        for (let i = 0; i < n >> 2; i++) d[dw + i] = w[sw + i];
      } else {
        const b = this.chunks[id >>> CHUNK_BITS];
        for (let i = 0; i < n; i++) b[o + i] = src[so + i];
      }
    }
    this.len[id] = n;
  }

  /** Sets id's key from key[ko..ko+40) with its hash. */
  setKey(id: number, key: Uint8Array, ko: number, hash: number): void {
    const o = (id & CHUNK_MASK) * SLOT;
    const w = this.keyWords.of(key);
    if (w && (ko & 3) === 0) {
      const d = this.chunks32[id >>> CHUNK_BITS], dw = o >> 2, kw = ko >> 2;
      for (let i = 0; i < KEY_SIZE >> 2; i++) d[dw + i] = w[kw + i];
    } else {
      const b = this.chunks[id >>> CHUNK_BITS];
      for (let i = 0; i < KEY_SIZE; i++) b[o + i] = key[ko + i];
    }
    this.hash[id] = hash;
  }

  // ---------------------------------------------------------------- index

  /** The id whose key equals key[ko..], or -1. */
  find(key: Uint8Array, ko: number, hash: number): number {
    const t = this.table, m = this.mask;
    const w = (ko & 3) === 0 ? this.findWords.of(key) : undefined;
    for (let i = hash & m; ; i = (i + 1) & m) {
      const v = t[2 * i + 1];
      if (v === 0) return -1;
      if (t[2 * i] !== hash) continue;
      const id = v - 1;
      if (w ? wordsEqual(this.chunks32[id >>> CHUNK_BITS], ((id & CHUNK_MASK) * SLOT) >> 2, w, ko >> 2) : keysEqual(this.chunks[id >>> CHUNK_BITS], (id & CHUNK_MASK) * SLOT, key, ko)) return id;
    }
  }

  /** Puts id (its key and hash set, not in the index yet) into the index. */
  insert(id: number): void {
    if ((this.count + 1) * 2 > this.mask + 1) this.rehash((this.mask + 1) * 2);
    const t = this.table, m = this.mask, h = this.hash[id];
    let i = h & m;
    while (t[2 * i + 1] !== 0) i = (i + 1) & m;
    t[2 * i] = h;
    t[2 * i + 1] = id + 1;
    this.count++;
  }

  /** Takes id out of the index (its slot stays allocated). */
  remove(id: number): boolean {
    const t = this.table, m = this.mask;
    let i = this.hash[id] & m;
    for (;;) {
      const v = t[2 * i + 1];
      if (v === 0) return false;
      if (v === id + 1) break;
      i = (i + 1) & m;
    }
    // backward shift: move later members of the cluster into the hole when their home allows it
    let hole = i;
    for (let j = (i + 1) & m; ; j = (j + 1) & m) {
      const v = t[2 * j + 1];
      if (v === 0) break;
      const home = t[2 * j] & m;
      // j's home is cyclically outside (hole, j]: it may move to the hole
      if (((j - home) & m) >= ((j - hole) & m)) {
        t[2 * hole] = t[2 * j];
        t[2 * hole + 1] = v;
        hole = j;
      }
    }
    t[2 * hole] = 0;
    t[2 * hole + 1] = 0;
    this.count--;
    return true;
  }

  private rehash(slots: number): void {
    const old = this.table;
    this.table = new Int32Array(2 * slots);
    this.mask = slots - 1;
    const t = this.table, m = this.mask;
    for (let k = 0; k < old.length; k += 2) {
      const v = old[k + 1];
      if (v === 0) continue;
      let i = old[k] & m;
      while (t[2 * i + 1] !== 0) i = (i + 1) & m;
      t[2 * i] = old[k];
      t[2 * i + 1] = v;
    }
  }

  /** Ids in the index, as a snapshot (safe to change the index while going through it). */
  ids(): Int32Array {
    const out = new Int32Array(this.count);
    let n = 0;
    const t = this.table;
    for (let k = 1; k < t.length; k += 2) if (t[k] !== 0) out[n++] = t[k] - 1;
    return out;
  }

  /** Empties everything and gives the memory back. */
  clear(): void {
    this.hash = new Int32Array(CHUNK_IDS);
    this.len = new Uint16Array(CHUNK_IDS);
    this.tag = new Uint8Array(CHUNK_IDS);
    this.chunks = [];
    this.chunks32 = [];
    this.big.clear();
    this.freeIds = new Int32Array(CHUNK_IDS);
    this.freeTop = 0;
    this.freedUnsorted = 0;
    this.nextId = 0;
    this.table = new Int32Array(2 * TABLE_START);
    this.mask = TABLE_START - 1;
    this.count = 0;
  }

  /** Bytes held (for statistics). */
  bytes(): number {
    let n = this.chunks.length * CHUNK_IDS * SLOT + this.table.byteLength + this.len.length * 7 + this.freeIds.byteLength;
    for (const b of this.big.values()) n += b.length;
    return n;
  }
}

function wordsEqual(a: Int32Array, ao: number, b: Int32Array, bo: number): boolean {
  for (let i = 0; i < KEY_SIZE >> 2; i++) if (a[ao + i] !== b[bo + i]) return false;
  return true;
}
