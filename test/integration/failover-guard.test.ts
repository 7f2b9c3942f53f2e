// timeout: 120
// The commit guard against the VIP-before-commit race. A firewall pair that source-NATs the LAN to
// the WAN virtual address and filters nothing (nf_conntrack_tcp_loose=0): when the addresses move
// to a firewall whose kernel does not know the connections yet, the client's next segments are
// INVALID there, leave un-NATed, and the server answers them with RSTs that kill the connections.
// With the guard installed on the new master those segments are dropped instead (not rejected:
// no RST, no ICMP), and once the entries are in the kernel and the guard is gone, TCP's
// retransmissions carry the connections on. Then the daemon's side: the guard around `commit`,
// a guard left over by a killed daemon, commit-guard off, removal when the process exits.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { withLab, type Lab } from '../lab/lab.ts';
import { buildPair, buildSyncPair, moveVip, ADDR, type Pair } from '../lab/topology.ts';
import { startCtsync, until } from '../lab/daemons.ts';
import type { Netns } from '../lab/netns.ts';
import type { Agent } from '../lab/agent.ts';
import { CommitGuard } from '../../src/failover/guard.ts';
import { GUARD_TABLE, parseGuardCounters, guardRuleset, preciseGuardRuleset } from '../../src/failover/guard-rules.ts';
import { ctsyncCommand } from '../../src/kernel/runtime.ts';
import { run } from '../lab/exec.ts';

const PORT = 7000, CONNECTIONS = 5;

const NAT_NO_FILTER = `
table inet ctsync_lab {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan0" ip saddr 192.0.2.0/24 snat ip to ${ADDR.vipWan}
  }
  chain forward { type filter hook forward priority 0; policy accept; }
  chain input { type filter hook input priority 0; policy accept; }
}
`;

const RST_COUNTER = 'table inet rstcount {\n  chain in {\n    type filter hook input priority 0; policy accept;\n    tcp flags & rst == rst counter\n  }\n}\n';

async function rsts(ns: Netns): Promise<number> {
  const out = (await ns.exec('nft', ['-j', 'list', 'table', 'inet', 'rstcount'])).stdout;
  return parseGuardCounters(out).packets;
}

async function hasGuard(ns: Netns): Promise<boolean> {
  return (await ns.exec('nft', ['list', 'tables'])).stdout.includes(GUARD_TABLE);
}

/** The pair with the virtual addresses on fw1, RST counters on both ends, connections open. */
async function natLab(lab: Lab): Promise<{ p: Pair; clients: Agent }> {
  const p = await buildPair(lab, { staticVip: true, ruleset: NAT_NO_FILTER });
  for (const ns of [p.client, p.server]) await ns.nft(RST_COUNTER);
  const server = lab.agent(p.server, 'tcp-server', ['--port', String(PORT)]);
  await server.next();
  const clients = lab.agent(p.client, 'tcp-clients', ['--server', ADDR.server, '--port', String(PORT), '--count', String(CONNECTIONS)]);
  await clients.next();
  const ok = await clients.request({ cmd: 'check', timeoutMs: 3000 });
  assert.is(ok.ok, CONNECTIONS, 'connections work through fw1');
  return { p, clients };
}

/** The virtual addresses to fw2; the ends forget fw1's MAC (keepalived's gratuitous ARP, without arping). */
async function switchToFw2(p: Pair): Promise<void> {
  await moveVip(p.fw[1], p.fw[0]);
  await p.client.ip('neigh flush dev eth0');
  await p.server.ip('neigh flush dev eth0');
}

/** What a commit does: fw1's entries of the client's connections into fw2's kernel. */
async function commitByHand(p: Pair): Promise<number> {
  const src = p.fw[0].conntrack(), dst = p.fw[1].conntrack();
  try {
    const flows = src.dump(4).filter((f) => f.orig.src === ADDR.client && f.orig.dport === PORT);
    const r = dst.create(flows, { liberal: true });
    return r.ok;
  } finally {
    await src.close();
    await dst.close();
  }
}

