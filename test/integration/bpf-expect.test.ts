// timeout: 120
// Messages the socket filter passes up: expectation events reach the sink through the socket
// and the TypeScript codec, in kernel order with the conntrack records around them; a socket
// receive buffer that overflows (ENOBUFS) is reported as loss.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withLab } from '../lab/lab.ts';
import { buildSingle } from '../lab/topology.ts';
import { inNetns } from '../../src/kernel/netns.ts';
import { BpfNetlinkEventSource } from '../../src/kernel/events/bpf-netlink.ts';
import { FlowFilter } from '../../src/flow/filter.ts';
import { EV } from '../../src/flow/event.ts';
import { type Flow, type Expectation, type Tuple, STATUS, tupleEqual } from '../../src/flow/flow.ts';
import type { EventSink } from '../../src/kernel/events/source.ts';

function ftpMaster(i: number): Flow {
  const orig: Tuple = { src: '192.0.2.2', dst: `198.51.100.${1 + (i % 200)}`, proto: 6, sport: 30000 + i, dport: 21 };
  return {
    family: 4, orig, reply: { src: orig.dst, dst: orig.src, proto: 6, sport: 21, dport: orig.sport! },
    status: STATUS.SEEN_REPLY | STATUS.ASSURED, timeout: 600, tcp: { state: 3 }, helper: 'ftp',
  };
}

function expectationFor(m: Flow, i: number): Expectation {
  return {
    family: 4, master: m.orig,
    tuple: { src: m.orig.dst, dst: m.orig.src, proto: 6, sport: 0, dport: 50000 + i },
    mask: { src: '255.255.255.255', dst: '255.255.255.255', proto: 6, sport: 0, dport: 0xffff },
    timeout: 300, helper: 'ftp',
  };
}

type Item = { kind: 'flow'; type: number; f: Flow } | { kind: 'exp'; type: number; e: Expectation };

test('expectation events come up through the socket, after the records of their masters', async () => {
  await withLab('bpfe', async (lab) => {
    const { fw } = await buildSingle(lab);
    const src = inNetns(fw.name, () => new BpfNetlinkEventSource({ bufferMB: 1, filter: FlowFilter.all(), expectations: true }));
    const log: Item[] = [];
    let losses = 0;
    const sink: EventSink = {
      flow(ev) { log.push({ kind: 'flow', type: ev.type, f: ev.flow }); },
      expectation(ev) { log.push({ kind: 'exp', type: ev.type, e: ev.exp }); },
      batchEnd() {},
      loss(n) { losses += n; },
    };
    src.start(sink);
    const ct = fw.conntrack();
    try {
      const N = 50;
      for (let i = 0; i < N; i++) {
        // master and expectation one after the other: the kernel order interleaves them
        const m = ftpMaster(i);
        assert.is(ct.create([m]).failed.size, 0);
        assert.is(ct.createExpectations([expectationFor(m, i)]).failed.size, 0);
      }
      const end = Date.now() + 10000;
      while (log.filter((x) => x.kind === 'exp').length < N && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      const exps = log.filter((x) => x.kind === 'exp');
      assert.is(exps.length, N, 'expectation events');
      for (let i = 0; i < N; i++) {
        const at = log.findIndex((x) => x.kind === 'exp' && tupleEqual(x.e.master, ftpMaster(i).orig));
        const masterAt = log.findIndex((x) => x.kind === 'flow' && x.type === EV.NEW && tupleEqual(x.f.orig, ftpMaster(i).orig));
        assert.ok(masterAt >= 0 && at > masterAt, `expectation ${i} after its master (${masterAt} < ${at})`);
        const e = (log[at] as { e: Expectation }).e;
        assert.is(e.helper, 'ftp');
        assert.is(e.tuple.dport, 50000 + i);
        if (i + 1 < N) {
          const nextMaster = log.findIndex((x) => x.kind === 'flow' && tupleEqual(x.f.orig, ftpMaster(i + 1).orig));
          assert.ok(at < nextMaster, `expectation ${i} before the next master`);
        }
      }
      const masters = log.filter((x) => x.kind === 'flow' && x.type === EV.NEW);
      assert.is(masters.length, N);
      assert.is((masters[0] as { f: Flow }).f.helper, 'ftp', 'the helper name rides in the record');
      const st = src.stats();
      assert.is(st.bpf.passedUp, N, 'BPF: passed up');
      assert.is(st.socketMessages, N, 'read from the socket');
      assert.is(st.bpf.submitted, N, 'BPF: conntrack records');
      assert.is(losses, 0);
    } finally {
      await ct.close();
      await src.close();
    }
  });
});

test('a socket receive buffer overrun (ENOBUFS) is reported as loss, reliable DESTROYs or not', async () => {
  await withLab('bpfe', async (lab) => {
    const { fw } = await buildSingle(lab);
    // the kernel resends DESTROYs the socket drops, but not expectation events: these are lost
    const src = inNetns(fw.name, () => new BpfNetlinkEventSource({ bufferMB: 1, filter: FlowFilter.all(), expectations: true, socketBufferBytes: 4096, reliableDestroy: true }));
    const why: string[] = [];
    src.start({ flow() {}, expectation() {}, batchEnd() {}, loss(_n, w) { why.push(w); } });
    const ct = fw.conntrack();
    try {
      const masters = Array.from({ length: 300 }, (_, i) => ftpMaster(i));
      assert.is(ct.create(masters).failed.size, 0);
      // one batch: the expectation events pile up on the socket before anything reads it
      assert.is(ct.createExpectations(masters.map((m, i) => expectationFor(m, i))).failed.size, 0);
      const end = Date.now() + 5000;
      while (why.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      assert.ok(why.includes('netlink receive buffer overrun (ENOBUFS)'), JSON.stringify(why));
      const st = src.stats();
      assert.ok(st.socketOverruns >= 1);
      assert.is(st.socketOverrunsResent, 0, 'expectation events went up: no overrun is taken for DESTROYs only');
      assert.ok(st.socketMessages < 300, `only part came through: ${st.socketMessages}`);
      assert.ok(src.counters().lost >= 1);
    } finally {
      await ct.close();
      await src.close();
    }
  });
});

test.run();
