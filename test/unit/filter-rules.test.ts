// The filter rule (src/flow/filter.ts): protocols, IPv4/IPv6 addresses and prefixes, the NAT
// reply source, and the BPF map contents made from the same filter.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FlowFilter, FilterError, parsePrefix } from '../../src/flow/filter.ts';
import type { Flow, Tuple } from '../../src/flow/flow.ts';
import { invertTuple } from '../../src/flow/flow.ts';

function flow(src: string, dst: string, proto = 17, reply?: Partial<Tuple>): Flow {
  const orig: Tuple = { src, dst, proto, sport: 40000, dport: 53 };
  return { family: src.includes(':') ? 6 : 4, orig, reply: { ...invertTuple(orig), ...reply }, status: 0 };
}

test('no settings: every flow is synchronised and the BPF maps filter nothing', () => {
  const f = FlowFilter.from({});
  assert.is(f.active, false);
  assert.ok(f.matches(flow('192.0.2.1', '198.51.100.1')));
  assert.ok(f.matches(flow('2001:db8::1', '2001:db8::2', 58)));
  const m = f.bpfMaps();
  assert.is(m.protoFilter, false);
  assert.is(m.acceptProto.reduce((a, b) => a + b, 0), 256);
  assert.equal(m.ignoreV4, []);
  assert.equal(m.ignoreV6, []);
});

test('accept-protocol keeps the listed protocols only', () => {
  const f = FlowFilter.from({ acceptProtocols: ['tcp', 'UDP', 'icmp6'] });
  assert.ok(f.matches(flow('192.0.2.1', '198.51.100.1', 6)));
  assert.ok(f.matches(flow('192.0.2.1', '198.51.100.1', 17)));
  assert.ok(f.matches(flow('2001:db8::1', '2001:db8::2', 58)));
  assert.not.ok(f.matches(flow('192.0.2.1', '198.51.100.1', 1)), 'icmp not listed');
  assert.not.ok(f.matches(flow('192.0.2.1', '198.51.100.1', 132)), 'sctp not listed');
  assert.not.ok(f.matches(flow('192.0.2.1', '198.51.100.1', 112)), 'vrrp is never listed');
  const m = f.bpfMaps();
  assert.is(m.protoFilter, true);
  assert.equal([...m.acceptProto.keys()].filter((p) => m.acceptProto[p]), [6, 17, 58]);
});

test('every protocol name of the configuration maps to its IP protocol', () => {
  const all = { tcp: 6, udp: 17, icmp: 1, icmp6: 58, sctp: 132, dccp: 33 };
  for (const [name, num] of Object.entries(all)) {
    const f = FlowFilter.from({ acceptProtocols: [name] });
    assert.ok(f.matches(flow('192.0.2.1', '198.51.100.1', num)), name);
    assert.not.ok(f.matches(flow('192.0.2.1', '198.51.100.1', num === 6 ? 17 : 6)), `${name} only`);
  }
  assert.throws(() => FlowFilter.from({ acceptProtocols: ['gre'] }), (e: Error) => e instanceof FilterError && /accept-protocol "gre"/.test(e.message));
});

test('IPv4 prefixes: original source, original destination and reply source', () => {
  const f = FlowFilter.from({ ignoreAddresses: ['198.51.100.0/25', '203.0.113.77'] });
  assert.not.ok(f.matches(flow('198.51.100.5', '192.0.2.1')), 'orig source in prefix');
  assert.not.ok(f.matches(flow('192.0.2.1', '198.51.100.127')), 'orig destination, last address of the /25');
  assert.ok(f.matches(flow('192.0.2.1', '198.51.100.128')), 'first address after the /25');
  assert.not.ok(f.matches(flow('192.0.2.1', '203.0.113.77')), 'single address');
  assert.ok(f.matches(flow('192.0.2.1', '203.0.113.78')));
  // destination NAT: the client talks to a public address, the reply comes from the real server
  const dnat = flow('192.0.2.10', '203.0.113.10', 6, { src: '198.51.100.20', sport: 8080 });
  assert.not.ok(f.matches(dnat), 'reply source (the DNAT target) is ignored');
  // source NAT: the reply goes to the translated address, which is the reply destination: not checked
  const snat = flow('192.0.2.10', '203.0.113.10', 6, { dst: '198.51.100.30' });
  assert.ok(f.matches(snat), 'reply destination is not part of the rule');
});

