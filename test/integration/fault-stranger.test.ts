// timeout: 240
// Strangers on the sync link. Three namespaces on one switch: fw1 and fw2 synchronising, and x.
//  - unicast: a well-formed CT_NEW from x (not the configured peer) is dropped and counted;
//  - multicast with auth-key-file: x's forged datagram (wrong key), a plain conntrackd datagram,
//    a replay of a datagram x captured, and a datagram from outside the subnet are all dropped and
//    counted (bad HMAC, replay, own sender id reflected, foreign source), nothing reaches the
//    external cache, and replication goes on;
//  - the control sockets are 0600 in a 0700 directory: a connection as `nobody` gets EACCES.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { withLab, type Lab } from '../lab/lab.ts';
import type { Netns } from '../lab/netns.ts';
import type { Agent } from '../lab/agent.ts';
import { startCtsync, until, type CtsyncDaemon } from '../lab/daemons.ts';
import { TRACK_ALL } from '../lab/topology.ts';
import { type Flow, STATUS } from '../../src/flow/flow.ts';
import { encodeCt } from '../../src/sync/codec.ts';
import { FLAG, MSG } from '../../src/sync/wire.ts';
import { Authenticator, AUTH_TRAILER_SIZE } from '../../src/sync/auth.ts';
import { Churn, IGNORE, converge, side } from './fault-common.ts';

const X = '203.0.113.9', X_FOREIGN = '198.51.100.9';

async function threeOnASwitch(lab: Lab): Promise<{ fw: [Netns, Netns]; x: Netns }> {
  const sw = await lab.netns('sw');
  await sw.ip('link add br0 type bridge mcast_snooping 0');
  await sw.ip('link set br0 up');
  const fw: [Netns, Netns] = [await lab.netns('fw1'), await lab.netns('fw2')];
  const x = await lab.netns('x');
  const nodes: [Netns, string, string][] = [[fw[0], 'sync0', '203.0.113.1/24'], [fw[1], 'sync0', '203.0.113.2/24'], [x, 'eth0', `${X}/24`]];
  for (const [i, [ns, dev, addr]] of nodes.entries()) {
    await ns.ip(`link add ${dev} type veth peer name p${i} netns ${sw.name}`);
    await sw.ip(`link set p${i} master br0`);
    await sw.ip(`link set p${i} up`);
    await ns.ip(`link set ${dev} up`);
    await ns.ip(`addr add ${addr} dev ${dev}`);
  }
  await x.ip(`addr add ${X_FOREIGN}/24 dev eth0`);
  // x reaches the multicast group through eth0 whatever source it picks
  await x.ip('route add 224.0.0.0/4 dev eth0');
  for (const ns of fw) await ns.nft(TRACK_ALL);
  return { fw, x };
}

const FORGED: Flow = {
  family: 4, orig: { src: '192.0.2.250', dst: '198.51.100.250', proto: 6, sport: 4444, dport: 22 },
  reply: { src: '198.51.100.250', dst: '192.0.2.250', proto: 6, sport: 22, dport: 4444 },
  status: STATUS.SEEN_REPLY | STATUS.ASSURED | STATUS.CONFIRMED, timeout: 600, tcp: { state: 3 },
};

/** A CT_NEW datagram for FORGED, optionally with an auth trailer made with `key`. */
function forged(seq: number, key?: Uint8Array): string {
  const b = new Uint8Array(2048);
  let n = encodeCt(b, 0, MSG.CT_NEW, FLAG.HELLO, seq, FORGED);
  if (key) n = new Authenticator(key).seal(b, n);
  return Buffer.from(b.subarray(0, n)).toString('hex');
}

const rawSend = (a: Agent, hex: string, to: string, from: string, multicast: boolean) =>
  a.request({ cmd: 'raw-send', hex, to, port: 3780, from, ...(multicast ? { multicastInterface: from } : {}) });

const hasForged = async (d: CtsyncDaemon) => (await d.cache('external')).some((f) => f.orig.src === FORGED.orig.src);

test('unicast: a datagram from an address that is not the peer is dropped and counted', async () => {
  await withLab('fstr', async (lab) => {
    const { fw, x } = await threeOnASwitch(lab);
    const d = [await startCtsync(lab, fw[0], side(0)), await startCtsync(lab, fw[1], side(1))];
    const agent = lab.agent(x, 'sync-peer');
    assert.is((await agent.next()).event, 'started');
    for (let i = 0; i < 3; i++) await rawSend(agent, forged(1000 + i), '203.0.113.2', X, false);
    await until(async () => ((await d[1].snapshot()).links[0].dropForeign ?? 0) >= 3, 5000, 'foreign datagrams counted');
    assert.not.ok(await hasForged(d[1]), 'the stranger\'s flow is not in the external cache');
    assert.is((await d[1].snapshot()).network.rcvMalformed, 0, 'dropped before the decoder');
    const churn = new Churn(fw[0].conntrack());
    try {
      churn.create(50);
      await converge({ ns: fw[0], from: d[0], to: d[1], expect: [...churn.live.values()] }, 15_000, 'replication goes on');
    } finally {
      await churn.ct.close();
    }
  });
});

