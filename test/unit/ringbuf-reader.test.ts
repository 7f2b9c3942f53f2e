// The ring-buffer reader over synthetic memory laid out like the mmapped map: a consumer page,
// a producer page, then the data area twice (what the kernel's double mapping shows).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RingReader, ringSizeFor, type RingMemory } from '../../src/kernel/bpf/ringbuf.ts';

const PAGE = 4096;
const BUSY = 0x80000000, DISCARD = 0x40000000;

/** A fake ring: writes records as the kernel does, mirrored into both copies of the data area. */
class FakeRing {
  readonly mem: RingMemory;
  readonly cons: BigUint64Array;
  readonly prod: BigUint64Array;
  readonly data: Uint8Array;
  pos = 0; // producer position (bytes, unbounded)
  released = 0;

  constructor(readonly size: number) {
    const consumer = new ArrayBuffer(PAGE);
    const producer = new ArrayBuffer(PAGE + 2 * size);
    this.cons = new BigUint64Array(consumer, 0, 1);
    this.prod = new BigUint64Array(producer, 0, 1);
    this.data = new Uint8Array(producer, PAGE);
    this.mem = { consumer, producer, dataOffset: PAGE, size, release: () => { this.released++; } };
  }

  private put(pos: number, bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) {
      const o = (pos + i) % this.size;
      this.data[o] = bytes[i];
      this.data[o + this.size] = bytes[i];
    }
  }

  /** Reserves and (unless busy) commits a record carrying `payload`; returns its position. */
  write(payload: Uint8Array, flags = 0): number {
    const at = this.pos;
    const hdr = new Uint8Array(8);
    new DataView(hdr.buffer).setUint32(0, (payload.length | flags) >>> 0, true);
    this.put(at, hdr);
    this.put(at + 8, payload);
    this.pos += (payload.length + 8 + 7) & ~7;
    this.prod[0] = BigInt(this.pos);
    return at;
  }

  /** Clears the BUSY bit of the record at `at` (the producer's commit). */
  commit(at: number, flags = 0): void {
    const o = at % this.size;
    const dv = new DataView(this.data.buffer, this.data.byteOffset);
    const len = dv.getUint32(o, true) & 0x3fffffff;
    const word = (len | flags) >>> 0;
    dv.setUint32(o, word, true);
    dv.setUint32(o + this.size, word, true);
  }
}

const rec = (n: number, len = 12) => {
  const b = new Uint8Array(len);
  new DataView(b.buffer).setUint32(0, n, true);
  for (let i = 4; i < len; i++) b[i] = (n + i) & 0xff;
  return b;
};

function collect(reader: RingReader, max?: number) {
  const got: { n: number; len: number; bytes: number[] }[] = [];
  const k = reader.drain((dv, off, len) => {
    const bytes: number[] = [];
    for (let i = 0; i < len; i++) bytes.push(dv.getUint8(off + i));
    got.push({ n: dv.getUint32(off, true), len, bytes });
  }, max);
  return { k, got };
}

test('records come out in order with their length and bytes; the consumer position advances once per drain', () => {
  const ring = new FakeRing(PAGE);
  const r = new RingReader(ring.mem);
  ring.write(rec(1));
  ring.write(rec(2, 20));
  ring.write(rec(3, 5));
  assert.is(r.available(), 24 + 32 + 16);
  const { k, got } = collect(r);
  assert.is(k, 3);
  assert.is(r.stats.backlog, 72, 'what waited when the pass began');
  assert.equal(got.map((g) => g.n), [1, 2, 3]);
  assert.equal(got.map((g) => g.len), [12, 20, 5]);
  assert.equal(got[1].bytes, Array.from(rec(2, 20)));
  assert.is(ring.cons[0], BigInt(ring.pos));
  assert.is(r.available(), 0);
  assert.is(collect(r).k, 0, 'nothing new');
  assert.equal(r.stats, { records: 3, discarded: 0, batches: 1, bytes: 72, watchFailed: 0, backlog: 0 });
});

