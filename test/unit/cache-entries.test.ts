// The internal cache keeps an Entry per flow only while the sync mode holds it: idle() lets it go,
// the flow's state, times and message stay in the slab, and the next change makes a new Entry.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cache, ObjState, type Entry } from '../../src/cache/cache.ts';
import { writeFlowKey } from '../../src/cache/key.ts';
import { encodeCt } from '../../src/sync/codec.ts';
import { Queue } from '../../src/sync/queue.ts';
import { KEY_SIZE } from '../../src/flow/key.ts';
import type { Flow } from '../../src/flow/flow.ts';
import { tcpFlow } from './sync-harness.ts';

const key = new Uint8Array(KEY_SIZE), msg = new Uint8Array(512);
let clock = 1000;
const cache = () => new Cache('internal', 'ct', Infinity, () => clock);

/** The daemon's path: a kernel event as key and stored message. */
function event(c: Cache<'ct'>, f: Flow, isNew: boolean, kid = 0): Entry<'ct'> {
  writeFlowKey(f, key, 0);
  const n = encodeCt(msg, 0, 0, 0, 0, f, { commitTimeout: false, tcpWindowTracking: true });
  return c.upsertMessage(key, msg, n, isNew, clock, kid)!;
}
function destroyed(c: Cache<'ct'>, f: Flow, kid = 0): Entry<'ct'> | undefined {
  writeFlowKey(f, key, 0);
  const n = encodeCt(msg, 0, 0, 0, 0, f, { commitTimeout: false, tcpWindowTracking: true });
  return c.killMessage(key, msg, n, kid);
}

test('an idle entry is let go; its flow, state and times stay, and the next event makes a new entry', () => {
  const c = cache();
  clock = 1000;
  const e1 = event(c, tcpFlow(1), true);
  assert.is(c.get(tcpFlow(1)), e1, 'the same entry while it is held');
  c.idle(e1);
  assert.is(e1.id, -1, 'the idle entry no longer stands for the flow');
  assert.is(c.size, 1);
  clock = 2000;
  const e2 = event(c, tcpFlow(1, { timeout: 77 }), false);
  assert.is.not(e2, e1);
  assert.is(e2.state, ObjState.ALIVE, 'NEW then an update: ALIVE');
  assert.is(e2.since, 1000, 'entered the cache at the first event');
  assert.is(e2.lastUpdate, 2000);
  assert.is(e2.flow!.timeout, 77);
  assert.is(c.counters.created, 1);
  assert.is(c.counters.updated, 1);
  assert.equal([...c.live()].map((e) => e.flow!.orig.sport), [tcpFlow(1).orig.sport]);
});

test('an entry still queued, or keeping a Flow its message cannot carry, is not let go', () => {
  const c = cache();
  const e = event(c, tcpFlow(2), true);
  const q = new Queue('txqueue', 10);
  q.add(e);
  c.idle(e);
  assert.is(c.get(tcpFlow(2)), e, 'queued: kept');
  q.del(e);
  const counted = c.upsert(tcpFlow(3, { countersOrig: { packets: 5, bytes: 300 } }), true)!;
  c.idle(counted);
  assert.is(c.get(tcpFlow(3)), counted, 'keeps its Flow: kept');
  assert.equal(counted.flow!.countersOrig, { packets: 5, bytes: 300 });
});

test('a flow destroyed after its entry went idle is released and removed through the new entry', () => {
  const c = cache();
  const e1 = event(c, tcpFlow(4), true);
  c.idle(e1);
  const dead = destroyed(c, tcpFlow(4))!;
  assert.ok(dead && dead !== e1);
  assert.is(dead.state, ObjState.DEAD);
  assert.is(c.counters.active, 0);
  assert.is(destroyed(c, tcpFlow(4)), undefined, 'a second DESTROY finds it DEAD');
  c.release(e1 as Entry<'ct'>);
  assert.is(c.size, 1, 'a stale entry releases nothing');
  c.release(dead);
  assert.is(c.size, 0);
  assert.is(c.get(tcpFlow(4)), undefined);
});