test('guard armed on the standby: when the addresses arrive it drops (not rejects) the connections\' segments; after the commit they carry on', async () => {
  await withLab('fgd', async (lab) => {
    const { p, clients } = await natLab(lab);
    const logs: string[] = [];
    const guard = new CommitGuard({ netns: p.fw[1].name, log: (_l, m) => logs.push(m), exemptInterfaces: () => ['sync0'] });
    assert.ok(guard.arm(), logs.join('\n'));
    assert.ok(guard.standby);
    assert.ok(await hasGuard(p.fw[1]));
    assert.not.ok(await hasGuard(p.fw[0]), 'only in the namespace it was asked for');

    await switchToFw2(p);
    const during = await clients.request({ cmd: 'check', timeoutMs: 1500 }, 20000);
    assert.is(during.ok, 0, 'nothing passes while the entries are missing');
    assert.is(during.resets, 0);
    assert.is(await rsts(p.client), 0, 'no RST reached the client');
    assert.is(await rsts(p.server), 0, 'no RST reached the server');
    const held = parseGuardCounters((await p.fw[1].exec('nft', ['-j', 'list', 'table', 'inet', GUARD_TABLE])).stdout);
    assert.ok((held.byRule.invalid ?? 0) >= CONNECTIONS, `dropped as invalid: ${JSON.stringify(held)}`);

    // what a new master does: the commit form while committing, then nothing
    assert.ok(guard.install());
    assert.is(guard.counters.standbyDropped, held.packets, 'the standby drops are counted apart');
    assert.is(await commitByHand(p), CONNECTIONS);
    const drops = guard.remove();
    assert.ok(drops !== undefined);
    assert.not.ok(await hasGuard(p.fw[1]), 'the guard is gone');
    guard.close();
    assert.equal([guard.counters.standbyArms, guard.counters.installs, guard.counters.removals], [1, 1, 1]);
    assert.ok(logs.some((l) => /^commit guard armed for the standby \(table inet ctsync_guard\)/.test(l)), logs.join('\n'));
    assert.ok(logs.some((l) => /^commit guard removed \(commit done\) after [\d.]+ ms: \d+ packets dropped/.test(l)), logs.join('\n'));

    const after = await clients.request({ cmd: 'check', timeoutMs: 10000 }, 30000);
    assert.equal([after.ok, after.failed, after.resets, after.closes], [CONNECTIONS, 0, 0, 0]);
    assert.is(await rsts(p.client), 0);
    assert.is(await rsts(p.server), 0);
  });
});

test('the standby form leaves the node\'s own traffic alone; the commit form holds it too', async () => {
  await withLab('fgd', async (lab) => {
    // a TCP session to fw2 itself, whose entry is then flushed (as the purge does); with
    // tcp_loose=1 its next segment is picked up mid-flow
    const p = await buildPair(lab, { ruleset: NAT_NO_FILTER });
    await p.fw[1].sysctl('net.netfilter.nf_conntrack_tcp_loose', 1);
    const server = lab.agent(p.fw[1], 'tcp-server', ['--port', String(PORT)]);
    await server.next();
    const clients = lab.agent(p.client, 'tcp-clients', ['--server', ADDR.fwLan[1], '--port', String(PORT), '--count', '2']);
    await clients.next();
    const guard = new CommitGuard({ netns: p.fw[1].name, log: () => {} });
    assert.ok(guard.arm());
    await p.fw[1].conntrackCli(['-F']);
    const ok = await clients.request({ cmd: 'check', timeoutMs: 3000 }, 20000);
    assert.equal([ok.ok, ok.resets], [2, 0], 'a session to the standby itself is not the guard\'s business');
    assert.ok(guard.install());
    await p.fw[1].conntrackCli(['-F']);
    const held = await clients.request({ cmd: 'check', timeoutMs: 1500 }, 20000);
    assert.is(held.ok, 0, 'while a commit runs, a mid-flow pickup is dropped wherever it goes');
    guard.remove('test', { standby: true });
    assert.ok(guard.standby, 'back to the standby form');
    const again = await clients.request({ cmd: 'check', timeoutMs: 8000 }, 20000);
    assert.equal([again.ok, again.resets], [2, 0]);
    guard.disarm('test');
    assert.not.ok(await hasGuard(p.fw[1]));
    guard.close();
  });
});

