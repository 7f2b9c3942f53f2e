// FlowSlab, the storage under both conntrack caches, against a Map as the model: random inserts,
// lookups, removals and message rewrites, with keys and messages given from aligned and unaligned
// buffers (the word-at-a-time and byte-at-a-time paths), short and long messages.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FlowSlab } from '../../src/cache/slab.ts';
import { Words } from '../../src/flow/words.ts';
import { KEY_SIZE, hashKey } from '../../src/flow/key.ts';
import { prng as rng } from './sync-harness.ts';

function keyOf(k: number): Uint8Array {
  const b = new Uint8Array(KEY_SIZE);
  b[0] = 4; b[1] = 6;
  new DataView(b.buffer).setUint32(4, k);
  new DataView(b.buffer).setUint32(20, k * 7 + 1);
  return b;
}

/** Copies src into a buffer at offset `shift` (0: aligned, 1-3: not). */
function placed(src: Uint8Array, shift: number): [Uint8Array, number] {
  const b = new Uint8Array(src.length + 8);
  b.set(src, shift);
  return [b, shift];
}

function message(k: number, version: number, len: number): Uint8Array {
  const m = new Uint8Array(len);
  for (let i = 0; i < len; i++) m[i] = (k * 31 + version * 17 + i) & 0xff;
  return m;
}

test('random operations agree with a Map, through aligned and unaligned buffers', () => {
  const r = rng(7);
  const slab = new FlowSlab();
  const model = new Map<number, { id: number; msg: Uint8Array }>();
  for (let step = 0; step < 60000; step++) {
    const k = Math.floor(r() * 5000);
    const [kb, ko] = placed(keyOf(k), r() < 0.5 ? 0 : 1 + Math.floor(r() * 3));
    const h = hashKey(kb, ko);
    const id = slab.find(kb, ko, h);
    const want = model.get(k);
    assert.is(id, want ? want.id : -1, `step ${step}: find(${k})`);
    const op = r();
    if (!want) {
      const nid = slab.alloc();
      slab.setKey(nid, kb, ko, h);
      slab.insert(nid);
      // lengths: multiples of 4 and not, inline and beyond the slot (long messages)
      const len = r() < 0.1 ? 200 + Math.floor(r() * 100) : 16 + Math.floor(r() * 100);
      const [mb, mo] = placed(message(k, step, len), r() < 0.5 ? 0 : 2);
      slab.setMessage(nid, mb, mo, len);
      model.set(k, { id: nid, msg: message(k, step, len) });
    } else if (op < 0.4) {
      assert.ok(slab.remove(want.id), `remove ${k}`);
      slab.free(want.id);
      model.delete(k);
    } else {
      const len = 16 + 4 * Math.floor(r() * 40);
      const [mb, mo] = placed(message(k, step, len), r() < 0.5 ? 0 : 3);
      slab.setMessage(want.id, mb, mo, len);
      want.msg = message(k, step, len);
    }
  }
  assert.is(slab.count, model.size);
  for (const [k, { id, msg }] of model) {
    const kb = keyOf(k);
    assert.is(slab.find(kb, 0, hashKey(kb, 0)), id);
    const o = slab.msgOff(id);
    assert.equal(slab.msgBuf(id).subarray(o, o + slab.msgLen(id)), msg, `message of ${k}`);
    assert.equal(slab.buf(id).subarray(slab.keyOff(id), slab.keyOff(id) + KEY_SIZE), kb, `key of ${k}`);
  }
  assert.is(slab.ids().length, model.size);
});

test('after a mass free in random order, new ids are handed out lowest first, in order', () => {
  const slab = new FlowSlab();
  const ids: number[] = [];
  for (let k = 0; k < 20000; k++) {
    const kb = keyOf(k);
    const id = slab.alloc();
    slab.setKey(id, kb, 0, hashKey(kb, 0));
    slab.insert(id);
    slab.setMessage(id, kb, 0, 8);
    ids.push(id);
  }
  const r = rng(3);
  const order = ids.map((id) => ({ id, o: r() })).sort((a, b) => a.o - b.o).map((x) => x.id);
  for (const id of order.slice(0, 15000)) {
    slab.remove(id);
    slab.free(id);
  }
  const next = Array.from({ length: 15000 }, () => slab.alloc());
  const sorted = [...order.slice(0, 15000)].sort((a, b) => a - b);
  assert.equal(next, sorted);
  // the ids not freed were never handed out again
  const live = new Set(order.slice(15000));
  assert.ok(next.every((id) => !live.has(id)));
  assert.is(slab.alloc(), 20000);
});

test('Words: one view per array, none for an unaligned start', () => {
  const w = new Words();
  const a = new Uint8Array(16);
  const v = w.of(a)!;
  assert.ok(v instanceof Int32Array);
  assert.is(v.length, 4);
  assert.is(w.of(a), v);
  assert.is(w.of(new Uint8Array(a.buffer, 1, 8)), undefined);
  assert.is(w.of(new Uint8Array(a.buffer, 4, 8))!.length, 2);
});

test('hashKey: the same value from words and from bytes, and it spreads keys that differ by a bit', () => {
  const r = rng(11);
  const seen = new Set<number>();
  for (let n = 0; n < 2000; n++) {
    const key = new Uint8Array(KEY_SIZE);
    for (let i = 0; i < KEY_SIZE; i++) key[i] = Math.floor(r() * 256);
    const h = hashKey(key, 0);
    // aligned at a non-zero word offset (word path) and at every unaligned offset (byte path)
    for (const shift of [1, 2, 3, 4, 8]) {
      const [b, o] = placed(key, shift);
      assert.is(hashKey(b, o), h, `key ${n} at offset ${shift}`);
    }
    seen.add(h);
    key[n % KEY_SIZE] ^= 1 << (n % 8);
    assert.is.not(hashKey(key, 0), h, `key ${n} with one bit flipped`);
  }
  assert.is(seen.size, 2000);
});

test.run();