test('a tuple reused while the DEAD entry waits comes back to life in that entry', () => {
  const c = cache();
  const e1 = event(c, tcpFlow(5), true);
  c.idle(e1);
  const dead = destroyed(c, tcpFlow(5))!;
  const again = event(c, tcpFlow(5), true);
  assert.is(again, dead, 'the entry the mode holds');
  assert.is(again.state, ObjState.NEW);
  assert.is(c.counters.active, 1);
});

test('an entry writes its stored message as the mode sends it: what encodeCt writes with the same options', () => {
  const c = cache();
  const v6: Flow = {
    ...tcpFlow(0),
    family: 6,
    orig: { src: '2001:db8::10', dst: '2001:db8:1::20', proto: 6, sport: 40000, dport: 22 },
    reply: { src: '2001:db8:1::20', dst: '2001:db8::10', proto: 6, sport: 22, dport: 40000 },
  };
  const flows: Flow[] = [
    tcpFlow(10, { tcp: { state: 3, wscaleOrig: 7, wscaleReply: 9 } }),
    tcpFlow(11, { mark: 0x55, helper: 'ftp', labels: [1, 0, 0, 0] }),
    { ...v6, tcp: { state: 3, wscaleOrig: 2, wscaleReply: 3 } },
    { ...tcpFlow(12), orig: { ...tcpFlow(12).orig, proto: 17 }, reply: { ...tcpFlow(12).reply, proto: 17 }, tcp: undefined },
    {
      ...tcpFlow(13), tcp: undefined,
      orig: { src: '192.0.2.10', dst: '198.51.100.7', proto: 1, icmpType: 8, icmpCode: 0, icmpId: 77 },
      reply: { src: '198.51.100.7', dst: '192.0.2.10', proto: 1, icmpType: 0, icmpCode: 0, icmpId: 77 },
    },
  ];
  const got = new Uint8Array(600), want = new Uint8Array(600);
  for (const f of flows) {
    const e = c.upsert(f, true)!;
    for (const commitTimeout of [false, true]) {
      for (const tcpWindowTracking of [false, true]) {
        const opt = { commitTimeout, tcpWindowTracking };
        const n = encodeCt(want, 0, 0, 0, 0, f, opt);
        // 4-aligned (word copies) and not (byte copies)
        for (const at of [8, 10]) {
          got.fill(0xee);
          const len = e.writeMessage(got, at, opt);
          const what = `${f.orig.proto}/${f.family} ${JSON.stringify(opt)} at ${at}`;
          assert.is(len, n, what);
          assert.equal([...got.subarray(at + 8, at + len)], [...want.subarray(8, n)], what);
          assert.is(got[at + len], 0xee, `${what}: nothing written past the message`);
        }
      }
    }
  }
});

