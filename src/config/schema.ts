// The configuration as valibot schemas: the raw tree (VyOS node names, string values) goes in, the
// typed Config with every default filled in comes out. Messages are VyOS's where VyOS has one,
// followed by what is allowed where VyOS does not say it.
import * as v from 'valibot';
import { canonicalAddr, parseIpv4, parseIpv6 } from '../flow/addr.ts';

export const ACCEPT_PROTOCOLS = ['tcp', 'udp', 'icmp', 'icmp6', 'sctp', 'dccp'] as const;
export const EXPECT_PROTOCOLS = ['all', 'ftp', 'h323', 'nfs', 'sip', 'sqlnet'] as const;
export const MODES = ['ftfw', 'notrack', 'alarm'] as const;
export const EVENT_SOURCES = ['auto', 'bpf-tracing', 'bpf-netlink', 'netlink'] as const;
export const SWITCH = ['on', 'off'] as const;

export type AcceptProtocol = (typeof ACCEPT_PROTOCOLS)[number];
export type ExpectProtocol = (typeof EXPECT_PROTOCOLS)[number];
export type SyncMode = (typeof MODES)[number];
export type EventSourceName = (typeof EVENT_SOURCES)[number];

/** Defaults, as the strings a user would write. */
export const DEFAULTS = {
  'event-listen-queue-size': '8',
  'mcast-group': '225.0.0.50',
  'purge-timeout': '60',
  'sync-queue-size': '1',
  port: '3780',
  mode: 'ftfw',
  'event-source': 'auto',
  'control-socket': '/run/ctsync/ctsync.sock',
  'commit-timeout': '0',
  'resend-queue-size': '131072',
  'refresh-time': '60',
  'cache-timeout': '180',
  'retransmit-timeout': '2000',
  'commit-guard': 'on',
} as const;

export const MSG = {
  acceptProtocol: `Allowed protocols: tcp udp icmp or sctp (accepted: ${ACCEPT_PROTOCOLS.join(', ')})`,
  expectSync: `Invalid protocol (accepted: ${EXPECT_PROTOCOLS.join(', ')})`,
  port: 'Port number must be in range 1 to 65535',
  queueSize: 'Size must be a whole number of MB in range 0 to 4294967295',
  purgeTimeout: 'Purge timeout must be in range 1 to 2147483647 seconds',
  address: 'Must be an IPv4 or IPv6 address or prefix (e.g. 192.0.2.1, 198.51.100.0/24, 2001:db8::/32)',
  peer: 'Peer must be an IPv4 or IPv6 unicast address (e.g. 192.0.2.2 or 2001:db8::2)',
  listenAddress: 'Listen address must be an IPv4 address (e.g. 192.0.2.1)',
  mcastGroup: 'Multicast group must be an IPv4 multicast address, 224.0.0.0 to 239.255.255.255',
  ifname: 'Interface name must be 1 to 15 characters without "/", ":" or whitespace',
  syncGroup: 'Sync-group name must be 1 to 100 characters without spaces or quotes',
  mode: `Invalid mode (accepted: ${MODES.join(', ')})`,
  eventSource: `Invalid event source (accepted: ${EVENT_SOURCES.join(', ')})`,
  path: 'Path must be absolute (begin with "/")',
  socketPath: 'Socket path must be absolute (begin with "/") and at most 107 bytes long',
  commitTimeout: 'Commit timeout must be in range 0 to 2147483647 seconds (0: computed from the received timeout)',
  metricsAddress: 'Metrics address must be ADDR:PORT with an IPv4 address or a bracketed IPv6 address and a port 1 to 65535 (e.g. 127.0.0.1:9934 or [::1]:9934)',
  resendQueueSize: 'Resend queue size must be in range 1 to 4294967295 messages',
  refreshTime: 'Refresh time must be in range 1 to 2147483647 seconds',
  cacheTimeout: 'Cache timeout must be in range 1 to 2147483647 seconds',
  hashLimit: 'Hash limit must be in range 1 to 4294967295 entries',
  retransmitTimeout: 'Retransmit timeout must be in range 100 to 600000 milliseconds',
  commitGuard: 'Commit guard must be on or off',
} as const;

function uint(min: number, max: number, message: string) {
  return v.pipe(
    v.string(message),
    v.check((s) => /^\d{1,10}$/.test(s) && Number(s) >= min && Number(s) <= max, message),
    v.transform(Number),
  );
}

function checked(test: (s: string) => boolean, message: string) {
  return v.pipe(v.string(message), v.check(test, message));
}

/** An address or prefix in canonical text, or undefined. */
export function canonicalPrefix(s: string): string | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return canonicalAddr(s);
  const addr = canonicalAddr(s.slice(0, slash));
  const len = s.slice(slash + 1);
  if (!addr || !/^\d{1,3}$/.test(len)) return undefined;
  const max = addr.includes(':') ? 128 : 32;
  return Number(len) <= max ? `${addr}/${Number(len)}` : undefined;
}

