// timeout: 240
// The bpf-netlink source end to end: 100,000 flows made by real UDP traffic in a lab namespace
// reach the sink as exactly 100,000 NEW records equal to the kernel's own dump; a flush gives
// 100,000 DESTROY records; the BPF counters agree with what was delivered.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withLab } from '../lab/lab.ts';
import { buildSingle } from '../lab/topology.ts';
import { inNetns } from '../../src/kernel/netns.ts';
import { openEventSource } from '../../src/kernel/events/select.ts';
import { BpfNetlinkEventSource } from '../../src/kernel/events/bpf-netlink.ts';
import { FlowFilter } from '../../src/flow/filter.ts';
import { EV, type FlowEvent } from '../../src/flow/event.ts';
import type { Flow } from '../../src/flow/flow.ts';
import type { EventSink } from '../../src/kernel/events/source.ts';

const N = 100_000;

const key = (f: Flow) => `${f.orig.src}|${f.orig.dst}|${f.orig.proto}|${f.orig.sport}|${f.orig.dport}`;

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

test('100,000 flows from real traffic: NEW records equal the kernel dump, a flush gives 100,000 DESTROY records', async () => {
  await withLab('bpfn', async (lab) => {
    const { fw } = await buildSingle(lab);
    const src = inNetns(fw.name, () => openEventSource({
      kind: 'bpf-netlink', bufferMB: 64, filter: FlowFilter.all(), expectations: false, strict: true,
    }));
    assert.is(src.kind, 'bpf-netlink');
    const news = new Map<string, FlowEvent>();
    const counts = [0, 0, 0];
    let losses = 0, firstNs = 0n, lastNs = 0n, batches = 0;
    const sink: EventSink = {
      flow(ev) {
        counts[ev.type]++;
        if (ev.type === EV.NEW) news.set(key(ev.flow), ev);
        if (firstNs === 0n) firstNs = ev.kernelNs ?? 0n;
        lastNs = ev.kernelNs ?? lastNs;
      },
      expectation() {},
      batchEnd() { batches++; },
      loss(n) { losses += n; },
    };
    try {
      // the NEW records wait in the ring buffer (64 MB holds them) until the reader starts:
      // one drain then decodes the whole backlog
      const gen = lab.agent(fw, 'udp-flows', ['--targets', '198.51.100.0/24,203.0.113.0/24', '--count', String(N)]);
      const done = await gen.next(90000);
      assert.is(done.sent, N);
      await until(() => (src as BpfNetlinkEventSource).stats().bpf.submitted >= N, 30000);
      const t0 = performance.now();
      src.start(sink);
      src.drain();
      const t1 = performance.now();
      assert.is(counts[EV.NEW], N, 'NEW records');
      assert.is(news.size, N, 'distinct flows');
      assert.ok(firstNs > 0n && lastNs >= firstNs, 'records carry the kernel time stamp');

      const ct = fw.conntrack();
      try {
        const dump = ct.dump(4);
        assert.is(dump.length, N, 'kernel table');
        let compared = 0;
        for (const f of dump) {
          const ev = news.get(key(f));
          assert.ok(ev, `no NEW record for ${key(f)}`);
          const got = ev.flow;
          assert.equal(got.orig, f.orig);
          assert.equal(got.reply, f.reply);
          assert.is(got.family, f.family);
          assert.is(got.status, f.status, 'status');
          assert.is(got.id, f.id, 'id');
          // an event leaves out a zero mark and the default zone, a dump does not
          assert.is(got.mark ?? 0, f.mark ?? 0, 'mark');
          assert.is(got.zone ?? 0, f.zone ?? 0, 'zone');
          assert.ok(got.timeout !== undefined && f.timeout !== undefined && f.timeout <= got.timeout, 'timeout counts down from the event');
          compared++;
        }
        assert.is(compared, N);
        const t2 = performance.now();
        ct.flush();
        await until(() => counts[EV.DESTROY] >= N, 30000);
        const t3 = performance.now();
        assert.is(counts[EV.DESTROY], N, 'DESTROY records');
        assert.is(counts[EV.UPDATE], 0, 'no UPDATE records');
        assert.is(losses, 0, 'no loss');

        const st = (src as BpfNetlinkEventSource).stats();
        assert.is(st.bpf.seen, 2 * N, 'BPF: events seen');
        assert.is(st.bpf.submitted, 2 * N, 'BPF: records submitted');
        assert.is(st.bpf.ringFull, 0, 'BPF: ring buffer full');
        assert.is(st.bpf.filtered, 0, 'BPF: filtered');
        assert.is(st.bpf.passedUp, 0, 'BPF: passed up');
        assert.is(st.ring.records, 2 * N, 'ring: records read');
        assert.is(st.socketMessages, 0, 'nothing reached the socket');
        const c = src.counters();
        assert.is(c.received, 2 * N);
        assert.is(c.lost, 0);
        const kernelSecs = Number(lastNs - firstNs) / 1e9;
        console.log(`  NEW backlog: ${N} records drained and decoded in ${(t1 - t0).toFixed(0)} ms ` +
          `(${Math.round(N / ((t1 - t0) / 1000))} records/s); DESTROY, read live during the flush: ${N} in ` +
          `${(t3 - t2).toFixed(0)} ms (${Math.round(N / ((t3 - t2) / 1000))} records/s); kernel span ${kernelSecs.toFixed(2)} s; ` +
          `${st.ring.batches} ring batches`);
      } finally {
        await ct.close();
      }
    } finally {
      await src.close();
    }
  });
});

test.run();
