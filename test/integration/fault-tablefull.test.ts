// timeout: 300
// The peer's kernel table is full. nf_conntrack_max cannot be changed inside a network namespace
// (the sysctl is read-only there), but the count it is checked against is per namespace: fw2's
// table is filled with the host's nf_conntrack_max entries of the (ignored) sync subnet. Flows
// injected (disable-external-cache) or committed into it then fail with ENOMEM: the failures are
// counted, the daemon keeps working, and once room is made a resync or a commit completes the job.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withLab } from '../lab/lab.ts';
import type { Netns } from '../lab/netns.ts';
import { buildSyncPair } from '../lab/topology.ts';
import { startCtsync, until } from '../lab/daemons.ts';
import { type Flow, STATUS } from '../../src/flow/flow.ts';
import { Churn, converge, side } from './fault-common.ts';

/** Fills a namespace's table to nf_conntrack_max with UDP entries inside 203.0.113.0/24. */
async function fill(ns: Netns): Promise<{ filler: Flow[]; max: number }> {
  const max = Number((await ns.exec('cat', ['/proc/sys/net/netfilter/nf_conntrack_max'])).stdout.trim());
  assert.ok(max > 0 && max <= 4_194_304, `nf_conntrack_max ${max}: a limited table is needed for this test`);
  const ct = ns.conntrack();
  const filler: Flow[] = [];
  try {
    let refused = 0;
    for (let base = 0; refused === 0; base += 16384) {
      const batch: Flow[] = [];
      for (let i = base; i < base + 16384; i++) {
        const src = `203.0.113.${10 + (i % 200)}`, sport = 1024 + Math.floor(i / 200);
        // ASSURED: the kernel never evicts these to make room (early drop)
        batch.push({
          family: 4, orig: { src, dst: '203.0.113.250', proto: 17, sport, dport: 9 }, reply: { src: '203.0.113.250', dst: src, proto: 17, sport: 9, dport: sport },
          status: STATUS.SEEN_REPLY | STATUS.ASSURED, timeout: 3600,
        });
      }
      const r = ct.create(batch);
      refused = r.failed.size;
      batch.forEach((f, k) => { if (!r.failed.has(k)) filler.push(f); });
      if (refused) assert.ok([...r.failed.values()].every((e) => e === 12), 'the kernel refuses with ENOMEM');
      if (base > 2 * max) throw new Error('the table never filled up');
    }
  } finally {
    await ct.close();
  }
  return { filler, max };
}

async function conntrackCount(ns: Netns): Promise<number> {
  return Number((await ns.exec('cat', ['/proc/sys/net/netfilter/nf_conntrack_count'])).stdout.trim());
}

/**
 * Frees filler entries until the table is below 90 % of nf_conntrack_max. Freeing only a few is
 * not enough: once the kernel has refused an entry, its garbage collector evicts entries that are
 * not ASSURED (our UDP and ICMP test flows among them) for as long as the table stays above 95 %.
 * Deleted entries are released after an RCU grace period: the room exists once the count is down.
 */
async function makeRoom(ns: Netns, filler: Flow[], max: number): Promise<void> {
  const target = Math.floor(max * 0.9);
  const ct = ns.conntrack();
  const failed = new Map<number, number>();
  let deleted = 0;
  try {
    // a delete can fail (the count then stays up; seen once in a full run): delete more until
    // the count is down, leaving the RCU grace period time to release what went
    await until(async () => {
      const over = (await conntrackCount(ns)) - target;
      if (over <= 0) return true;
      const r = ct.delete(filler.splice(0, Math.min(filler.length, over)));
      deleted += r.ok;
      for (const e of r.failed.values()) failed.set(e, (failed.get(e) ?? 0) + 1);
      await new Promise((res) => setTimeout(res, 300));
      return false;
    }, 10_000, 'room in the table');
  } catch (e) {
    const now = await conntrackCount(ns);
    throw new Error(`${(e as Error).message}: ${now} of ${max} entries, ${deleted} deleted, failures by errno ${JSON.stringify([...failed])}`);
  } finally {
    await ct.close();
  }
}

