// Peer restarts in FTFW (ctsync extensions): the surviving node sends its table to the restarted
// peer, asks for the peer's table with a RESYNC, and is told when all of it has arrived, under
// loss, duplication and reordering; the Reconciler then drops the external entries the peer no
// longer has.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Flow } from '../../src/flow/flow.ts';
import { flowKey } from '../../src/flow/key.ts';
import { FLAG, MSG } from '../../src/sync/wire.ts';
import { Cache } from '../../src/cache/cache.ts';
import { Reconciler } from '../../src/daemon/reconcile.ts';
import { pair, sameTable, tcpFlow, type Peer, type TestHost } from './sync-harness.ts';

/** Gives a harness host the two SyncHost hooks, with the Reconciler's mark-and-sweep over its map. */
function repairing(h: TestHost) {
  const st = { refreshed: null as Set<string> | null, begun: 0, done: 0, removed: [] as string[] };
  const apply = h.applyCt.bind(h);
  Object.assign(h, {
    applyCt(type: 0 | 1 | 2, flow: Flow) {
      st.refreshed?.add(flowKey(flow));
      apply(type, flow);
    },
    peerRestarted() {
      st.begun++;
      if (st.refreshed) return true;
      if (h.external.size === 0) return false;
      st.refreshed = new Set();
      return true;
    },
    reconciled() {
      for (const k of [...h.external.keys()]) {
        if (!st.refreshed!.has(k)) { h.external.delete(k); st.removed.push(k); }
      }
      st.refreshed = null;
      st.done++;
    },
  });
  return st;
}

/** Restarts a peer the way a new process does: fresh mode, internal cache rebuilt from `table`. */
function restart(p: Peer, table: Flow[], opt = {}): void {
  p.host.internal.clear();
  p.host.external.clear();
  p.start('ftfw', opt);
  for (const f of table) p.host.create(f);
}

const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => tcpFlow(a + i));

for (const [name, rule] of [
  ['a clean link', {}],
  ['20% loss, duplicates and reordering', { loss: 0.2, dup: 0.2, jitterMs: 30 }],
] as const) {
  test(`${name}: after the peer restarts, the survivor's external cache equals the peer's table`, () => {
    const { net, a, b } = pair('ftfw', {}, 7);
    const st = repairing(a.host);
    a.rule = { ...rule };
    b.rule = { ...rule };
    for (const f of range(0, 300)) b.host.create(f);
    for (const f of range(1000, 1050)) a.host.create(f);
    net.clock.advance(20_000);
    assert.is(sameTable(b.host.live(), a.host.external), undefined, 'replicated before the restart');

    // B goes down; meanwhile 0..99 end and 300..399 start in its kernel; then it starts again
    b.rule = { loss: 1 };
    net.clock.advance(3000);
    restart(b, range(100, 400));
    b.rule = { ...rule };
    net.clock.advance(60_000);

    assert.is(st.done, 1, 'one repair');
    assert.is(st.removed.length, 100, 'the 100 flows B lost while down');
    assert.is(sameTable(b.host.live(), a.host.external), undefined, 'A holds exactly B\'s table');
    assert.is(sameTable(a.host.live(), b.host.external), undefined, 'B got A\'s table back without asking');
    const resyncs = a.sentMessages().filter((m) => m.type === MSG.CTL && m.flags & FLAG.RESYNC);
    assert.ok(resyncs.length >= 1, 'A asked B for its table');
  });
}

test('seeded runs: 50% loss; loss, duplicates and reordering; heavy duplication: repaired, tables equal', () => {
  for (const rule of [{ loss: 0.5 }, { loss: 0.2, dup: 0.3, jitterMs: 50 }, { dup: 0.5, jitterMs: 100 }]) {
    for (let seed = 1; seed <= 5; seed++) {
      const { net, a, b } = pair('ftfw', {}, seed);
      const st = repairing(a.host);
      a.rule = { ...rule };
      b.rule = { ...rule };
      for (const f of range(0, 200)) b.host.create(f);
      for (const f of range(1000, 1030)) a.host.create(f);
      net.clock.advance(60_000);
      for (const f of range(0, 30)) b.host.update({ ...f, mark: 5 });
      for (const f of range(170, 200)) b.host.destroy(f);
      net.clock.advance(60_000);
      const what = `${JSON.stringify(rule)} seed ${seed}`;
      assert.is(sameTable(b.host.live(), a.host.external), undefined, `${what}: before the restart`);
      b.rule = { loss: 1 };
      net.clock.advance(3000);
      restart(b, range(50, 250));
      b.rule = { ...rule };
      net.clock.advance(120_000);
      // at 50% loss a handshake can fall silent long enough to look like another restart: a
      // repair more, which removes nothing the peer still has
      assert.ok(st.done >= 1, `${what}: repaired`);
      assert.is(sameTable(b.host.live(), a.host.external), undefined, `${what}: after the restart`);
      assert.is(sameTable(a.host.live(), b.host.external), undefined, `${what}: the restarted side`);
    }
  }
});

test('a peer that restarts before its handshake is over, numbering below where it was, is still repaired', () => {
  const { net, a, b } = pair('ftfw', {}, 3);
  const st = repairing(a.host);
  a.rule = { loss: 1 }; // B never hears A: its handshake never ends, every message carries HELLO
  for (const f of range(0, 100)) b.host.create(f);
  net.clock.advance(800);
  assert.is(a.host.external.size, 100);
  b.rule = { loss: 1 };
  net.clock.advance(1700);
  // numbered from the wall clock again: 2 s later, but 100 messages lower than it got to
  restart(b, range(50, 120));
  a.rule = {};
  b.rule = {};
  net.clock.advance(30_000);
  assert.is(st.done, 1, 'the restart was seen and repaired');
  assert.is(sameTable(b.host.live(), a.host.external), undefined);
  assert.is(a.mode.stats.rcvBefore, 0, 'nothing of the new session was dropped as a copy');
});

