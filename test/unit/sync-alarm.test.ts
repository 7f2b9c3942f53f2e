// ALARM between two in-memory peers: random periodic refresh, no control traffic, external
// entries expiring after CacheTimeout.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MSG } from '../../src/sync/wire.ts';
import { pair, tcpFlow } from './sync-harness.ts';

test('every object is re-sent at random intervals of 1.2 s .. RefreshTime + 1 s, typed by its state', () => {
  const { net, a, b } = pair('alarm', { refreshTime: 5 });
  const flows = [tcpFlow(1), tcpFlow(2), tcpFlow(3)];
  for (const f of flows) a.host.create(f);
  a.host.update({ ...flows[2], mark: 9 });
  net.clock.advance(60_000);
  for (const f of flows) {
    const sends = a.sentMessages().filter((m) => m.flow?.orig.sport === f.orig.sport);
    assert.ok(sends.length >= 10, `${sends.length} sends in 60 s`);
    const types = new Set(sends.map((m) => m.type));
    assert.equal([...types], [f === flows[2] ? MSG.CT_UPD : MSG.CT_NEW], 'never-updated objects refresh as NEW');
  }
  assert.is(b.host.external.size, 3);
  assert.not.ok(a.sentMessages().some((m) => m.type === MSG.CTL), 'no ALIVE, ACK, NACK or RESYNC');
  assert.not.ok(b.sentMessages().length, 'the idle peer sends nothing');
});

test('refresh intervals stay within conntrackd\'s bounds', () => {
  const { net, a } = pair('alarm', { refreshTime: 3 });
  const sendTimes: number[] = [];
  const send = a.send.bind(a);
  a.send = (buf, len) => { sendTimes.push(net.clock.now()); send(buf, len); };
  a.host.create(tcpFlow(1));
  net.clock.advance(120_000);
  const gaps = sendTimes.slice(1).map((t, i) => t - sendTimes[i]);
  assert.ok(gaps.length > 20);
  assert.ok(gaps.every((g) => g >= 1200 && g <= 4000 + 200), `gaps ${gaps}`);
  assert.ok(new Set(gaps).size > 3, 'random, not fixed');
});

test('external entries expire CacheTimeout after their last message', () => {
  for (const useExpire of [true, false]) {
    const { net, a, b } = pair('alarm', { refreshTime: 5, cacheTimeout: 20 });
    b.host.useExpire = useExpire;
    for (let i = 0; i < 4; i++) a.host.create(tcpFlow(i));
    net.clock.advance(60_000);
    assert.is(b.host.external.size, 4, 'kept alive by the refreshes');
    assert.is(b.mode.stats.externalExpired, 0);
    a.mode.stop();
    net.clock.advance(30_000);
    assert.is(b.host.external.size, 0);
    assert.is(b.mode.stats.externalExpired, 4);
    if (useExpire) assert.is(b.host.expired.length, 4);
    else assert.is(b.host.applied.filter((x) => x.type === MSG.CT_DEL).length, 4, 'a DEL applied instead');
  }
});

test('a destroyed object is sent as DEL once, released, and never refreshed again; -n and -B do nothing', () => {
  const { net, a, b } = pair('alarm', { refreshTime: 2 });
  const f = tcpFlow(1);
  a.host.create(f);
  net.clock.advance(5000);
  a.host.destroy(f);
  net.clock.advance(10);
  assert.is(a.host.released.length, 1);
  const n = a.sentMessages().length;
  net.clock.advance(20_000);
  assert.is(a.sentMessages().length, n);
  assert.is(a.sentMessages().filter((m) => m.type === MSG.CT_DEL).length, 1);
  assert.is(b.host.external.size, 0);
  a.host.create(tcpFlow(2));
  net.clock.advance(10);
  const m = a.sentMessages().length;
  a.mode.requestResync();
  a.mode.bulkSend();
  net.clock.advance(10);
  assert.is(a.sentMessages().length, m);
  assert.is(b.mode.stats.rcvLost, 0);
});

test.run();