test('IPv6 prefixes apply to IPv6 flows and IPv4 prefixes to IPv4 flows', () => {
  const f = FlowFilter.from({ ignoreAddresses: ['2001:db8:1::/48', '2001:DB8:2::7', '0.0.0.0/0'] });
  assert.not.ok(f.matches(flow('2001:db8:1:ffff::1', '2001:db8:9::1')));
  assert.ok(f.matches(flow('2001:db8:2::1', '2001:db8:9::1')));
  assert.not.ok(f.matches(flow('2001:db8:9::1', '2001:db8:2::7')), 'single address, other spelling');
  assert.not.ok(f.matches(flow('192.0.2.1', '198.51.100.1')), '0.0.0.0/0 takes every IPv4 flow');
  assert.ok(f.matches(flow('2001:db8:9::1', '2001:db8:9::2')), '... and no IPv6 flow');
  const nat6 = flow('2001:db8:9::1', '2001:db8:9::2', 6, { src: '2001:db8:1::80' });
  assert.not.ok(f.matches(nat6), 'IPv6 reply source');
});

test('prefixes with host bits and odd lengths are normalised; the BPF LPM entries match', () => {
  assert.equal(parsePrefix('192.0.2.77/26').text, '192.0.2.64/26');
  assert.equal(parsePrefix('2001:db8:abcd:12ff::1/52').text, '2001:db8:abcd:1000::/52');
  assert.equal(parsePrefix('198.51.100.9').text, '198.51.100.9/32');
  const f = FlowFilter.from({ ignoreAddresses: ['192.0.2.77/26', '2001:db8::/33', '192.0.2.64/26'] });
  assert.is(f.ignored.length, 2, 'duplicates collapse');
  const m = f.bpfMaps();
  assert.equal(m.ignoreV4, [{ prefixLen: 26, addr: new Uint8Array([192, 0, 2, 64]) }]);
  assert.is(m.ignoreV6[0].prefixLen, 33);
  assert.equal([...m.ignoreV6[0].addr.slice(0, 6)], [0x20, 0x01, 0x0d, 0xb8, 0, 0]);
  assert.not.ok(f.matches(flow('192.0.2.127', '198.51.100.1')));
  assert.ok(f.matches(flow('192.0.2.128', '198.51.100.1')));
  assert.not.ok(f.matches(flow('2001:db8:7fff::1', '2001:db9::1')), 'inside /33');
  assert.ok(f.matches(flow('2001:db8:8000::1', '2001:db9::1')), 'outside /33');
});

test('bad addresses and prefix lengths give one-line errors naming the value', () => {
  for (const bad of ['192.0.2.256', '192.0.2.0/33', '2001:db8::/129', 'host.example', '192.0.2.0/', '']) {
    assert.throws(() => FlowFilter.from({ ignoreAddresses: [bad] }), (e: Error) =>
      e instanceof FilterError && e.message.includes(`ignore-address "${bad}"`) && !e.message.includes('\n'));
  }
});

test('protocols and addresses combine: a flow must pass both', () => {
  const f = FlowFilter.from({ acceptProtocols: ['tcp'], ignoreAddresses: ['192.0.2.0/24'] });
  assert.ok(f.matches(flow('198.51.100.1', '203.0.113.1', 6)));
  assert.not.ok(f.matches(flow('198.51.100.1', '203.0.113.1', 17)));
  assert.not.ok(f.matches(flow('192.0.2.1', '203.0.113.1', 6)));
  assert.match(f.describe(), /protocols tcp; ignoring 192\.0\.2\.0\/24/);
});

test.run();
