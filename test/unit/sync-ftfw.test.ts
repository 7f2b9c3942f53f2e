// FTFW between two in-memory peers on a simulated network: ACK window, NACK on gaps, HELLO
// handshake, resend-queue bounds, convergence under loss / reordering / duplication, and the
// ctsync extensions (timeout retransmission, no loss on a peer restart).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Flow } from '../../src/flow/flow.ts';
import { ACK_PACE_MS, type FtfwMode } from '../../src/sync/ftfw.ts';
import { FLAG, MSG } from '../../src/sync/wire.ts';
import { OBJ_STATE } from '../../src/sync/object.ts';
import { flowKey } from '../../src/flow/key.ts';
import { pair, prng, sameTable, tcpFlow, type Peer } from './sync-harness.ts';

const isAck = (m: { type: number; flags: number }) => m.type === MSG.CTL && (m.flags & FLAG.ACK) !== 0;
const isNack = (m: { type: number; flags: number }) => m.type === MSG.CTL && (m.flags & FLAG.NACK) !== 0;
const firstDataSeq = (p: Peer) => p.sentMessages().find((m) => m.flow)!.seq;
const rsObjects = (p: Peer) => p.mode.rsQueueEntries().filter((e) => e.kind === 'object').length;
/** From now, A's datagrams of the next 100 ms are lost and B's NACKs never arrive: only A's timer can repair. */
function loseStartAndNacks(net: ReturnType<typeof pair>['net'], a: Peer, b: Peer): void {
  const t0 = net.clock.now();
  a.rule = { drop: () => net.clock.now() < t0 + 100 };
  b.rule = { drop: (msgs) => msgs.some(isNack) };
}

test('window ACKs under load share datagrams (one ACK datagram per ACK_PACE_MS at most); at a slow rate none waits', () => {
  const { net, a, b } = pair('ftfw', { ackDelayMs: 0 });
  const acks = () => b.sentMessages().filter(isAck);
  const ackDatagrams = () => b.sent.filter((d) => d.some(isAck)).length;
  // a window every millisecond
  for (let k = 0; k < 5; k++) {
    for (let i = 0; i < 300; i++) a.host.create(tcpFlow(300 * k + i));
    net.clock.advance(1);
  }
  assert.is(b.host.external.size, 1500);
  assert.is(acks().length, 1, 'the first window ACK left at once, the next ones wait for the pace');
  net.clock.advance(ACK_PACE_MS - 4);
  assert.is(acks().length, 5, 'then they go together');
  assert.is(ackDatagrams(), 2);
  const s0 = firstDataSeq(a);
  assert.equal(acks().map((m) => [m.from, m.to]), [0, 1, 2, 3, 4].map((k) => [s0 + 300 * k, s0 + 300 * k + 299]));
  net.clock.advance(50);
  assert.is(rsObjects(a), 0, 'every object acknowledged');
  // a window every 2 x ACK_PACE_MS: each ACK leaves with its window
  const before = acks().length, datagramsBefore = ackDatagrams();
  for (let k = 0; k < 3; k++) {
    for (let i = 0; i < 300; i++) a.host.create(tcpFlow(10000 + 300 * k + i));
    net.clock.advance(2);
    assert.is(acks().length, before + k + 1, `window ${k} acknowledged within 2 ms`);
    net.clock.advance(2 * ACK_PACE_MS - 2);
  }
  assert.is(ackDatagrams(), datagramsBefore + 3);
});

test('the receiver ACKs every 300 in-sequence messages, and the rest after 1 s idle', () => {
  const { net, a, b } = pair('ftfw', { ackDelayMs: 0 });
  for (let i = 0; i < 700; i++) a.host.create(tcpFlow(i));
  net.clock.advance(20);
  const s0 = firstDataSeq(a);
  assert.is(a.sentMessages().filter((m) => m.flow).length, 700);
  const acks = b.sentMessages().filter(isAck);
  assert.equal(acks.map((m) => [m.from, m.to]), [[s0, s0 + 299], [s0 + 300, s0 + 599]]);
  net.clock.advance(1500);
  const idle = b.sentMessages().filter(isAck)[2];
  assert.is(idle.from, s0 + 600);
  assert.ok(idle.to! >= s0 + 699, `idle ACK up to ${idle.to}`);
  assert.is(rsObjects(a), 0, 'every object acknowledged');
  assert.is(b.host.external.size, 700);
  assert.is(b.mode.stats.rcvLost, 0);
});

