// The VRRP state machine (steps per state, order, one transition at a time, a failed step does not
// stop the others, what is recorded) and keepalived's notify FIFO (line shapes, our group only,
// lines split across reads), with a real FIFO in a temporary directory.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, openSync, writeSync, closeSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FailoverMachine, parseFifoLine, groupState, STEPS, type FailoverActions, type VrrpState } from '../../src/failover/machine.ts';
import { NotifyFifo } from '../../src/failover/fifo.ts';

function recorder(opts: { commitMs?: number; failCommit?: boolean } = {}) {
  const calls: string[] = [];
  const logs: string[] = [];
  const act: FailoverActions = {
    commit: async (resyncFollows) => {
      calls.push(resyncFollows ? 'commit:start (resync follows)' : 'commit:start');
      await new Promise((r) => setTimeout(r, opts.commitMs ?? 0));
      if (opts.failCommit) throw new Error('netlink said no');
      calls.push('commit:end');
    },
    flushCaches: () => { calls.push('flush'); },
    resyncInternal: () => { calls.push('resync'); },
    bulkSend: () => { calls.push('bulk-send'); },
    schedulePurge: () => { calls.push('purge'); },
    requestResync: () => { calls.push('request-resync'); },
    armGuard: () => { calls.push('arm-guard'); },
    log: (level, msg) => { logs.push(`${level}: ${msg}`); },
  };
  return { calls, logs, act };
}

test('each state runs its steps in order: MASTER commit/flush/resync/bulk, BACKUP and STOP guard/purge/request, FAULT guard/purge', async () => {
  const expect: Record<VrrpState, string[]> = {
    // the resync after it lets the commit run without NEW events (src/daemon/daemon.ts)
    MASTER: ['commit:start (resync follows)', 'commit:end', 'flush', 'resync', 'bulk-send'],
    BACKUP: ['arm-guard', 'purge', 'request-resync'],
    FAULT: ['arm-guard', 'purge'],
    STOP: ['arm-guard', 'purge', 'request-resync'],
  };
  for (const state of Object.keys(expect) as VrrpState[]) {
    const r = recorder();
    const m = new FailoverMachine('SG1', r.act);
    const t = await m.transition(state, 'test');
    assert.equal(r.calls, expect[state], state);
    assert.is(t.state, state);
    assert.is(t.error, undefined);
    assert.ok(t.ms !== undefined && t.ms >= 0);
    assert.is(m.state, state);
    assert.is(m.last, t);
    assert.is(m.transitions, 1);
    assert.equal(r.logs, [
      `notice: transitioning to ${state} state for VRRP sync-group [SG1] (test)`,
      `notice: ${state} transition for sync-group [SG1] done in ${t.ms} ms`,
    ]);
  }
  assert.equal(STEPS.MASTER, ['commit', 'flush', 'resync', 'bulk-send']);
});

test('transitions run one at a time, in arrival order; the state is the last one done', async () => {
  const r = recorder({ commitMs: 30 });
  const m = new FailoverMachine('SG1', r.act);
  const a = m.transition('MASTER', 'fifo');
  const b = m.transition('BACKUP', 'fifo');
  assert.is(m.state, undefined, 'nothing done yet');
  await new Promise((r) => setTimeout(r, 10));
  assert.is(m.current, 'MASTER', 'the MASTER steps are running');
  assert.is(m.state, undefined);
  const [ta, tb] = await Promise.all([a, b]);
  assert.equal(r.calls, ['commit:start (resync follows)', 'commit:end', 'flush', 'resync', 'bulk-send', 'arm-guard', 'purge', 'request-resync']);
  assert.ok(ta.at.getTime() <= tb.at.getTime());
  assert.is(m.state, 'BACKUP');
  assert.equal(m.history.map((t) => t.state), ['MASTER', 'BACKUP']);
  assert.is(m.transitions, 2);
});

test('a failed commit is recorded and logged, and the new master still resyncs and bulk-sends', async () => {
  const r = recorder({ failCommit: true });
  const m = new FailoverMachine('SG1', r.act);
  const t = await m.transition('MASTER', 'ctsync failover master');
  assert.equal(r.calls, ['commit:start (resync follows)', 'flush', 'resync', 'bulk-send']);
  assert.is(t.error, 'commit: netlink said no');
  assert.is(m.failures, 1);
  assert.is(m.state, 'MASTER');
  assert.match(r.logs[1], /^ERROR: MASTER transition for sync-group \[SG1\] failed after [\d.]+ ms: commit: netlink said no$/);
  // the chain goes on after a failure
  const next = await m.transition('BACKUP', 'x');
  assert.is(next.error, undefined);
  assert.is(m.failures, 1);
});

