// Lab topologies. Addresses are documentation ranges only:
//   LAN  192.0.2.0/24     2001:db8:1::/64   client .100, fw1 .2, fw2 .3, virtual address .1
//   WAN  198.51.100.0/24  2001:db8:2::/64   server .100, fw1 .2, fw2 .3, virtual address .1
//   sync 203.0.113.0/24   2001:db8:3::/64   fw1 .1, fw2 .2 (dedicated veth; a second one on .0.5/.6 when asked)
import type { Lab } from './lab.ts';
import type { Netns } from './netns.ts';

export const ADDR = {
  client: '192.0.2.100', client6: '2001:db8:1::100',
  server: '198.51.100.100', server6: '2001:db8:2::100',
  vipLan: '192.0.2.1', vipWan: '198.51.100.1', vipLan6: '2001:db8:1::1', vipWan6: '2001:db8:2::1',
  fwLan: ['192.0.2.2', '192.0.2.3'], fwWan: ['198.51.100.2', '198.51.100.3'],
  fwLan6: ['2001:db8:1::2', '2001:db8:1::3'], fwWan6: ['2001:db8:2::2', '2001:db8:2::3'],
  sync: ['203.0.113.1', '203.0.113.2'], sync6: ['2001:db8:3::1', '2001:db8:3::2'],
  sync2: ['203.0.113.5', '203.0.113.6'],
} as const;

/**
 * A stateful firewall: established/related accepted, invalid dropped, new connections only from
 * the LAN side (TCP only with a bare SYN), everything to and from the firewall itself accepted.
 */
export function firewallRuleset(lanIf = 'lan0'): string {
  return `
table inet ctsync_lab {
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    ct state invalid drop
    iifname "${lanIf}" tcp flags & (syn | ack | fin | rst) == syn ct state new accept
    iifname "${lanIf}" meta l4proto { udp, icmp, ipv6-icmp } ct state new accept
  }
  chain input {
    type filter hook input priority 0; policy accept;
    ct state invalid drop
  }
  chain output {
    type filter hook output priority 0; policy accept;
    ct state new accept
  }
}
`;
}

/** A ruleset that only switches conntrack on (every packet tracked, nothing dropped). */
export const TRACK_ALL = `
table inet ctsync_track {
  chain pre {
    type filter hook prerouting priority 0; policy accept;
    ct state new accept
  }
  chain out {
    type filter hook output priority 0; policy accept;
    ct state new accept
  }
}
`;

async function veth(a: Netns, aIf: string, b: Netns, bIf: string): Promise<void> {
  await a.ip(`link add ${aIf} type veth peer name ${bIf} netns ${b.name}`);
  await a.ip(`link set ${aIf} up`);
  await b.ip(`link set ${bIf} up`);
}

async function sw(lab: Lab, name: string): Promise<Netns> {
  const s = await lab.netns(name);
  await s.ip('link add br0 type bridge mcast_snooping 0');
  await s.ip('link set br0 up');
  return s;
}

async function port(s: Netns, ifname: string): Promise<void> {
  await s.ip(`link set ${ifname} master br0`);
}

export interface Single {
  /** the namespace whose conntrack table is under test */
  fw: Netns;
  sink: Netns;
}

/**
 * One namespace with conntrack on and routes to 198.51.100.0/24, 203.0.113.0/24 and
 * 2001:db8:2::/64 through a veth whose other end sits, unaddressed, in a sink namespace: traffic
 * sent from `fw` makes real conntrack entries and goes nowhere.
 */
export async function buildSingle(lab: Lab, ruleset = TRACK_ALL): Promise<Single> {
  const fw = await lab.netns('fw');
  const sink = await lab.netns('sink');
  await veth(fw, 'out0', sink, 'in0');
  await fw.ip('addr add 192.0.2.2/24 dev out0');
  await fw.ip('addr add 2001:db8:1::2/64 dev out0 nodad');
  await fw.ip('neigh add 192.0.2.254 lladdr 02:00:00:00:00:fe dev out0 nud permanent');
  await fw.ip('neigh add 2001:db8:1::fe lladdr 02:00:00:00:00:fe dev out0 nud permanent');
  await fw.ip('route add 198.51.100.0/24 via 192.0.2.254');
  await fw.ip('route add 203.0.113.0/24 via 192.0.2.254');
  await fw.ip('-6 route add 2001:db8:2::/64 via 2001:db8:1::fe');
  await fw.nft(ruleset);
  return { fw, sink };
}

export interface Pair {
  client: Netns;
  server: Netns;
  fw: [Netns, Netns];
  lan: Netns;
  wan: Netns;
}

export interface PairOptions {
  /** put the virtual addresses on fw[0] (when keepalived is not used) */
  staticVip?: boolean;
  /** a second dedicated sync link (sync1) */
  secondSyncLink?: boolean;
  /** nftables ruleset for the firewalls (default: the stateful policy) */
  ruleset?: string;
}