test('without the guard the same switch resets the connections (what the guard prevents)', async () => {
  await withLab('fgd', async (lab) => {
    const { p, clients } = await natLab(lab);
    await switchToFw2(p);
    await clients.request({ cmd: 'check', timeoutMs: 1500 }, 20000);
    await until(async () => (await rsts(p.client)) > 0, 5000, 'RSTs at the client');
    await commitByHand(p);
    const after = await clients.request({ cmd: 'check', timeoutMs: 2000 }, 20000);
    assert.ok(Number(after.resets) > 0, `connections reset: ${JSON.stringify(after)}`);
    assert.ok(Number(after.ok) < CONNECTIONS);
  });
});

test('ctsync: armed by BACKUP, widened around `ctsync commit`, gone on MASTER; a leftover removed at start; commit-guard off', async () => {
  await withLab('fgd', async (lab) => {
    const [a, b] = await buildSyncPair(lab);
    // a guard table left behind by a daemon that was killed during a commit
    await b.nft(`table inet ${GUARD_TABLE} {\n  chain prerouting {\n    type filter hook prerouting priority -150; policy accept;\n    ct state invalid drop\n  }\n}\n`);
    const setup = (i: number) => ({ iface: 'sync0', local: ADDR.sync[i], eventSource: 'netlink' as const, ignore: ['203.0.113.0/24', '2001:db8:3::/64'] });
    await startCtsync(lab, a, setup(0));
    const d = await startCtsync(lab, b, setup(1));
    assert.not.ok(await hasGuard(b), 'the leftover is gone');
    let s = await d.snapshot();
    assert.is(s.commit.guard?.leftovers, 1);
    assert.match(d.output, /removed a commit guard \(table inet ctsync_guard\) left by a previous run/);

    for (let i = 0; i < 3; i++) {
      await a.conntrackCli(['-I', '-p', 'tcp', '-s', '192.0.2.10', '-d', '198.51.100.20', '--sport', String(40000 + i), '--dport', '443',
        '--state', 'ESTABLISHED', '-u', 'SEEN_REPLY,ASSURED', '-t', '600']);
    }
    await until(async () => (await d.cache('external')).length >= 3, 15000, 'external cache filled');
    // BACKUP arms the standby form
    assert.match((await d.cli(['failover', 'backup', 'SG1'])).stdout, /^BACKUP: done in [\d.]+ ms/);
    s = await d.snapshot();
    assert.equal([s.commit.guard?.standby, s.commit.guard?.standbyArms], [true, 1]);
    assert.ok(await hasGuard(b));
    // a commit by hand on the backup: the commit form, then the standby form again
    const out = (await d.cli(['commit'])).stdout;
    assert.match(out, /^committed 3 entries, 0 failed/);
    s = await d.snapshot();
    assert.equal([s.commit.guard?.enabled, s.commit.guard?.installs, s.commit.guard?.removals, s.commit.guard?.installed, s.commit.guard?.standby,
      s.commit.guard?.installFailed], [true, 1, 1, false, true, 0]);
    assert.match(d.output, /commit guard installed in [\d.]+ ms \(table inet ctsync_guard\)/);
    assert.match(d.output, /standby form back in place/);
    // MASTER: the commit form around the commit, then no guard at all
    await d.cli(['failover', 'master', 'SG1']);
    s = await d.snapshot();
    assert.equal([s.commit.guard?.installs, s.commit.guard?.removals, s.commit.guard?.installed, s.commit.guard?.standby], [2, 2, false, false]);
    assert.not.ok(await hasGuard(b));

    // commit-guard is read at each commit: switched off by a reload
    writeFileSync(d.configFile, `${(await run('cat', [d.configFile])).stdout}set service conntrack-sync commit-guard off\n`);
    await d.request('reload');
    await d.cli(['failover', 'backup', 'SG1']);
    await d.cli(['commit']);
    s = await d.snapshot();
    assert.equal([s.commit.commits, s.commit.guard?.enabled, s.commit.guard?.installs, s.commit.guard?.standbyArms], [3, false, 2, 1]);
    assert.not.ok(await hasGuard(b));
  });
});

