// `--json` forms of every `show` output: the data behind the text, not the text. Shapes:
//
//   statistics (view ct|expect):  { internal, external, traffic: {bytes, packets},
//                                   link: LinkStats | null, messages: {malformed, lost} }   (null: expect-sync off)
//   statistics network:           { network: NetworkStats, link: LinkStats | null }
//   statistics cache:             { internal, external }                 (TableStats of the conntrack table)
//   statistics runtime:           { uptimeSeconds, ...RuntimeStats }
//   statistics link:              LinkStats[]
//   statistics rsqueue:           { length, entries } | null
//   statistics queue:             { allocatedNodes, list: QueueStat[] }
//   statistics process:           ProcessEntry[]
//   VyOS statistics:              { main: <ct>, expect?: <expect> }
//   cache dump:                   [{ flow: Flow, activeSince, expiresIn? }]   (bigints as decimal strings)
//   expectation dump:             [{ exp: Expectation, activeSince, expiresIn? }]
//   cache table:                  [{ source, destination, protocol }]
//   status:                       VyOS's --raw keys: { sync_interface, failover_mechanism, sync_group,
//                                   last_transition, sync_protocols }
//   conntrack table:              [{ id, family, protocol, protonum, state, source: {address, port},
//                                   destination: {address, port}, timeout }]   (port, state, id, timeout null when absent)
//   the whole snapshot:           Snapshot
import type { Flow } from '../../flow/flow.ts';
import type { Snapshot } from '../../control/snapshot.ts';
import type { CacheEntryView, ExpectEntryView } from './dump.ts';
import { type StatsView, activeLink } from './stats.ts';
import { type CacheRow, type StatusEventSource, type StatusView, expectSyncDisplay, formatDateC } from './vyos.ts';
import { lnfctProtoName, tcpStateName } from './names.ts';

/** JSON text, pretty-printed, bigints as decimal strings, with a final newline. */
export function toJson(value: unknown): string {
  return `${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`;
}

function general(s: Snapshot, t: Snapshot['conntrack']) {
  return {
    internal: t.internal,
    external: t.external,
    traffic: s.traffic,
    link: activeLink(s) ?? null,
    messages: { malformed: s.network.rcvMalformed, lost: s.network.rcvLost },
  };
}

/** The data of `conntrackd -s VIEW`. */
export function statsData(s: Snapshot, view: StatsView = 'ct'): unknown {
  switch (view) {
    case 'ct': return general(s, s.conntrack);
    case 'expect': return s.expect ? general(s, s.expect) : null;
    case 'network': return { network: s.network, link: activeLink(s) ?? null };
    case 'cache': return s.conntrack;
    case 'runtime': return { uptimeSeconds: s.daemon.uptimeSeconds, ...s.runtime };
    case 'link': return s.links;
    case 'rsqueue': return s.resendQueue ? { length: s.resendQueue.length, entries: s.resendQueue.entries ?? [] } : null;
    case 'queue': return s.queues;
    case 'process': return s.processes;
  }
}

/** The data of `show conntrack-sync statistics`. */
export function vyosStatisticsData(s: Snapshot): unknown {
  const out: Record<string, unknown> = { main: general(s, s.conntrack) };
  if (s.expect) out.expect = general(s, s.expect);
  return out;
}

export function cacheDumpData(entries: Iterable<CacheEntryView>): unknown[] {
  return [...entries].map((e) => (e.expiresIn === undefined
    ? { flow: e.flow, activeSince: e.activeSince }
    : { flow: e.flow, activeSince: e.activeSince, expiresIn: e.expiresIn }));
}

export function expectDumpData(entries: Iterable<ExpectEntryView>): unknown[] {
  return [...entries].map((e) => (e.expiresIn === undefined
    ? { exp: e.exp, activeSince: e.activeSince }
    : { exp: e.exp, activeSince: e.activeSince, expiresIn: e.expiresIn }));
}

export function cacheTableData(rows: readonly CacheRow[]): CacheRow[] {
  return rows.map((r) => ({ ...r }));
}

/** `show conntrack-sync status --json`, with the keys of VyOS's `--raw`. */
export function statusData(s: StatusView): {
  sync_interface: string; failover_mechanism: 'vrrp'; sync_group: string; last_transition: string; sync_protocols: string[];
  event_source?: StatusEventSource;
} {
  const shown = expectSyncDisplay(s.expectSync);
  return {
    sync_interface: s.interfaces.join(', '),
    failover_mechanism: 'vrrp',
    sync_group: s.syncGroup,
    last_transition: s.lastTransition ? `${s.lastTransition.state} at ${formatDateC(s.lastTransition.at, s.timeZone)}` : 'no transition yet!',
    sync_protocols: shown === 'disabled' ? [] : shown.split(', '),
    ...(s.eventSource ? { event_source: s.eventSource } : {}),
  };
}

export interface ConntrackTableEntry {
  id: number | null;
  family: 4 | 6;
  protocol: string;
  protonum: number;
  /** TCP state name, null for other protocols */
  state: string | null;
  source: { address: string; port: number | null };
  destination: { address: string; port: number | null };
  timeout: number | null;
  /** the whole entry as the kernel reported it: every field of the Flow */
  flow: Flow;
}

/** `show conntrack table ipv4|ipv6 --json`. */
export function conntrackTableData(flows: readonly Flow[]): ConntrackTableEntry[] {
  return flows.map((f) => ({
    id: f.id === undefined ? null : f.id >>> 0,
    family: f.family,
    protocol: lnfctProtoName(f.orig.proto),
    protonum: f.orig.proto,
    state: f.tcp ? tcpStateName(f.tcp.state) : null,
    source: { address: f.orig.src, port: f.orig.sport ?? null },
    destination: { address: f.orig.dst, port: f.orig.dport ?? null },
    timeout: f.timeout ?? null,
    flow: f,
  }));
}
