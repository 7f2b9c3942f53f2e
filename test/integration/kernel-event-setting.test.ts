// timeout: 120
// net.netfilter.nf_conntrack_events: at 2 (the kernel's default since 5.19) a conntrack created
// while nobody listens to ctnetlink events gets no event extension and never reports its end; the
// daemon says so at start. At 1 every conntrack raises its events.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withLab } from '../lab/lab.ts';
import { buildSyncPair, ADDR } from '../lab/topology.ts';
import { startCtsync, until, type SyncSetup } from '../lab/daemons.ts';
import { makeFlows } from '../lab/flows.ts';

const IGNORE = ['203.0.113.0/24', '2001:db8:3::/64', '127.0.0.1'];
const setup = (i: 0 | 1): SyncSetup => ({ iface: 'sync0', local: ADDR.sync[i], ignore: IGNORE });
const ours = (src: string) => src.startsWith('192.0.2.');

test('at 2 the daemon warns, and a flow made before it started never reports its end; at 1 it does', async () => {
  await withLab('evset', async (lab) => {
    const fw = await buildSyncPair(lab);
    await fw[0].sysctl('net.netfilter.nf_conntrack_events', 2);
    await fw[1].sysctl('net.netfilter.nf_conntrack_events', 1);
    // 20 flows in each table before any daemon listens
    const flows = makeFlows(20);
    const cts = fw.map((f) => f.conntrack());
    try {
      for (const ct of cts) assert.is(ct.create(flows).failed.size, 0);
      const d = [await startCtsync(lab, fw[0], setup(0)), await startCtsync(lab, fw[1], setup(1))];
      assert.match(d[0].output, /\[warning\] net\.netfilter\.nf_conntrack_events is 2: .* never reports its end/);
      assert.not.match(d[1].output, /nf_conntrack_events/);
      const internal = async (i: number) => (await d[i].cache('internal')).filter((f) => ours(f.orig.src)).length;
      for (const i of [0, 1]) await until(async () => (await internal(i)) === 20, 10000, `fw${i}: the initial dump`);

      for (const ct of cts) assert.is(ct.delete(flows).failed.size, 0);
      // at 1 the DESTROY events come and the internal cache empties
      await until(async () => (await internal(1)) === 0, 10000, 'fw1: the DESTROY events');
      // at 2 none comes: the entries made before the daemon stay
      await new Promise((r) => setTimeout(r, 1000));
      assert.is(await internal(0), 20, 'fw0: no DESTROY event for the flows made before the daemon');
      assert.is(cts[0].dump(4).filter((f) => ours(f.orig.src)).length, 0, 'fw0: gone from the kernel all the same');
    } finally {
      for (const ct of cts) await ct.close();
    }
  });
});

test.run();
