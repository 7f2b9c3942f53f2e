// timeout: 240
// The kernel-side filter maps drop what the configuration excludes and nothing else: for each of
// several accept-protocol / ignore-address settings (applied live to the running source), the
// NEW records delivered are exactly the flows of the kernel table that FlowFilter.matches keeps,
// over real UDP traffic (IPv4 and IPv6, with destination NAT by nftables) and flows of other
// protocols created through ctnetlink (TCP, ICMP, ICMPv6, SCTP, with NAT).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withLab } from '../lab/lab.ts';
import { buildSingle, TRACK_ALL } from '../lab/topology.ts';
import { inNetns } from '../../src/kernel/netns.ts';
import { BpfNetlinkEventSource } from '../../src/kernel/events/bpf-netlink.ts';
import { FlowFilter, type FilterConfig } from '../../src/flow/filter.ts';
import { EV } from '../../src/flow/event.ts';
import { type Flow, type Tuple, STATUS, invertTuple } from '../../src/flow/flow.ts';
import type { EventSink } from '../../src/kernel/events/source.ts';

const NAT = `
table inet ctsync_bpf_nat {
  chain out {
    type nat hook output priority -100; policy accept;
    ip daddr 203.0.113.128/25 dnat ip to 198.51.100.200
    ip6 daddr 2001:db8:2::80/121 dnat ip6 to 2001:db8:2::ff
  }
}
`;

const key = (f: Flow) => {
  const o = f.orig;
  return `${f.family}|${o.src}|${o.dst}|${o.proto}|${o.sport ?? ''}|${o.dport ?? ''}|${o.icmpType ?? ''}|${o.icmpId ?? ''}`;
};

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

/** Flows of other protocols, some translated, created through ctnetlink (their NEW events are real). */
function madeFlows(round: number): Flow[] {
  const out: Flow[] = [];
  const mk = (family: 4 | 6, orig: Tuple, extra: Partial<Flow> = {}, reply?: Partial<Tuple>): Flow =>
    ({ family, orig, reply: { ...invertTuple(orig), ...reply }, status: STATUS.SEEN_REPLY | STATUS.ASSURED, timeout: 300, ...extra });
  for (let i = 1; i <= 6; i++) {
    const sport = 30000 + round * 100 + i;
    out.push(mk(4, { src: '192.0.2.2', dst: `198.51.100.${i * 20}`, proto: 6, sport, dport: 443 }, { tcp: { state: 3 } }));
    out.push(mk(4, { src: '192.0.2.2', dst: `203.0.113.${i * 9}`, proto: 6, sport, dport: 80 },
      { tcp: { state: 3 }, status: STATUS.SEEN_REPLY | STATUS.ASSURED | STATUS.DST_NAT | STATUS.DST_NAT_DONE },
      { src: `198.51.100.${i * 40}`, sport: 8080 }));
    out.push(mk(4, { src: '192.0.2.2', dst: `198.51.100.${i * 30}`, proto: 1, icmpType: 8, icmpCode: 0, icmpId: sport }, { timeout: 30 }));
    out.push(mk(6, { src: '2001:db8:1::2', dst: `2001:db8:2::${(i * 16).toString(16)}`, proto: 58, icmpType: 128, icmpCode: 0, icmpId: sport }, { timeout: 30 }));
    out.push(mk(6, { src: '2001:db8:1::2', dst: `2001:db8:2::${(i * 40).toString(16)}`, proto: 132, sport, dport: 36412 },
      { sctp: { state: 4, vtagOrig: 0x1000 + i, vtagReply: 0x2000 + i } }));
    out.push(mk(6, { src: '2001:db8:1::2', dst: `2001:db8:5::${i}`, proto: 6, sport, dport: 22 },
      { tcp: { state: 3 }, status: STATUS.SEEN_REPLY | STATUS.ASSURED | STATUS.DST_NAT | STATUS.DST_NAT_DONE },
      { src: `2001:db8:2::${i}` }));
  }
  return out;
}

const SETTINGS: FilterConfig[] = [
  { acceptProtocols: ['udp', 'icmp6'], ignoreAddresses: ['198.51.100.0/25', '198.51.100.200', '2001:db8:2::40/122'] },
  { ignoreAddresses: ['203.0.113.0/26', '2001:db8:2::ff', '2001:db8:2::/127', '198.51.100.160/27'] },
  { acceptProtocols: ['tcp', 'sctp', 'icmp'] },
  { acceptProtocols: ['udp'], ignoreAddresses: ['0.0.0.0/0'] },
  {},
];

test('the BPF filter maps keep exactly what FlowFilter.matches keeps, for every setting', async () => {
  await withLab('bpff', async (lab) => {
    const { fw } = await buildSingle(lab, TRACK_ALL + NAT);
    const src = inNetns(fw.name, () => new BpfNetlinkEventSource({ bufferMB: 8, filter: FlowFilter.all() }));
    const got = new Map<string, Flow>();
    let losses = 0;
    const sink: EventSink = {
      flow(ev) { if (ev.type === EV.NEW) got.set(key(ev.flow), ev.flow); },
      expectation() {},
      batchEnd() {},
      loss(n) { losses += n; },
    };
    src.start(sink);
    const ct = fw.conntrack();
    try {
      for (let round = 0; round < SETTINGS.length; round++) {
        const filter = FlowFilter.from(SETTINGS[round]);
        src.setFilter(filter);
        got.clear();
        const before = src.stats().bpf;
        const v4 = lab.agent(fw, 'udp-flows', ['--targets', '198.51.100.0/24,203.0.113.0/24', '--count', '508', '--port-base', String(2000 + round * 10)]);
        assert.is((await v4.next(30000)).sent, 508);
        const v6 = lab.agent(fw, 'udp-flows', ['--targets', '2001:db8:2::/64', '--count', '254', '--port-base', String(2000 + round * 10)]);
        assert.is((await v6.next(30000)).sent, 254);
        const made = madeFlows(round);
        const r = ct.create(made);
        assert.is(r.failed.size, 0, `ctnetlink creates: ${JSON.stringify([...r.failed])}`);

        const table = ct.dump();
        assert.is(table.length, 508 + 254 + made.length, 'kernel table for the round');
        assert.ok(table.some((f) => f.reply.src === '198.51.100.200'), 'nftables DNAT shows in the reply source');
        const keep = table.filter((f) => filter.matches(f));
        const drop = table.length - keep.length;
        await until(() => src.stats().bpf.seen - before.seen >= table.length && got.size >= keep.length, 20000);
        src.drain();
        const after = src.stats().bpf;
        assert.is(after.seen - before.seen, table.length, `round ${round}: events seen in the kernel`);
        assert.is(after.filtered - before.filtered, drop, `round ${round}: filtered in the kernel`);
        assert.is(got.size, keep.length, `round ${round}: records delivered`);
        for (const f of keep) assert.ok(got.has(key(f)), `round ${round}: missing ${key(f)}`);
        if (round < 3) assert.ok(drop > 0 && keep.length > 0, `setting ${round} keeps some and drops some`);
        console.log(`  setting ${round} (${filter.describe()}): ${keep.length} kept, ${drop} dropped in the kernel`);

        // clear the table for the next round; its DESTROY events go through the same filter
        const seenBefore = src.stats().bpf.seen;
        ct.flush();
        await until(() => src.stats().bpf.seen - seenBefore >= table.length, 20000);
      }
      assert.is(losses, 0);
      assert.is(src.stats().bpf.ringFull, 0);
    } finally {
      await ct.close();
      await src.close();
    }
  });
});

test.run();
