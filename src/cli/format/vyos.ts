// VyOS op-mode layouts: `show conntrack-sync cache ...` (a tabulate "simple" table),
// `show conntrack-sync status`, and the legacy `show conntrack table ipv4|ipv6`.
import type { Expectation, Flow, Tuple } from '../../flow/flow.ts';
import type { Config } from '../../config/schema.ts';
import type { EventSourceStats, FailoverStats } from '../../control/snapshot.ts';
import { lnfctProtoName, tcpStateName } from './names.ts';
import { left } from './printf.ts';

// ---------------------------------------------------------------- cache tables

/** One row of `show conntrack-sync cache ...`. */
export interface CacheRow {
  /** "addr:port", or the bare address for protocols without ports */
  source: string;
  destination: string;
  /** libnetfilter_conntrack's protocol name */
  protocol: string;
}

// VyOS reads <sport>/<dport> from the XML; only these protocols have them there.
function endpoint(addr: string, port: number | undefined, proto: number): string {
  const hasPort = proto === 6 || proto === 17 || proto === 136 || proto === 132 || proto === 33;
  return hasPort ? `${addr}:${port ?? 0}` : addr;
}

function rowOf(t: Tuple): CacheRow {
  return {
    source: endpoint(t.src, t.sport, t.proto),
    destination: endpoint(t.dst, t.dport, t.proto),
    protocol: lnfctProtoName(t.proto),
  };
}

/** The row VyOS shows for a flow: its original direction. */
export function flowRow(f: Flow): CacheRow {
  return rowOf(f.orig);
}

/**
 * The row for an expectation: the expected connection. (VyOS's own parser fails on expectation
 * XML, which has no direction metas; this is what its table means to show.)
 */
export function expectRow(e: Expectation): CacheRow {
  return rowOf(e.tuple);
}

/**
 * Python tabulate's "simple" format as VyOS calls it: headers, a dashed rule under each column,
 * two spaces between columns, left-aligned text, a column at least its header plus 2 wide, trailing
 * spaces stripped, no final newline (the caller's print adds it).
 */
export function tabulateSimple(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length + 2, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => left(c, widths[i])).join('  ').trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** `show conntrack-sync cache internal|external [main|expect]`, as printed (with the final newline). */
export function formatVyosCacheTable(rows: readonly CacheRow[]): string {
  return `${tabulateSimple(['Source', 'Destination', 'Protocol'], rows.map((r) => [r.source, r.destination, r.protocol]))}\n`;
}

// ---------------------------------------------------------------- status

export interface StatusView {
  /** configured sync interfaces, in configuration order */
  interfaces: readonly string[];
  /** failover-mechanism vrrp sync-group */
  syncGroup: string;
  /** last VRRP transition, if any */
  lastTransition?: { state: string; at: Date };
  /** expect-sync values as configured */
  expectSync: readonly string[];
  /** time zone for the transition time (an IANA name); default UTC */
  timeZone?: string;
  /** ctsync: the kernel event path in use and why (a line after VyOS's four) */
  eventSource?: StatusEventSource;
}

/** What the status shows of the event source (the snapshot's EventSourceStats, `requested` aside). */
export type StatusEventSource = { kind: string; reason?: string; scheduler?: EventSourceStats['scheduler'] };

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * `date` in the C locale, which is what the state file of VyOS's transition script holds:
 * "Fri Dec 24 08:34:36 UTC 2021". With a time zone other than UTC the zone is written as
 * its numeric offset ("+0200"), which needs no locale data.
 */