/** client — LAN switch — two firewalls (+ dedicated sync link) — WAN switch — server. */
export async function buildPair(lab: Lab, opt: PairOptions = {}): Promise<Pair> {
  const client = await lab.netns('cl');
  const server = await lab.netns('sv');
  const lan = await sw(lab, 'lan');
  const wan = await sw(lab, 'wan');
  const fw: [Netns, Netns] = [await lab.netns('fw1'), await lab.netns('fw2')];

  await veth(client, 'eth0', lan, 'p-cl');
  await port(lan, 'p-cl');
  await client.ip(`addr add ${ADDR.client}/24 dev eth0`);
  await client.ip(`addr add ${ADDR.client6}/64 dev eth0 nodad`);
  await client.ip(`route add default via ${ADDR.vipLan}`);
  await client.ip(`-6 route add default via ${ADDR.vipLan6}`);

  await veth(server, 'eth0', wan, 'p-sv');
  await port(wan, 'p-sv');
  await server.ip(`addr add ${ADDR.server}/24 dev eth0`);
  await server.ip(`addr add ${ADDR.server6}/64 dev eth0 nodad`);
  await server.ip(`route add default via ${ADDR.vipWan}`);
  await server.ip(`-6 route add default via ${ADDR.vipWan6}`);

  for (let i = 0; i < 2; i++) {
    const f = fw[i];
    await veth(f, 'lan0', lan, `p-fw${i + 1}`);
    await port(lan, `p-fw${i + 1}`);
    await veth(f, 'wan0', wan, `p-fw${i + 1}`);
    await port(wan, `p-fw${i + 1}`);
    await f.ip(`addr add ${ADDR.fwLan[i]}/24 dev lan0`);
    await f.ip(`addr add ${ADDR.fwWan[i]}/24 dev wan0`);
    await f.ip(`addr add ${ADDR.fwLan6[i]}/64 dev lan0 nodad`);
    await f.ip(`addr add ${ADDR.fwWan6[i]}/64 dev wan0 nodad`);
    await f.sysctl('net.ipv4.ip_forward', 1);
    await f.sysctl('net.ipv6.conf.all.forwarding', 1);
    await f.sysctl('net.netfilter.nf_conntrack_tcp_loose', 0);
    await f.nft(opt.ruleset ?? firewallRuleset());
  }
  await veth(fw[0], 'sync0', fw[1], 'sync0');
  for (let i = 0; i < 2; i++) {
    await fw[i].ip(`addr add ${ADDR.sync[i]}/24 dev sync0`);
    await fw[i].ip(`addr add ${ADDR.sync6[i]}/64 dev sync0 nodad`);
  }
  if (opt.secondSyncLink) {
    await veth(fw[0], 'sync1', fw[1], 'sync1');
    for (let i = 0; i < 2; i++) await fw[i].ip(`addr add ${ADDR.sync2[i]}/30 dev sync1`);
  }
  if (opt.staticVip) await moveVip(fw[0]);
  return { client, server, fw, lan, wan };
}

/** Puts the virtual addresses on a firewall and announces them (what keepalived does). */
export async function moveVip(to: Netns, from?: Netns): Promise<void> {
  if (from) {
    for (const a of [`${ADDR.vipLan}/24 dev lan0`, `${ADDR.vipWan}/24 dev wan0`, `${ADDR.vipLan6}/64 dev lan0`, `${ADDR.vipWan6}/64 dev wan0`]) {
      await from.ip(`addr del ${a}`);
    }
  }
  await to.ip(`addr add ${ADDR.vipLan}/24 dev lan0`);
  await to.ip(`addr add ${ADDR.vipWan}/24 dev wan0`);
  await to.ip(`addr add ${ADDR.vipLan6}/64 dev lan0 nodad`);
  await to.ip(`addr add ${ADDR.vipWan6}/64 dev wan0 nodad`);
  // gratuitous ARP / unsolicited NA so the switches and hosts learn the new owner
  await to.exec('arping', ['-U', '-c', '1', '-I', 'lan0', ADDR.vipLan], { check: false });
  await to.exec('arping', ['-U', '-c', '1', '-I', 'wan0', ADDR.vipWan], { check: false });
}

/** Two firewalls joined only by their sync link (sync0), conntrack on in both: for sync tests. */
export async function buildSyncPair(lab: Lab, ruleset = TRACK_ALL): Promise<[Netns, Netns]> {
  const fw: [Netns, Netns] = [await lab.netns('fw1'), await lab.netns('fw2')];
  await veth(fw[0], 'sync0', fw[1], 'sync0');
  for (let i = 0; i < 2; i++) {
    await fw[i].ip(`addr add ${ADDR.sync[i]}/24 dev sync0`);
    await fw[i].ip(`addr add ${ADDR.sync6[i]}/64 dev sync0 nodad`);
    await fw[i].nft(ruleset);
  }
  return fw;
}
