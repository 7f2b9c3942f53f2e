// timeout: 120
// A DESTROY that comes late must not end the conntrack that took its tuple since. When a listener
// with NETLINK_BROADCAST_ERROR (a reliable one: conntrackd's NetlinkEventsReliable, ctsync's
// netlink source) misses a DESTROY, the kernel keeps the old conntrack and sends the DESTROY again
// (after a second, then every 10 ms), to every listener, until that one takes it. Here such a listener never reads; the
// flows are deleted and created again with the same tuples; the repeated DESTROY of the old
// conntrack then reaches the daemon after the new one's NEW. The daemon tells the two apart by the
// kernel's conntrack id, for both event sources.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withLab } from '../lab/lab.ts';
import { buildSyncPair, ADDR } from '../lab/topology.ts';
import { active, startCtsync, until, type SyncSetup } from '../lab/daemons.ts';
import { makeFlows } from '../lab/flows.ts';
import { NetlinkSocket, NETLINK_OPT } from '../../src/kernel/netlink.ts';
import { GROUP } from '../../src/kernel/ctnetlink.ts';
import { inNetns } from '../../src/kernel/netns.ts';

const IGNORE = ['203.0.113.0/24', '2001:db8:3::/64'];
const SOL_NETLINK = 270;
const N = 50;

for (const source of [undefined, 'netlink'] as const) test(`late DESTROY events (${source ?? 'default'} source): the new conntracks stay, here and at the peer`, async () => {
  await withLab('late', async (lab) => {
    const [a, b] = await buildSyncPair(lab);
    const setup = (i: 0 | 1, eventSource?: SyncSetup['eventSource']): SyncSetup => ({ iface: 'sync0', local: ADDR.sync[i], ignore: IGNORE, eventSource });
    const send = await startCtsync(lab, a, setup(0, source));
    const recv = await startCtsync(lab, b, setup(1));
    const ka = a.conntrack();
    const deaf = inNetns(a.name, () => new NetlinkSocket());
    try {
      const flows = makeFlows(N);
      assert.is(ka.create(flows).failed.size, 0);
      await until(async () => active(await recv.snapshot(), 'external') === N, 30_000, 'replicated');

      // a reliable DESTROY listener with a few hundred bytes of buffer, never read
      deaf.setInt(SOL_NETLINK, NETLINK_OPT.BROADCAST_ERROR, 1);
      deaf.setReceiveBuffer(4096);
      deaf.join(GROUP.DESTROY);
      assert.is(ka.delete(flows).failed.size, 0);
      await until(async () => active(await recv.snapshot(), 'external') === 0, 10_000, 'the ends at the peer');
      assert.is(ka.create(flows).failed.size, 0, 'the same tuples again: new conntracks');
      await until(async () => active(await recv.snapshot(), 'external') === N, 10_000, 'the new conntracks at the peer');
      // the kernel sends a missed DESTROY again a second later, then every 10 ms while it is missed
      await new Promise((r) => setTimeout(r, 2000));

      assert.is(active(await send.snapshot(), 'internal'), N, 'the internal cache keeps the new conntracks');
      assert.is(active(await recv.snapshot(), 'external'), N, 'and so does the peer');
      assert.ok(((await send.snapshot()).events?.lateDestroy ?? 0) > 0, 'late DESTROY events counted');
      const internal = await send.cache('internal');
      assert.is(internal.length, N);
      const kernel = ka.dump(4).filter((f) => f.orig.src.startsWith('192.0.2.'));
      assert.is(kernel.length, N);
    } finally {
      await deaf.close();
      await ka.close();
    }
  });
});

test.run();
