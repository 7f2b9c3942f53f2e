// The main thread's scheduling policy (src/daemon/sched.ts) with fake system calls and time: auto
// switches to SCHED_RR when the daemon reports a backlog and back after LEAVE_MS without one.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ENTER_FILL, LEAVE_FILL, LEAVE_MS, MainThreadScheduler, schedPolicyFromEnv, type SchedCalls } from '../../src/daemon/sched.ts';

function setup(policy: 'rr' | 'other' | 'auto', opt: { refuse?: boolean; signal?: boolean } = {}) {
  const calls: string[] = [];
  const sys = (): SchedCalls => ({
    priority: 99,
    realtime: () => { calls.push('rr'); return opt.refuse ? 1 : 0; },
    normal: () => { calls.push('other'); return 0; },
  });
  const clock = { t: 0 };
  const logs: string[] = [];
  const s = new MainThreadScheduler(policy, opt.signal ?? true, (m) => logs.push(m), sys, () => clock.t);
  return { s, calls, clock, logs };
}

test('CTSYNC_SCHED: rr, other, and auto for anything else', () => {
  assert.is(schedPolicyFromEnv({ CTSYNC_SCHED: 'rr' }), 'rr');
  assert.is(schedPolicyFromEnv({ CTSYNC_SCHED: 'other' }), 'other');
  assert.is(schedPolicyFromEnv({}), 'auto');
  assert.is(schedPolicyFromEnv({ CTSYNC_SCHED: 'fifo' }), 'auto');
});

test('rr switches at start and stays; other never switches', () => {
  const rr = setup('rr');
  assert.match(rr.s.start(), /SCHED_RR priority 99/);
  assert.ok(rr.s.realtime);
  rr.clock.t = 10 * LEAVE_MS;
  rr.s.observe(0);
  rr.s.tick();
  assert.ok(rr.s.realtime);
  assert.equal(rr.calls, ['rr']);
  const other = setup('other');
  assert.match(other.s.start(), /normal/);
  other.s.observe(1);
  assert.not.ok(other.s.realtime);
  assert.equal(other.calls, []);
});

test('auto: a backlog of ENTER_FILL switches to SCHED_RR; LEAVE_MS without one switches back', () => {
  const { s, calls, clock, logs } = setup('auto');
  assert.match(s.start(), /SCHED_RR priority 99 while events back up/);
  assert.ok(s.realtime, 'the start is real-time');
  clock.t = LEAVE_MS - 1;
  s.tick();
  assert.ok(s.realtime);
  clock.t = LEAVE_MS;
  s.tick();
  assert.not.ok(s.realtime, 'then normal, LEAVE_MS after the start');
  assert.equal(calls, ['rr', 'other']);
  calls.length = 0;
  clock.t = 0;
  s.observe(ENTER_FILL / 2);
  assert.not.ok(s.realtime, 'half the threshold: stays normal');
  clock.t = 100;
  s.observe(ENTER_FILL);
  assert.ok(s.realtime);
  assert.is(s.entered, 1);
  assert.equal(calls, ['rr']);
  assert.is(logs.length, 1);
  // a smaller backlog later keeps it
  clock.t = 100 + LEAVE_MS - 10;
  s.observe(LEAVE_FILL);
  clock.t = 100 + LEAVE_MS + 10;
  s.tick();
  assert.ok(s.realtime, 'a backlog over LEAVE_FILL in the last LEAVE_MS keeps it');
  s.observe(LEAVE_FILL / 2);
  clock.t = 100 + 2 * LEAVE_MS - 20;
  s.tick();
  assert.ok(s.realtime, 'not yet LEAVE_MS since the last backlog');
  clock.t = 100 + 2 * LEAVE_MS;
  s.tick();
  assert.not.ok(s.realtime);
  assert.equal(calls, ['rr', 'other']);
  // again: counted, logged once
  s.observe(1);
  assert.ok(s.realtime);
  assert.is(s.entered, 2);
  assert.is(logs.length, 1);
  s.stop();
});

test('auto: a kernel that refuses SCHED_RR is asked once', () => {
  const { s, calls, logs } = setup('auto', { refuse: true });
  assert.match(s.start(), /not available \(errno 1\)/);
  s.observe(1);
  s.observe(1);
  assert.not.ok(s.realtime);
  assert.equal(calls, ['rr']);
  assert.is(logs.length, 0);
  s.stop();
});

test('auto without a backlog signal (netlink source) runs SCHED_RR throughout', () => {
  const { s, calls, clock } = setup('auto', { signal: false });
  assert.match(s.start(), /SCHED_RR priority 99/);
  assert.ok(s.realtime);
  clock.t = 10 * LEAVE_MS;
  s.tick();
  assert.ok(s.realtime);
  assert.equal(calls, ['rr']);
});

test.run();