function isUnicast(s: string): boolean {
  const v4 = parseIpv4(s);
  if (v4) return v4[0] !== 0 && v4[0] < 224;
  const v6 = parseIpv6(s);
  return v6 !== undefined && v6[0] !== 0xff && v6.some((b) => b !== 0);
}

function isMulticast4(s: string): boolean {
  const b = parseIpv4(s);
  return b !== undefined && b[0] >= 224 && b[0] <= 239;
}

export function isIfName(s: string): boolean {
  return s.length >= 1 && new TextEncoder().encode(s).length <= 15 && s !== '.' && s !== '..' && !/[/:\s]/.test(s);
}

const isAbsolute = (s: string) => s.startsWith('/') && !s.includes('\0');
const isSocketPath = (s: string) => isAbsolute(s) && new TextEncoder().encode(s).length <= 107;

/** `ADDR:PORT` -> parts, or undefined. IPv6 addresses are bracketed. */
export function parseHostPort(s: string): { address: string; port: number } | undefined {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(s) ?? /^([^:[\]]+):(\d{1,5})$/.exec(s);
  if (!m) return undefined;
  const isV6 = s.startsWith('[');
  const addr = isV6 ? (parseIpv6(m[1]) ? canonicalAddr(m[1]) : undefined) : (parseIpv4(m[1]) ? canonicalAddr(m[1]) : undefined);
  const port = Number(m[2]);
  if (!addr || port < 1 || port > 65535) return undefined;
  return { address: addr, port };
}

const AcceptProtocolSchema = v.picklist(ACCEPT_PROTOCOLS, MSG.acceptProtocol);
const ExpectProtocolSchema = v.picklist(EXPECT_PROTOCOLS, MSG.expectSync);
const AddressOrPrefix = v.pipe(checked((s) => canonicalPrefix(s) !== undefined, MSG.address), v.transform((s) => canonicalPrefix(s) as string));
const Peer = v.pipe(checked((s) => isUnicast(s), MSG.peer), v.transform((s) => canonicalAddr(s) as string));
const ListenAddress = v.pipe(checked((s) => parseIpv4(s) !== undefined, MSG.listenAddress), v.transform((s) => canonicalAddr(s) as string));
const McastGroup = v.pipe(checked(isMulticast4, MSG.mcastGroup), v.transform((s) => canonicalAddr(s) as string));
const IfName = checked(isIfName, MSG.ifname);
const SyncGroup = checked((s) => s.length >= 1 && s.length <= 100 && !/[\s'"]/.test(s), MSG.syncGroup);
const Path = checked(isAbsolute, MSG.path);
const SocketPath = checked(isSocketPath, MSG.socketPath);
const MetricsAddress = v.pipe(checked((s) => parseHostPort(s) !== undefined, MSG.metricsAddress),
  v.transform((s) => parseHostPort(s) as { address: string; port: number }));
const Flag = v.optional(v.literal(true, 'This node takes no value'));

const InterfaceSchema = v.strictObject({
  peer: v.optional(Peer),
  port: v.optional(uint(1, 65535, MSG.port), DEFAULTS.port),
});

/** The raw tree as the readers produce it (VyOS names, string values). */
export const TreeSchema = v.strictObject({
  'accept-protocol': v.optional(v.array(AcceptProtocolSchema), []),
  'disable-external-cache': Flag,
  'disable-syslog': Flag,
  'event-listen-queue-size': v.optional(uint(0, 4294967295, MSG.queueSize), DEFAULTS['event-listen-queue-size']),
  'expect-sync': v.optional(v.array(ExpectProtocolSchema), []),
  'failover-mechanism': v.optional(v.strictObject({
    vrrp: v.optional(v.strictObject({ 'sync-group': v.optional(SyncGroup) })),
  })),
  'ignore-address': v.optional(v.array(AddressOrPrefix), []),
  interface: v.optional(v.record(IfName, InterfaceSchema), {}),
  'listen-address': v.optional(v.array(ListenAddress), []),
  'mcast-group': v.optional(McastGroup, DEFAULTS['mcast-group']),
  'purge-timeout': v.optional(uint(1, 2147483647, MSG.purgeTimeout), DEFAULTS['purge-timeout']),
  'startup-resync': Flag,
  'sync-queue-size': v.optional(uint(0, 4294967295, MSG.queueSize), DEFAULTS['sync-queue-size']),
  // ctsync's own nodes
  mode: v.optional(v.picklist(MODES, MSG.mode), DEFAULTS.mode),
  'event-source': v.optional(v.picklist(EVENT_SOURCES, MSG.eventSource), DEFAULTS['event-source']),
  'control-socket': v.optional(SocketPath, DEFAULTS['control-socket']),
  'conntrackd-socket': v.optional(SocketPath),
  'commit-timeout': v.optional(uint(0, 2147483647, MSG.commitTimeout), DEFAULTS['commit-timeout']),
  'metrics-address': v.optional(MetricsAddress),
  keepalived: v.optional(v.strictObject({ 'notify-fifo': v.optional(Path) })),
  'resend-queue-size': v.optional(uint(1, 4294967295, MSG.resendQueueSize), DEFAULTS['resend-queue-size']),
  'refresh-time': v.optional(uint(1, 2147483647, MSG.refreshTime), DEFAULTS['refresh-time']),
  'cache-timeout': v.optional(uint(1, 2147483647, MSG.cacheTimeout), DEFAULTS['cache-timeout']),
  'hash-limit': v.optional(uint(1, 4294967295, MSG.hashLimit)),
  'auth-key-file': v.optional(Path),
  'retransmit-timeout': v.optional(uint(100, 600000, MSG.retransmitTimeout), DEFAULTS['retransmit-timeout']),
  'log-file': v.optional(Path),
  'commit-guard': v.optional(v.picklist(SWITCH, MSG.commitGuard), DEFAULTS['commit-guard']),
});

type Tree = v.InferOutput<typeof TreeSchema>;

/** Natural order for interface names: eth2 before eth10. */
export function naturalCompare(a: string, b: string): number {
  const ra = a.split(/(\d+)/), rb = b.split(/(\d+)/);
  for (let i = 0; i < Math.min(ra.length, rb.length); i++) {
    if (ra[i] === rb[i]) continue;
    const na = Number(ra[i]), nb = Number(rb[i]);
    if (i % 2 === 1 && !Number.isNaN(na) && !Number.isNaN(nb) && na !== nb) return na - nb;
    return ra[i] < rb[i] ? -1 : 1;
  }
  return ra.length - rb.length;
}

// Optional nodes are spread in only when present, so the inferred type marks them optional and
// the object carries no `undefined` members.
function opt<K extends string, T>(key: K, value: T | undefined): { [P in K]?: T } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: T };
}

