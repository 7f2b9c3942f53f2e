// timeout: 300
// Daemon restarts while flows keep changing: the peer killed with SIGKILL mid-stream and started
// again; the local daemon stopped, its kernel table changed while it is down (flows destroyed and
// created), and started again; the in-place `restart` command. Afterwards each side's external
// cache equals the other side's table: the survivor repairs its external cache when it sees the
// restarted peer's HELLO (RESYNC, then entries nobody refreshed are dropped), and sends its own
// table to the restarted peer.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import process from 'node:process';
import { Lab, withLab } from '../lab/lab.ts';
import type { Netns } from '../lab/netns.ts';
import { buildSyncPair } from '../lab/topology.ts';
import { startConntrackd, startCtsync, until, type CtsyncDaemon } from '../lab/daemons.ts';
import { Churn, compare, converge, kernelTable, side, sleep } from './fault-common.ts';

let lab: Lab;
let fw: [Netns, Netns];
let d: [CtsyncDaemon, CtsyncDaemon];
let churn: [Churn, Churn];

const both = async (what: string) => {
  await converge({ ns: fw[0], from: d[0], to: d[1], expect: [...churn[0].live.values()] }, 45_000, `${what}: fw1 -> fw2`);
  await converge({ ns: fw[1], from: d[1], to: d[0], expect: [...churn[1].live.values()] }, 45_000, `${what}: fw2 -> fw1`);
};

/** Changes on both sides every 100 ms until stopped. */
function stream(): { stop: () => Promise<void> } {
  let run = true;
  let mark = 1;
  const loop = (async () => {
    while (run) {
      churn[0].round(mark, 20);
      churn[1].round(mark, 6);
      mark++;
      await sleep(100);
    }
  })();
  return { stop: async () => { run = false; await loop; } };
}

function waitExit(p: CtsyncDaemon): Promise<void> {
  return new Promise((r) => {
    if (p.proc.exitCode !== null || p.proc.signalCode !== null) r();
    else p.proc.once('exit', () => r());
  });
}

test.before(async () => {
  lab = new Lab('frst');
  fw = await buildSyncPair(lab);
  d = [await startCtsync(lab, fw[0], side(0)), await startCtsync(lab, fw[1], side(1))];
  churn = [new Churn(fw[0].conntrack(), 0), new Churn(fw[1].conntrack(), 500_000)];
  churn[0].create(400);
  churn[1].create(100);
  await both('initial');
});

test.after(async () => {
  for (const c of churn ?? []) await c.ct.close();
  await lab?.teardown();
});

test('the peer killed with SIGKILL mid-stream and started again', async () => {
  const s = stream();
  await sleep(1000);
  const victim = d[1];
  process.kill(-victim.pid, 'SIGKILL');
  await waitExit(victim);
  await sleep(3000); // both tables keep changing while fw2's daemon is gone
  d[1] = await startCtsync(lab, fw[1], side(1));
  await sleep(2000);
  await s.stop();
  await both('after SIGKILL');
  const r = (await d[0].snapshot()).reconcile!;
  assert.ok(r.completed >= 1, `fw1 repaired its external cache: ${JSON.stringify(r)}`);
  assert.ok(r.removed > 0, 'the flows fw2 destroyed while its daemon was dead were removed');
});

test('the local daemon stopped, flows destroyed and created meanwhile, started again', async () => {
  const before = (await d[1].snapshot()).reconcile!;
  await lab.stop(d[0].proc);
  // while fw1's daemon is down: 150 of its flows end, 120 start, 50 change
  churn[0].remove(150);
  churn[0].create(120);
  churn[0].update(50, 4242);
  churn[1].round(4242, 10);
  await sleep(1000);
  d[0] = await startCtsync(lab, fw[0], side(0));
  await both('after a local restart');
  const r = (await d[1].snapshot()).reconcile!;
  assert.is(r.completed, before.completed + 1, 'fw2 repaired its external cache once');
  assert.ok(r.removed - before.removed >= 150, `the 150 flows destroyed meanwhile were removed (${r.removed - before.removed})`);
});

test('`restart` on the control socket, with changes before and after', async () => {
  const s = stream();
  await sleep(500);
  await d[0].request('restart');
  await sleep(1000);
  await s.stop();
  await both('after restart');
  assert.is((await d[0].snapshot()).network.rcvMalformed, 0);
});

test('a conntrackd peer restarted: its flows destroyed meanwhile leave ctsync\'s external cache too', async () => {
  await withLab('frst', async (lab2) => {
    const [a, b] = await buildSyncPair(lab2);
    const setup = { ...side(0), eventSource: undefined };
    let ctd = await startConntrackd(lab2, a, setup);
    const cts = await startCtsync(lab2, b, side(1));
    const ch = new Churn(a.conntrack(), 0);
    try {
      ch.create(60);
      // conntrackd's side has no internal cache to ask: its kernel table is the reference
      const check = async (what: string) => {
        let last: string | undefined;
        try {
          await until(async () => {
            last = compare(what, await kernelTable(a), await cts.cache('external'), 600);
            return last === undefined;
          }, 30_000, what);
        } catch (e) {
          const s = await cts.snapshot();
          throw new Error(`${(e as Error).message}: ${last}; ctsync's messages: ${JSON.stringify(s.messages)}, reconcile: ${JSON.stringify(s.reconcile)}, network: ${JSON.stringify(s.network)}`);
        }
      };
      await check('before');
      await lab2.stop(ctd.proc);
      ch.remove(25);
      ch.create(15);
      ctd = await startConntrackd(lab2, a, setup);
      await check('after conntrackd restarted');
      const r = (await cts.snapshot()).reconcile!;
      assert.is(r.completed, 1, 'ctsync repaired its external cache with conntrackd\'s answer to RESYNC');
      assert.ok(r.removed >= 25, `the 25 destroyed flows were removed (${r.removed})`);
      void ctd;
    } finally {
      await ch.ct.close();
    }
  });
});

test.run();
