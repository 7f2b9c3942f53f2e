// timeout: 300
// The operations HA scripts drive: commit (ctsync's CLI and conntrackd's own client), the scheduled
// purge and what cancels it, and conntrackd's client getting conntrackd's texts from ctsync.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withLab } from '../lab/lab.ts';
import { buildSyncPair, ADDR } from '../lab/topology.ts';
import { active, startCtsync, startConntrackd, until, type SyncSetup } from '../lab/daemons.ts';
import { makeFlows } from '../lab/flows.ts';
import { type Flow, STATUS, tupleEqual } from '../../src/flow/flow.ts';
import { flowKey } from '../../src/flow/key.ts';
import type { Snapshot } from '../../src/control/snapshot.ts';

const IGNORE = ['203.0.113.0/24', '2001:db8:3::/64'];
const setup = (i: 0 | 1, extra: Partial<SyncSetup> = {}): SyncSetup => ({ iface: 'sync0', local: ADDR.sync[i], ignore: IGNORE, ...extra });
const NAT = STATUS.SRC_NAT | STATUS.DST_NAT;

function check(got: Flow, want: Flow): string | undefined {
  if (!tupleEqual(got.reply, want.reply)) return `reply ${JSON.stringify(got.reply)}`;
  if ((got.status & (NAT | STATUS.ASSURED | STATUS.SEEN_REPLY)) !== (want.status & (NAT | STATUS.ASSURED | STATUS.SEEN_REPLY))) return `status ${got.status}`;
  if ((got.mark ?? 0) !== (want.mark ?? 0)) return `mark ${got.mark}`;
  if ((got.zone ?? 0) !== (want.zone ?? 0)) return `zone ${got.zone}`;
  if ((got.tcp?.state ?? -1) !== (want.tcp?.state ?? -1)) return `tcp state ${got.tcp?.state}`;
  return undefined;
}

test('commit of 100,000 external entries: all in the kernel with state, NAT, mark and zone; again through conntrackd -c', async () => {
  await withLab('op', async (lab) => {
    const [a, b] = await buildSyncPair(lab);
    await startCtsync(lab, a, setup(0));
    const recv = await startCtsync(lab, b, setup(1));
    const ct = a.conntrack();
    const made = ct.create(makeFlows(100_000));
    // what the sender's kernel made of them (NAT included) is what the standby must hold
    const flows = ct.dump(4).filter((f) => f.orig.src.startsWith('192.0.2.'));
    await ct.close();
    assert.is(made.failed.size, 0, 'created on the sender');
    assert.is(flows.length, 100_000);
    await until(async () => active(await recv.snapshot(), 'external') >= 100_000, 90_000, 'replicated');

    const commitOnce = async (how: string, run: () => Promise<unknown>) => {
      const kb = b.conntrack();
      kb.flushWhere((f) => !f.orig.src.startsWith('203.0.113.'));
      assert.is(kb.dump(4).filter((f) => f.orig.src.startsWith('192.0.2.')).length, 0, 'standby kernel empty before commit');
      await run();
      const got = new Map(kb.dump(4).map((f) => [flowKey(f), f]));
      await kb.close();
      let bad = 0, missing = 0, first = '';
      for (const w of flows) {
        const g = got.get(flowKey(w));
        if (!g) { missing++; continue; }
        const d = check(g, w);
        if (d) { bad++; first ||= `${JSON.stringify(w.orig)}: ${d}`; }
      }
      assert.is(missing, 0, `${how}: missing in the kernel`);
      assert.is(bad, 0, `${how}: wrong fields, e.g. ${first}`);
    };

    await commitOnce('ctsync commit', async () => {
      const r = await recv.cli(['commit']);
      assert.match(r.stdout, /committed 100000 entries, 0 failed/);
    });
    const s = await recv.snapshot();
    assert.is(s.commit.committed, 100_000);
    assert.is(s.commit.failed, 0);

    // conntrackd's own client, reading the socket path from a conntrackd.conf
    const conf = join(lab.dir, 'client.conf');
    writeFileSync(conf, `General {\n\tUNIX {\n\t\tPath ${recv.compatSocket}\n\t}\n}\n`);
    await commitOnce('conntrackd -c', async () => {
      const { run } = await import('../lab/exec.ts');
      const r = await run('conntrackd', ['-C', conf, '-c']);
      assert.is(r.code, 0);
    });
  });
});

