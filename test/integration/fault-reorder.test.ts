// timeout: 240
// Reordering and duplication on the sync link (the kernel has no netem): fw1 and fw2 talk unicast
// through a relay namespace. There, nftables DNATs each direction's sync datagrams to the relay
// agent (test/lab/agents/relay.ts), which holds and shuffles them, or sends them twice, and SNATs
// what it sends to the original sender's address, so each daemon's peer check still passes.
// Flows change on both sides meanwhile; both external caches must converge, duplicates and late
// messages must be dropped (counted as "before"), and nothing may be counted as malformed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Lab } from '../lab/lab.ts';
import type { Netns } from '../lab/netns.ts';
import type { Agent } from '../lab/agent.ts';
import { ADDR, TRACK_ALL } from '../lab/topology.ts';
import { startCtsync, type CtsyncDaemon } from '../lab/daemons.ts';
import { Churn, converge, side, sleep } from './fault-common.ts';

const RELAY = '192.0.2.250';

let lab: Lab;
let fw: [Netns, Netns];
let d: [CtsyncDaemon, CtsyncDaemon];
let churn: [Churn, Churn];
let relay: Agent;

async function relayed(): Promise<[Netns, Netns]> {
  const a = await lab.netns('fw1');
  const r = await lab.netns('relay');
  const b = await lab.netns('fw2');
  await a.ip(`link add sync0 type veth peer name rA netns ${r.name}`);
  await b.ip(`link add sync0 type veth peer name rB netns ${r.name}`);
  for (const [ns, dev, addr] of [[a, 'sync0', ADDR.sync[0]], [b, 'sync0', ADDR.sync[1]]] as const) {
    await ns.ip(`link set ${dev} up`);
    await ns.ip(`addr add ${addr}/24 dev ${dev}`);
    await ns.nft(TRACK_ALL);
  }
  for (const dev of ['rA', 'rB']) {
    await r.ip(`link set ${dev} up`);
    await r.sysctl(`net.ipv4.conf.${dev}.proxy_arp`, 1);
  }
  await r.sysctl('net.ipv4.ip_forward', 1);
  await r.ip(`addr add ${RELAY}/32 dev lo`);
  await r.ip(`route add ${ADDR.sync[0]}/32 dev rA`);
  await r.ip(`route add ${ADDR.sync[1]}/32 dev rB`);
  await r.nft(`
table ip relay {
  chain pre {
    type nat hook prerouting priority -100; policy accept;
    iifname "rA" udp dport 3780 dnat to ${RELAY}:4001
    iifname "rB" udp dport 3780 dnat to ${RELAY}:4002
  }
  chain post {
    type nat hook postrouting priority 100; policy accept;
    oifname "rB" udp sport 5001 snat to ${ADDR.sync[0]}
    oifname "rA" udp sport 5002 snat to ${ADDR.sync[1]}
  }
}
`);
  relay = lab.agent(r, 'relay', ['--bind', RELAY, '--a', ADDR.sync[0], '--b', ADDR.sync[1]]);
  assert.is((await relay.next()).event, 'started');
  return [a, b];
}

test.before(async () => {
  lab = new Lab('freo');
  fw = await relayed();
  d = [await startCtsync(lab, fw[0], side(0)), await startCtsync(lab, fw[1], side(1))];
  churn = [new Churn(fw[0].conntrack(), 0), new Churn(fw[1].conntrack(), 500_000)];
  churn[0].create(200);
  churn[1].create(50);
  await both('through the relay, in order');
});

test.after(async () => {
  for (const c of churn ?? []) await c.ct.close();
  await lab?.teardown();
});

async function both(what: string): Promise<void> {
  await converge({ ns: fw[0], from: d[0], to: d[1], expect: [...churn[0].live.values()] }, 60_000, `${what}: fw1 -> fw2`);
  await converge({ ns: fw[1], from: d[1], to: d[0], expect: [...churn[1].live.values()] }, 60_000, `${what}: fw2 -> fw1`);
}

async function relayStats(): Promise<{ forwarded: number; duplicated: number; reordered: number }> {
  return (await relay.request({ cmd: 'stats' })) as unknown as { forwarded: number; duplicated: number; reordered: number };
}

async function churnFor(ms: number, first: number): Promise<void> {
  const end = Date.now() + ms;
  for (let r = first; Date.now() < end; r++) {
    churn[0].round(r, 40);
    churn[1].round(r, 10);
    await sleep(150);
  }
}

test('reordering: datagrams held and released shuffled, 8 at a time', async () => {
  const before = await relayStats();
  await relay.request({ cmd: 'set', hold: 8, holdMs: 40, dup: 0, seed: 7 });
  await churnFor(6000, 100);
  await both('reordered');
  const st = await relayStats();
  assert.ok(st.reordered > before.reordered, `the relay reordered datagrams (${JSON.stringify(st)})`);
  const s = await Promise.all(d.map((x) => x.snapshot()));
  assert.ok(s[0].network.rcvLost + s[1].network.rcvLost > 0, 'gaps seen (and repaired)');
  assert.is(s[0].network.rcvMalformed + s[1].network.rcvMalformed, 0);
});

test('duplication: a third of the datagrams sent twice, the copy a little later', async () => {
  const before = await relayStats();
  const s0 = await Promise.all(d.map((x) => x.snapshot()));
  await relay.request({ cmd: 'set', hold: 1, dup: 0.33, seed: 11 });
  await churnFor(6000, 200);
  await both('duplicated');
  const st = await relayStats();
  assert.ok(st.duplicated > before.duplicated, `the relay duplicated datagrams (${JSON.stringify(st)})`);
  const s = await Promise.all(d.map((x) => x.snapshot()));
  const dropped = s[0].network.rcvBefore + s[1].network.rcvBefore - s0[0].network.rcvBefore - s0[1].network.rcvBefore;
  assert.ok(dropped > 0, 'the copies were dropped as already seen');
  assert.is(s[0].network.rcvMalformed + s[1].network.rcvMalformed, 0);
});

test('both at once', async () => {
  await relay.request({ cmd: 'set', hold: 6, holdMs: 30, dup: 0.25, seed: 13 });
  await churnFor(6000, 300);
  await both('reordered and duplicated');
});

test.run();