test('a record that wraps past the end of the data area is read whole from the second mapping', () => {
  const size = PAGE;
  const ring = new FakeRing(size);
  const r = new RingReader(ring.mem);
  // fill to 40 bytes short of the end, consume, then write a 64-byte record across the end
  const filler = size - 40 - 8;
  ring.write(new Uint8Array(filler));
  assert.is(collect(r).k, 1);
  assert.is(Number(ring.cons[0]), size - 40);
  const payload = rec(77, 64);
  ring.write(payload);
  ring.write(rec(78));
  const { got } = collect(r);
  assert.equal(got.map((g) => g.n), [77, 78]);
  assert.equal(got[0].bytes, Array.from(payload), 'bytes across the wrap');
  assert.is(ring.cons[0], BigInt(ring.pos));
  assert.ok(ring.pos > size, 'the positions keep growing past the size');
});

test('many laps around a small ring: positions grow without bound, offsets wrap', () => {
  const ring = new FakeRing(PAGE);
  const r = new RingReader(ring.mem);
  let next = 0, seen = 0;
  for (let lap = 0; lap < 50; lap++) {
    for (let i = 0; i < 30; i++) ring.write(rec(next++, 8 + (next % 40)));
    const { got } = collect(r);
    for (const g of got) assert.is(g.n, seen++);
  }
  assert.is(seen, next);
  assert.ok(ring.pos > 50 * 30 * 16);
  assert.is(r.available(), 0);
});

test('discarded records are skipped and counted; the consumer moves past them', () => {
  const ring = new FakeRing(PAGE);
  const r = new RingReader(ring.mem);
  ring.write(rec(1));
  ring.write(rec(2), DISCARD);
  ring.write(rec(3));
  const { got } = collect(r);
  assert.equal(got.map((g) => g.n), [1, 3]);
  assert.is(r.stats.discarded, 1);
  assert.is(ring.cons[0], BigInt(ring.pos));
});

test('a busy record stops the drain there, and the rest follows once it is committed', () => {
  const ring = new FakeRing(PAGE);
  const r = new RingReader(ring.mem);
  ring.write(rec(1));
  const busyAt = ring.write(rec(2), BUSY);
  ring.write(rec(3));
  let { got } = collect(r);
  assert.equal(got.map((g) => g.n), [1]);
  assert.is(Number(ring.cons[0]), busyAt, 'consumer stops at the busy record');
  assert.ok(r.available() > 0);
  ring.commit(busyAt);
  ({ got } = collect(r));
  assert.equal(got.map((g) => g.n), [2, 3]);
  assert.is(ring.cons[0], BigInt(ring.pos));
});

test('a busy record that the producer then discards is skipped', () => {
  const ring = new FakeRing(PAGE);
  const r = new RingReader(ring.mem);
  const at = ring.write(rec(1), BUSY);
  ring.write(rec(2));
  assert.is(collect(r).k, 0);
  ring.commit(at, DISCARD);
  assert.equal(collect(r).got.map((g) => g.n), [2]);
});

test('drain(max) stops after max records and the next drain continues', () => {
  const ring = new FakeRing(PAGE);
  const r = new RingReader(ring.mem);
  for (let i = 0; i < 10; i++) ring.write(rec(i));
  assert.equal(collect(r, 4).got.map((g) => g.n), [0, 1, 2, 3]);
  assert.equal(collect(r).got.map((g) => g.n), [4, 5, 6, 7, 8, 9]);
});

test('a handler that throws still leaves the consumer after the records it was given', () => {
  const ring = new FakeRing(PAGE);
  const r = new RingReader(ring.mem);
  for (let i = 0; i < 3; i++) ring.write(rec(i));
  let calls = 0;
  assert.throws(() => r.drain(() => { if (++calls === 2) throw new Error('boom'); }));
  assert.is(Number(ring.cons[0]), 48, 'two records consumed');
  assert.equal(collect(r).got.map((g) => g.n), [2]);
});

test('read() waits for the producer and resolves with the records', async () => {
  const ring = new FakeRing(PAGE);
  const r = new RingReader(ring.mem);
  try {
    const got: number[] = [];
    const p = r.read((dv, off) => got.push(dv.getUint32(off, true)));
    setTimeout(() => { ring.write(rec(5)); ring.write(rec(6)); }, 15);
    assert.is(await p, 2);
    assert.equal(got, [5, 6]);
    assert.is(await r.read(() => {}, 30), 0, 'timeout with nothing to read');
  } finally {
    await r.close();
  }
});

