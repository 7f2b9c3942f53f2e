// timeout: 120
// A ring buffer too small for a burst: the failed reservations are counted in the kernel, the
// sink hears about them through loss(), and a dump of the kernel table holds exactly the flows
// whose records were lost (what the daemon's resync would restore).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withLab } from '../lab/lab.ts';
import { buildSingle } from '../lab/topology.ts';
import { inNetns } from '../../src/kernel/netns.ts';
import { BpfNetlinkEventSource } from '../../src/kernel/events/bpf-netlink.ts';
import { FlowFilter } from '../../src/flow/filter.ts';
import { EV } from '../../src/flow/event.ts';
import { type Flow, STATUS } from '../../src/flow/flow.ts';
import type { EventSink } from '../../src/kernel/events/source.ts';

const BURST = 3000;
const key = (f: Flow) => `${f.orig.src}|${f.orig.dst}|${f.orig.sport}|${f.orig.dport}`;

test('a burst larger than the ring buffer: losses counted, reported to the sink, restorable from a dump', async () => {
  await withLab('bpfl', async (lab) => {
    const { fw } = await buildSingle(lab);
    // event-listen-queue-size 0: the smallest ring, one page (a dozen records)
    const src = inNetns(fw.name, () => new BpfNetlinkEventSource({ bufferMB: 0, filter: FlowFilter.all() }));
    assert.is(src.stats().ringBytes, 4096);
    const got = new Set<string>();
    const losses: { n: number; why: string }[] = [];
    const sink: EventSink = {
      flow(ev) { if (ev.type === EV.NEW) got.add(key(ev.flow)); },
      expectation() {},
      batchEnd() {},
      loss(n, why) { losses.push({ n, why }); },
    };
    src.start(sink);
    const ct = fw.conntrack();
    try {
      const flows: Flow[] = [];
      for (let i = 0; i < BURST; i++) {
        const orig = { src: '192.0.2.2', dst: `198.51.100.${1 + (i % 250)}`, proto: 17, sport: 20000 + i, dport: 53 };
        flows.push({ family: 4, orig, reply: { src: orig.dst, dst: orig.src, proto: 17, sport: 53, dport: orig.sport }, status: STATUS.SEEN_REPLY, timeout: 120 });
      }
      // one synchronous batch: the kernel emits every event before the reader can run
      const r = ct.create(flows);
      assert.is(r.failed.size, 0);
      const end = Date.now() + 10000;
      const lostSoFar = () => losses.reduce((a, l) => a + l.n, 0);
      while (got.size + lostSoFar() < BURST && Date.now() < end) await new Promise((res) => setTimeout(res, 20));

      const st = src.stats();
      const lost = lostSoFar();
      assert.is(st.bpf.seen, BURST, 'every event reached the program');
      assert.ok(st.bpf.ringFull > 0, 'the ring buffer overflowed');
      assert.is(lost, st.bpf.ringFull, 'loss() reported every failed reservation');
      assert.ok(losses.every((l) => l.why === 'BPF ring buffer full'), JSON.stringify(losses[0]));
      assert.is(got.size + lost, BURST, 'delivered + lost = events');
      assert.is(src.counters().lost, lost);
      assert.ok(src.counters().overruns >= 1);

      // the resync: the kernel table holds what the records missed
      const table = ct.dump(4);
      assert.is(table.length, BURST);
      const restored = table.filter((f) => !got.has(key(f)));
      assert.is(restored.length, lost, 'the dump restores exactly the lost flows');
      console.log(`  ring of ${st.ringBytes} bytes: ${got.size} records delivered, ${lost} lost and reported, ${restored.length} restored by a dump`);
    } finally {
      await ct.close();
      await src.close();
    }
  });
});

test.run();
