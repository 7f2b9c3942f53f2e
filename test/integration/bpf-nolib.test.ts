// timeout: 60
// Without a usable libbpf the BPF sources cannot load: the message says so in one line, and
// `auto` ends on the plain netlink source, which still delivers events (with the filter applied
// in TypeScript).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import process from 'node:process';
import { withLab } from '../lab/lab.ts';
import { buildSingle } from '../lab/topology.ts';
import { inNetns } from '../../src/kernel/netns.ts';
import { openEventSource } from '../../src/kernel/events/select.ts';
import { BpfNetlinkEventSource } from '../../src/kernel/events/bpf-netlink.ts';
import { BpfLoadError } from '../../src/kernel/bpf/object.ts';
import { FlowFilter } from '../../src/flow/filter.ts';
import { EV, type FlowEvent } from '../../src/flow/event.ts';
import { type Flow, STATUS } from '../../src/flow/flow.ts';

// before anything binds libbpf in this process
process.env.CTSYNC_LIBBPF = 'libbpf-ctsync-test-missing.so.1';

test('a missing libbpf gives a one-line BpfLoadError naming the library and the fix', () => {
  try {
    new BpfNetlinkEventSource({ bufferMB: 1, filter: FlowFilter.all() });
    assert.unreachable('loaded without libbpf');
  } catch (e) {
    assert.instance(e, BpfLoadError);
    const err = e as BpfLoadError;
    assert.is(err.failure, 'no-libbpf');
    assert.match(err.message, /^libbpf-ctsync-test-missing\.so\.1 not loadable \(.*\); install libbpf1 \(>= 1\.0\) or use event-source netlink$/);
    assert.not.match(err.message, /\n/);
  }
});

test('auto falls back to plain netlink, says why, and the filter still applies', async () => {
  await withLab('bpfm', async (lab) => {
    const { fw } = await buildSingle(lab);
    const filter = FlowFilter.from({ ignoreAddresses: ['198.51.100.66'] });
    const src = inNetns(fw.name, () => openEventSource({ kind: 'auto', bufferMB: 1, filter, expectations: false }));
    const ct = fw.conntrack();
    try {
      assert.is(src.kind, 'netlink');
      // one reason for both BPF sources, not the same words twice
      assert.match(src.reason, /^bpf-tracing and bpf-netlink unavailable \(libbpf-ctsync-test-missing\.so\.1 not loadable .*\); using netlink$/);
      const got: FlowEvent[] = [];
      src.start({ flow: (ev) => got.push(ev), expectation() {}, batchEnd() {}, loss() {} });
      const mk = (dst: string, sport: number): Flow => ({
        family: 4, orig: { src: '192.0.2.2', dst, proto: 17, sport, dport: 53 },
        reply: { src: dst, dst: '192.0.2.2', proto: 17, sport: 53, dport: sport }, status: STATUS.SEEN_REPLY, timeout: 60,
      });
      assert.is(ct.create([mk('198.51.100.65', 1000), mk('198.51.100.66', 1001), mk('198.51.100.67', 1002)]).failed.size, 0);
      const end = Date.now() + 5000;
      while (got.length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 50));
      src.drain();
      assert.equal(got.filter((e) => e.type === EV.NEW).map((e) => e.flow.orig.dst).sort(), ['198.51.100.65', '198.51.100.67']);
      assert.is(src.counters().filtered, 1);
    } finally {
      await ct.close();
      await src.close();
    }
  });
});

test.run();
