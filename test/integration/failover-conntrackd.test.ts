// timeout: 120
// A mixed pair: fw1 runs the Debian conntrackd 1.4.7 driven by keepalived through the notify
// script shipped in examples/conntrackd-notify.sh (the primary-backup sequence), fw2 runs ctsync
// reading keepalived's notify FIFO. The failover to fw2 commits conntrackd's flows through ctsync;
// the failback to fw1 commits ctsync's flows through conntrackd. 200 TCP connections (20
// streaming) and UDP flows survive both switches.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withLab } from '../lab/lab.ts';
import { FailoverLab } from '../lab/failover.ts';
import { until, type CtsyncDaemon, type Conntrackd } from '../lab/daemons.ts';

const CONNECTIONS = 200, STREAMS = 20, UDP = 20;

test('conntrackd (keepalived notify script) and ctsync (notify FIFO): failover and failback keep every connection', async () => {
  await withLab('fcd', async (lab) => {
    const f = new FailoverLab(lab, { sync: ['conntrackd', 'ctsync'], connections: CONNECTIONS, streams: STREAMS, udp: UDP });
    await f.start();
    const ctd = f.daemons[0] as Conntrackd;
    const cts = f.daemons[1] as CtsyncDaemon;
    await f.openTraffic();
    assert.is(await f.replicated(1), CONNECTIONS + UDP, 'conntrackd\'s flows in ctsync\'s external cache');

    await f.stopMaster();
    await f.waitState(1, 'MASTER', 10000);
    const first = await f.check();
    assert.equal(first.tcp, { ok: CONNECTIONS, failed: 0, resets: 0, closes: 0 });
    assert.ok(first.streams.echoed > 0);
    assert.equal(first.udp, { ok: UDP, failed: 0, refused: 0 });
    const s = await cts.snapshot();
    assert.ok((s.commit.last?.committed ?? 0) >= CONNECTIONS + UDP, `ctsync committed ${s.commit.last?.committed}`);
    assert.is(s.commit.last?.failed, 0);

    // ctsync, now master, bulk-sent its table: conntrackd holds the flows for the way back
    assert.is(await f.replicated(0), CONNECTIONS + UDP);
    const before = ctd.log().length;
    await f.restartKeepalived(0);
    // the notify script ran -c -f -R -B (conntrackd logs each). The bulk update must be the one
    // after the commit: conntrackd also sends one when ctsync, going BACKUP, asks for a resync,
    // which can come first
    await until(() => /Committed \d+ new entries[\s\S]*sending bulk update/.test(ctd.log().slice(before)), 15000, 'conntrackd: master sequence done');
    const log = ctd.log().slice(before);
    const committed = /Committed (\d+) new entries/.exec(log);
    assert.ok(committed && Number(committed[1]) >= CONNECTIONS + UDP, log);
    assert.match(log, /flushing conntrack table in \d+ secs/, 'notify_backup ran first (-t)');
    await f.waitState(1, 'BACKUP', 10000);
    const second = await f.check();
    assert.equal(second.tcp, { ok: CONNECTIONS, failed: 0, resets: 0, closes: 0 });
    assert.ok(second.streams.echoed > 0);
    assert.equal(second.udp, { ok: UDP, failed: 0, refused: 0 });
  });
});

test.run();