test('start() polls in batches; close() stops the timer and pending reads before releasing the memory', async () => {
  const ring = new FakeRing(PAGE);
  const r = new RingReader(ring.mem);
  try {
    const got: number[] = [];
    const batches: number[] = [];
    r.start((dv, off) => got.push(dv.getUint32(off, true)), (n) => batches.push(n), { busyMs: 1, idleMs: 4 });
    for (let i = 0; i < 5; i++) ring.write(rec(i));
    await new Promise((res) => setTimeout(res, 30));
    assert.equal(got, [0, 1, 2, 3, 4]);
    assert.equal(batches, [5]);
    const pending = r.read(() => {});
    await r.close();
    assert.is(await pending, 0, 'a pending read resolves on close');
    assert.is(ring.released, 1, 'memory released once');
    await r.close();
    assert.is(ring.released, 1, 'close is idempotent');
    ring.write(rec(9));
    await new Promise((res) => setTimeout(res, 15));
    assert.equal(got, [0, 1, 2, 3, 4], 'nothing read after close');
    assert.is(r.drain(() => {}), 0);
    assert.is(r.available(), 0);
  } finally {
    await r.close();
  }
});

/** A readiness watch the test fires by hand; counts how often the reader opened and closed it. */
class FakeWatch {
  armed = 0;
  closed = 0;
  fire: (() => void) | undefined;
  readonly wake = (ready: () => void) => {
    this.armed++;
    this.fire = ready;
    return { close: async () => { this.closed++; this.fire = undefined; } };
  };
}

/** Waits (on timers only) until ok() holds, 3 s at most. */
const until = async (ok: () => boolean) => { for (let t = 0; t < 300 && !ok(); t++) await new Promise((res) => setTimeout(res, 10)); };

test('wake-up: armed when idle, reads the first record at once, off while busy and after close', async () => {
  const ring = new FakeRing(PAGE);
  const r = new RingReader(ring.mem);
  try {
    const got: number[] = [];
    const armedAtBatch: number[] = [];
    const w = new FakeWatch();
    // a long idle interval: only the wake-up explains a read before it; smallBatch 1: every pass
    // that reads is heavy, so the reader polls on its timer alone while records come
    r.start((dv, off) => got.push(dv.getUint32(off, true)), () => armedAtBatch.push(w.armed), { busyMs: 1, idleMs: 500, wake: w.wake, smallBatch: 1 });
    await until(() => w.armed >= 1);
    assert.is(w.armed, 1, 'the first empty tick arms the watch');
    ring.write(rec(7));
    w.fire!();
    assert.equal(got, [7], 'read inside the wake-up, not at the next tick');
    assert.is(w.closed, 1, 'the watch is closed while the reader polls');
    // busy: the next tick comes after busyMs, reads what arrived, and the watch stays off
    for (let i = 0; i < 3; i++) ring.write(rec(10 + i));
    // timers only: wait for the two ticks (however late a loaded machine runs them)
    await until(() => w.armed >= 2);
    assert.equal(got, [7, 10, 11, 12]);
    assert.equal(armedAtBatch, [1, 1], 'not armed again while records were coming');
    // the tick after that found nothing: armed again
    assert.is(w.armed, 2);
    await r.close();
    assert.is(w.closed, 2, 'close() closes an armed watch');
    assert.is(w.fire, undefined);
  } finally {
    await r.close();
  }
});