function toConfig(t: Tree) {
  return {
    acceptProtocol: t['accept-protocol'],
    disableExternalCache: t['disable-external-cache'] === true,
    disableSyslog: t['disable-syslog'] === true,
    /** MB; the netlink event buffer may grow to this size */
    eventListenQueueSize: t['event-listen-queue-size'],
    expectSync: t['expect-sync'],
    failover: { mechanism: 'vrrp' as const, syncGroup: t['failover-mechanism']?.vrrp?.['sync-group'] ?? '' },
    ignoreAddress: t['ignore-address'],
    /** in natural order of their names */
    interfaces: Object.entries(t.interface)
      .sort(([a], [b]) => naturalCompare(a, b))
      .map(([name, i]) => ({ name, ...opt('peer', i.peer), port: i.port })),
    listenAddress: t['listen-address'],
    mcastGroup: t['mcast-group'],
    /** seconds before the kernel flush that BACKUP/FAULT schedules */
    purgeTimeout: t['purge-timeout'],
    startupResync: t['startup-resync'] === true,
    /** MB; send and receive buffers of every link */
    syncQueueSize: t['sync-queue-size'],
    mode: t.mode,
    eventSource: t['event-source'],
    controlSocket: t['control-socket'],
    ...opt('conntrackdSocket', t['conntrackd-socket']),
    /** seconds; 0: computed from the received timeout */
    commitTimeout: t['commit-timeout'],
    ...opt('metricsAddress', t['metrics-address']),
    keepalived: { ...opt('notifyFifo', t.keepalived?.['notify-fifo']) },
    resendQueueSize: t['resend-queue-size'],
    /** seconds (ALARM) */
    refreshTime: t['refresh-time'],
    /** seconds (ALARM) */
    cacheTimeout: t['cache-timeout'],
    /** cache bound; absent: the daemon uses 2 x nf_conntrack_max */
    ...opt('hashLimit', t['hash-limit']),
    ...opt('authKeyFile', t['auth-key-file']),
    /** milliseconds (FTFW) */
    retransmitTimeout: t['retransmit-timeout'],
    ...opt('logFile', t['log-file']),
    /** drop (not reset) packets of flows not committed yet while a commit runs (src/failover/guard.ts) */
    commitGuard: t['commit-guard'] === 'on',
  };
}

/** Raw tree in, typed configuration with defaults out. */
export const ConfigSchema = v.pipe(TreeSchema, v.transform(toConfig));

/** The configuration of `service conntrack-sync`, with every default filled in. */
export type Config = v.InferOutput<typeof ConfigSchema>;
export type SyncInterface = Config['interfaces'][number];

/** Unicast (UDP) when the interfaces name peers, multicast otherwise. */
export function transportOf(config: Pick<Config, 'interfaces'>): 'udp' | 'multicast' {
  return config.interfaces.some((i) => i.peer !== undefined) ? 'udp' : 'multicast';
}
