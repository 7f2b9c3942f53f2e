// The commit guard's rules: each one as nft source text and as the nf_tables expressions ctsync
// sends over netlink (nftables.ts), kept side by side so that they cannot drift apart (a test
// installs both and compares what `nft -j list` shows); and the reading of nft's JSON counters.
//
// Why a guard: keepalived puts the virtual addresses up before the notification that starts the
// commit (keepalived issues #2254, #2414). Until the external cache is in the kernel, a packet of
// an established flow meets no conntrack entry: mid-flow TCP is INVALID (tcp_loose=0) or a loose
// pickup (tcp_loose=1); an INVALID segment that a firewall without rules forwards leaves without
// its NAT and the far end answers it with a RST; a reply to a masqueraded flow is addressed to the
// firewall itself, so the local stack answers it with a RST (TCP) or port-unreachable (UDP); a
// loose or reply-direction entry confirmed now clashes with the entry the commit is about to
// create. Dropping those packets (never rejecting them) until the commit is done lets TCP
// retransmit and keeps the table free of clashing entries.
//
// The guard matches by protocol state, not by tuple: loading the external cache's tuples into an
// nft set takes seconds for 100,000 flows (docs/failover.md), far longer than the commit it would
// protect, while these few rules load in well under a millisecond whatever the table size.
// preciseGuardRuleset() builds the tuple-matching variant, for that measurement. And since even a
// millisecond transaction can stretch under load just when keepalived moves the addresses, a
// narrower form is armed ahead of time on the standby (GuardStage).
import type { Flow, Tuple } from '../flow/flow.ts';
import { IPPROTO } from '../flow/flow.ts';

export const GUARD_TABLE = 'ctsync_guard';
export const GUARD_CHAIN = 'prerouting';
/** after conntrack (-200) has classified the packet, before destination NAT (-100) */
export const GUARD_PRIORITY = -150;

/** Rule comments, also the keys of the drop counters. */
export const GUARD_RULES = {
  invalid: 'mid-flow packet without conntrack entry',
  loose: 'TCP picked up mid-flow',
  udp: 'new UDP flow',
} as const;
export type GuardRule = keyof typeof GUARD_RULES;

// ---- nf_tables expressions (linux/netfilter/nf_tables.h) ----

export const META = { NFPROTO: 15, L4PROTO: 16, IIFNAME: 6 } as const;
export const FIB = { RESULT_ADDRTYPE: 3, F_DADDR: 2, RTN_LOCAL: 2 } as const;
export const CT_KEY = { STATE: 0 } as const;
export const CMP = { EQ: 0, NEQ: 1, LT: 2, LTE: 3, GT: 4, GTE: 5 } as const;
export const PAYLOAD_BASE = { TRANSPORT: 2 } as const;
export const VERDICT = { DROP: 0, ACCEPT: 1 } as const;
/** conntrack state bits as `ct state` reads them */
export const CT_STATE = { INVALID: 1, ESTABLISHED: 2, RELATED: 4, NEW: 8, UNTRACKED: 64 } as const;
const NFPROTO_IPV6 = 10;

/** One expression of a rule; loads go to register 1, which every comparison reads. */
export type Expr =
  | { op: 'meta'; key: number }
  | { op: 'ct'; key: number }
  | { op: 'fib'; result: number; flags: number }
  | { op: 'payload'; base: number; offset: number; len: number }
  | { op: 'bitwise'; mask: Uint8Array }
  | { op: 'cmp'; cmp: number; data: Uint8Array }
  | { op: 'counter' }
  | { op: 'verdict'; code: number };

export interface RuleSpec {
  /** the same rule in nft's language */
  text: string;
  exprs: Expr[];
  /** counted drops are told apart by their comment */
  comment?: GuardRule;
}

/** a 32-bit register value as the kernel holds it (host order) */
function u32host(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
}

const ctState = (bit: number): Expr[] => [
  { op: 'ct', key: CT_KEY.STATE },
  { op: 'bitwise', mask: u32host(bit) },
  { op: 'cmp', cmp: CMP.NEQ, data: u32host(0) },
];
const l4proto = (p: number): Expr[] => [{ op: 'meta', key: META.L4PROTO }, { op: 'cmp', cmp: CMP.EQ, data: Uint8Array.of(p) }];