test('a process that exits with the guard installed takes it away', async () => {
  await withLab('fgd', async (lab) => {
    const ns = await lab.netns('g');
    // the agent process runs in the root namespace and works on ns through a socket opened there
    const [cmd, argv] = ctsyncCommand(['__agent', 'guard-exit', '--netns', ns.name]);
    const r = await run(cmd, argv);
    assert.is(JSON.parse(r.stdout.trim()).event, 'installed');
    assert.not.ok(await hasGuard(ns), 'removed by the exit hook');
  });
});

test('what ctsync installs over netlink is what nft makes of the guard\'s text; the precise variant loads too', async () => {
  await withLab('fgd', async (lab) => {
    const [a, b] = [await lab.netns('a'), await lab.netns('b')];
    const guard = new CommitGuard({ netns: a.name, log: () => {}, exemptInterfaces: () => ['sync0', 'sync1'] });
    const norm = async (ns: Netns) => {
      const doc = JSON.parse((await ns.exec('nft', ['-j', 'list', 'table', 'inet', GUARD_TABLE])).stdout) as { nftables: Record<string, Record<string, unknown>>[] };
      return doc.nftables.filter((x) => !x.metainfo).map((x) => {
        const [kind, body] = Object.entries(x)[0];
        const { handle: _h, ...rest } = body;
        return { [kind]: rest };
      });
    };
    for (const [stage, rules] of [['standby', 4], ['commit', 5]] as const) {
      if (stage === 'standby') assert.ok(guard.arm()); else assert.ok(guard.install());
      await b.nft(guardRuleset({ stage, exemptInterfaces: ['sync0', 'sync1'] }));
      const got = await norm(a), want = await norm(b);
      assert.is(got.length, 2 + 2 + rules, `${stage}: table, chain, two exemptions, ${rules} rules`);
      assert.equal(got, want, stage);
      await b.exec('nft', ['delete', 'table', 'inet', GUARD_TABLE]);
    }
    guard.remove();
    guard.close();
    const flows = (await (async () => {
      const ct = a.conntrack();
      try { return ct.dump(4); } finally { await ct.close(); }
    })()).concat([{
      family: 4, status: 0, orig: { src: '192.0.2.100', dst: '198.51.100.100', proto: 6, sport: 40000, dport: 7000 },
      reply: { src: '198.51.100.100', dst: '198.51.100.1', proto: 6, sport: 7000, dport: 61000 },
    }, {
      family: 6, status: 0, orig: { src: '2001:db8:1::100', dst: '2001:db8:2::100', proto: 17, sport: 5000, dport: 53 },
      reply: { src: '2001:db8:2::100', dst: '2001:db8:1::100', proto: 17, sport: 53, dport: 5000 },
    }]);
    await a.nft(preciseGuardRuleset(flows));
    const listed = (await a.exec('nft', ['list', 'set', 'inet', GUARD_TABLE, 'flows4'])).stdout;
    assert.match(listed, /198\.51\.100\.100 \. tcp \. 7000 \. 198\.51\.100\.1 \. 61000/);
  });
});

test.run();
