// timeout: 300
// A burst larger than the event buffer: event-listen-queue-size 1 (MB) and 50,000 conntracks
// created at once while the daemon is held (SIGSTOP, as a starved CPU would: a fast reader could
// otherwise keep up). Events are lost (the BPF ring buffer or the netlink socket overruns), the loss
// is counted, the daemon resyncs its internal cache with the kernel table, and the peer's external
// cache ends equal to the kernel table, for the BPF ring buffer and for plain netlink.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import process from 'node:process';
import { withLab } from '../lab/lab.ts';
import { buildSyncPair } from '../lab/topology.ts';
import { startCtsync } from '../lab/daemons.ts';
import { Churn, converge, side } from './fault-common.ts';

const BURST = 50_000;

for (const eventSource of ['auto', 'netlink'] as const) {
  test(`${eventSource === 'auto' ? 'default event source' : 'netlink'}: ${BURST} flows at once through a 1 MB event buffer`, async () => {
    await withLab('fbst', async (lab) => {
      const fw = await buildSyncPair(lab);
      const extra = ['set service conntrack-sync event-listen-queue-size 1'];
      const d = [await startCtsync(lab, fw[0], side(0, { eventSource, extra })), await startCtsync(lab, fw[1], side(1, { eventSource, extra }))];
      const churn = new Churn(fw[0].conntrack(), 0);
      try {
        process.kill(d[0].pid, 'SIGSTOP');
        try {
          churn.create(BURST);
          churn.remove(5000);
          churn.update(5000, 77);
        } finally {
          process.kill(d[0].pid, 'SIGCONT');
        }
        await converge({ ns: fw[0], from: d[0], to: d[1], expect: [...churn.live.values()] }, 150_000, 'after the burst');
        const s = await d[0].snapshot();
        const lost = s.runtime.catchEventFailed + s.runtime.netlinkOverrun + (s.ring?.reserveFailed ?? 0);
        assert.ok(lost > 0, `the overrun was counted (${JSON.stringify(s.runtime)}, ring ${JSON.stringify(s.ring)})`);
        assert.ok(s.runtime.resyncKernelTable >= 1, 'and repaired by a resync with the kernel table');
        assert.is(s.eventSource.kind === 'netlink', eventSource === 'netlink' || s.eventSource.kind === 'netlink');
      } finally {
        await churn.ct.close();
      }
    });
  });
}

test.run();