test('an object the peer acknowledged is idle: the mode lets go of it, once per transmission', () => {
  const { net, a } = pair('ftfw', { ackDelayMs: 0 });
  for (let i = 0; i < 700; i++) a.host.create(tcpFlow(i));
  net.clock.advance(20);
  // 600 acknowledged by the two window ACKs, the last 100 still in the resend queue
  assert.is(a.host.idled.length, 600);
  assert.is(rsObjects(a), 100);
  net.clock.advance(1500);
  assert.is(a.host.idled.length, 700);
  assert.is(new Set(a.host.idled).size, 700, 'each object once');
  // an update after the ACK queues the object again; its next ACK makes it idle again
  a.host.update(tcpFlow(5, { timeout: 99 }));
  net.clock.advance(1500);
  assert.is(a.host.idled.length, 701);
  assert.is(a.host.idled[700].flow!.timeout, 99);
  assert.is(a.host.released.length, 0);
});

test('a gap is NACKed at once and the objects go out again with new sequence numbers', () => {
  const { net, a, b } = pair('ftfw', { retransmitMs: 0 });
  net.clock.advance(3000); // HELLO handshake done: until then gaps are not tracked
  let datagram = 0;
  a.rule = { drop: (msgs) => msgs.some((m) => m.flow) && datagram++ === 1 };
  for (let i = 0; i < 40; i++) a.host.create(tcpFlow(i));
  net.clock.advance(20);
  const first = a.sent.find((d) => d.some((m) => m.flow))!;
  const s0 = first.find((m) => m.flow)!.seq;
  const lost = a.sent.filter((d) => d.some((m) => m.flow))[1];
  assert.is(lost.length, 17);
  const nacks = b.sentMessages().filter(isNack);
  assert.equal(nacks.map((m) => [m.from, m.to]), [[s0 + 17, s0 + 33]]);
  assert.is(b.mode.stats.rcvLost, 17);
  // the resent messages carry the lost flows under numbers after everything sent before
  const lostKeys = new Set(lost.map((m) => m.flow!.orig.sport));
  const resent = a.sentMessages().filter((m) => m.flow && m.seq > s0 + 39);
  assert.equal(new Set(resent.map((m) => m.flow!.orig.sport)), lostKeys);
  assert.is(a.mode.stats.nackResent, 17);
  net.clock.advance(3000);
  assert.is(sameTable(a.host.live(), b.host.external), undefined);
  assert.is(rsObjects(a), 0);
});

test('HELLO until HELLO_BACK, HELLO_BACK after a HELLO, then plain messages', () => {
  const { net, a, b } = pair('ftfw');
  a.host.create(tcpFlow(1));
  net.clock.advance(10);
  assert.is(a.sentMessages()[0].flags, FLAG.HELLO, 'first message says HELLO');
  net.clock.advance(3000);
  const bMsgs = b.sentMessages();
  assert.ok(bMsgs.some((m) => m.flags & FLAG.HELLO_BACK), 'B answered HELLO_BACK');
  assert.ok((a.mode as FtfwMode).helloDone && (b.mode as FtfwMode).helloDone);
  const aMsgs = a.sentMessages();
  assert.ok(aMsgs.some((m) => m.flags & FLAG.HELLO_BACK), 'A answered B\'s HELLO');
  // after the handshake nobody says HELLO any more
  const mark = net.clock.now();
  const [na, nb] = [a.sent.length, b.sent.length];
  b.host.create(tcpFlow(2, { orig: { ...tcpFlow(2).orig, src: '192.0.2.20' } }));
  net.clock.advance(3000);
  const later = [...a.sent.slice(na), ...b.sent.slice(nb)].flat();
  assert.ok(later.length > 0);
  assert.ok(later.every((m) => (m.flags & (FLAG.HELLO | FLAG.HELLO_BACK)) === 0), `after ${mark}: ${later.map((m) => m.flags)}`);
  const data = b.sentMessages().find((m) => m.flow);
  assert.is(data!.flags, 0, 'data after the handshake has flags 0');
});

test('a full resend queue drops its oldest entry, counts it, and releases dropped DEAD objects', () => {
  const { net, a, b } = pair('ftfw', { resendQueueSize: 10, retransmitMs: 0 });
  b.rule = { loss: 1 }; // A never hears an ACK
  const flows = Array.from({ length: 25 }, (_, i) => tcpFlow(i));
  for (const f of flows) a.host.create(f);
  net.clock.advance(20);
  let rs = a.mode.queueStats().find((q) => q.name === 'rsqueue')!;
  assert.equal([rs.current, rs.max, rs.enospc], [10, 10, 15]);
  assert.is(a.mode.stats.rsQueueOverflow, 15);
  // destroy five objects (sent as DEL, queued), then push them out with newer objects
  for (const f of flows.slice(0, 5)) a.host.destroy(f);
  net.clock.advance(20);
  for (let i = 100; i < 110; i++) a.host.create(tcpFlow(i));
  net.clock.advance(20);
  rs = a.mode.queueStats().find((q) => q.name === 'rsqueue')!;
  assert.is(rs.current, 10);
  assert.is(rs.enospc, 30);
  assert.is(a.host.released.length, 5, 'the DEAD objects pushed out were released');
  assert.ok(a.host.released.every((o) => o.state === OBJ_STATE.DEAD));
  assert.is(b.host.external.size, 25 + 10 - 5);
});

