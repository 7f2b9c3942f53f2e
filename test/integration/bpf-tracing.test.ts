// timeout: 120
// The tracing programs and the fallback. On kernels that refuse BPF trampolines (this lab's),
// loading the fentry program fails with EPERM and nothing else; its code passes the verifier
// (proved through its twin, the same body as a tp_btf program, which needs no trampoline); and
// `auto` as well as a configured bpf-tracing fall back to bpf-netlink and say why. Where
// trampolines are allowed, the tracing source must deliver the kernel's events itself.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withLab } from '../lab/lab.ts';
import { buildSingle } from '../lab/topology.ts';
import { inNetns } from '../../src/kernel/netns.ts';
import { CtsyncObject, BpfLoadError } from '../../src/kernel/bpf/object.ts';
import { openEventSource } from '../../src/kernel/events/select.ts';
import { FlowFilter } from '../../src/flow/filter.ts';
import { EV, type FlowEvent } from '../../src/flow/event.ts';
import { type Flow, STATUS } from '../../src/flow/flow.ts';
import { E } from '../../src/kernel/libc.ts';
import type { EventSource } from '../../src/kernel/events/source.ts';

function tryLoad(programs: Parameters<typeof CtsyncObject.load>[0]['programs']): BpfLoadError | undefined {
  try {
    CtsyncObject.load({ ringBytes: 1 << 16, programs }).close();
    return undefined;
  } catch (e) {
    if (e instanceof BpfLoadError) return e;
    throw e;
  }
}

const trampolinesRefused = tryLoad(['ct_socket', 'ct_trace_event']);

test('the fentry program either loads or is refused with EPERM as a trampoline program, nothing else', () => {
  if (!trampolinesRefused) return; // loaded: the kernel permits trampolines
  const e = trampolinesRefused;
  assert.is(e.failure, 'trampoline-refused', e.message);
  assert.is(e.errno, E.EPERM);
  assert.is(e.program, 'ct_trace_event');
  assert.match(e.log, /prog 'ct_trace_event': BPF program load failed: Operation not permitted/);
  assert.not.match(e.log, /prog 'ct_socket': BPF program load failed/, 'the socket filter itself is fine');
});

test('the tracing code passes the verifier: its tp_btf twin (same body, no trampoline) loads', () => {
  const e = tryLoad(['ct_trace_verify']);
  assert.is(e, undefined, e ? `${e.message}\n${e.log.slice(-2000)}` : '');
});

function newFlow(i: number): Flow {
  return {
    family: 4,
    orig: { src: '192.0.2.2', dst: '198.51.100.77', proto: 6, sport: 41000 + i, dport: 443 },
    reply: { src: '198.51.100.77', dst: '192.0.2.2', proto: 6, sport: 443, dport: 41000 + i },
    status: STATUS.SEEN_REPLY | STATUS.ASSURED, timeout: 600, mark: 9, tcp: { state: 3 },
  };
}

async function deliversEvents(src: EventSource, ct: { create(f: Flow[]): { failed: Map<number, number> } }, i: number): Promise<FlowEvent> {
  const got: FlowEvent[] = [];
  src.start({ flow: (ev) => got.push(ev), expectation() {}, batchEnd() {}, loss() {} });
  const f = newFlow(i);
  assert.is(ct.create([f]).failed.size, 0);
  const end = Date.now() + 5000;
  while (got.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  assert.is(got.length, 1, `${src.kind}: one event`);
  const ev = got[0];
  assert.is(ev.type, EV.NEW);
  assert.equal(ev.flow.orig, f.orig);
  assert.equal(ev.flow.reply, f.reply);
  assert.is(ev.flow.mark, 9);
  assert.is(ev.flow.tcp?.state, 3);
  assert.ok(typeof ev.kernelNs === 'bigint' && ev.kernelNs > 0n, 'kernel time stamp');
  return ev;
}

test('auto picks bpf-tracing where trampolines are allowed, otherwise bpf-netlink, and says why', async () => {
  await withLab('bpft', async (lab) => {
    const { fw } = await buildSingle(lab);
    const ct = fw.conntrack();
    const src = inNetns(fw.name, () => openEventSource({ kind: 'auto', bufferMB: 1, filter: FlowFilter.all(), expectations: false }));
    try {
      if (trampolinesRefused) {
        assert.is(src.kind, 'bpf-netlink');
        assert.match(src.reason, /^bpf-tracing refused by the kernel \(ct_trace_event: EPERM[^)]*trampolines[^)]*\); using bpf-netlink$/);
      } else {
        assert.is(src.kind, 'bpf-tracing');
        assert.is(src.reason, 'auto: bpf-tracing is available');
      }
      await deliversEvents(src, ct, 1);
    } finally {
      await src.close();
      await ct.close();
    }
  });
});

test('a configured bpf-tracing falls back the same way; strict mode throws instead', async () => {
  await withLab('bpft', async (lab) => {
    const { fw } = await buildSingle(lab);
    const ct = fw.conntrack();
    const src = inNetns(fw.name, () => openEventSource({ kind: 'bpf-tracing', bufferMB: 1, filter: FlowFilter.all(), expectations: true }));
    try {
      if (trampolinesRefused) {
        assert.is(src.kind, 'bpf-netlink');
        assert.match(src.reason, /bpf-tracing refused by the kernel .*; using bpf-netlink$/);
        assert.throws(() => inNetns(fw.name, () => openEventSource({
          kind: 'bpf-tracing', bufferMB: 1, filter: FlowFilter.all(), expectations: false, strict: true,
        })), (e: Error) => e instanceof BpfLoadError && e.failure === 'trampoline-refused');
      } else {
        assert.is(src.kind, 'bpf-tracing');
      }
      await deliversEvents(src, ct, 2);
      const plain = inNetns(fw.name, () => openEventSource({ kind: 'netlink', bufferMB: 1, filter: FlowFilter.all(), expectations: false }));
      assert.is(plain.kind, 'netlink');
      assert.is(plain.reason, 'configured: netlink');
      await plain.close();
    } finally {
      await src.close();
      await ct.close();
    }
  });
});

test.run();
