// Captures real messages for the fuzz seeds (root; run once, the output is committed):
//   test/fuzz/seeds/wire-conntrackd.json   datagrams the Debian conntrackd 1.4.7 sent in a lab
//                                          (bulk of conntracks and expectations, control messages)
//   test/fuzz/seeds/ctnetlink-kernel.json  ctnetlink messages from the kernel: dump answers and
//                                          NEW / UPDATE / DESTROY events, conntracks and expectations
//
//   node --import ./build/register.mjs test/fuzz/capture.ts
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withLab } from '../lab/lab.ts';
import { buildSyncPair, ADDR } from '../lab/topology.ts';
import { startConntrackd } from '../lab/daemons.ts';
import type { Netns } from '../lab/netns.ts';
import { inNetns } from '../../src/kernel/netns.ts';
import { NetlinkSocket } from '../../src/kernel/netlink.ts';
import { NlWriter, NLM_F, eachMessage, NLMSG } from '../../src/kernel/nlmsg.ts';
import { SUBSYS_CT, SUBSYS_EXP, CT_MSG, GROUP } from '../../src/kernel/ctnetlink.ts';
import { type Expectation, type Flow, STATUS } from '../../src/flow/flow.ts';

const DIR = new URL('./seeds/', import.meta.url).pathname;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** conntrack -I arguments covering protocols, NAT, zones, marks, labels and IPv6. */
const FLOWS = [
  '-p tcp -s 192.0.2.1 -d 198.51.100.2 --sport 40000 --dport 80 --state ESTABLISHED -u SEEN_REPLY,ASSURED --mark 7 -t 600',
  '-p tcp -s 192.0.2.1 -d 198.51.100.2 --sport 40001 --dport 21 --state ESTABLISHED -u SEEN_REPLY,ASSURED -t 600',
  '-p udp -s 192.0.2.1 -d 198.51.100.2 --sport 1000 --dport 53 -t 60 --zone 5 --dst-nat 198.51.100.9:5353',
  '-p tcp -s 192.0.2.5 -d 198.51.100.2 --sport 50000 --dport 443 --state ESTABLISHED -u SEEN_REPLY --src-nat 198.51.100.77:61000 -t 300',
  '-p icmp -s 192.0.2.1 -d 198.51.100.2 --icmp-type 8 --icmp-code 0 --icmp-id 4660 -t 30',
  '-p icmp -s 192.0.2.3 -d 198.51.100.2 --icmp-type 8 --icmp-code 0 --icmp-id 4661 -t 30 --src-nat 198.51.100.78',
  '-p tcp -s 2001:db8::1 -d 2001:db8::2 --sport 1 --dport 2 --state SYN_SENT -t 100 --mark 65261',
  '-p udp -s 2001:db8::1 -d 2001:db8:2::9 --sport 5000 --dport 5001 -t 120 -u SEEN_REPLY --zone 9',
  '-p sctp -s 192.0.2.7 -d 198.51.100.7 --sport 3868 --dport 3868 --state ESTABLISHED --orig-vtag 1 --reply-vtag 2 -t 200',
  '-p ipv6-icmp -s 2001:db8::5 -d 2001:db8::6 --icmp-type 128 --icmp-code 0 --icmp-id 77 -t 30',
  '-p gre -s 192.0.2.8 -d 198.51.100.8 -t 100',
  '-p udplite -s 192.0.2.9 -d 198.51.100.9 --sport 7 --dport 9 -t 100',
];
const MASTER: Flow = {
  family: 4, orig: { src: '192.0.2.1', dst: '198.51.100.2', proto: 6, sport: 40002, dport: 21 },
  reply: { src: '198.51.100.2', dst: '192.0.2.1', proto: 6, sport: 21, dport: 40002 },
  status: STATUS.SEEN_REPLY | STATUS.ASSURED, timeout: 600, tcp: { state: 3 }, helper: 'ftp',
};
const EXPECT: Expectation = {
  family: 4, master: MASTER.orig,
  tuple: { src: '198.51.100.2', dst: '192.0.2.1', proto: 6, sport: 0, dport: 50002 },
  mask: { src: '255.255.255.255', dst: '255.255.255.255', proto: 6, sport: 0, dport: 65535 },
  timeout: 300, helper: 'ftp',
};

