// The main thread's scheduling policy (src/daemon/sched.ts) with fake system calls and time: auto
// switches to SCHED_RR when the daemon reports a backlog and back after LEAVE_MS without one.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ENTER_FILL, LATE_MS, LEAVE_FILL, LEAVE_MS, MainThreadScheduler, allowedCpus, allowedCpuList, schedPolicyFromEnv, type SchedCalls } from '../../src/daemon/sched.ts';

function setup(policy: 'rr' | 'other' | 'auto', opt: { refuse?: boolean; signal?: boolean; cpus?: number } = {}) {
  const calls: string[] = [];
  const sys = (): SchedCalls => ({
    priority: 99,
    realtime: (all) => { calls.push(all ? 'rr all' : 'rr'); return opt.refuse ? 1 : 0; },
    normal: (all) => { calls.push(all ? 'other all' : 'other'); return 0; },
  });
  const clock = { t: 0 };
  const logs: string[] = [];
  const s = new MainThreadScheduler(policy, opt.signal ?? true, (m) => logs.push(m), sys, () => clock.t, () => opt.cpus ?? 2);
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
  assert.match(s.start(), /SCHED_RR priority 99 for the main thread while events back up/);
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

test('auto: events read LATE_MS after the kernel raised them switch to SCHED_RR, and keep it LEAVE_MS', () => {
  const { s, calls, clock, logs } = setup('auto');
  s.start();
  clock.t = LEAVE_MS;
  s.tick();
  assert.not.ok(s.realtime);
  calls.length = 0;
  s.late(LATE_MS - 0.5);
  s.late(NaN);
  assert.not.ok(s.realtime, 'a reader within its own tick is not late');
  clock.t = LEAVE_MS + 100;
  s.late(LATE_MS + 1);
  assert.ok(s.realtime);
  assert.equal(calls, ['rr']);
  assert.match(logs.join('\n'), /an event read 4\.0 ms after the kernel raised it: SCHED_RR/);
  clock.t = 2 * LEAVE_MS;
  s.late(LATE_MS);
  clock.t = 2 * LEAVE_MS + 200;
  s.tick();
  assert.ok(s.realtime, 'a late read in the last LEAVE_MS keeps it');
  clock.t = 3 * LEAVE_MS;
  s.tick();
  assert.not.ok(s.realtime);
  const rr = setup('rr');
  rr.s.start();
  rr.calls.length = 0;
  rr.s.late(100);
  assert.equal(rr.calls, [], 'rr and other do not react');
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

test('on a single CPU, auto and rr switch every thread, not the main thread alone', () => {
  const { s, calls, clock } = setup('auto', { cpus: 1 });
  assert.match(s.start(), /SCHED_RR priority 99 for every thread \(one CPU allowed/);
  clock.t = LEAVE_MS;
  s.tick();
  clock.t = 2 * LEAVE_MS;
  s.observe(ENTER_FILL);
  assert.ok(s.realtime);
  assert.equal(calls, ['rr all', 'other all', 'rr all']);
  const rr = setup('rr', { cpus: 1 });
  assert.match(rr.s.start(), /SCHED_RR priority 99 for every thread \(one CPU allowed\)$/);
  assert.equal(rr.calls, ['rr all']);
  const rrTwo = setup('rr', { cpus: 2 });
  assert.match(rrTwo.s.start(), /SCHED_RR priority 99$/);
  assert.equal(rrTwo.calls, ['rr']);
  const two = setup('auto', { cpus: 2 });
  assert.match(two.s.start(), /for the main thread while/);
  assert.equal(two.calls, ['rr']);
});

test('normalDuring: real-time on one CPU, every thread is normal while the work runs and real-time again after', () => {
  const one = setup('rr', { cpus: 1 });
  one.s.start();
  let during: string[] = [];
  assert.is(one.s.normalDuring(() => { during = [...one.calls]; return 7; }), 7);
  assert.equal(during, ['rr all', 'other all'], 'normal while it runs');
  assert.equal(one.calls, ['rr all', 'other all', 'rr all'], 'real-time after');
  assert.ok(one.s.realtime);
  assert.throws(() => one.s.normalDuring(() => { throw new Error('dump failed'); }), /dump failed/);
  assert.equal(one.calls.slice(3), ['other all', 'rr all'], 'real-time again after a failure too');

  // auto once back to normal, more CPUs, or other: nothing to change
  const auto = setup('auto', { cpus: 1 });
  auto.s.start();
  auto.clock.t = LEAVE_MS;
  auto.s.tick();
  assert.not.ok(auto.s.realtime);
  auto.s.normalDuring(() => 0);
  assert.equal(auto.calls, ['rr all', 'other all']);
  const two = setup('rr', { cpus: 2 });
  two.s.start();
  two.s.normalDuring(() => 0);
  assert.equal(two.calls, ['rr'], 'the other threads are not real-time on more CPUs');
  const other = setup('other', { cpus: 1 });
  other.s.start();
  assert.is(other.s.normalDuring(() => 'done'), 'done');
  assert.equal(other.calls, []);
});

test('allowedCpus counts the affinity list of /proc/self/status', () => {
  const of = (line: string) => allowedCpus(() => `Name:\tnode\n${line}\nMems_allowed_list:\t0\n`);
  assert.is(of('Cpus_allowed_list:\t0'), 1);
  assert.is(of('Cpus_allowed_list:\t1'), 1);
  assert.is(of('Cpus_allowed_list:\t0-3'), 4);
  assert.is(of('Cpus_allowed_list:\t0,2-3,7'), 4);
  assert.is(of(''), Infinity, 'unknown: no limit assumed');
  assert.is(allowedCpus(() => { throw new Error('ENOENT'); }), Infinity);
  assert.ok(allowedCpus() >= 1, 'this machine');
  assert.equal(allowedCpuList(() => 'Cpus_allowed_list:\t0,2-3\n'), [0, 2, 3]);
});

test.run();