/** Random local changes on both peers; keys are re-used so objects die and come back. */
function churn(p: Peer, rnd: () => number, src: string, steps: number): void {
  for (let i = 0; i < steps; i++) {
    const k = Math.floor(rnd() * 60);
    const base = tcpFlow(k);
    const f: Flow = { ...base, orig: { ...base.orig, src }, reply: { ...base.reply, dst: src } };
    const cur = p.host.live().get(flowKey(f));
    const r = rnd();
    if (!cur || r < 0.3) p.host.create({ ...f, mark: Math.floor(rnd() * 1000) });
    else if (r < 0.75) p.host.update({ ...cur, mark: Math.floor(rnd() * 1000), timeout: Math.floor(rnd() * 100000) });
    else p.host.destroy(cur);
  }
}

test('20% loss, reordering and duplication in both directions converge to equal caches', () => {
  for (const seed of [1, 2, 3]) {
    const { net, a, b } = pair('ftfw', {}, seed);
    const rule = { loss: 0.2, dup: 0.1, jitterMs: 40, delayMs: 1 };
    a.rule = rule;
    b.rule = rule;
    const rnd = prng(seed * 7919);
    for (let step = 0; step < 200; step++) {
      churn(a, rnd, '192.0.2.10', 3);
      churn(b, rnd, '192.0.2.20', 2);
      net.clock.advance(25);
    }
    net.clock.advance(60_000);
    assert.is(sameTable(a.host.live(), b.host.external), undefined, `seed ${seed}: A -> B`);
    assert.is(sameTable(b.host.live(), a.host.external), undefined, `seed ${seed}: B -> A`);
    for (const p of [a, b]) {
      assert.ok([...p.host.internal.values()].every((o) => o.state !== OBJ_STATE.DEAD), `seed ${seed}: DEAD objects all released`);
      assert.is(rsObjects(p), 0, `seed ${seed}: nothing left unacknowledged`);
      assert.ok(p.mode.stats.rcvLost > 0 && p.mode.stats.rcvBefore > 0, `seed ${seed}: the network did lose and reorder`);
    }
  }
});

test('timeout retransmission recovers a lost tail with no further change and no NACK getting through', () => {
  for (const retransmitMs of [2000, 0]) {
    const { net, a, b } = pair('ftfw', { retransmitMs, requeueOnHello: false });
    net.clock.advance(3000);
    loseStartAndNacks(net, a, b);
    for (let i = 0; i < 10; i++) a.host.create(tcpFlow(i));
    net.clock.advance(20_000);
    assert.ok(b.sentMessages().some(isNack), 'B did ask (in vain)');
    if (retransmitMs) {
      assert.is(b.host.external.size, 10, 'recovered by the retransmission timer');
      assert.ok(a.mode.stats.timeoutResent >= 10);
      assert.is(rsObjects(a), 0);
    } else {
      assert.is(b.host.external.size, 0, 'conntrackd behaviour: lost until something else happens');
      assert.is(rsObjects(a), 10);
    }
  }
});

test('a peer restart (HELLO) does not lose unacknowledged objects', () => {
  for (const requeueOnHello of [true, false]) {
    const { net, a, b } = pair('ftfw', { retransmitMs: 0, requeueOnHello });
    a.rule = { loss: 1 };
    b.rule = { loss: 1 };
    for (let i = 0; i < 20; i++) a.host.create(tcpFlow(i));
    net.clock.advance(3000);
    assert.is(rsObjects(a), 20);
    // B restarts with an empty external cache; the network comes back
    b.host.external.clear();
    b.start('ftfw', { retransmitMs: 0, requeueOnHello });
    a.rule = {};
    b.rule = {};
    net.clock.advance(5000);
    if (requeueOnHello) {
      assert.is(b.host.external.size, 20, 'all objects reached the restarted peer');
      assert.is(a.mode.stats.helloRequeued, 20);
      assert.is(rsObjects(a), 0);
    } else {
      assert.is(b.host.external.size, 0, 'conntrackd behaviour: dropped on HELLO');
    }
  }
});

