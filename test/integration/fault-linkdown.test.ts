// timeout: 240
// The sync link goes down for 30 s (`ip link set sync0 down` on fw1) while flows are created,
// updated and deleted on both firewalls, then comes back: the link status shows it, and both
// external caches converge again, over multicast (the group membership must survive) and unicast.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withLab } from '../lab/lab.ts';
import { buildSyncPair } from '../lab/topology.ts';
import { startCtsync, until } from '../lab/daemons.ts';
import { Churn, converge, side, sleep } from './fault-common.ts';

for (const multicast of [true, false]) {
  test(`${multicast ? 'multicast' : 'unicast'}: 30 s without the sync link, changes on both sides, then back`, async () => {
    await withLab('fdown', async (lab) => {
      const fw = await buildSyncPair(lab);
      const d = [await startCtsync(lab, fw[0], side(0, { multicast })), await startCtsync(lab, fw[1], side(1, { multicast }))];
      const churn = [new Churn(fw[0].conntrack(), 0), new Churn(fw[1].conntrack(), 500_000)];
      try {
        churn[0].create(300);
        churn[1].create(100);
        const both = async (what: string) => {
          await converge({ ns: fw[0], from: d[0], to: d[1], expect: [...churn[0].live.values()] }, 60_000, `${what}: fw1 -> fw2`);
          await converge({ ns: fw[1], from: d[1], to: d[0], expect: [...churn[1].live.values()] }, 60_000, `${what}: fw2 -> fw1`);
        };
        await both('before');
        await fw[0].ip('link set sync0 down');
        await until(async () => (await d[0].snapshot()).links[0].status === 'DOWN', 5000, 'fw1 sees its link down');
        const down = Date.now();
        for (let r = 0; Date.now() - down < 30_000; r++) {
          churn[0].round(100 + r, 30);
          churn[1].round(100 + r, 10);
          await sleep(2000);
        }
        const s = await d[0].snapshot();
        assert.is(s.links[0].status, 'DOWN');
        await fw[0].ip('link set sync0 up');
        await until(async () => (await d[0].snapshot()).links[0].status === 'RUNNING', 10_000, 'fw1 sees its link up');
        churn[0].round(999, 20);
        await both('after the link came back');
        const after = await d[0].snapshot();
        assert.ok(after.links[0].errorsSend > 0 || after.messages!.resentTimeout > 0, 'the outage left a trace: send errors or retransmissions');
      } finally {
        for (const c of churn) await c.ct.close();
      }
    });
  });
}

test.run();
