// timeout: 120
// A mass delete larger than the ring buffer (a flush, an interface going down): the socket filter
// hands the DESTROY events that find the ring full to the event socket instead, so none is lost
// and no resync is needed; with the socket full too, the kernel keeps the conntracks and sends
// their DESTROY again (the socket asks for delivery errors), and since nothing but DESTROYs went
// up, the overrun is no loss either.
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

const FLOWS = 3000;
const key = (f: Flow) => `${f.orig.src}|${f.orig.dst}|${f.orig.sport}|${f.orig.dport}`;

function flows(): Flow[] {
  const out: Flow[] = [];
  for (let i = 0; i < FLOWS; i++) {
    const orig = { src: '192.0.2.2', dst: `198.51.100.${1 + (i % 250)}`, proto: 17, sport: 20000 + i, dport: 53 };
    out.push({ family: 4, orig, reply: { src: orig.dst, dst: orig.src, proto: 17, sport: 53, dport: orig.sport }, status: STATUS.SEEN_REPLY, timeout: 120 });
  }
  return out;
}

/** FLOWS entries made with the source listening (but not to NEW events), then a flush: a DESTROY each. */
async function flood(socketBufferBytes: number | undefined, waitMs: number) {
  return withLab('bpfd', async (lab) => {
    const { fw } = await buildSingle(lab);
    const ct = fw.conntrack();
    // event-listen-queue-size 0: the smallest ring, one page (a dozen records)
    const src = inNetns(fw.name, () => new BpfNetlinkEventSource({ bufferMB: 0, filter: FlowFilter.all(), reliableDestroy: true, socketBufferBytes }));
    // no NEW events, but entries made while someone listens (the kernel gives only those events)
    src.newEvents(false);
    assert.is(ct.create(flows()).failed.size, 0);
    const destroyed = new Set<string>();
    const losses: string[] = [];
    const sink: EventSink = {
      flow(ev) { if (ev.type === EV.DESTROY) destroyed.add(key(ev.flow)); },
      expectation() {},
      batchEnd() {},
      loss(_n, why) { losses.push(why); },
    };
    try {
      src.start(sink);
      // one request: the kernel deletes every entry and emits its event before the reader runs
      ct.flush();
      const end = Date.now() + waitMs;
      while (destroyed.size < FLOWS && Date.now() < end) await new Promise((res) => setTimeout(res, 20));
      return { destroyed: destroyed.size, losses, st: src.stats(), left: ct.dump(4).length };
    } finally {
      await ct.close();
      await src.close();
    }
  });
}

test('the ring full: the DESTROY events go to the socket, every one arrives, none is lost', async () => {
  const { destroyed, losses, st, left } = await flood(undefined, 10000);
  assert.is(left, 0);
  assert.is(destroyed, FLOWS, 'every flow\'s DESTROY reached the sink');
  assert.is(st.bpf.ringFull, 0, 'no event lost in the kernel');
  assert.ok(st.bpf.destroyUp > 0, 'the ring overflowed and DESTROYs went to the socket');
  assert.is(st.socketMessages, st.bpf.destroyUp, 'each of them read from the socket');
  assert.is(st.ring.records + st.bpf.destroyUp, FLOWS, 'ring records + socket messages = events');
  assert.equal(losses, [], 'no loss reported: nothing to resync');
  console.log(`  ring of ${st.ringBytes} bytes: ${st.ring.records} DESTROYs through it, ${st.bpf.destroyUp} through the socket`);
});

test('the socket full too: the kernel sends the DESTROY events again until they are read, no loss', async () => {
  // the kernel doubles the size asked for: a few dozen messages
  const { destroyed, losses, st } = await flood(16 * 1024, 30000);
  assert.ok(st.socketOverruns > 0, 'the socket overflowed');
  assert.is(destroyed, FLOWS, 'every flow\'s DESTROY reached the sink, late ones included');
  assert.is(st.bpf.ringFull, 0);
  // nothing but DESTROYs went to the socket: every overrun dropped only what the kernel resends
  assert.is(st.bpf.passedUp, 0);
  assert.is(st.socketOverrunsResent, st.socketOverruns);
  assert.equal(losses, [], 'no loss reported: nothing to resync');
  console.log(`  socket overruns ${st.socketOverruns}; ${st.bpf.destroyUp} DESTROYs handed to the socket (resends included), ${st.socketMessages} read from it`);
});

test.run();