test('purge: -t flushes synchronised kernel entries after purge-timeout and keeps ignored ones; a commit cancels it', async () => {
  await withLab('op', async (lab) => {
    const [a, b] = await buildSyncPair(lab);
    await startCtsync(lab, a, setup(0));
    const d = await startCtsync(lab, b, setup(1, { purgeTimeout: 2 }));
    const kb = b.conntrack();
    try {
      const synced = makeFlows(50);
      const ignored = makeFlows(5, { offset: 1000 }).map((f) => ({ ...f, orig: { ...f.orig, src: '203.0.113.77' }, reply: { ...f.reply, dst: '203.0.113.77' } }));
      assert.is(kb.create([...synced, ...ignored]).failed.size, 0);
      const count = () => {
        const all = kb.dump(4);
        return { synced: all.filter((f) => f.orig.src.startsWith('192.0.2.')).length, ignored: all.filter((f) => f.orig.src === '203.0.113.77').length };
      };
      await d.cli(['purge']);
      assert.ok((await d.snapshot()).failover.purgeAt, 'purge scheduled');
      assert.equal(count(), { synced: 50, ignored: 5 }, 'nothing removed before the timeout');
      await until(() => count().synced === 0, 8000, 'purged');
      assert.equal(count(), { synced: 0, ignored: 5 }, 'ignored entries kept');
      assert.is((await d.snapshot()).runtime.flushKernelTable, 1);

      // scheduled again, then cancelled by a commit
      assert.is(kb.create(synced).failed.size, 0);
      await d.cli(['purge']);
      await d.cli(['commit']);
      assert.is((await d.snapshot()).failover.purgeAt, undefined, 'cancelled');
      await new Promise((r) => setTimeout(r, 3000));
      assert.equal(count(), { synced: 50, ignored: 5 }, 'nothing flushed after a cancelled purge');
    } finally {
      await kb.close();
    }
  });
});

test('the Debian conntrackd client gets the same -s, -i and -e text from ctsync as from conntrackd with the same caches', async () => {
  await withLab('op', async (lab) => {
    const [a, b] = await buildSyncPair(lab);
    // NOTRACK multicast: conntrackd and ctsync both listen on the peer namespace, so both see the
    // same kernel events and the same messages from the sender
    const sender = await startCtsync(lab, a, setup(0, { mode: 'notrack', eventSource: 'netlink' }));
    const ctd = await startConntrackd(lab, b, setup(1, { mode: 'notrack' }));
    const cts = await startCtsync(lab, b, setup(1, { mode: 'notrack', eventSource: 'netlink' }));
    const add = (ns: typeof a, args: string) => ns.conntrackCli(['-I', ...args.split(' ')]);
    await add(a, '-p tcp -s 192.0.2.1 -d 198.51.100.2 --sport 40000 --dport 80 --state ESTABLISHED -u SEEN_REPLY,ASSURED --mark 7 -t 600');
    await add(a, '-p udp -s 192.0.2.1 -d 198.51.100.2 --sport 1000 --dport 53 -t 60 --zone 5 --dst-nat 198.51.100.9:5353');
    await add(a, '-p icmp -s 192.0.2.1 -d 198.51.100.2 --icmp-type 8 --icmp-code 0 --icmp-id 4660 -t 30');
    await add(b, '-p tcp -s 192.0.2.9 -d 198.51.100.9 --sport 4000 --dport 22 --state ESTABLISHED -u SEEN_REPLY,ASSURED -t 600');
    await add(b, '-p udp -s 2001:db8::1 -d 2001:db8:2::9 --sport 5000 --dport 5001 -t 120 -u SEEN_REPLY --zone 9');
    const conf = join(lab.dir, 'client.conf');
    writeFileSync(conf, `General {\n\tUNIX {\n\t\tPath ${cts.compatSocket}\n\t}\n}\n`);
    const { run } = await import('../lab/exec.ts');
    const ask = async (file: string, args: string[]) => (await run('conntrackd', ['-C', file, ...args])).stdout;
    await until(async () => active(await cts.snapshot(), 'external') === 3 && /current active connections:\t +3\n/.test((await ask(ctd.configFile, ['-s'])).split('cache external:')[1] ?? ''), 10000, 'both external caches filled');
    await until(async () => active(await cts.snapshot(), 'internal') === 2, 5000, 'internal caches filled');

    const lines = (t: string) => t.split('\n').filter(Boolean).map((l) => l.replace(/\[active since \d+s\]/, '[active since]')).sort();
    for (const opt of ['-i', '-e']) {
      assert.equal(lines(await ask(conf, [opt])), lines(await ask(ctd.configFile, [opt])), `conntrackd ${opt}`);
    }
    // -s: the cache blocks are the same to the byte; the traffic blocks differ only in their numbers
    const s1 = await ask(conf, ['-s']);
    const s2 = await ask(ctd.configFile, ['-s']);
    const caches = (t: string) => t.slice(0, t.indexOf('traffic processed:'));
    assert.is(caches(s1), caches(s2), 'cache blocks');
    const shape = (t: string) => t.replace(/\d+/g, 'N');
    assert.is(shape(s1), shape(s2), 'layout of -s');
    const snap: Snapshot = await sender.snapshot();
    assert.is(active(snap, 'internal'), 3);
  });
});

test.run();
