// Shared by the fault tests (fault-*.test.ts): the daemons' setups, flows of every kind made
// through ctnetlink in a lab namespace, churn (create, update, delete), and the convergence
// check: the source's kernel table equals its internal cache, which equals the peer's external
// cache (or the peer's kernel table with disable-external-cache), field by field.
import type { Netns } from '../lab/netns.ts';
import type { CtsyncDaemon, SyncSetup } from '../lab/daemons.ts';
import { ADDR } from '../lab/topology.ts';
import type { Conntrack } from '../../src/kernel/conntrack.ts';
import { type Flow, STATUS, tupleEqual } from '../../src/flow/flow.ts';
import { FlowFilter } from '../../src/flow/filter.ts';
import { flowKey } from '../../src/flow/key.ts';

/** The sync link's own traffic is never replicated. */
export const IGNORE = ['203.0.113.0/24', '2001:db8:3::/64'];
const SYNCED = FlowFilter.from({ ignoreAddresses: IGNORE });

/** Daemon i (0: fw1, 1: fw2) of a buildSyncPair lab; unicast unless told otherwise. */
export function side(i: 0 | 1, opt: Partial<SyncSetup> & { multicast?: boolean } = {}): SyncSetup {
  const { multicast, ...rest } = opt;
  return {
    iface: 'sync0', local: ADDR.sync[i], mode: 'ftfw', ignore: IGNORE, eventSource: 'netlink',
    ...(multicast ? {} : { peer: ADDR.sync[1 - i] }),
    ...rest,
  };
}

/**
 * Flow number i of a family of test flows: TCP ESTABLISHED (every 3rd with a mark, every 5th in
 * zone 3, every 10th source-NATed with a port change, every 7th destination-NATed), UDP, ICMP, and
 * an IPv6 TCP flow every 11th. `base` keeps the flows of different namespaces apart.
 */
export function testFlow(i: number, base = 0): Flow {
  const n = i + base;
  const src = `192.0.2.${1 + (n % 250)}`;
  const dst = `198.51.100.${1 + (Math.floor(n / 250) % 250)}`;
  const sport = 1024 + Math.floor(n / 62500);
  const kind = n % 22;
  if (kind === 21) {
    const s6 = `2001:db8:1::${(1 + (n % 65000)).toString(16)}`, d6 = '2001:db8:2::80';
    return {
      family: 6, orig: { src: s6, dst: d6, proto: 6, sport: 2000 + (n % 60000), dport: 443 },
      reply: { src: d6, dst: s6, proto: 6, sport: 443, dport: 2000 + (n % 60000) },
      status: STATUS.SEEN_REPLY | STATUS.ASSURED | STATUS.CONFIRMED, timeout: 3000, tcp: { state: 3 }, mark: n % 100,
    };
  }
  if (kind < 16) {
    const dport = 1 + (n % 60000);
    const f: Flow = {
      family: 4, orig: { src, dst, proto: 6, sport, dport }, reply: { src: dst, dst: src, proto: 6, sport: dport, dport: sport },
      status: STATUS.SEEN_REPLY | STATUS.ASSURED | STATUS.CONFIRMED, timeout: 3600 + (n % 1000), tcp: { state: 3 },
    };
    if (n % 3 === 0) f.mark = n % 1000;
    if (n % 5 === 0) f.zone = 3;
    if (n % 10 === 1) {
      f.reply = { ...f.reply, dst: `198.51.100.${200 + (n % 50)}`, dport: 20000 + (n % 40000) };
      f.status |= STATUS.SRC_NAT | STATUS.SRC_NAT_DONE;
    } else if (n % 7 === 2) {
      f.reply = { ...f.reply, src: `198.51.100.${200 + (n % 50)}`, sport: 8000 + (n % 50000) };
      f.status |= STATUS.DST_NAT | STATUS.DST_NAT_DONE;
    }
    return f;
  }
  if (kind < 20) {
    const dport = 1 + (n % 60000);
    return {
      family: 4, orig: { src, dst, proto: 17, sport: sport + 10000, dport }, reply: { src: dst, dst: src, proto: 17, sport: dport, dport: sport + 10000 },
      status: STATUS.SEEN_REPLY | STATUS.CONFIRMED, timeout: 1200,
    };
  }
  const id = n % 65536;
  return {
    family: 4, orig: { src, dst, proto: 1, icmpType: 8, icmpCode: 0, icmpId: id }, reply: { src: dst, dst: src, proto: 1, icmpType: 0, icmpCode: 0, icmpId: id },
    status: STATUS.CONFIRMED, timeout: 1200,
  };
}

/** Fails loudly when the kernel refuses a change the test relies on. */
function ok(what: string, r: { ok: number; failed: Map<number, number> }, n: number): void {
  if (r.ok !== n) throw new Error(`${what}: the kernel took ${r.ok} of ${n} (errno ${[...new Set(r.failed.values())].join(', ')})`);
}

/** Changes to one namespace's table: the live set is what the kernel should hold. */
export class Churn {
  readonly live = new Map<number, Flow>();
  private next = 0;
  constructor(readonly ct: Conntrack, readonly base = 0) {}

  create(n: number): void {
    const fs: Flow[] = [];
    for (let k = 0; k < n; k++) {
      const i = this.next++;
      const f = testFlow(i, this.base);
      this.live.set(i, f);
      fs.push(f);
    }
    ok('create', this.ct.create(fs), fs.length);
  }

