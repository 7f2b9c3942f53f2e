// The commit guard's ruleset text (what it drops, that it never rejects, what it lets through),
// the tuple-matching variant used for the measurement, and the reading of its drop counters.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  guardRuleset, guardRules, preciseGuardRuleset, parseGuardCounters, GUARD_TABLE, GUARD_PRIORITY, GUARD_RULES, VERDICT, CT_KEY, CMP, META, FIB,
} from '../../src/failover/guard-rules.ts';
import { encodeTableBatch, NFPROTO_INET } from '../../src/failover/nftables.ts';
import { NlWriter, AttrTable, eachMessage, NLM_F } from '../../src/kernel/nlmsg.ts';
import { STATUS, type Flow } from '../../src/flow/flow.ts';

test('the guard: one prerouting chain after conntrack and before DNAT; drops, never rejects', () => {
  const text = guardRuleset({ exemptInterfaces: ['sync0', 'eth9'] });
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  assert.equal(lines, [
    `table inet ${GUARD_TABLE} {`,
    'chain prerouting {',
    'type filter hook prerouting priority -150; policy accept;',
    'iifname "sync0" accept',
    'iifname "eth9" accept',
    'icmpv6 type >= 130 accept',
    `ct state invalid counter drop comment "${GUARD_RULES.invalid}"`,
    `ct state new tcp flags & (fin | syn | rst | ack) != syn counter drop comment "${GUARD_RULES.loose}"`,
    `ct state new meta l4proto udp counter drop comment "${GUARD_RULES.udp}"`,
    `ct state new meta l4proto udplite counter drop comment "${GUARD_RULES.udp}"`,
    '}',
    '}',
  ]);
  assert.ok(GUARD_PRIORITY > -200 && GUARD_PRIORITY < -100);
  assert.not.match(text, /reject/);
  assert.not.match(guardRuleset(), /iifname/, 'no exemption without sync interfaces');
  // the standby form: forwarded traffic only, INVALID and TCP only
  const standby = guardRuleset({ stage: 'standby', exemptInterfaces: ['sync0'] }).split('\n').map((l) => l.trim()).filter(Boolean);
  assert.equal(standby.slice(3, -2), [
    'iifname "sync0" accept',
    'icmpv6 type >= 130 accept',
    'fib daddr type local accept',
    `ct state invalid counter drop comment "${GUARD_RULES.invalid}"`,
    `ct state new tcp flags & (fin | syn | rst | ack) != syn counter drop comment "${GUARD_RULES.loose}"`,
  ]);
  assert.equal(guardRules({ stage: 'standby' })[1].exprs, [
    { op: 'fib', result: FIB.RESULT_ADDRTYPE, flags: FIB.F_DADDR }, { op: 'cmp', cmp: CMP.EQ, data: Uint8Array.of(2, 0, 0, 0) },
    { op: 'verdict', code: VERDICT.ACCEPT },
  ]);
  assert.match(guardRuleset({ table: 'other' }), /^table inet other \{/);
});

test('the guard as nf_tables expressions: every drop counted, verdicts, registers, comments', () => {
  const rules = guardRules({ exemptInterfaces: ['sync0'] });
  assert.is(rules.length, 6);
  for (const r of rules) {
    const last = r.exprs[r.exprs.length - 1];
    assert.is(last.op, 'verdict');
    const verdict = (last as { code: number }).code;
    if (r.comment) {
      assert.is(verdict, VERDICT.DROP, r.text);
      assert.is(r.exprs[r.exprs.length - 2].op, 'counter', r.text);
      assert.ok(r.text.includes(`comment "${GUARD_RULES[r.comment]}"`));
    } else assert.is(verdict, VERDICT.ACCEPT, r.text);
  }
  // ct state invalid: load the state, keep bit 0, not zero
  assert.equal(rules[2].exprs.slice(0, 3), [
    { op: 'ct', key: CT_KEY.STATE },
    { op: 'bitwise', mask: Uint8Array.of(1, 0, 0, 0) },
    { op: 'cmp', cmp: CMP.NEQ, data: Uint8Array.of(0, 0, 0, 0) },
  ]);
  // the interface name is compared as IFNAMSIZ bytes, zero-padded
  const cmp = rules[0].exprs[1] as { data: Uint8Array };
  assert.equal([...cmp.data], [115, 121, 110, 99, 48, ...new Array(11).fill(0)]);
  // a bare SYN passes: the flags byte is masked with FIN|SYN|RST|ACK and compared with SYN
  const tcp = rules[3].exprs;
  assert.equal(tcp.slice(3), [
    { op: 'meta', key: META.L4PROTO }, { op: 'cmp', cmp: CMP.EQ, data: Uint8Array.of(6) },
    { op: 'payload', base: 2, offset: 13, len: 1 }, { op: 'bitwise', mask: Uint8Array.of(0x17) },
    { op: 'cmp', cmp: CMP.NEQ, data: Uint8Array.of(0x02) }, { op: 'counter' }, { op: 'verdict', code: VERDICT.DROP },
  ]);
});

test('the netlink batch: begin, table declared, deleted and created, base chain, one rule per spec, end', () => {
  const w = new NlWriter();
  const rules = guardRules({ exemptInterfaces: ['sync0'] });
  const acks = encodeTableBatch(w, { table: GUARD_TABLE, chain: 'prerouting', priority: GUARD_PRIORITY, rules }, 100);
  assert.is(acks, 4 + rules.length);
  const dv = new DataView(w.buf.buffer);
  const msgs: { type: number; flags: number; seq: number; family: number; resId: number; p: number; end: number }[] = [];
  eachMessage(dv, w.len, (h, p) => msgs.push({ type: h.type, flags: h.flags, seq: h.seq, family: dv.getUint8(p), resId: dv.getUint16(p + 2, false), p, end: p - 16 + h.len }));
  const nft = (m: number) => (10 << 8) | m;
  assert.equal(msgs.map((m) => m.type), [0x10, nft(0), nft(2), nft(0), nft(3), ...rules.map(() => nft(6)), 0x11]);
  assert.equal(msgs.map((m) => m.seq), msgs.map((_, i) => 100 + i));
  assert.is(msgs[0].resId, 10, 'batch for NFNL_SUBSYS_NFTABLES');
  assert.ok(msgs.slice(1, -1).every((m) => m.family === NFPROTO_INET && (m.flags & NLM_F.ACK) !== 0));
  // the chain: hook prerouting (0), priority -150, policy accept, type filter
  const chain = msgs[4];
  const a = new AttrTable(8);
  assert.ok(a.parse(dv, chain.p + 4, chain.end));
  const hook = new AttrTable(3);
  assert.ok(hook.parse(dv, a.at[4], a.at[4] + a.len[4]));
  assert.is(dv.getUint32(hook.at[1], false), 0);
  assert.is(dv.getInt32(hook.at[2], false), -150);
  assert.is(dv.getUint32(a.at[5], false), 1);
  // the TCP rule (the fourth) carries its comment as rule userdata (TLV type 0)
  const rule = msgs[5 + 3];
  const r = new AttrTable(8);
  assert.ok(r.parse(dv, rule.p + 4, rule.end));
  const ud = w.buf.subarray(r.at[7], r.at[7] + r.len[7]);
  assert.equal([ud[0], ud[1]], [0, GUARD_RULES.loose.length + 1]);
  assert.is(new TextDecoder().decode(ud.subarray(2, 2 + GUARD_RULES.loose.length)), GUARD_RULES.loose);
  // expression names, in order
  const names: string[] = [];
  const e = new AttrTable(2);
  let o = r.at[4];
  while (o < r.at[4] + r.len[4]) {
    const l = dv.getUint16(o, true);
    e.parse(dv, o + 4, o + l);
    names.push(new TextDecoder().decode(w.buf.subarray(e.at[1], e.at[1] + e.len[1] - 1)));
    o += (l + 3) & ~3;
  }
  assert.equal(names, ['ct', 'bitwise', 'cmp', 'meta', 'cmp', 'payload', 'bitwise', 'cmp', 'counter', 'immediate']);
});

test('the precise variant: both directions of every port-based flow, by family; ICMP left out', () => {
  const flows: Flow[] = [
    {
      family: 4, status: STATUS.SEEN_REPLY | STATUS.SRC_NAT,
      orig: { src: '192.0.2.100', dst: '198.51.100.100', proto: 6, sport: 40000, dport: 7000 },
      reply: { src: '198.51.100.100', dst: '198.51.100.1', proto: 6, sport: 7000, dport: 61000 },
    },
    {
      family: 6, status: 0,
      orig: { src: '2001:db8:1::100', dst: '2001:db8:2::100', proto: 17, sport: 5000, dport: 53 },
      reply: { src: '2001:db8:2::100', dst: '2001:db8:1::100', proto: 17, sport: 53, dport: 5000 },
    },
    {
      family: 4, status: 0,
      orig: { src: '192.0.2.100', dst: '198.51.100.100', proto: 1, icmpType: 8, icmpCode: 0, icmpId: 9 },
      reply: { src: '198.51.100.100', dst: '192.0.2.100', proto: 1, icmpType: 0, icmpCode: 0, icmpId: 9 },
    },
  ];
  const text = preciseGuardRuleset(flows);
  assert.match(text, /set flows4 \{ type ipv4_addr \. inet_proto \. inet_service \. ipv4_addr \. inet_service; size 1024; \}/);
  assert.match(text, /ct state \{ invalid, new \} ip saddr \. meta l4proto \. th sport \. ip daddr \. th dport @flows4 counter drop/);
  assert.match(text, /ct state \{ invalid, new \} ip6 saddr \. meta l4proto \. th sport \. ip6 daddr \. th dport @flows6 counter drop/);
  assert.ok(text.includes('add element inet ctsync_guard flows4 { 192.0.2.100 . 6 . 40000 . 198.51.100.100 . 7000, 198.51.100.100 . 6 . 7000 . 198.51.100.1 . 61000 }'));
  assert.ok(text.includes('add element inet ctsync_guard flows6 { 2001:db8:1::100 . 17 . 5000 . 2001:db8:2::100 . 53, 2001:db8:2::100 . 17 . 53 . 2001:db8:1::100 . 5000 }'));
  assert.not.match(text, /icmp.*\. 8 \./);
  assert.not.match(preciseGuardRuleset([]), /add element/);
});

test('drop counters from `nft -j list table`, by rule comment', () => {
  const json = JSON.stringify({
    nftables: [
      { metainfo: { version: '1.0.6', json_schema_version: 1 } },
      { table: { family: 'inet', name: 'ctsync_guard', handle: 1 } },
      { chain: { family: 'inet', table: 'ctsync_guard', name: 'prerouting', handle: 1, type: 'filter', hook: 'prerouting', prio: -150, policy: 'accept' } },
      { rule: { family: 'inet', table: 'ctsync_guard', chain: 'prerouting', handle: 2, expr: [{ match: {} }, { accept: null }] } },
      { rule: { chain: 'prerouting', handle: 3, comment: GUARD_RULES.invalid, expr: [{ match: {} }, { counter: { packets: 7, bytes: 420 } }, { drop: null }] } },
      { rule: { chain: 'prerouting', handle: 4, comment: GUARD_RULES.loose, expr: [{ match: {} }, { counter: { packets: 2, bytes: 104 } }, { drop: null }] } },
      { rule: { chain: 'prerouting', handle: 5, comment: GUARD_RULES.udp, expr: [{ match: {} }, { counter: { packets: 0, bytes: 0 } }, { drop: null }] } },
    ],
  });
  assert.equal(parseGuardCounters(json), { packets: 9, bytes: 524, byRule: { invalid: 7, loose: 2, udp: 0 } });
  assert.equal(parseGuardCounters('not json'), { packets: 0, bytes: 0, byRule: {} });
  assert.equal(parseGuardCounters('{}'), { packets: 0, bytes: 0, byRule: {} });
});

test.run();