test('the history keeps the last 50 transitions', async () => {
  const m = new FailoverMachine('SG1', recorder().act);
  for (let i = 0; i < 60; i++) await m.transition(i % 2 ? 'BACKUP' : 'FAULT', `n${i}`);
  assert.is(m.history.length, 50);
  assert.is(m.history[0].source, 'n10');
  assert.is(m.transitions, 60);
});

test('notify FIFO lines: every shape keepalived writes; only GROUP lines of our sync group count', () => {
  assert.equal(parseFifoLine('GROUP "SG1" MASTER 0'), { kind: 'GROUP', name: 'SG1', state: 'MASTER', priority: 0 });
  assert.equal(parseFifoLine('INSTANCE "VI_LAN" BACKUP 150\n'), { kind: 'INSTANCE', name: 'VI_LAN', state: 'BACKUP', priority: 150 });
  assert.equal(parseFifoLine('INSTANCE "VI_1" MASTER_RX_LOWER_PRI 100'), { kind: 'INSTANCE', name: 'VI_1', state: 'MASTER_RX_LOWER_PRI', priority: 100 });
  assert.equal(parseFifoLine('VS "10.0.0.1:80" UP 0')?.kind, 'VS');
  for (const bad of ['', 'GROUP SG1 MASTER 0', 'GROUP "SG1" MASTER', 'GROUP "SG1" master 0', 'hello']) assert.is(parseFifoLine(bad), undefined, bad);
  const g = (l: string) => groupState(parseFifoLine(l)!, 'SG1');
  assert.is(g('GROUP "SG1" MASTER 0'), 'MASTER');
  assert.is(g('GROUP "SG1" BACKUP 0'), 'BACKUP');
  assert.is(g('GROUP "SG1" FAULT 0'), 'FAULT');
  assert.is(g('GROUP "SG1" STOP 0'), 'STOP');
  assert.is(g('GROUP "SG2" MASTER 0'), undefined, 'another group');
  assert.is(g('INSTANCE "SG1" MASTER 150'), undefined, 'an instance, even of the same name');
  assert.is(g('GROUP "SG1" DELETED 0'), undefined, 'a state without steps');
});

test('NotifyFifo: creates the FIFO, reads lines as keepalived writes them (also split), acts on our group only', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ctsync-fifo-'));
  const path = join(dir, 'notify.fifo');
  const seen: [VrrpState, string][] = [];
  const fifo = new NotifyFifo(path, 'SG1', (s, line) => seen.push([s, line]));
  try {
    fifo.open();
    assert.ok(statSync(path).isFIFO());
    const w = openSync(path, 'w');
    writeSync(w, 'INSTANCE "VI_LAN" BACKUP 100\nINSTANCE "VI_WAN" BACKUP 100\nGROUP "SG1" BACKUP 0\n');
    writeSync(w, 'GROUP "OTHER" MASTER 0\nnot a keepalived line\nGROUP "SG1" MAS');
    await new Promise((r) => setTimeout(r, 150));
    writeSync(w, 'TER 0\n');
    closeSync(w);
    for (let i = 0; i < 50 && seen.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    // a writer that closed does not end the reader: keepalived restarting writes again
    const w2 = openSync(path, 'w');
    writeSync(w2, 'GROUP "SG1" STOP 0\n');
    closeSync(w2);
    for (let i = 0; i < 50 && seen.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(seen, [['BACKUP', 'GROUP "SG1" BACKUP 0'], ['MASTER', 'GROUP "SG1" MASTER 0'], ['STOP', 'GROUP "SG1" STOP 0']]);
    assert.equal(fifo.counters, { lines: 7, used: 3, ignored: 3, malformed: 1 });
  } finally {
    await fifo.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('NotifyFifo: a regular file at the path is refused with a message naming it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ctsync-fifo-'));
  const path = join(dir, 'notify.fifo');
  writeFileSync(path, 'GROUP "SG1" MASTER 0\n');
  try {
    const fifo = new NotifyFifo(path, 'SG1', () => {});
    assert.throws(() => fifo.open(), (e: Error) => e.message === `keepalived notify-fifo ${path} exists and is not a FIFO; remove it or choose another path`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
