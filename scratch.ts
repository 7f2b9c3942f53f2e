import { Lab } from './test/lab/lab.ts';
import { buildSyncPair, ADDR } from './test/lab/topology.ts';
import { startCtsync } from './test/lab/daemons.ts';
import { makeFlows } from './test/lab/flows.ts';
import { diffFlows } from './test/lab/converge.ts';
const lab = new Lab('dbg');
const IGNORE = ['203.0.113.0/24', '2001:db8:3::/64'];
try {
  const [a, b] = await buildSyncPair(lab);
  await b.nft(`table inet ctsync_loss {
  chain in { type filter hook input priority -10; policy accept;
    udp dport 3780 numgen random mod 100 < 20 counter drop
  }
  chain out { type filter hook output priority -10; policy accept;
    udp dport 3780 numgen random mod 100 < 20 counter drop
  }
}`);
  const s = await startCtsync(lab, a, { iface: 'sync0', local: ADDR.sync[0], ignore: IGNORE });
  const r = await startCtsync(lab, b, { iface: 'sync0', local: ADDR.sync[1], ignore: IGNORE });
  const ct = a.conntrack();
  ct.create(makeFlows(2000));
  await ct.close();
  for (let i = 0; i < 15; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    const ss = await s.request<any>('snapshot', {}); const rs = await r.request<any>('snapshot', {});
    const d = diffFlows(await s.cache('internal'), await r.cache('external'), 1);
    console.log(i, 'int', ss.conntrack.internal.active, 'rsq', ss.resendQueue.length, 'ext', rs.conntrack.external.active, 'rlost', rs.network.rcvLost, 'rbefore', rs.network.rcvBefore, 'slost', ss.network.rcvLost, d[0] ?? 'OK');
  }
  const st = await s.request<any>('snapshot', { rsqueue: true });
  console.log(JSON.stringify(st.queues), JSON.stringify(st.resendQueue).slice(0, 300));
} finally { await lab.teardown(); }