test('a DESTROY of an earlier conntrack of the same tuple leaves the entry alone, on every path', () => {
  const c = cache();
  // the message path (ring-buffer records, dumps)
  event(c, tcpFlow(1), true, 0x1111);
  assert.is(destroyed(c, tcpFlow(1), 0x2222), undefined, 'late: another conntrack id');
  assert.is(c.get(tcpFlow(1))!.state, ObjState.NEW);
  writeFlowKey(tcpFlow(1), key, 0);
  assert.not.ok(c.removeKey(key, 0x2222), 'late: removeKey');
  assert.is(c.lateDestroys, 2);
  assert.ok(destroyed(c, tcpFlow(1), 0x1111), 'its own DESTROY kills it');
  // the tuple comes back as a new conntrack; the old one's DESTROY comes again, late
  event(c, tcpFlow(1), true, 0x3333);
  assert.is(c.get(tcpFlow(1))!.state, ObjState.NEW, 'back to life');
  assert.is(destroyed(c, tcpFlow(1), 0x1111), undefined);
  assert.is(c.get(tcpFlow(1))!.state, ObjState.NEW);
  // an event without an id (a tracing record) cannot tell: it applies
  assert.ok(destroyed(c, tcpFlow(1), 0));
  // the Flow path (the netlink source): a Flow's id
  c.upsert(tcpFlow(2, { id: 7 }), true);
  assert.is(c.kill(tcpFlow(2), 8), undefined);
  assert.not.ok(c.remove(tcpFlow(2), 8));
  assert.is(c.get(tcpFlow(2))!.state, ObjState.NEW);
  assert.ok(c.kill(tcpFlow(2), 7));
  assert.is(c.lateDestroys, 5);
  // an id slot reused for another flow starts without an id
  assert.ok(c.remove(tcpFlow(2)));
  event(c, tcpFlow(3), true);
  assert.ok(destroyed(c, tcpFlow(3), 0x4444), 'unknown id: applies');
});

test('the ids start over with the cache after a flush, however large it had grown', () => {
  const c = cache();
  const N = 40_000;
  for (let i = 0; i < N; i++) event(c, tcpFlow(i), true, i + 1);
  c.flush();
  assert.is(c.size, 0);
  for (let i = 0; i < 10; i++) event(c, tcpFlow(i), true, 0x10000 + i);
  assert.is(destroyed(c, tcpFlow(3), 4), undefined, 'the id before the flush is an earlier conntrack');
  assert.ok(destroyed(c, tcpFlow(3), 0x10003));
  event(c, tcpFlow(N), true);
  assert.ok(destroyed(c, tcpFlow(N), 7), 'a new entry has no id until an event gives it one');
});

test('putMessage stores a flow as upsertMessage does but makes no Entry; one that kept a Flow lets it go', () => {
  const c = cache();
  const objects = (c as unknown as { objects: unknown[] }).objects;
  clock = 1000;
  writeFlowKey(tcpFlow(20), key, 0);
  let n = encodeCt(msg, 0, 0, 0, 0, tcpFlow(20), { commitTimeout: false, tcpWindowTracking: true });
  const id = c.putMessage(key, msg, n, true, clock, 7);
  assert.ok(id >= 0);
  assert.is(objects[id], undefined, 'no Entry for a flow nobody queues');
  assert.is(c.counters.created, 1);
  assert.is(c.putMessage(key, msg, n, false, clock + 1), id, 'the same key: the same id');
  assert.is(c.counters.updated, 1);
  assert.is(objects[id], undefined);
  const e = c.get(tcpFlow(20))!;
  assert.is(e.state, ObjState.ALIVE, 'NEW then an update');
  assert.is(e.since, 1000);
  assert.is(e.lastUpdate, 1001);

  const counted = c.upsert(tcpFlow(21, { countersOrig: { packets: 5, bytes: 300 } }), true)!;
  assert.ok(counted.keepsFlow);
  writeFlowKey(tcpFlow(21), key, 0);
  n = encodeCt(msg, 0, 0, 0, 0, tcpFlow(21, { timeout: 55 }), { commitTimeout: false, tcpWindowTracking: true });
  c.putMessage(key, msg, n, false, clock);
  assert.not.ok(counted.keepsFlow, 'the new message says everything');
  assert.is(counted.flow!.timeout, 55);
  assert.is(counted.flow!.countersOrig, undefined);

  const full = new Cache('internal', 'ct', 2, () => clock);
  writeFlowKey(tcpFlow(22), key, 0);
  full.putMessage(key, msg, n, true);
  writeFlowKey(tcpFlow(23), key, 0);
  full.putMessage(key, msg, n, true);
  writeFlowKey(tcpFlow(24), key, 0);
  assert.is(full.putMessage(key, msg, n, true), -1, 'the cache is full');
  assert.is(full.counters.noSpace, 1);
});

test.run();