test('an object is never queued twice: changes while unacknowledged leave as one message with the latest state', () => {
  const { net, a, b } = pair('ftfw', { retransmitMs: 0 });
  const f = tcpFlow(1);
  a.host.create(f);
  a.host.update({ ...f, mark: 1 });
  a.host.update({ ...f, mark: 2 });
  net.clock.advance(5);
  let data = a.sentMessages().filter((m) => m.flow);
  assert.is(data.length, 1);
  assert.is(data[0].type, MSG.CT_UPD, 'NEW then updated: goes out as UPD');
  assert.is(data[0].flow!.mark, 2);
  // unacknowledged in the resend queue, it changes again: moved back, one entry
  b.rule = { loss: 1 };
  a.host.update({ ...f, mark: 3 });
  a.host.update({ ...f, mark: 4 });
  net.clock.advance(5);
  data = a.sentMessages().filter((m) => m.flow);
  assert.is(data.length, 2);
  assert.is(data[1].flow!.mark, 4);
  assert.is(a.mode.rsQueueEntries().filter((e) => e.kind === 'object').length, 1);
  // a destroyed object stays until its DEL is acknowledged, then is released once
  a.host.destroy(f);
  net.clock.advance(5);
  assert.is(a.host.released.length, 0);
  b.rule = {};
  net.clock.advance(2500);
  assert.is(a.host.released.length, 1);
  assert.is(b.host.external.size, 0);
});

test('RESYNC: the peer answers with its whole internal cache; -s rsqueue lists what waits', () => {
  const { net, a, b } = pair('ftfw', { retransmitMs: 0 });
  b.rule = { loss: 1 };
  for (let i = 0; i < 5; i++) a.host.create(tcpFlow(i));
  net.clock.advance(10);
  const entries = a.mode.rsQueueEntries();
  assert.is(entries.length, 5);
  assert.is(a.mode.rsQueueLength(), 5);
  assert.ok(entries.every((e) => e.kind === 'object'));
  assert.is(b.host.external.size, 5);
  b.host.external.clear();
  b.rule = {};
  b.mode.requestResync();
  net.clock.advance(3000);
  assert.is(a.mode.stats.resyncReceived, 1);
  assert.is(b.mode.stats.resyncSent, 1);
  assert.is(b.host.external.size, 5);
  assert.is(a.mode.rsQueueLength(), a.mode.rsQueueEntries().length);
  assert.ok(a.host.logs.includes('resync requested by other node'));
  assert.ok(b.sentMessages().some((m) => m.type === MSG.CTL && m.flags & FLAG.RESYNC && m.len === 16));
});

test('sequence numbers start at wall-clock seconds; an old message is dropped unacknowledged', () => {
  const { net, a, b } = pair('ftfw');
  a.host.create(tcpFlow(1));
  net.clock.advance(5);
  assert.is(a.sentMessages()[0].seq, net.clock.wallSeconds());
  net.clock.advance(3000);
  a.host.update({ ...tcpFlow(1), mark: 5 });
  net.clock.advance(5);
  const last = a.sent.at(-1)!.find((m) => m.flow)!;
  assert.is(last.flags, 0);
  const st = b.mode.stats;
  const applied = b.host.applied.length;
  const m = last.bytes.slice();
  new DataView(m.buffer).setUint32(4, last.seq - 1000); // an old number
  b.mode.receive(m);
  assert.is(st.rcvBefore, 1);
  assert.is(b.host.applied.length, applied, 'not applied');
});

test('the sequence counter wraps at 2^32 without a gap', () => {
  const { net, a, b } = pair('ftfw', {}, 1, 1500, 2 ** 32 - 3);
  net.clock.advance(3000);
  for (let i = 0; i < 10; i++) {
    a.host.create(tcpFlow(i));
    net.clock.advance(5);
  }
  net.clock.advance(3000);
  const seqs = a.sentMessages().map((m) => m.seq);
  assert.ok(seqs.includes(0) && seqs.includes(2 ** 32 - 1), 'crossed the wrap');
  assert.is(b.mode.stats.rcvLost, 0);
  assert.is(b.mode.stats.rcvBefore, 0);
  assert.is(b.host.external.size, 10);
  assert.is(rsObjects(a), 0);
});

test('the retransmission timer keeps its time across 2^30 ms of the clock (nodes keep 30 bits of it)', () => {
  for (const start of [2 ** 30 - 3500, 2 ** 32 + 123.4, 2 ** 40 - 3000.5]) {
    const { net, a, b } = pair('ftfw', { retransmitMs: 2000, requeueOnHello: false }, 1, 1500, undefined, start);
    net.clock.advance(3000);
    loseStartAndNacks(net, a, b);
    for (let i = 0; i < 10; i++) a.host.create(tcpFlow(i));
    net.clock.advance(1500);
    assert.is(a.mode.stats.timeoutResent, 0, `start ${start}: nothing resent before 2 s`);
    net.clock.advance(20_000);
    assert.is(b.host.external.size, 10, `start ${start}: recovered by the retransmission timer`);
    assert.is(rsObjects(a), 0);
  }
});

test.run();
