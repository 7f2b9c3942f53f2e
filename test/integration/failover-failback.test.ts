// timeout: 120
// Failback: after the failover to fw2, keepalived starts again on fw1 (priority 150 preempts):
// fw1 commits what fw2 sent it and takes the connections back; fw2 goes BACKUP and schedules the
// purge. The same 200 TCP connections (20 streaming) and UDP flows survive both switches.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withLab } from '../lab/lab.ts';
import { FailoverLab } from '../lab/failover.ts';
import type { CtsyncDaemon } from '../lab/daemons.ts';

const CONNECTIONS = 200, STREAMS = 20, UDP = 20;

test('failover then failback (the old master preempts): every connection survives both', async () => {
  await withLab('ffb', async (lab) => {
    const f = new FailoverLab(lab, { connections: CONNECTIONS, streams: STREAMS, udp: UDP });
    await f.start();
    const [d1, d2] = f.daemons as CtsyncDaemon[];
    await f.openTraffic();
    await f.replicated(1);

    await f.stopMaster();
    await f.waitState(1, 'MASTER', 10000);
    const first = await f.check();
    assert.ok(first.survived, JSON.stringify(first));
    // the new master sent its table: fw1's external cache holds the flows again
    assert.is(await f.replicated(0), CONNECTIONS + UDP);
    const stopped = await d1.snapshot();
    assert.is(stopped.failover.state, 'STOP');

    const back = await f.restartKeepalived(0);
    assert.equal([back.from, back.to], [1, 0]);
    await f.waitState(0, 'MASTER', 10000);
    await f.waitState(1, 'BACKUP', 10000);
    const second = await f.check();
    assert.equal(second.tcp, { ok: CONNECTIONS, failed: 0, resets: 0, closes: 0 });
    assert.ok(second.streams.echoed > 0, 'data flowed across the failback');
    assert.equal(second.udp, { ok: UDP, failed: 0, refused: 0 });

    const s1 = await d1.snapshot();
    // after STOP: BACKUP (keepalived's init state), then MASTER
    assert.is(s1.failover.transitions, stopped.failover.transitions + 2);
    assert.ok((s1.commit.last?.committed ?? 0) >= CONNECTIONS + UDP, `committed ${s1.commit.last?.committed}`);
    assert.is(s1.commit.last?.failed, 0);
    assert.is(s1.failover.purgeAt, undefined, 'the commit cancelled the purge scheduled at STOP');
    const s2 = await d2.snapshot();
    assert.is(s2.failover.state, 'BACKUP');
    assert.ok(s2.failover.purgeAt !== undefined, 'the new backup schedules the purge');
  });
});

test.run();