test('disable-external-cache: injections into a full table fail and are counted; a resync completes them later', async () => {
  await withLab('ffull', async (lab) => {
    const fw = await buildSyncPair(lab);
    const d = [
      await startCtsync(lab, fw[0], side(0)),
      await startCtsync(lab, fw[1], side(1, { disableExternalCache: true, eventSource: 'auto' })),
    ];
    const churn = new Churn(fw[0].conntrack(), 0);
    try {
      const { filler, max } = await fill(fw[1]);
      const count = await conntrackCount(fw[1]);
      assert.is(count, max, `the table holds nf_conntrack_max entries (${filler.length} of them ours)`);
      churn.create(200);
      await until(async () => {
        const x = (await d[1].snapshot()).conntrack.external;
        return x.kind === 'inject' && x.createFailed >= 200;
      }, 20_000, '200 failed injections counted');
      const s = await d[1].snapshot();
      assert.is(s.conntrack.external.kind === 'inject' && s.conntrack.external.created, 0, 'nothing got in');
      // the daemon keeps working: make room, ask the peer for everything again
      await makeRoom(fw[1], filler, max);
      churn.create(50);
      await d[1].request('request-resync');
      try {
        await converge({ ns: fw[0], from: d[0], to: fw[1], expect: [...churn.live.values()] }, 30_000, 'after making room');
      } catch (e) {
        const x = (await d[1].snapshot()).conntrack.external;
        throw new Error(`${(e as Error).message}; fw2 holds ${await conntrackCount(fw[1])} of ${max}; its injections: ${JSON.stringify(x)}`);
      }
    } finally {
      await churn.ct.close();
    }
  });
});

test('external cache: a commit into a full table counts its failures; the next one, with room, succeeds', async () => {
  await withLab('ffull', async (lab) => {
    const fw = await buildSyncPair(lab);
    const d = [await startCtsync(lab, fw[0], side(0)), await startCtsync(lab, fw[1], side(1, { eventSource: 'auto' }))];
    const churn = new Churn(fw[0].conntrack(), 0);
    try {
      churn.create(300);
      await converge({ ns: fw[0], from: d[0], to: d[1], expect: [...churn.live.values()] }, 20_000, 'replicated');
      const { filler, max } = await fill(fw[1]);
      const r1 = await d[1].request<{ committed: number; failed: number; errors: Record<string, number> }>('commit');
      assert.is(r1.committed, 0);
      assert.is(r1.failed, 300, JSON.stringify(r1));
      const s = await d[1].snapshot();
      assert.is(s.commit.failed, 300, 'counted in the statistics');
      // still replicating while full
      churn.round(5, 20);
      await converge({ ns: fw[0], from: d[0], to: d[1], expect: [...churn.live.values()] }, 20_000, 'still replicating');
      await makeRoom(fw[1], filler, max);
      const r2 = await d[1].request<{ committed: number; failed: number }>('commit');
      assert.is(r2.failed, 0, JSON.stringify(r2));
      await converge({ ns: fw[0], from: d[0], to: fw[1], expect: [...churn.live.values()] }, 10_000, 'committed');
    } finally {
      await churn.ct.close();
    }
  });
});

test('hash-limit: the caches stop at the limit, count "no space", and take entries again once there is room', async () => {
  await withLab('ffull', async (lab) => {
    const fw = await buildSyncPair(lab);
    const extra = ['set service conntrack-sync hash-limit 100'];
    const d = [await startCtsync(lab, fw[0], side(0)), await startCtsync(lab, fw[1], side(1, { extra }))];
    const churn = new Churn(fw[0].conntrack(), 0);
    try {
      churn.create(300);
      await until(async () => {
        const x = (await d[1].snapshot()).conntrack.external;
        return x.kind === 'cache' && x.noSpace >= 200;
      }, 15_000, 'the external cache refused 200 entries, counted as no space');
      let ext = (await d[1].snapshot()).conntrack.external;
      assert.is(ext.kind === 'cache' && ext.active, 100, 'it holds exactly hash-limit entries');
      // room again: deletions are applied, new entries fit
      const held = new Set((await d[1].cache('external')).map((f) => `${f.orig.src}|${f.orig.sport ?? f.orig.icmpId}|${f.orig.dport ?? 0}`));
      const victims = [...churn.live.entries()].filter(([, f]) => held.has(`${f.orig.src}|${f.orig.sport ?? f.orig.icmpId}|${f.orig.dport ?? 0}`)).slice(0, 50);
      const ct = fw[0].conntrack();
      try { ct.delete(victims.map(([, f]) => f)); } finally { await ct.close(); }
      for (const [i] of victims) churn.live.delete(i);
      churn.create(30);
      await until(async () => {
        const x = (await d[1].snapshot()).conntrack.external;
        return x.kind === 'cache' && x.active >= 80;
      }, 15_000, 'new entries took the free room');
      ext = (await d[1].snapshot()).conntrack.external;
      assert.ok(ext.kind === 'cache' && ext.active <= 100, 'never above the limit');
      assert.ok((await d[0].snapshot()).conntrack.internal.kind === 'cache', 'the sender is unaffected');
    } finally {
      await churn.ct.close();
    }
  });
});

test.run();
