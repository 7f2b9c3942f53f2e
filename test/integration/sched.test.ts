// timeout: 120
// The main thread's scheduling policy on a real daemon (src/daemon/sched.ts), read back from the
// kernel (/proc/PID/stat, policy field): `auto` is SCHED_RR for the first 5 s, then the normal
// scheduler; a backlog in the event ring buffer (the daemon held with SIGSTOP while 5,000
// conntracks are created: 5,000 records where 1/64 of the 8 MB ring is about 390) switches it back
// to SCHED_RR. `rr` stays real-time.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import process from 'node:process';
import { withLab } from '../lab/lab.ts';
import { buildSyncPair } from '../lab/topology.ts';
import { startCtsync } from '../lab/daemons.ts';
import { Churn, converge, side } from './fault-common.ts';

const SCHED_OTHER = 0, SCHED_RR = 2;

/** The scheduling policy of a thread (the 41st field of its stat line). */
function policyOf(pid: number): number {
  const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(st.slice(st.lastIndexOf(') ') + 2).split(' ')[38]);
}

async function until(what: string, ms: number, ok: () => boolean | Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('auto: real-time at the start, normal after 5 s of calm, real-time again when events back up', async () => {
  await withLab('sched', async (lab) => {
    const fw = await buildSyncPair(lab);
    const d = [await startCtsync(lab, fw[0], side(0, { eventSource: 'auto' })), await startCtsync(lab, fw[1], side(1, { eventSource: 'auto' }))];
    const churn = new Churn(fw[0].conntrack(), 0);
    try {
      const s0 = await d[0].snapshot();
      if (s0.eventSource.kind === 'netlink') {
        // no ring buffer here: auto is rr
        assert.is(policyOf(d[0].pid), SCHED_RR);
        return;
      }
      assert.is(s0.eventSource.scheduler?.policy, 'auto');
      assert.is(policyOf(d[0].pid), SCHED_RR, 'SCHED_RR at the start');
      await until('the normal scheduler after the start', 9000, () => policyOf(d[0].pid) === SCHED_OTHER && policyOf(d[1].pid) === SCHED_OTHER);
      assert.is((await d[0].snapshot()).eventSource.scheduler?.realtime, false);

      process.kill(d[0].pid, 'SIGSTOP');
      try {
        churn.create(5000);
      } finally {
        process.kill(d[0].pid, 'SIGCONT');
      }
      await until('SCHED_RR once the backlog is seen', 5000, () => policyOf(d[0].pid) === SCHED_RR);
      const s1 = await d[0].snapshot();
      assert.is(s1.eventSource.scheduler?.realtime, true);
      assert.is(s1.eventSource.scheduler?.entered, 1);
      await converge({ ns: fw[0], from: d[0], to: d[1], expect: [...churn.live.values()] }, 60_000, 'after the backlog');
      // the receiver: real-time again only if it missed datagrams (the peer resent them)
      const r = await d[1].snapshot();
      assert.is(policyOf(d[1].pid) === SCHED_RR, r.network.rcvLost > 0, `receiver ${JSON.stringify(r.eventSource.scheduler)}, lost ${r.network.rcvLost}`);
    } finally {
      await churn.ct.close();
    }
  });
});

test('rr: real-time throughout', async () => {
  await withLab('schedrr', async (lab) => {
    const fw = await buildSyncPair(lab);
    const prev = process.env.CTSYNC_SCHED;
    process.env.CTSYNC_SCHED = 'rr';
    let d;
    try {
      d = await startCtsync(lab, fw[0], side(0, { eventSource: 'auto' }));
    } finally {
      if (prev === undefined) delete process.env.CTSYNC_SCHED;
      else process.env.CTSYNC_SCHED = prev;
    }
    await new Promise((r) => setTimeout(r, 6000));
    assert.is(policyOf(d.pid), SCHED_RR);
    assert.is((await d.snapshot()).eventSource.scheduler?.policy, 'rr');
  });
});

test.run();
