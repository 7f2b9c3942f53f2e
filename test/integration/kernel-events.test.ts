// timeout: 240
// Real traffic in a lab namespace: every conntrack NEW and DESTROY reaches the plain netlink
// event source, and a receive buffer too small for the burst makes the loss visible.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withLab } from '../lab/lab.ts';
import { buildSingle } from '../lab/topology.ts';
import { inNetns } from '../../src/kernel/netns.ts';
import { NetlinkEventSource } from '../../src/kernel/events/netlink.ts';
import { EV, type FlowEvent } from '../../src/flow/event.ts';
import type { EventSink } from '../../src/kernel/events/source.ts';

function collector() {
  const counts = [0, 0, 0];
  let losses = 0;
  const seen = new Set<string>();
  const sink: EventSink = {
    flow(ev: FlowEvent) {
      counts[ev.type]++;
      if (ev.type === EV.NEW) seen.add(`${ev.flow.orig.dst}:${ev.flow.orig.dport}`);
    },
    expectation() {},
    batchEnd() {},
    loss(n) { losses += n; },
  };
  return { sink, counts, seen, losses: () => losses };
}

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
}

test('20,000 flows from real traffic: 20,000 NEW events, then 20,000 DESTROY after a flush, no loss', async () => {
  await withLab('ev', async (lab) => {
    const { fw } = await buildSingle(lab);
    const src = inNetns(fw.name, () => new NetlinkEventSource({ bufferBytes: 32 << 20, reliableDestroy: true }));
    const c = collector();
    src.start(c.sink);
    try {
      const gen = lab.agent(fw, 'udp-flows', ['--targets', '198.51.100.0/24,203.0.113.0/24', '--count', '20000']);
      const done = await gen.next(60000);
      assert.is(done.sent, 20000);
      await until(() => c.counts[EV.NEW] >= 20000, 10000);
      assert.is(c.counts[EV.NEW], 20000, 'NEW events');
      assert.is(c.seen.size, 20000, 'distinct flows');
      const ct = fw.conntrack();
      assert.is(ct.dump(4).filter((f) => f.orig.proto === 17).length, 20000, 'kernel table');
      ct.flush();
      await ct.close();
      await until(() => c.counts[EV.DESTROY] >= 20000, 10000);
      assert.ok(c.counts[EV.DESTROY] >= 20000, `DESTROY events: ${c.counts[EV.DESTROY]}`);
      assert.is(src.counters().lost, 0, 'lost');
      assert.is(c.losses(), 0, 'loss reports');
    } finally {
      await src.close();
    }
  });
});

test('a receive buffer too small for the burst: the loss is counted and reported', async () => {
  await withLab('ev', async (lab) => {
    const { fw } = await buildSingle(lab);
    const src = inNetns(fw.name, () => new NetlinkEventSource({ bufferBytes: 4096 }));
    const c = collector();
    // not started: nothing reads while the burst arrives, as when the daemon is busy
    try {
      const gen = lab.agent(fw, 'udp-flows', ['--targets', '198.51.100.0/24', '--count', '5000']);
      await gen.next(60000);
      src.start(c.sink);
      src.drain();
      await until(() => c.losses() > 0, 5000);
      assert.ok(c.counts[EV.NEW] < 5000, `fewer events than flows: ${c.counts[EV.NEW]}`);
      assert.ok(src.counters().lost > 0, 'loss counted');
      assert.ok(c.losses() > 0, 'loss reported to the sink');
    } finally {
      await src.close();
    }
  });
});

test.run();
