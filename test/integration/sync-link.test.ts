// timeout: 120
// Sync links between two namespaces joined by veth: multicast and unicast, IPv4 and IPv6,
// source checks (foreign datagrams dropped and counted), no multicast loopback, MTU and socket
// buffers, and switch-over between two links.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withLab, type Lab } from '../lab/lab.ts';
import type { Netns } from '../lab/netns.ts';
import type { Agent } from '../lab/agent.ts';
import type { LinkConfig } from '../../src/sync/link.ts';
import type { LinkStat } from '../../src/sync/links.ts';

const A4 = '203.0.113.1', B4 = '203.0.113.2';
const A6 = '2001:db8:3::1', B6 = '2001:db8:3::2';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Side { ns: Netns; agent: Agent }

async function twoNodes(lab: Lab, links = 1): Promise<[Side, Side]> {
  const a = await lab.netns('a');
  const b = await lab.netns('b');
  for (let i = 0; i < links; i++) {
    const dev = `sync${i}`;
    await a.ip(`link add ${dev} type veth peer name ${dev} netns ${b.name}`);
    await a.ip(`link set ${dev} mtu 1400 up`);
    await b.ip(`link set ${dev} mtu 1400 up`);
    const net4 = i === 0 ? '203.0.113' : '198.51.100';
    await a.ip(`addr add ${net4}.1/24 dev ${dev}`);
    await b.ip(`addr add ${net4}.2/24 dev ${dev}`);
    await a.ip(`addr add 2001:db8:${3 + i}::1/64 dev ${dev} nodad`);
    await b.ip(`addr add 2001:db8:${3 + i}::2/64 dev ${dev} nodad`);
  }
  const sides: Side[] = [];
  for (const ns of [a, b]) {
    const agent = lab.agent(ns, 'sync-peer');
    assert.is((await agent.next()).event, 'started');
    sides.push({ ns, agent });
  }
  return sides as [Side, Side];
}

async function openLinks(s: Side, links: LinkConfig[]): Promise<{ maxPayload: number }> {
  const r = await s.agent.request({ cmd: 'link', links });
  assert.is(r.event, 'ok', JSON.stringify(r));
  return r as unknown as { maxPayload: number };
}

async function received(s: Side, clear = false): Promise<{ hex: string; link: number }[]> {
  return (await s.agent.request({ cmd: 'received', clear })).dgrams as { hex: string; link: number }[];
}

async function waitReceived(s: Side, n: number): Promise<{ hex: string; link: number }[]> {
  for (let i = 0; i < 50; i++) {
    const r = await received(s);
    if (r.length >= n) return r;
    await sleep(100);
  }
  return received(s);
}

async function stats(s: Side): Promise<{ links: LinkStat[]; active: number }> {
  return (await s.agent.request({ cmd: 'stats' })) as unknown as { links: LinkStat[]; active: number };
}

const send = (s: Side, hex: string, count = 1) => s.agent.request({ cmd: 'send', hex, count });
const rawSend = (s: Side, hex: string, to: string, port: number, from: string, multicastInterface?: string) =>
  s.agent.request({ cmd: 'raw-send', hex, to, port, from, multicastInterface });

const ALIVE_A = '1a100008' + '00000001';
const ALIVE_B = '1a100008' + '00000002';

test('multicast: datagrams cross, no loopback, foreign sources dropped and counted', async () => {
  await withLab('slnk', async (lab) => {
    const [a, b] = await twoNodes(lab);
    const cfg: LinkConfig = { interface: 'sync0', kind: 'multicast' };
    const ra = await openLinks(a, [cfg]);
    await openLinks(b, [cfg]);
    assert.is(ra.maxPayload, 1400 - 28, 'MTU read from /sys, minus IPv4+UDP');
    await send(a, ALIVE_A, 3);
    await send(b, ALIVE_B, 2);
    const atB = await waitReceived(b, 3);
    const atA = await waitReceived(a, 2);
    assert.equal(atB.map((d) => d.hex), [ALIVE_A, ALIVE_A, ALIVE_A]);
    assert.equal(atA.map((d) => d.hex), [ALIVE_B, ALIVE_B], 'A never hears itself');
    // a sender outside the link's subnet: dropped and counted; one inside: accepted
    await b.ns.ip('addr add 198.51.100.9/24 dev sync0');
    await b.ns.ip('addr add 203.0.113.3/24 dev sync0');
    await rawSend(b, 'deadbeef', '225.0.0.50', 3780, '198.51.100.9', '198.51.100.9');
    await rawSend(b, 'cafe0001', '225.0.0.50', 3780, '203.0.113.3', '203.0.113.3');
    // unicast to the multicast port never reaches the group-bound socket
    await rawSend(b, 'cafe0002', A4, 3780, B4);
    const after = await waitReceived(a, 3);
    await sleep(200);
    const hexes = (await received(a)).map((d) => d.hex);
    assert.ok(hexes.includes('cafe0001'), `same-subnet sender accepted: ${hexes}`);
    assert.not.ok(hexes.includes('deadbeef'), 'foreign sender dropped');
    assert.not.ok(hexes.includes('cafe0002'));
    assert.is(after.length, 3);
    const sa = await stats(a);
    const l = sa.links[0];
    assert.is(l.counters.dropForeign, 1);
    assert.is(l.counters.pktsRecv, 4, 'received (and counted) before the source check');
    assert.is(l.counters.pktsSent, 3);
    assert.is(l.counters.bytesSent, 3 * 8);
    assert.is(l.status, 'RUNNING');
    assert.is(l.role, 'ACTIVE');
    assert.ok(l.recvBufferBytes >= 1 << 20, `receive buffer ${l.recvBufferBytes}`);
    assert.ok(l.sendBufferBytes >= 1 << 20, `send buffer ${l.sendBufferBytes}`);
  });
});

