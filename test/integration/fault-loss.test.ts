// timeout: 300
// Random loss on the sync link: nftables drops 1%, 20%, then 50% of the sync datagrams in both
// directions (output and input chains of fw1), while flows are created, updated and deleted on
// both firewalls. FTFW (NACKs, retransmission) must bring each side's external cache to the
// other's internal cache, itself equal to the kernel table, and the loss must show in the counters.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Lab } from '../lab/lab.ts';
import type { Netns } from '../lab/netns.ts';
import { buildSyncPair } from '../lab/topology.ts';
import { startCtsync, type CtsyncDaemon } from '../lab/daemons.ts';
import { Churn, converge, side } from './fault-common.ts';

let lab: Lab;
let fw: [Netns, Netns];
let d: [CtsyncDaemon, CtsyncDaemon];
let churn: [Churn, Churn];

function lossRules(percent: number): string {
  return `
table inet ctsync_loss {
  chain out {
    type filter hook output priority 0; policy accept;
    meta l4proto udp udp dport 3780 numgen random mod 100 < ${percent} counter drop
  }
  chain in {
    type filter hook input priority 0; policy accept;
    meta l4proto udp udp dport 3780 numgen random mod 100 < ${percent} counter drop
  }
}
`;
}

async function dropped(ns: Netns): Promise<number> {
  const out = (await ns.exec('nft', ['list', 'table', 'inet', 'ctsync_loss'])).stdout;
  return [...out.matchAll(/packets (\d+)/g)].reduce((s, m) => s + Number(m[1]), 0);
}

test.before(async () => {
  lab = new Lab('floss');
  fw = await buildSyncPair(lab);
  d = [await startCtsync(lab, fw[0], side(0)), await startCtsync(lab, fw[1], side(1))];
  churn = [new Churn(fw[0].conntrack(), 0), new Churn(fw[1].conntrack(), 500_000)];
});

test.after(async () => {
  for (const c of churn ?? []) await c.ct.close();
  await lab?.teardown();
});

for (const percent of [1, 20, 50]) {
  test(`${percent}% of the sync datagrams lost both ways: both external caches converge`, async () => {
    await fw[0].exec('nft', ['delete', 'table', 'inet', 'ctsync_loss'], { check: false });
    await fw[0].nft(lossRules(percent));
    const lostBefore = (await d[1].snapshot()).network.rcvLost + (await d[0].snapshot()).network.rcvLost;
    // changes in several rounds, on both sides, while datagrams are lost
    for (let r = 0; r < 4; r++) {
      churn[0].round(percent * 10 + r, 60);
      churn[1].round(percent * 10 + r, 20);
      await new Promise((res) => setTimeout(res, 300));
    }
    const within = percent >= 50 ? 120_000 : 60_000;
    await converge({ ns: fw[0], from: d[0], to: d[1], expect: [...churn[0].live.values()] }, within, `fw1 -> fw2 at ${percent}% loss`);
    await converge({ ns: fw[1], from: d[1], to: d[0], expect: [...churn[1].live.values()] }, within, `fw2 -> fw1 at ${percent}% loss`);
    const n = await dropped(fw[0]);
    console.log(`  ${percent}%: nftables dropped ${n} sync datagrams`);
    if (percent >= 20) {
      // at 1% a short test may lose nothing; from 20% on it always does
      assert.ok(n > 0, `nftables dropped ${n} datagrams`);
      // gaps were seen and repaired (NACK or retransmission)
      const [s0, s1] = [await d[0].snapshot(), await d[1].snapshot()];
      assert.ok(s0.network.rcvLost + s1.network.rcvLost > lostBefore, 'losses counted');
      assert.is(s0.network.rcvMalformed + s1.network.rcvMalformed, 0);
    }
  });
}

test.run();
