// timeout: 180
// A new master's commit (the MASTER transition: commit, flush, resync, bulk send) runs with the
// NEW events stopped: its own creates never come back as events, the resync that follows fills
// the internal cache from the kernel table, the bulk send tells the peer, and the flows made after
// it are replicated again, as are the ends of committed flows. A commit asked for by hand keeps
// the events (no resync is sure to follow).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withLab } from '../lab/lab.ts';
import { buildSyncPair, ADDR } from '../lab/topology.ts';
import { active, startCtsync, until, type SyncSetup } from '../lab/daemons.ts';
import { makeFlows } from '../lab/flows.ts';

const IGNORE = ['203.0.113.0/24', '2001:db8:3::/64'];
const setup = (i: 0 | 1, eventSource?: SyncSetup['eventSource']): SyncSetup => ({ iface: 'sync0', local: ADDR.sync[i], ignore: IGNORE, eventSource });
const N = 20_000, CLASH = 1_000, BY_HAND = 500;
const ours = (src: string) => src.startsWith('192.0.2.');

// the BPF socket filter's source (the default here) and the plain netlink one leave the group alike
for (const source of [undefined, 'netlink'] as const) test(`MASTER commit (${source ?? 'default'} events): no own NEW events, internal cache from the resync, new flows replicated after it`, async () => {
  await withLab('fcm', async (lab) => {
    const [a, b] = await buildSyncPair(lab);
    const send = await startCtsync(lab, a, setup(0));
    const recv = await startCtsync(lab, b, setup(1, source));
    assert.is((await recv.snapshot()).eventSource.kind, source ?? 'bpf-netlink');
    const ka = a.conntrack();
    assert.is(ka.create(makeFlows(N)).failed.size, 0);
    await ka.close();
    await until(async () => active(await recv.snapshot(), 'external') >= N, 60_000, 'replicated');

    // some flows are in the new master's kernel before its commit (traffic reaching it first): the
    // commit replaces them (EEXIST: delete, create)
    const kb = b.conntrack();
    assert.is(kb.create(makeFlows(CLASH)).failed.size, 0);
    await until(async () => active(await recv.snapshot(), 'internal') === CLASH, 10_000, 'the flows made on fw2 seen');
    const s1 = await recv.snapshot();

    await recv.request('failover', { state: 'master' });
    const s2 = await recv.snapshot();
    assert.is(s2.commit.last?.committed, N, 'committed');
    assert.is(kb.dump(4).filter((f) => ours(f.orig.src)).length, N, 'in the kernel');
    // the DESTROY of each replaced entry is read before the resync: read after it, it would remove
    // the entry the commit had just made, and no NEW would put it back
    assert.is(s2.events!.own - s1.events!.own, CLASH, 'of its own commit\'s events only the DESTROY of the entries it replaced');
    assert.is(active(s2, 'internal'), N, 'the resync put the kernel table in the internal cache, the replaced entries included');
    // the bulk send refilled the old master's external cache
    await until(async () => active(await send.snapshot(), 'external') >= N, 30_000, 'bulk send at the old master');

    // NEW events are back: a flow made now reaches the peer
    const [extra] = makeFlows(1, { offset: N });
    assert.is(kb.create([extra]).failed.size, 0);
    await until(async () => active(await send.snapshot(), 'external') >= N + 1, 10_000, 'a new flow after the transition');
    assert.is(active(await recv.snapshot(), 'internal'), N + 1);
    // the committed entries still report their end (the kernel gave them its event extension)
    const [first] = makeFlows(1);
    assert.is(kb.delete([first]).failed.size, 0);
    await kb.close();
    await until(async () => active(await send.snapshot(), 'external') === N, 10_000, 'the end of a committed flow reaches the peer');

    // a commit by hand keeps its NEW events (conntrackd's behaviour): nothing says a resync follows
    const ka2 = a.conntrack();
    assert.is(ka2.create(makeFlows(BY_HAND, { offset: 2 * N })).failed.size, 0);
    await ka2.close();
    await until(async () => active(await recv.snapshot(), 'external') >= BY_HAND, 10_000, 'flows from the old master');
    const s3 = await recv.snapshot();
    await recv.request('commit');
    await until(async () => (await recv.snapshot()).events!.own - s3.events!.own >= BY_HAND, 10_000, 'own NEW events of the commit by hand');
    assert.is(active(await recv.snapshot(), 'internal'), N + BY_HAND);
  });
});

test.run();
