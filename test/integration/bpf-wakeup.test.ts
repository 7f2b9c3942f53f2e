// timeout: 120
// An idle reader waits on the ring buffer's fd and is woken by the kernel, which wakes only for a
// record at the reader's position. A filtered event's record is discarded in place: it must wake
// the reader too (it did not: BPF_RB_NO_WAKEUP), or every later event waits for the reader's
// safety-net tick. The tick is set to a minute here, so only the kernel's wake-up explains a
// prompt read. (Deno has no cheap watch: its reader polls on the timer alone, at idleMs.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withLab } from '../lab/lab.ts';
import { buildSingle } from '../lab/topology.ts';
import { inNetns } from '../../src/kernel/netns.ts';
import { BpfNetlinkEventSource } from '../../src/kernel/events/bpf-netlink.ts';
import { FlowFilter } from '../../src/flow/filter.ts';
import { EV } from '../../src/flow/event.ts';
import { type Flow, STATUS, invertTuple } from '../../src/flow/flow.ts';
import type { EventSink } from '../../src/kernel/events/source.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const flow = (dst: string, sport: number): Flow => {
  const orig = { src: '192.0.2.2', dst, proto: 17, sport, dport: 53 };
  return { family: 4, orig, reply: invertTuple(orig), status: STATUS.SEEN_REPLY, timeout: 120 };
};

test('an event after a filtered one is read at once by an idle reader', async () => {
  await withLab('bpfw', async (lab) => {
    const { fw } = await buildSingle(lab);
    const filter = FlowFilter.from({ ignoreAddresses: ['203.0.113.0/24'] });
    const src = inNetns(fw.name, () => new BpfNetlinkEventSource({ bufferMB: 1, filter, busyMs: 1, idleMs: 10, watchedIdleMs: 60_000 }));
    const seen = new Map<number, number>();
    const sink: EventSink = {
      flow(ev) { if (ev.type === EV.NEW) seen.set(ev.flow.orig.sport!, performance.now()); },
      expectation() {},
      batchEnd() {},
      loss() {},
    };
    src.start(sink);
    const ct = fw.conntrack();
    try {
      const delays: number[] = [];
      for (let round = 0; round < 5; round++) {
        // idle: the reader's first empty tick has armed its watch
        await sleep(150);
        const filteredBefore = src.stats().bpf.filtered;
        assert.is(ct.create([flow('203.0.113.9', 41000 + round)]).failed.size, 0);
        for (let t = 0; t < 100 && src.stats().bpf.filtered === filteredBefore; t++) await sleep(10);
        assert.is(src.stats().bpf.filtered, filteredBefore + 1, 'the ignored flow was filtered in the kernel');
        await sleep(50);
        const sport = 42000 + round;
        const t0 = performance.now();
        assert.is(ct.create([flow('198.51.100.9', sport)]).failed.size, 0);
        for (let t = 0; t < 300 && !seen.has(sport); t++) await sleep(10);
        assert.ok(seen.has(sport), `round ${round}: the event after the filtered one was not read within 3 s`);
        delays.push(seen.get(sport)! - t0);
      }
      console.log(`  read after ${delays.map((d) => d.toFixed(1)).join(', ')} ms`);
      assert.ok(Math.max(...delays) < 1000, `delays ${delays.join(', ')} ms`);
    } finally {
      await ct.close();
      await src.close();
    }
  });
});

test.run();