test('wake-up after light passes: records are read as they come, a few times per tick; heavy passes go on the timer', async () => {
  const ring = new FakeRing(PAGE);
  const r = new RingReader(ring.mem);
  const got: number[] = [];
  const w = new FakeWatch();
  // the steps between awaits run before any tick can
  r.start((dv, off) => got.push(dv.getUint32(off, true)), undefined, { busyMs: 30, idleMs: 10000, watchedIdleMs: 10000, wake: w.wake, smallBatch: 3, wakesPerTick: 2 });
  try {
    await until(() => w.armed > 0);
    ring.write(rec(1));
    w.fire!();
    assert.equal(got, [1], 'idle: read in the wake-up');
    assert.is(w.closed, 0, 'a light pass keeps the watch');
    ring.write(rec(2));
    w.fire!();
    assert.equal(got, [1, 2], 'busy after a light pass: read in the wake-up, not at the tick');
    w.fire!();
    assert.equal(got, [1, 2], 'a call with nothing to read');
    assert.is(w.closed, 0, 'is no wake-up spent');
    ring.write(rec(3));
    w.fire!();
    assert.equal(got, [1, 2, 3]);
    assert.is(w.closed, 1, 'the second wake-up since the tick closes the watch');
    ring.write(rec(4));
    assert.is(w.fire, undefined);
    await until(() => got.length === 4);
    assert.equal(got, [1, 2, 3, 4], 'read by the tick');
    assert.is(w.armed, 2, 'the tick\'s light pass armed the watch again');
    for (let i = 5; i < 8; i++) ring.write(rec(i));
    w.fire!();
    assert.equal(got, [1, 2, 3, 4, 5, 6, 7]);
    assert.is(w.closed, 2, 'a heavy pass closes the watch');
    for (let i = 8; i < 11; i++) ring.write(rec(i));
    await until(() => got.length === 10);
    assert.is(w.armed, 2, 'the tick\'s heavy pass leaves it closed');
    await until(() => w.armed === 3);
    assert.is(w.armed, 3, 'the empty tick after it arms it');
  } finally {
    await r.close();
  }
  assert.is(w.closed, 3);
});

test('armed, the timer is a safety net at watchedIdleMs; a watch that cannot be opened leaves it at idleMs', async () => {
  const ring = new FakeRing(PAGE);
  const r = new RingReader(ring.mem);
  try {
    const got: number[] = [];
    let armed = 0;
    // a watch that never fires: only the timer can read what arrives
    r.start((dv, off) => got.push(dv.getUint32(off, true)), undefined, {
      busyMs: 1, idleMs: 2, watchedIdleMs: 150, wake: () => { armed++; return { close: async () => {} }; },
    });
    await until(() => armed > 0);
    ring.write(rec(1));
    await new Promise((res) => setTimeout(res, 40));
    assert.equal(got, [], 'not read at idleMs while a watch is armed');
    await until(() => got.length > 0);
    assert.equal(got, [1], 'read by the safety-net tick');
  } finally {
    await r.close();
  }

  const ring2 = new FakeRing(PAGE);
  const r2 = new RingReader(ring2.mem);
  try {
    const got2: number[] = [];
    r2.start((dv, off) => got2.push(dv.getUint32(off, true)), undefined, {
      busyMs: 1, idleMs: 2, watchedIdleMs: 100000, wake: () => { throw new Error('EMFILE'); },
    });
    await until(() => r2.stats.watchFailed > 0);
    ring2.write(rec(2));
    await until(() => got2.length > 0);
    assert.equal(got2, [2], 'the timer kept polling');
    assert.ok(r2.stats.watchFailed >= 1);
  } finally {
    await r2.close();
  }
});

test('close() from inside a handler releases the memory only after the drain returns', async () => {
  const ring = new FakeRing(PAGE);
  const r = new RingReader(ring.mem);
  ring.write(rec(1));
  ring.write(rec(2));
  let closing: Promise<void> | undefined;
  let releasedDuringDrain = -1;
  r.drain(() => {
    if (!closing) closing = r.close();
    releasedDuringDrain = ring.released;
  });
  assert.is(releasedDuringDrain, 0);
  await closing;
  assert.is(ring.released, 1);
});

test('ring size: event-listen-queue-size MB rounded up to a power of two, at least a page', () => {
  assert.is(ringSizeFor(8), 8 << 20);
  assert.is(ringSizeFor(3), 4 << 20);
  assert.is(ringSizeFor(0), 4096);
  assert.is(ringSizeFor(0.001), 4096);
  assert.is(ringSizeFor(0.01), 16384);
  assert.throws(() => new RingReader({ ...new FakeRing(PAGE).mem, size: 3000 }), /power of two/);
});

test.run();