function ifname(name: string): Uint8Array {
  const b = new Uint8Array(16);
  for (let i = 0; i < Math.min(name.length, 15); i++) b[i] = name.charCodeAt(i) & 0xff;
  return b;
}

/**
 * standby: armed on a BACKUP, FAULT or STOPped node, so that it is already in place when the
 * virtual addresses arrive; only forwarded traffic, only TCP and INVALID packets: the node's own
 * services and sessions (SSH, SNMP, DNS, a session whose entry the purge removed) are untouched.
 * commit: while the commit runs, everything, local destinations and new UDP flows included.
 */
export type GuardStage = 'standby' | 'commit';

export interface GuardRulesetOptions {
  table?: string;
  /** interfaces never guarded: the dedicated sync links, so the peer's messages always pass */
  exemptInterfaces?: readonly string[];
  /** default commit */
  stage?: GuardStage;
}

const quoteIf = (s: string) => `"${s.replace(/["\\]/g, '')}"`;
const drop = (): Expr[] => [{ op: 'counter' }, { op: 'verdict', code: VERDICT.DROP }];

/**
 * The guard's rules. Both forms drop packets conntrack could not place (INVALID) and TCP
 * segments other than a bare SYN that would start a new entry; the commit form also drops new UDP
 * flows (a reply of a flow not committed yet looks like one), the standby form lets everything
 * addressed to the node itself through. New TCP connections (SYN) and ICMP echo requests pass,
 * and so do the sync links and ICMPv6 from type 130 on (neighbour discovery, MLD), which carry
 * no connection state.
 */
export function guardRules(opt: GuardRulesetOptions = {}): RuleSpec[] {
  const rules: RuleSpec[] = [];
  for (const i of opt.exemptInterfaces ?? []) {
    rules.push({
      text: `iifname ${quoteIf(i)} accept`,
      exprs: [{ op: 'meta', key: META.IIFNAME }, { op: 'cmp', cmp: CMP.EQ, data: ifname(i) }, { op: 'verdict', code: VERDICT.ACCEPT }],
    });
  }
  rules.push({
    text: 'icmpv6 type >= 130 accept',
    exprs: [
      { op: 'meta', key: META.NFPROTO }, { op: 'cmp', cmp: CMP.EQ, data: Uint8Array.of(NFPROTO_IPV6) },
      ...l4proto(IPPROTO.ICMPV6),
      { op: 'payload', base: PAYLOAD_BASE.TRANSPORT, offset: 0, len: 1 }, { op: 'cmp', cmp: CMP.GTE, data: Uint8Array.of(130) },
      { op: 'verdict', code: VERDICT.ACCEPT },
    ],
  });
  if (opt.stage === 'standby') {
    rules.push({
      text: 'fib daddr type local accept',
      exprs: [
        { op: 'fib', result: FIB.RESULT_ADDRTYPE, flags: FIB.F_DADDR }, { op: 'cmp', cmp: CMP.EQ, data: u32host(FIB.RTN_LOCAL) },
        { op: 'verdict', code: VERDICT.ACCEPT },
      ],
    });
  }
  rules.push({
    text: `ct state invalid counter drop comment "${GUARD_RULES.invalid}"`,
    exprs: [...ctState(CT_STATE.INVALID), ...drop()],
    comment: 'invalid',
  });
  rules.push({
    text: `ct state new tcp flags & (fin | syn | rst | ack) != syn counter drop comment "${GUARD_RULES.loose}"`,
    exprs: [
      ...ctState(CT_STATE.NEW), ...l4proto(IPPROTO.TCP),
      { op: 'payload', base: PAYLOAD_BASE.TRANSPORT, offset: 13, len: 1 }, { op: 'bitwise', mask: Uint8Array.of(0x17) },
      { op: 'cmp', cmp: CMP.NEQ, data: Uint8Array.of(0x02) },
      ...drop(),
    ],
    comment: 'loose',
  });
  if (opt.stage === 'standby') return rules;
  for (const [name, p] of [['udp', IPPROTO.UDP], ['udplite', IPPROTO.UDPLITE]] as const) {
    rules.push({
      text: `ct state new meta l4proto ${name} counter drop comment "${GUARD_RULES.udp}"`,
      exprs: [...ctState(CT_STATE.NEW), ...l4proto(p), ...drop()],
      comment: 'udp',
    });
  }
  return rules;
}