test('multicast with auth-key-file: forged, unauthenticated, replayed, reflected and foreign datagrams are all refused', async () => {
  await withLab('fstr', async (lab) => {
    const { fw, x } = await threeOnASwitch(lab);
    const keyFile = join(lab.dir, 'sync.key');
    writeFileSync(keyFile, 'Zm9yIGN0c3luYyB0ZXN0cyBvbmx5LCBub3QgYSByZWFsIGtleQ==\n', { mode: 0o600 });
    const extra = [`set service conntrack-sync auth-key-file ${keyFile}`];
    // x's datagram from outside the subnet makes a conntrack of its own on the firewalls
    const ignore = [...IGNORE, X_FOREIGN];
    const d = [await startCtsync(lab, fw[0], side(0, { multicast: true, extra, ignore })), await startCtsync(lab, fw[1], side(1, { multicast: true, extra, ignore }))];
    const churn = new Churn(fw[0].conntrack());
    const agent = lab.agent(x, 'sync-peer');
    try {
      assert.is((await agent.next()).event, 'started');
      // x listens to the group like any host of the subnet
      assert.is((await agent.request({ cmd: 'link', links: [{ interface: 'eth0', kind: 'multicast' }] })).event, 'ok');
      churn.create(100);
      await converge({ ns: fw[0], from: d[0], to: d[1], expect: [...churn.live.values()], ignore }, 15_000, 'authenticated replication');
      const heard = (await agent.request({ cmd: 'received' })).dgrams as { hex: string }[];
      const captured = heard.map((g) => g.hex).find((h) => h.length / 2 > 200);
      assert.ok(captured, `x captured a data datagram (${heard.length} heard)`);
      assert.ok(heard.every((g) => g.hex.length / 2 >= AUTH_TRAILER_SIZE + 8), 'every datagram carries a trailer');
      const before = (await d[1].snapshot()).links[0];

      const wrongKey = new TextEncoder().encode('not-the-key-of-this-pair-at-all');
      await rawSend(agent, forged(5000, wrongKey), '225.0.0.50', X, true); // wrong key
      await rawSend(agent, forged(5001), '225.0.0.50', X, true); // what conntrackd would send
      await rawSend(agent, captured!, '225.0.0.50', X, true); // replayed: fw2 saw it, fw1 sent it
      await rawSend(agent, forged(5002, wrongKey), '225.0.0.50', X_FOREIGN, true); // outside the subnet
      await until(async () => {
        const l = (await d[1].snapshot()).links[0];
        return (l.dropAuth ?? 0) >= (before.dropAuth ?? 0) + 2 && (l.dropReplay ?? 0) >= (before.dropReplay ?? 0) + 1 &&
          (l.dropForeign ?? 0) >= (before.dropForeign ?? 0) + 1;
      }, 5000, 'fw2 counted: 2 bad HMAC, 1 replay, 1 foreign');
      await until(async () => ((await d[0].snapshot()).links[0].dropReflected ?? 0) >= 1, 5000, 'fw1 refused its own datagram');
      assert.not.ok(await hasForged(d[1]), 'nothing forged in fw2\'s external cache');
      assert.not.ok(await hasForged(d[0]), 'nor in fw1\'s');
      const s = await d[1].snapshot();
      assert.is(s.network.rcvMalformed, 0, 'refused before the decoder');
      churn.round(9, 40);
      await converge({ ns: fw[0], from: d[0], to: d[1], expect: [...churn.live.values()], ignore }, 15_000, 'replication goes on');
    } finally {
      await churn.ct.close();
    }
  });
});

test('control sockets: 0600 in a 0700 directory; `nobody` gets EACCES; the daemon carries on', async () => {
  await withLab('fstr', async (lab) => {
    const { fw } = await threeOnASwitch(lab);
    const d = await startCtsync(lab, fw[0], side(0));
    for (const p of [d.socket, d.compatSocket]) assert.is(statSync(p).mode & 0o777, 0o600, p);
    assert.is(statSync(dirname(d.socket)).mode & 0o777, 0o700);
    const asNobody = () => {
      const script = `const net=require('net');let n=0;for(const p of process.argv.slice(1)){const s=net.connect(p);` +
        `s.on('connect',()=>{console.log(p+' connected');s.destroy();});s.on('error',(e)=>console.log(p+' '+e.code));}`;
      const r = spawnSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', 'node', '-e', script, d.socket, d.compatSocket], { encoding: 'utf8' });
      assert.is(r.status, 0, r.stderr);
      return r.stdout.trim().split('\n').sort();
    };
    const want = [`${d.compatSocket} EACCES`, `${d.socket} EACCES`].sort();
    assert.equal(asNobody(), want, 'the directory keeps nobody out');
    // even with a directory others may cross, the sockets themselves refuse
    chmodSync(dirname(d.socket), 0o711);
    try {
      assert.equal(asNobody(), want, 'the socket mode keeps nobody out');
    } finally {
      chmodSync(dirname(d.socket), 0o700);
    }
    const s = await d.snapshot();
    assert.is(s.runtime.localUnknownRequest, 0, 'nothing reached the daemon');
    assert.ok(s.daemon.pid > 0, 'and it still answers root');
  });
});

test.run();
