// timeout: 150
// keepalived in two lab namespaces (one sync group: a LAN and a WAN instance), ctsync on both
// firewalls, the stateful firewall policy with nf_conntrack_tcp_loose=0: 200 TCP connections kept
// open through the virtual address, 20 of them streaming during the switch, and UDP flows.
// Stopping keepalived on the master moves the addresses; every connection keeps working. Driven
// once by notify_* lines running `ctsync failover`, once by keepalived's notify FIFO with the
// standby's kernel table flushed just before the switch (so only the commit can have put the
// flows there), and once without ctsync, where the connections must fail.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withLab } from '../lab/lab.ts';
import { FailoverLab } from '../lab/failover.ts';
import type { CtsyncDaemon } from '../lab/daemons.ts';

const CONNECTIONS = 200, STREAMS = 20, UDP = 20;

test('notify_master/backup/fault run `ctsync failover`: 200 connections survive stopping keepalived on the master', async () => {
  await withLab('fok', async (lab) => {
    const f = new FailoverLab(lab, { drive: 'notify', connections: CONNECTIONS, streams: STREAMS, udp: UDP });
    await f.start();
    const [d1, d2] = f.daemons as CtsyncDaemon[];
    // both ran BACKUP at startup (notify_backup), fw1 then MASTER
    assert.is((await d2.snapshot()).failover.state, 'BACKUP');
    assert.match(d1.output, /transitioning to MASTER state for VRRP sync-group \[SG1\] \(ctsync failover master\)/);
    await f.openTraffic();
    assert.is(await f.replicated(1), CONNECTIONS + UDP);
    assert.is(await f.kernelFlows(1), 0, 'the standby forwards nothing before the switch');

    const sw = await f.stopMaster();
    assert.equal([sw.from, sw.to], [0, 1]);
    await f.waitState(1, 'MASTER', 10000);
    const r = await f.check();
    assert.equal(r.tcp, { ok: CONNECTIONS, failed: 0, resets: 0, closes: 0 });
    assert.ok(r.streams.echoed > 0, 'data flowed on the streaming connections across the switch');
    assert.equal(r.udp, { ok: UDP, failed: 0, refused: 0 });
    assert.ok(r.survived);

    const s = await d2.snapshot();
    assert.is(s.failover.state, 'MASTER');
    assert.ok(s.failover.last?.source.startsWith('ctsync failover master'), s.failover.last?.source);
    assert.ok((s.commit.last?.committed ?? 0) >= CONNECTIONS + UDP, `committed ${s.commit.last?.committed}`);
    assert.is(s.commit.last?.failed, 0);
    // the old master's ctsync heard nothing: keepalived runs no notify script when it stops
    assert.is((await d1.snapshot()).failover.state, 'MASTER');
    const status = (await d2.cli(['show', 'conntrack-sync', 'status'])).stdout;
    assert.match(status, /last state transition\s*: MASTER at \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d UTC \d{4}\n/);
  });
});

test('notify FIFO, standby kernel flushed before the switch: the commit puts every flow back', async () => {
  await withLab('fok', async (lab) => {
    const f = new FailoverLab(lab, { drive: 'fifo', connections: CONNECTIONS, streams: STREAMS, udp: UDP });
    await f.start();
    const [d1, d2] = f.daemons as CtsyncDaemon[];
    await f.openTraffic();
    assert.is(await f.replicated(1), CONNECTIONS + UDP);
    await f.fw[1].conntrackCli(['-F']);
    assert.is(await f.kernelFlows(1), 0);
    // the standby waits with its guard armed; the master has none
    assert.equal([(await d2.snapshot()).commit.guard?.standby, (await d1.snapshot()).commit.guard?.standby], [true, false]);
    const tables = async (i: number) => (await f.fw[i].exec('nft', ['list', 'tables'])).stdout;
    assert.match(await tables(1), /ctsync_guard/);
    assert.not.match(await tables(0), /ctsync_guard/);

    await f.stopMaster();
    await f.waitState(1, 'MASTER', 10000);
    const r = await f.check();
    assert.equal(r.tcp, { ok: CONNECTIONS, failed: 0, resets: 0, closes: 0 });
    assert.ok(r.streams.echoed > 0);
    assert.equal(r.udp, { ok: UDP, failed: 0, refused: 0 });
    assert.is(await f.kernelFlows(1), CONNECTIONS + UDP);

    const s = await d2.snapshot();
    assert.is(s.failover.last?.source, 'notify fifo: GROUP "SG1" MASTER 0');
    assert.ok((s.commit.last?.committed ?? 0) >= CONNECTIONS + UDP);
    assert.ok(s.failover.fifo && s.failover.fifo.used >= 2 && s.failover.fifo.ignored >= 4 && s.failover.fifo.malformed === 0,
      JSON.stringify(s.failover.fifo));
    // the guard stood around the commit and is gone from the new master
    assert.is(s.commit.guard?.installs, 1);
    assert.is(s.commit.guard?.removals, 1);
    assert.equal([s.commit.guard?.installed, s.commit.guard?.standby], [false, false]);
    assert.not.match(await tables(1), /ctsync_guard/);
    // the stopping node gets only STOP through the FIFO and behaves as a backup
    const old = await d1.snapshot();
    assert.is(old.failover.state, 'STOP');
    assert.ok(old.failover.purgeAt !== undefined, 'a purge is scheduled on the stopped node');
    assert.is(old.commit.guard?.standby, true);
    assert.match(await tables(0), /ctsync_guard/);
  });
});

test('without ctsync the same failover loses the connections (the test can fail)', async () => {
  await withLab('fok', async (lab) => {
    const f = new FailoverLab(lab, { sync: ['none', 'none'], connections: CONNECTIONS, streams: STREAMS });
    await f.start();
    await f.openTraffic();
    await f.stopMaster();
    const r = await f.check(2000);
    assert.is(r.survived, false);
    assert.is(r.tcp.ok, 0, 'no connection answers through the new master');
    assert.is(r.tcp.failed, CONNECTIONS);
  });
});

test.run();