/** The guard as nft source text (what `nft list table inet ctsync_guard` shows, give or take nft's spelling). */
export function guardRuleset(opt: GuardRulesetOptions = {}): string {
  const table = opt.table ?? GUARD_TABLE;
  return [
    `table inet ${table} {`,
    `  chain ${GUARD_CHAIN} {`,
    `    type filter hook prerouting priority ${GUARD_PRIORITY}; policy accept;`,
    ...guardRules(opt).map((r) => `    ${r.text}`),
    '  }',
    '}',
    '',
  ].join('\n');
}

const PORT_PROTOS: ReadonlySet<number> = new Set([IPPROTO.TCP, IPPROTO.UDP, IPPROTO.UDPLITE, IPPROTO.SCTP, IPPROTO.DCCP]);

function element(t: Tuple): string {
  return `${t.src} . ${t.proto} . ${t.sport ?? 0} . ${t.dst} . ${t.dport ?? 0}`;
}

/**
 * The tuple-matching variant: both directions of every port-based flow in two nft sets (IPv4,
 * IPv6); a packet of such a flow that conntrack did not place is dropped. Precise, but its load
 * time grows with the table (measured in docs/failover.md), so ctsync does not install it.
 */
export function preciseGuardRuleset(flows: Iterable<Flow>, opt: { table?: string } = {}): string {
  const table = opt.table ?? GUARD_TABLE;
  const v4: string[] = [], v6: string[] = [];
  for (const f of flows) {
    if (!PORT_PROTOS.has(f.orig.proto)) continue;
    const into = f.family === 6 ? v6 : v4;
    into.push(element(f.orig), element(f.reply));
  }
  const set = (name: string, addr: string, n: number) =>
    `  set ${name} { type ${addr} . inet_proto . inet_service . ${addr} . inet_service; size ${Math.max(1024, n * 2)}; }`;
  const l = [
    `table inet ${table} {`,
    set('flows4', 'ipv4_addr', v4.length),
    set('flows6', 'ipv6_addr', v6.length),
    `  chain ${GUARD_CHAIN} {`,
    `    type filter hook prerouting priority ${GUARD_PRIORITY}; policy accept;`,
    `    ct state { invalid, new } ip saddr . meta l4proto . th sport . ip daddr . th dport @flows4 counter drop comment "${GUARD_RULES.invalid}"`,
    `    ct state { invalid, new } ip6 saddr . meta l4proto . th sport . ip6 daddr . th dport @flows6 counter drop comment "${GUARD_RULES.invalid}"`,
    '  }',
    '}',
  ];
  if (v4.length) l.push(`add element inet ${table} flows4 { ${v4.join(', ')} }`);
  if (v6.length) l.push(`add element inet ${table} flows6 { ${v6.join(', ')} }`);
  l.push('');
  return l.join('\n');
}

export interface GuardDrops { packets: number; bytes: number; byRule: Partial<Record<GuardRule, number>> }

/** Adds one rule's counter to the totals, by its comment. */
export function addDrops(d: GuardDrops, comment: string | undefined, packets: number, bytes: number): void {
  d.packets += packets;
  d.bytes += bytes;
  const key = (Object.keys(GUARD_RULES) as GuardRule[]).find((k) => GUARD_RULES[k] === comment);
  if (key) d.byRule[key] = (d.byRule[key] ?? 0) + packets;
}

/** Counters from `nft -j list table ...` (any table; rules with a guard comment are also sorted by rule). */
export function parseGuardCounters(json: string): GuardDrops {
  const out: GuardDrops = { packets: 0, bytes: 0, byRule: {} };
  let doc: { nftables?: Record<string, unknown>[] };
  try {
    doc = JSON.parse(json) as typeof doc;
  } catch {
    return out;
  }
  for (const item of doc.nftables ?? []) {
    const rule = item.rule as { comment?: string; expr?: Record<string, unknown>[] } | undefined;
    for (const e of rule?.expr ?? []) {
      const c = e.counter as { packets?: number; bytes?: number } | undefined;
      if (c) addDrops(out, rule!.comment, c.packets ?? 0, c.bytes ?? 0);
    }
  }
  return out;
}
