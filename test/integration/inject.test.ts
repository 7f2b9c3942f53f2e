// timeout: 180
// disable-external-cache: the peer's flows go straight into the kernel, and follow their updates
// and deletions; and a configuration reload (SIGHUP) that changes ignore-address keeps the caches.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { withLab } from '../lab/lab.ts';
import { buildSyncPair, ADDR } from '../lab/topology.ts';
import { active, created, startCtsync, until, type SyncSetup } from '../lab/daemons.ts';
import { tupleEqual, type Tuple } from '../../src/flow/flow.ts';

const IGNORE = ['203.0.113.0/24', '2001:db8:3::/64'];
const setup = (i: 0 | 1, extra: Partial<SyncSetup> = {}): SyncSetup => ({ iface: 'sync0', local: ADDR.sync[i], ignore: IGNORE, ...extra });

test('disable-external-cache: created, updated and deleted flows follow into the peer\'s kernel table', async () => {
  await withLab('inj', async (lab) => {
    const [a, b] = await buildSyncPair(lab);
    await startCtsync(lab, a, setup(0));
    const inj = await startCtsync(lab, b, setup(1, { disableExternalCache: true }));
    const kb = b.conntrack();
    const find = (t: Tuple) => kb.dump().find((f) => tupleEqual(f.orig, t));
    try {
      const tcp: Tuple = { src: '192.0.2.1', dst: '198.51.100.2', proto: 6, sport: 40000, dport: 80 };
      const udp6: Tuple = { src: '2001:db8::1', dst: '2001:db8:2::9', proto: 17, sport: 5000, dport: 5001 };
      await a.conntrackCli(['-I', ...'-p tcp -s 192.0.2.1 -d 198.51.100.2 --sport 40000 --dport 80 --state ESTABLISHED -u SEEN_REPLY,ASSURED --mark 7 -t 600'.split(' ')]);
      await a.conntrackCli(['-I', ...'-p udp -s 2001:db8::1 -d 2001:db8:2::9 --sport 5000 --dport 5001 -t 120 -u SEEN_REPLY --zone 9'.split(' ')]);
      // the bound: in the peer's kernel within a second
      await until(() => find(tcp) !== undefined && find(udp6) !== undefined, 1000, 'injected within a second');
      const t = find(tcp)!;
      assert.is(t.mark, 7);
      assert.is(t.tcp?.state, 3);
      assert.ok(find(udp6)!.zone === 9);

      await a.conntrackCli(['-U', ...'-p tcp -s 192.0.2.1 -d 198.51.100.2 --sport 40000 --dport 80 --mark 42'.split(' ')]);
      await until(() => find(tcp)?.mark === 42, 1000, 'update injected within a second');

      await a.conntrackCli(['-D', ...'-p tcp -s 192.0.2.1 -d 198.51.100.2 --sport 40000 --dport 80'.split(' ')]);
      await until(() => find(tcp) === undefined, 1000, 'delete injected within a second');
      assert.ok(find(udp6), 'the other flow stays');

      const s = await inj.snapshot();
      assert.is(s.conntrack.external.kind, 'inject');
      if (s.conntrack.external.kind === 'inject') {
        assert.ok(created(s, 'external') >= 2);
        assert.ok(s.conntrack.external.updated + created(s, 'external') >= 3);
        assert.ok(s.conntrack.external.destroyed >= 1);
        assert.is(s.conntrack.external.createFailed + s.conntrack.external.destroyFailed, 0);
      }
      const text = (await inj.cli(['show', 'conntrack-sync', 'statistics'])).stdout;
      assert.match(text, /external inject:\nconnections created:\t\t +\d+\tfailed:\t +0\n/);
      // what it injected did not come back to the sender as events of its own
      assert.is(active(await inj.snapshot(), 'internal'), 0);
    } finally {
      await kb.close();
    }
  });
});

test('SIGHUP with a changed ignore-address keeps the caches and applies the new filter', async () => {
  await withLab('hup', async (lab) => {
    const [a, b] = await buildSyncPair(lab);
    const s = await startCtsync(lab, a, setup(0));
    const r = await startCtsync(lab, b, setup(1));
    const add = (args: string) => a.conntrackCli(['-I', ...args.split(' ')]);
    await add('-p tcp -s 192.0.2.1 -d 198.51.100.2 --sport 1 --dport 80 --state ESTABLISHED -u SEEN_REPLY,ASSURED -t 600');
    await add('-p tcp -s 192.0.2.50 -d 198.51.100.2 --sport 2 --dport 80 --state ESTABLISHED -u SEEN_REPLY,ASSURED -t 600');
    await until(async () => active(await r.snapshot(), 'external') === 2, 5000, 'replicated');
    const createdBefore = created(await s.snapshot(), 'internal');

    writeFileSync(s.configFile, readFileSync(s.configFile, 'utf8') + 'set service conntrack-sync ignore-address 192.0.2.50\n');
    process.kill(s.pid, 'SIGHUP');
    // the flow now ignored leaves both sides; the other one stays, and no cache was rebuilt
    await until(async () => active(await r.snapshot(), 'external') === 1, 5000, 'filter applied to the peer');
    const after = await s.snapshot();
    assert.is(active(after, 'internal'), 1);
    assert.is(created(after, 'internal'), createdBefore, 'cache kept, not refilled');
    assert.match(s.output, /configuration reloaded: ignore-address/);
    // new flows from the ignored source are no longer synchronised
    await add('-p tcp -s 192.0.2.50 -d 198.51.100.2 --sport 3 --dport 80 --state ESTABLISHED -u SEEN_REPLY,ASSURED -t 600');
    await add('-p tcp -s 192.0.2.1 -d 198.51.100.2 --sport 4 --dport 80 --state ESTABLISHED -u SEEN_REPLY,ASSURED -t 600');
    await until(async () => active(await r.snapshot(), 'external') === 2, 5000, 'new flow synchronised');
    assert.ok((await r.cache('external')).every((f) => f.orig.src === '192.0.2.1'));

    // a change that needs a restart is refused with a message, and nothing changes
    writeFileSync(s.configFile, readFileSync(s.configFile, 'utf8') + 'set service conntrack-sync mode notrack\n');
    process.kill(s.pid, 'SIGHUP');
    await until(() => /reload refused: .*mode/.test(s.output), 5000, 'refusal logged');
    assert.is((await s.snapshot()).daemon.mode, 'ftfw');
  });
});

test.run();