export function formatDateC(d: Date, timeZone = 'UTC'): string {
  const p2 = (n: number) => String(n).padStart(2, '0');
  if (timeZone === 'UTC') {
    return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2)} ` +
      `${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} UTC ${d.getUTCFullYear()}`;
  }
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-US', {
    timeZone, weekday: 'short', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
    second: '2-digit', year: 'numeric', hourCycle: 'h23', timeZoneName: 'longOffset',
  }).formatToParts(d).map((x) => [x.type, x.value]));
  const off = /GMT([+-]\d\d):?(\d\d)?/.exec(parts.timeZoneName ?? '');
  const zone = off ? `${off[1]}${off[2] ?? '00'}` : '+0000';
  return `${parts.weekday} ${parts.month} ${String(parts.day).padStart(2)} ${parts.hour}:${parts.minute}:${parts.second} ${zone} ${parts.year}`;
}

/** The status view from the configuration and the daemon's failover state. */
export function statusViewOf(
  config: Pick<Config, 'interfaces' | 'failover' | 'expectSync'>, failover?: FailoverStats, timeZone?: string,
  eventSource?: StatusEventSource,
): StatusView {
  const v: StatusView = {
    interfaces: config.interfaces.map((i) => i.name),
    syncGroup: config.failover.syncGroup,
    expectSync: config.expectSync,
  };
  if (failover?.lastTransition) v.lastTransition = { state: failover.lastTransition.state, at: new Date(failover.lastTransition.at) };
  if (timeZone !== undefined) v.timeZone = timeZone;
  if (eventSource) v.eventSource = eventSource;
  return v;
}

/** The protocols `show conntrack-sync status` lists for expect-sync; "all" reads as every one. */
export function expectSyncDisplay(values: readonly string[]): string {
  if (values.length === 0) return 'disabled';
  if (values.includes('all')) return 'ftp, sip, h323, nfs, sqlnet';
  return values.join(', ');
}

/** `show conntrack-sync status`, as printed (leading blank line, final newline). */
export function formatVyosStatus(s: StatusView): string {
  const last = s.lastTransition ? `${s.lastTransition.state} at ${formatDateC(s.lastTransition.at, s.timeZone)}` : 'no transition yet!';
  return `\n${left('sync-interface', 22)}: ${s.interfaces.join(', ')}\n` +
    `${left('failover-mechanism', 22)}: vrrp [sync-group ${s.syncGroup}]\n` +
    `${left('last state transition', 22)}: ${last}\n` +
    `${left('ExpectationSync', 22)}: ${expectSyncDisplay(s.expectSync)}\n` +
    (s.eventSource ? `${left('event source', 22)}: ${s.eventSource.kind}${s.eventSource.reason ? ` (${s.eventSource.reason})` : ''}\n` : '');
}

// ---------------------------------------------------------------- show conntrack table (legacy)

/** vyatta-show-conntrack.pl's two-letter TCP state codes. */
const TCP_CODES: Readonly<Record<string, string>> = {
  SYN_SENT: 'SS', SYN_RECV: 'SR', ESTABLISHED: 'ES', FIN_WAIT: 'FW', CLOSE_WAIT: 'CW', LAST_ACK: 'LA',
  TIME_WAIT: 'TW', CLOSE: 'CL', SYN_SENT2: 'LI',
};

/** Two-letter code of a TCP state number, or undefined (NONE). */
export function tcpStateCode(state: number): string | undefined {
  return TCP_CODES[tcpStateName(state)];
}

export const CONNTRACK_LEGEND =
  'TCP state codes: SS - SYN SENT, SR - SYN RECEIVED, ES - ESTABLISHED,\n' +
  '                 FW - FIN WAIT, CW - CLOSE WAIT, LA - LAST ACK,\n' +
  '                 TW - TIME WAIT, CL - CLOSE, LI - LISTEN\n';

export const CONNTRACK_NOT_ENABLED = 'Warning: Connection tracking is not enabled';

export interface ConntrackTableRow {
  id: string;
  source: string;
  destination: string;
  protocol: string;
  timeout: string;
}

function cell(addr: string, port: number | undefined, proto: number, family: 4 | 6): string {
  const hasPort = proto === 6 || proto === 17 || proto === 136 || proto === 132 || proto === 33;
  if (!hasPort) return addr;
  return family === 6 ? `[${addr}]:${port ?? 0}` : `${addr}:${port ?? 0}`;
}

/** One row of the legacy table for a kernel flow. */
export function conntrackTableRow(f: Flow): ConntrackTableRow {
  let protocol = `${lnfctProtoName(f.orig.proto)} [${f.orig.proto}]`;
  const code = f.tcp ? tcpStateCode(f.tcp.state) : undefined;
  if (code) protocol += ` ${code}`;
  return {
    id: f.id === undefined ? '' : String(f.id >>> 0),
    source: cell(f.orig.src, f.orig.sport, f.orig.proto, f.family),
    destination: cell(f.orig.dst, f.orig.dport, f.orig.proto, f.family),
    protocol,
    timeout: f.timeout === undefined ? '' : String(f.timeout),
  };
}

export interface ConntrackTableOptions {
  family: 4 | 6;
  /** whether conntrack hooks are registered; with no flows and false the warning is printed */
  conntrackEnabled: boolean;
}

/**
 * `show conntrack table ipv4|ipv6` in the layout of vyatta-show-conntrack.pl: the legend, a blank
 * line, then printf "%-10s %-22s %-22s %-16s %-20s" rows (40-wide address columns for IPv6), trailing
 * spaces trimmed as the documentation shows them.
 */
export function formatConntrackTable(flows: readonly Flow[], opts: ConntrackTableOptions): string {
  const w = opts.family === 6 ? 40 : 22;
  const row = (r: ConntrackTableRow) =>
    `${left(r.id, 10)} ${left(r.source, w)} ${left(r.destination, w)} ${left(r.protocol, 16)} ${left(r.timeout, 20)}`.trimEnd() + '\n';
  let out = `${CONNTRACK_LEGEND}\n${row({ id: 'CONN ID', source: 'Source', destination: 'Destination', protocol: 'Protocol', timeout: 'TIMEOUT' })}`;
  for (const f of flows) out += row(conntrackTableRow(f));
  if (flows.length === 0 && !opts.conntrackEnabled) out += `\n${CONNTRACK_NOT_ENABLED}\n\n`;
  return out;
}