test('a peer restarted within a second, its HELLO taken for a copy and answered late, is still repaired', () => {
  // conntrackd restarted fast: the new process numbers from the same wall-clock second (below
  // where the old one got to), so its HELLO looks like a copy of the unfinished handshake and is
  // dropped; our HELLO_BACK, owed to the old process, then ends the new one's handshake, and from
  // then on every message it sends is numbered below what we have
  const { net, a, b } = pair('ftfw', {}, 5);
  const st = repairing(a.host);
  a.rule = { loss: 1 };
  net.clock.advance(2000);
  for (const f of range(0, 100)) b.host.create(f);
  net.clock.advance(5);
  assert.is(a.host.external.size, 100);
  b.rule = { loss: 1 };
  net.clock.advance(200);
  restart(b, range(50, 120));
  a.rule = {};
  b.rule = {};
  net.clock.advance(30_000);
  assert.is(st.done, 1, `the restart was seen and repaired (rcvBefore ${a.mode.stats.rcvBefore})`);
  assert.is(a.mode.stats.restartUnannounced, 1, 'seen from its numbering, not from a HELLO');
  assert.is(sameTable(b.host.live(), a.host.external), undefined);
  assert.is(sameTable(a.host.live(), b.host.external), undefined, 'the restarted side got our table');
});

test('a late copy of an old message after a silence is dropped, not taken for a restart', () => {
  const { net, a, b } = pair('ftfw', {}, 6);
  const st = repairing(a.host);
  b.host.create(tcpFlow(100));
  net.clock.advance(3000); // the handshake is over: plain messages from here
  const copies: Uint8Array[] = [];
  b.rule = { drop: (msgs, bytes) => { if (msgs.some((m) => m.flow)) copies.push(bytes.slice()); return false; } };
  for (let i = 0; i < 3; i++) {
    b.host.create(tcpFlow(i));
    net.clock.advance(300);
  }
  net.clock.advance(3000);
  assert.is(a.host.external.size, 4);
  assert.is(copies.length, 3);
  b.rule = { loss: 1 };
  net.clock.advance(2000);
  const before = a.mode.stats.rcvBefore;
  a.mode.receive(copies[0]);
  a.mode.receive(copies[2]);
  assert.is(a.mode.stats.rcvBefore, before + 2, 'both dropped as old');
  assert.is(a.mode.stats.restartUnannounced, 0);
  assert.is(st.begun, 0);
});

test('the first contact with a peer is not a restart: no bulk, no RESYNC, no repair', () => {
  const { net, a, b } = pair('ftfw');
  const st = repairing(a.host);
  for (const f of range(0, 50)) b.host.create(f);
  net.clock.advance(10_000);
  assert.is(st.begun, 0);
  assert.is(a.mode.stats.resyncSent, 0);
  assert.is(a.host.external.size, 50);
});

test('the survivor with an empty external cache sends its table but asks for nothing', () => {
  const { net, a, b } = pair('ftfw');
  const st = repairing(a.host);
  for (const f of range(0, 40)) a.host.create(f);
  net.clock.advance(5000);
  restart(b, []);
  net.clock.advance(10_000);
  assert.is(st.begun, 1);
  assert.is(st.done, 0);
  assert.is(a.mode.stats.resyncSent, 0);
  assert.is(b.host.external.size, 40);
});

test('with the extensions off the survivor behaves as conntrackd: stale entries stay', () => {
  const off = { bulkOnPeerRestart: false, reconcileOnPeerRestart: false };
  const { net, a, b } = pair('ftfw', off);
  const st = repairing(a.host);
  for (const f of range(0, 30)) b.host.create(f);
  net.clock.advance(5000);
  restart(b, range(10, 30), off);
  net.clock.advance(10_000);
  assert.is(st.begun, 0);
  assert.is(a.host.external.size, 30, 'the 10 flows B lost are still there');
});

test('Reconciler: keeps what was refreshed since the mark, removes the rest, counts it', () => {
  let now = 1000;
  const ct = new Cache('external', 'ct');
  const exp = new Cache('external', 'exp');
  const logs: string[] = [];
  const r = new Reconciler(ct, exp, (m) => logs.push(m), 60_000, () => now);
  assert.is(r.begin(), false, 'nothing to repair in an empty cache');
  for (const f of range(0, 10)) ct.replace(f);
  assert.ok(r.begin());
  for (const f of range(5, 12)) { r.touchCt(f); ct.update(f); }
  assert.ok(r.begin(), 'a second HELLO keeps the first mark');
  assert.is(r.finish(), 5);
  assert.equal([...ct.values()].map((e) => e.flow!.orig.sport).sort(), range(5, 12).map((f) => f.orig.sport).sort());
  assert.equal(r.counters, { started: 1, completed: 1, abandoned: 0, removed: 5 });
  assert.is(r.finish(), 0, 'nothing open any more');
  // a repair the peer never completes is abandoned, not kept for ever
  assert.ok(r.begin());
  now += 61_000;
  assert.ok(r.begin(), 'a new repair starts');
  assert.is(r.counters.abandoned, 1);
  assert.is(r.counters.started, 3);
  assert.ok(logs.some((l) => l.includes('abandoned')));
});

test.run();
