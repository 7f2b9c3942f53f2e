// NOTRACK between two in-memory peers: best effort, no acknowledgements, ALIVE when idle,
// sequence tracking for statistics only, RESYNC honoured.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FLAG, MSG } from '../../src/sync/wire.ts';
import { pair, tcpFlow } from './sync-harness.ts';

test('objects go out once with flags 0; nothing is acknowledged; ALIVE after 1 s idle', () => {
  const { net, a, b } = pair('notrack');
  for (let i = 0; i < 10; i++) a.host.create(tcpFlow(i));
  net.clock.advance(5500);
  assert.is(b.host.external.size, 10);
  const all = [...a.sentMessages(), ...b.sentMessages()];
  assert.ok(all.every((m) => (m.flags & ~FLAG.ALIVE) === 0), 'no HELLO, ACK or NACK');
  const data = a.sentMessages().filter((m) => m.flow);
  assert.is(data.length, 10);
  const alives = b.sentMessages().filter((m) => m.type === MSG.CTL && m.flags === FLAG.ALIVE);
  assert.ok(alives.length >= 4 && alives.length <= 6, `B (idle) sent ${alives.length} ALIVEs in 5.5 s`);
  assert.ok(alives.every((m) => m.len === 8));
  assert.equal(a.mode.queueStats().map((q) => q.name), ['txqueue']);
  assert.is(a.mode.rsQueueEntries().length, 0);
});

test('loss is counted but not repaired; old messages are still applied; RESYNC repairs', () => {
  const { net, a, b } = pair('notrack');
  let n = 0;
  a.rule = { drop: (msgs) => msgs.some((m) => m.flow) && n++ === 1 };
  for (let i = 0; i < 3; i++) {
    a.host.create(tcpFlow(i));
    net.clock.advance(5);
  }
  assert.is(b.host.external.size, 2);
  assert.is(b.mode.stats.rcvLost, 1);
  net.clock.advance(5000);
  assert.is(b.host.external.size, 2, 'not repaired');
  // an old message is processed in NOTRACK (only counted)
  const old = a.sent[1][0].bytes;
  b.mode.receive(old);
  assert.is(b.mode.stats.rcvBefore, 1);
  assert.is(b.host.external.size, 3);
  b.host.external.clear();
  b.mode.requestResync();
  net.clock.advance(100);
  assert.is(b.host.external.size, 3);
  assert.ok(b.sentMessages().some((m) => m.type === MSG.CTL && m.flags === FLAG.RESYNC && m.len === 16));
});

test('DEAD objects are released as soon as their DEL is sent', () => {
  const { net, a, b } = pair('notrack');
  b.rule = {};
  a.rule = { loss: 1 };
  const f = tcpFlow(1);
  a.host.create(f);
  net.clock.advance(5);
  a.host.destroy(f);
  net.clock.advance(5);
  assert.is(a.host.released.length, 1);
  assert.is(a.sentMessages().filter((m) => m.type === MSG.CT_DEL).length, 1);
  assert.is(b.host.external.size, 0);
});

test.run();