  /** New marks on n live flows (what `conntrack -U --mark` does). */
  update(n: number, mark: number): void {
    const ids = [...this.live.keys()].slice(0, n);
    const fs = ids.map((i) => ({ ...this.live.get(i)!, mark }));
    ids.forEach((i, k) => this.live.set(i, fs[k]));
    ok('update', this.ct.update(fs), fs.length);
  }

  /** Deletes the n oldest live flows. */
  remove(n: number): void {
    const ids = [...this.live.keys()].slice(0, n);
    const fs = ids.map((i) => this.live.get(i)!);
    for (const i of ids) this.live.delete(i);
    ok('delete', this.ct.delete(fs), fs.length);
  }

  /** A round of every kind of change. */
  round(mark: number, n = 50): void {
    this.create(n);
    this.update(n, mark);
    this.remove(Math.floor(n / 2));
  }
}

const MASK = STATUS.SEEN_REPLY | STATUS.ASSURED | STATUS.SRC_NAT | STATUS.DST_NAT;

/** Field-by-field difference (timeouts within `tolerance` seconds), or undefined. */
export function diff(a: Flow, b: Flow, tolerance: number): string | undefined {
  if (!tupleEqual(a.orig, b.orig)) return `orig ${JSON.stringify(a.orig)} vs ${JSON.stringify(b.orig)}`;
  if (!tupleEqual(a.reply, b.reply)) return `reply ${JSON.stringify(a.reply)} vs ${JSON.stringify(b.reply)}`;
  if ((a.status & MASK) !== (b.status & MASK)) return `status ${a.status} vs ${b.status}`;
  if ((a.mark ?? 0) !== (b.mark ?? 0)) return `mark ${a.mark} vs ${b.mark}`;
  if ((a.zone ?? 0) !== (b.zone ?? 0)) return `zone ${a.zone} vs ${b.zone}`;
  if (a.orig.proto !== b.orig.proto) return `protocol ${a.orig.proto} vs ${b.orig.proto}`;
  if ((a.tcp?.state ?? -1) !== (b.tcp?.state ?? -1)) return `tcp state ${a.tcp?.state} vs ${b.tcp?.state}`;
  if (Math.abs((a.timeout ?? 0) - (b.timeout ?? 0)) > tolerance) return `timeout ${a.timeout} vs ${b.timeout}`;
  return undefined;
}

/** Two tables equal key by key and field by field; a description of the first difference. */
export function compare(what: string, want: Flow[], got: Flow[], tolerance: number): string | undefined {
  const g = new Map(got.map((f) => [flowKey(f), f]));
  if (want.length !== got.length) {
    const w = new Set(want.map(flowKey));
    const missing = want.filter((f) => !g.has(flowKey(f))).length;
    const extra = got.filter((f) => !w.has(flowKey(f))).length;
    return `${what}: ${want.length} vs ${got.length} entries (${missing} missing, ${extra} extra)`;
  }
  for (const f of want) {
    const h = g.get(flowKey(f));
    if (!h) return `${what}: missing ${flowKey(f)}`;
    const d = diff(f, h, tolerance);
    if (d) return `${what}: ${flowKey(f)}: ${d}`;
  }
  return undefined;
}

/** The synchronised part of a namespace's kernel table. */
export async function kernelTable(ns: Netns, ignore?: string[]): Promise<Flow[]> {
  const filter = ignore ? FlowFilter.from({ ignoreAddresses: ignore }) : SYNCED;
  const ct = ns.conntrack();
  try {
    return ct.dump().filter((f) => filter.matches(f));
  } finally {
    await ct.close();
  }
}

export interface Convergence {
  /** the namespace whose flows are replicated, and its daemon */
  ns: Netns;
  from: CtsyncDaemon;
  /** the peer daemon (external cache), or the peer namespace (disable-external-cache) */
  to: CtsyncDaemon | Netns;
  /** the flows the test left in the source's kernel, if it kept track */
  expect?: Flow[];
  /** the daemons' ignore-address list, when not IGNORE */
  ignore?: string[];
}

/** One look: undefined when kernel == internal == external, else the first difference. */
export async function difference(c: Convergence): Promise<string | undefined> {
  const kernel = await kernelTable(c.ns, c.ignore);
  if (c.expect) {
    // the test knows which flows live; their reply tuples are the kernel's choice (NAT clashes)
    const k = new Set(kernel.map(flowKey));
    const missing = c.expect.filter((f) => !k.has(flowKey(f)));
    if (missing.length || kernel.length !== c.expect.length) {
      return `test vs kernel: ${c.expect.length} flows expected, ${kernel.length} in the kernel, ${missing.length} missing`;
    }
  }
  const internal = await c.from.cache('internal');
  // the kernel counts timeouts down; the internal cache holds the value of the last event
  const d1 = compare('kernel vs internal cache', kernel, internal, 600);
  if (d1) return d1;
  const external = 'cache' in c.to ? await c.to.cache('external') : await kernelTable(c.to, c.ignore);
  return compare('internal cache vs peer', internal, external, 'cache' in c.to ? 5 : 600);
}

/** Polls until the tables converge; throws with the last difference seen. */
export async function converge(c: Convergence, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  let last: string | undefined;
  for (;;) {
    last = await difference(c);
    if (!last) return;
    if (Date.now() > end) throw new Error(`${what}: not converged after ${ms} ms: ${last}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
