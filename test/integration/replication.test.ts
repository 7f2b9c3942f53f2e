// timeout: 300
// ctsync to ctsync: 100,000 flows replicate completely; with 20% of the sync datagrams dropped
// the external cache still converges to exactly the internal cache; a peer restarted in the
// middle converges after its startup resync.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withLab } from '../lab/lab.ts';
import { buildSyncPair, ADDR } from '../lab/topology.ts';
import { active, startCtsync, type SyncSetup } from '../lab/daemons.ts';
import { converged } from '../lab/converge.ts';
import { makeFlows } from '../lab/flows.ts';
import type { Netns } from '../lab/netns.ts';

const IGNORE = ['203.0.113.0/24', '2001:db8:3::/64'];
const setup = (i: 0 | 1, extra: Partial<SyncSetup> = {}): SyncSetup => ({ iface: 'sync0', local: ADDR.sync[i], ignore: IGNORE, ...extra });

/** Drops `pct` % of the sync datagrams entering and leaving a namespace. */
function lossy(pct: number): string {
  return `
table inet ctsync_loss {
  chain in {
    type filter hook input priority -10; policy accept;
    udp dport 3780 numgen random mod 100 < ${pct} counter drop
  }
  chain out {
    type filter hook output priority -10; policy accept;
    udp dport 3780 numgen random mod 100 < ${pct} counter drop
  }
}
`;
}

async function churn(ns: Netns, from: number, n: number): Promise<void> {
  const ct = ns.conntrack();
  try {
    const flows = makeFlows(n, { offset: from });
    ct.create(flows);
    // updates and deletions too, not just creations
    ct.update(flows.filter((_, i) => i % 3 === 0).map((f) => ({ ...f, mark: 4242 })));
    ct.delete(flows.filter((_, i) => i % 5 === 0));
  } finally {
    await ct.close();
  }
}

test('100,000 flows replicate completely', async () => {
  await withLab('rep', async (lab) => {
    const [a, b] = await buildSyncPair(lab);
    const s = await startCtsync(lab, a, setup(0));
    const r = await startCtsync(lab, b, setup(1));
    const ct = a.conntrack();
    assert.is(ct.create(makeFlows(100_000)).failed.size, 0);
    await ct.close();
    await converged(s, r, 60_000);
    assert.is(active(await r.snapshot(), 'external'), 100_000);
  });
});

test('20% of the sync datagrams dropped both ways: the external cache converges to the internal cache', async () => {
  await withLab('rep', async (lab) => {
    const [a, b] = await buildSyncPair(lab);
    await b.nft(lossy(20));
    const s = await startCtsync(lab, a, setup(0));
    const r = await startCtsync(lab, b, setup(1));
    for (let k = 0; k < 10; k++) await churn(a, k * 2000, 2000);
    await converged(s, r, 60_000);
    const drops = await b.exec('nft', ['list', 'table', 'inet', 'ctsync_loss']);
    const dropped = [...drops.stdout.matchAll(/packets (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
    assert.ok(dropped > 50, `datagrams really dropped: ${dropped}`);
    const rs = await r.snapshot();
    assert.ok(rs.network.rcvLost > 0, 'the receiver saw the gaps');
  });
});

test('a peer restarted in the middle converges after its startup resync', async () => {
  await withLab('rep', async (lab) => {
    const [a, b] = await buildSyncPair(lab);
    const s = await startCtsync(lab, a, setup(0));
    const r1 = await startCtsync(lab, b, setup(1, { startupResync: true }), 'peer');
    await churn(a, 0, 5000);
    await converged(s, r1, 30_000);
    await lab.stop(r1.proc);
    // changes while the peer is away
    await churn(a, 5000, 5000);
    const r2 = await startCtsync(lab, b, setup(1, { startupResync: true }), 'peer');
    await churn(a, 10_000, 2000);
    await converged(s, r2, 30_000);
  });
});

test.run();