/** An ftp master with its expectation, a mark change on two flows, made through ctnetlink. */
async function special(ns: Netns): Promise<void> {
  const ct = ns.conntrack();
  try {
    const r = ct.create([MASTER]);
    if (r.ok) ct.createExpectations([EXPECT]);
    const upd = ct.dump().filter((f) => f.orig.proto === 6).slice(0, 2).map((f) => ({ ...f, mark: 4242 }));
    ct.update(upd);
  } finally {
    await ct.close();
  }
}

async function conntrackd(): Promise<{ name: string; hex: string }[]> {
  return withLab('seed', async (lab) => {
    const [a, b] = await buildSyncPair(lab);
    for (const ns of [a, b]) await ns.sysctl('net.netfilter.nf_conntrack_helper', 1).catch(() => undefined);
    const peer = lab.agent(b, 'sync-peer');
    await peer.next();
    await peer.request({ cmd: 'capture', address: ADDR.sync[1], port: 3780 });
    const ctd = await startConntrackd(lab, a, {
      iface: 'sync0', local: ADDR.sync[0], peer: ADDR.sync[1], mode: 'ftfw', expectSync: ['all'],
      ignore: ['203.0.113.0/24', '2001:db8:3::/64'],
    });
    for (const f of FLOWS) await a.conntrackCli(['-I', ...f.split(' ')], false);
    await special(a);
    await sleep(1500);
    await ctd.client(['-B'], false);
    await ctd.client(['-n'], false);
    await a.conntrackCli(['-D', '-p', 'tcp', '--orig-port-src', '40000'], false);
    await sleep(2500);
    const got = (await peer.request({ cmd: 'received' })).dgrams as { hex: string }[];
    return got.map((g, i) => ({ name: `conntrackd-${i}`, hex: g.hex }));
  });
}

/** Raw ctnetlink messages: events while flows are made, changed and deleted, then dumps. */
async function kernel(): Promise<{ name: string; hex: string }[]> {
  return withLab('seed', async (lab) => {
    const ns: Netns = await lab.netns('k');
    await ns.sysctl('net.netfilter.nf_conntrack_acct', 1);
    await ns.sysctl('net.netfilter.nf_conntrack_timestamp', 1);
    const out: { name: string; hex: string }[] = [];
    const ev = inNetns(ns.name, () => new NetlinkSocket(12, 1 << 22));
    for (const g of [GROUP.NEW, GROUP.UPDATE, GROUP.DESTROY, GROUP.EXP_NEW, GROUP.EXP_UPDATE, GROUP.EXP_DESTROY]) ev.join(g);
    for (const f of FLOWS) await ns.conntrackCli(['-I', ...f.split(' ')], false);
    await special(ns);
    const take = (sock: NetlinkSocket, tag: string) => {
      for (let n = sock.recv(); n > 0; n = sock.recv()) {
        const dv = new DataView(sock.rbuf.buffer, sock.rbuf.byteOffset, n);
        eachMessage(dv, n, (h, p) => {
          if (h.type === NLMSG.DONE || h.type === NLMSG.ERROR) return;
          out.push({ name: `${tag}-${out.length}`, hex: hex(sock.rbuf.subarray(p - 16, p - 16 + h.len)) });
        });
      }
    };
    await sleep(200);
    take(ev, 'event');
    const dump = inNetns(ns.name, () => new NetlinkSocket(12, 1 << 22));
    for (const subsys of [SUBSYS_CT, SUBSYS_EXP]) {
      const w = new NlWriter(256);
      w.begin((subsys << 8) | CT_MSG.GET, NLM_F.REQUEST | NLM_F.DUMP, 1, 0);
      w.end();
      dump.send(w.data());
      await sleep(100);
      take(dump, subsys === SUBSYS_CT ? 'dump' : 'dump-exp');
    }
    await ns.conntrackCli(['-F'], false);
    await sleep(200);
    take(ev, 'destroy');
    await ev.close();
    await dump.close();
    return out;
  });
}

const wire = await conntrackd();
writeFileSync(join(DIR, 'wire-conntrackd.json'), JSON.stringify(wire, null, 1) + '\n');
const nl = await kernel();
writeFileSync(join(DIR, 'ctnetlink-kernel.json'), JSON.stringify(nl, null, 1) + '\n');
console.log(`${wire.length} conntrackd datagrams, ${nl.length} ctnetlink messages`);