test('unicast over IPv4 and IPv6: only the configured peer is heard', async () => {
  await withLab('slnk', async (lab) => {
    const [a, b] = await twoNodes(lab);
    await openLinks(a, [{ interface: 'sync0', kind: 'unicast', peer: B4, port: 3780 }, { interface: 'sync0', kind: 'unicast', peer: B6, port: 3781 }]);
    await openLinks(b, [{ interface: 'sync0', kind: 'unicast', peer: A4, port: 3780, listenAddress: B4 }, { interface: 'sync0', kind: 'unicast', peer: A6, port: 3781 }]);
    await send(a, ALIVE_A, 2);
    const atB = await waitReceived(b, 2);
    assert.equal(atB.map((d) => [d.hex, d.link]), [[ALIVE_A, 0], [ALIVE_A, 0]]);
    // B hears A on the IPv6 link: A makes it active and answers there
    await b.ns.ip('addr add 203.0.113.3/24 dev sync0');
    await b.ns.ip(`addr add 2001:db8:3::3/64 dev sync0 nodad`);
    await rawSend(b, 'deadbeef', A4, 3780, '203.0.113.3');
    await rawSend(b, 'deadbee6', A6, 3781, '2001:db8:3::3');
    await rawSend(b, 'cafe0006', A6, 3781, B6);
    const atA = await waitReceived(a, 1);
    assert.equal(atA.map((d) => [d.hex, d.link]), [['cafe0006', 1]]);
    const sa = await stats(a);
    assert.is(sa.active, 1, 'switched to the link the peer was heard on');
    assert.equal(sa.links.map((l) => l.counters.dropForeign), [1, 1]);
    assert.equal(sa.links.map((l) => l.role), ['BACKUP', 'ACTIVE']);
    assert.is(sa.links[1].mtu, 1400);
    await received(b, true);
    await send(a, ALIVE_A, 1);
    const v6 = await waitReceived(b, 1);
    assert.equal(v6.map((d) => [d.hex, d.link]), [[ALIVE_A, 1]], 'sent on the IPv6 link now');
  });
});

test('IPv6 multicast link', async () => {
  await withLab('slnk', async (lab) => {
    const [a, b] = await twoNodes(lab);
    const cfg: LinkConfig = { interface: 'sync0', kind: 'multicast', group: 'ff02::3780' };
    const r = await openLinks(a, [cfg]);
    assert.is(r.maxPayload, 1400 - 48, 'IPv6 header counted');
    await openLinks(b, [cfg]);
    await send(a, ALIVE_A, 2);
    await send(b, ALIVE_B, 1);
    assert.equal((await waitReceived(b, 2)).map((d) => d.hex), [ALIVE_A, ALIVE_A]);
    assert.equal((await waitReceived(a, 1)).map((d) => d.hex), [ALIVE_B]);
  });
});

test('two links: the active one moves away from a link that goes down', async () => {
  await withLab('slnk', async (lab) => {
    const [a, b] = await twoNodes(lab, 2);
    const cfg: LinkConfig[] = [{ interface: 'sync0', kind: 'multicast' }, { interface: 'sync1', kind: 'multicast' }];
    await openLinks(a, cfg);
    await openLinks(b, cfg);
    assert.is((await stats(a)).active, 0);
    await a.ns.ip('link set sync0 down');
    // the kernel reports the peer's carrier loss asynchronously (link watch)
    let sa = await stats(a), sb = await stats(b);
    for (let i = 0; i < 40 && (sa.active !== 1 || sb.active !== 1); i++) {
      await sleep(100);
      await a.agent.request({ cmd: 'check' });
      await b.agent.request({ cmd: 'check' });
      sa = await stats(a);
      sb = await stats(b);
    }
    assert.is(sa.active, 1);
    assert.equal(sa.links.map((l) => [l.status, l.role]), [['DOWN', 'BACKUP'], ['RUNNING', 'ACTIVE']]);
    assert.equal(sb.links.map((l) => [l.status, l.role]), [['NO-CARRIER', 'BACKUP'], ['RUNNING', 'ACTIVE']]);
    await send(a, ALIVE_A, 1);
    assert.equal((await waitReceived(b, 1)).map((d) => [d.hex, d.link]), [[ALIVE_A, 1]]);
  });
});

test.run();
