// conntrackd 1.4.7's statistics text (`conntrackd -s [view]`), byte for byte: literal tabs, `%12u`
// and `%20llu` fields; and VyOS's `show conntrack-sync statistics`, which wraps it.
import type {
  CacheStats, ExternalTableStats, InternalTableStats, LinkStats, Snapshot, TableStats,
} from '../../control/snapshot.ts';
import { u12, u20 } from './printf.ts';

export type StatsView = 'ct' | 'expect' | 'network' | 'cache' | 'runtime' | 'link' | 'rsqueue' | 'queue' | 'process';

/**
 * conntrackd's `-s ARG` matching: ARG may be any prefix of a view name, tried in conntrackd's
 * order (network, cache, runtime, multicast = link, link, rsqueue, process, queue, ct, expect).
 * Undefined for an unknown argument (conntrackd: "ERROR: unknown parameter `X' for option `-s'").
 */
export function resolveStatsView(arg: string | undefined): StatsView | undefined {
  if (arg === undefined) return 'ct';
  const order: [string, StatsView][] = [
    ['network', 'network'], ['cache', 'cache'], ['runtime', 'runtime'], ['multicast', 'link'], ['link', 'link'],
    ['rsqueue', 'rsqueue'], ['process', 'process'], ['queue', 'queue'], ['ct', 'ct'], ['expect', 'expect'],
  ];
  for (const [name, view] of order) if (name.startsWith(arg)) return view;
  return undefined;
}

function cacheBlock(title: string, c: CacheStats): string {
  return `${title}:\n` +
    `current active connections:\t${u12(c.active)}\n` +
    `connections created:\t\t${u12(c.created)}\tfailed:\t${u12(c.createFailed)}\n` +
    `connections updated:\t\t${u12(c.updated)}\tfailed:\t${u12(c.updateFailed)}\n` +
    `connections destroyed:\t\t${u12(c.destroyed)}\tfailed:\t${u12(c.destroyFailed)}\n\n`;
}

function internalBlock(s: InternalTableStats): string {
  if (s.kind === 'cache') return cacheBlock('cache internal', s);
  return 'internal bypass:\n' +
    `connections new:\t\t${u12(s.new)}\n` +
    `connections updated:\t\t${u12(s.updated)}\n` +
    `connections destroyed:\t\t${u12(s.destroyed)}\n\n`;
}

function externalBlock(s: ExternalTableStats): string {
  if (s.kind === 'cache') return cacheBlock('cache external', s);
  return 'external inject:\n' +
    `connections created:\t\t${u12(s.created)}\tfailed:\t${u12(s.createFailed)}\n` +
    `connections updated:\t\t${u12(s.updated)}\tfailed:\t${u12(s.updateFailed)}\n` +
    `connections destroyed:\t\t${u12(s.destroyed)}\tfailed:\t${u12(s.destroyFailed)}\n\n`;
}

function counterLines(l: LinkStats): string {
  return `${u20(l.bytesSent)} Bytes sent ${u20(l.bytesRecv)} Bytes recv\n` +
    `${u20(l.packetsSent)} Pckts sent ${u20(l.packetsRecv)} Pckts recv\n` +
    `${u20(l.errorsSend)} Error send ${u20(l.errorsRecv)} Error recv\n\n`;
}

const transportTitle = (l: LinkStats) => (l.transport === 'udp' ? 'UDP' : 'multicast');

/** The link currently in use: the ACTIVE one, or the first. */
export function activeLink(s: Pick<Snapshot, 'links'>): LinkStats | undefined {
  return s.links.find((l) => l.role === 'ACTIVE') ?? s.links[0];
}

/** "multicast traffic (active device=eth0):" block of `-s` and `-s network`. */
export function formatActiveLink(s: Pick<Snapshot, 'links'>): string {
  const l = activeLink(s);
  return l ? `${transportTitle(l)} traffic (active device=${l.name}):\n${counterLines(l)}` : '';
}

function generalStats(s: Snapshot, t: TableStats): string {
  return internalBlock(t.internal) +
    externalBlock(t.external) +
    `traffic processed:\n${u20(s.traffic.bytes)} Bytes      ${u20(s.traffic.packets)} Pckts\n\n` +
    formatActiveLink(s) +
    `message tracking:\n${u20(s.network.rcvMalformed)} Malformed msgs ${u20(s.network.rcvLost)} Lost msgs\n\n`;
}

/** `conntrackd -s` / `-s ct`: the five blocks of §6.1. */
export function formatStatsCt(s: Snapshot): string {
  return generalStats(s, s.conntrack);
}

/** `conntrackd -s expect`: the same blocks over the expectation caches; empty when expect-sync is off. */
export function formatStatsExpect(s: Snapshot): string {
  return s.expect ? generalStats(s, s.expect) : '';
}

/** `conntrackd -s network`. */
export function formatStatsNetwork(s: Snapshot): string {
  const n = s.network;
  return 'network statistics:\n' +
    '\trecv:\n' +
    `\t\tMalformed messages:\t${u20(n.rcvMalformed)}\n` +
    `\t\tWrong protocol version:\t${u20(n.rcvBadVersion)}\n` +
    `\t\tMalformed header:\t${u20(n.rcvBadHeader)}\n` +
    `\t\tMalformed payload:\t${u20(n.rcvBadPayload)}\n` +
    `\t\tBad message type:\t${u20(n.rcvBadType)}\n` +
    `\t\tTruncated message:\t${u20(n.rcvTruncated)}\n` +
    `\t\tBad message size:\t${u20(n.rcvBadSize)}\n` +
    '\tsend:\n' +
    `\t\tMalformed messages:\t${u20(n.sndMalformed)}\n\n` +
    'sequence tracking statistics:\n' +
    '\trecv:\n' +
    `\t\tPackets lost:\t\t${u20(n.rcvLost)}\n` +
    `\t\tPackets before:\t\t${u20(n.rcvBefore)}\n\n` +
    formatActiveLink(s);
}

function cacheExtBlock(name: string, c: CacheStats): string {
  return `cache:${name}\tactive objects:\t\t${u12(c.objects)}\n` +
    `\tactive/total entries:\t\t${u12(c.active)}/${u12(c.total)}\n` +
    `\tcreation OK/failed:\t\t${u12(c.created)}/${u12(c.createFailed)}\n` +
    `\t\tno memory available:\t${u12(c.noMemory)}\n` +
    `\t\tno space left in cache:\t${u12(c.noSpace)}\n` +
    `\tupdate OK/failed:\t\t${u12(c.updated)}/${u12(c.updateFailed)}\n` +
    `\t\tentry not found:\t${u12(c.updateNotFound)}\n` +
    `\tdeletion created/failed:\t${u12(c.destroyed)}/${u12(c.destroyFailed)}\n` +
    `\t\tentry not found:\t${u12(c.deleteNotFound)}\n\n`;
}

/** `conntrackd -s cache`: internal, then external (the bypass/inject blocks when there is no cache). */
export function formatStatsCache(s: Snapshot): string {
  const i = s.conntrack.internal, e = s.conntrack.external;
  return (i.kind === 'cache' ? cacheExtBlock('internal', i) : internalBlock(i)) +
    (e.kind === 'cache' ? cacheExtBlock('external', e) : externalBlock(e));
}

/** conntrackd's uptime text: "[N day|days ]H h M min", or "[N day|days ]M min" when H is 0. */
export function formatUptime(seconds: number): string {
  const t = Math.max(0, Math.floor(seconds));
  const days = Math.floor(t / 86400);
  const minutesTotal = Math.floor(t / 60);
  const hours = Math.floor(minutesTotal / 60) % 24;
  const minutes = minutesTotal % 60;
  const d = days ? `${days} day${days !== 1 ? 's' : ''} ` : '';
  return hours ? `${d}${hours} h ${minutes} min` : `${d}${minutes} min`;
}

/** `conntrackd -s runtime`. */
export function formatStatsRuntime(s: Snapshot): string {
  const r = s.runtime;
  return `daemon uptime: ${formatUptime(s.daemon.uptimeSeconds)}\n\n` +
    'netlink stats:\n' +
    `\tevents received:\t${u20(r.eventsReceived)}\n` +
    `\tevents filtered:\t${u20(r.eventsFiltered)}\n` +
    `\tevents unknown type:\t\t${u12(r.eventsUnknownType)}\n` +
    `\tcatch event failed:\t\t${u12(r.catchEventFailed)}\n` +
    `\tdump unknown type:\t\t${u12(r.dumpUnknownType)}\n` +
    `\tnetlink overrun:\t\t${u12(r.netlinkOverrun)}\n` +
    `\tflush kernel table:\t\t${u12(r.flushKernelTable)}\n` +
    `\tresync with kernel table:\t${u12(r.resyncKernelTable)}\n` +
    `\tcurrent buffer size (in bytes):\t${u12(r.bufferSize)}\n\n` +
    'runtime stats:\n' +
    `\tchild process failed:\t\t${u12(r.childProcessFailed)}\n` +
    `\t\tchild process segfault:\t${u12(r.childProcessSegfault)}\n` +
    `\t\tchild process termsig:\t${u12(r.childProcessTermsig)}\n` +
    `\tselect failed:\t\t\t${u12(r.selectFailed)}\n` +
    `\twait failed:\t\t\t${u12(r.waitFailed)}\n` +
    `\tlocal read failed:\t\t${u12(r.localReadFailed)}\n` +
    `\tlocal unknown request:\t\t${u12(r.localUnknownRequest)}\n\n`;
}

/** `conntrackd -s link`: one block per link. */
export function formatStatsLink(s: Snapshot): string {
  return s.links.map((l) =>
    `${transportTitle(l)} traffic device=${l.name} status=${l.status} role=${l.role}:\n${counterLines(l)}`).join('');
}

/** `conntrackd -s rsqueue` (FTFW; empty in the other modes). */
export function formatStatsRsqueue(s: Snapshot): string {
  const q = s.resendQueue;
  if (!q) return '';
  let out = `resent queue (len=${q.length})\n`;
  for (const e of q.entries ?? []) {
    out += e.kind === 'control' ? `control -> seq:${e.seq} flags:${e.flags}\n` : `object -> seq:${e.seq}\n`;
  }
  return out;
}

/** `conntrackd -s queue`. */
export function formatStatsQueue(s: Snapshot): string {
  let out = `allocated queue nodes:\t\t${u12(s.queues.allocatedNodes)}\n\n`;
  for (const q of s.queues.list) {
    out += `queue ${q.name}:\n` +
      `current elements:\t\t${u12(q.current)}\n` +
      `maximum elements:\t\t${u12(q.max)}\n` +
      `not enough space errors:\t${u12(q.enospc)}\n\n`;
  }
  return out;
}

/** `conntrackd -s process`: one line per running child task. */
export function formatStatsProcess(s: Snapshot): string {
  return s.processes.map((p) => `PID=${p.pid} type=${p.type}\n`).join('');
}

/** `conntrackd -s VIEW`. */
export function formatStats(s: Snapshot, view: StatsView = 'ct'): string {
  switch (view) {
    case 'ct': return formatStatsCt(s);
    case 'expect': return formatStatsExpect(s);
    case 'network': return formatStatsNetwork(s);
    case 'cache': return formatStatsCache(s);
    case 'runtime': return formatStatsRuntime(s);
    case 'link': return formatStatsLink(s);
    case 'rsqueue': return formatStatsRsqueue(s);
    case 'queue': return formatStatsQueue(s);
    case 'process': return formatStatsProcess(s);
  }
}

/**
 * VyOS `show conntrack-sync statistics`: print('\nMain Table Statistics:\n'), `conntrackd -s`,
 * print(); and when expect-sync is configured the same for `-s exp` under "Expect Table Statistics".
 */
export function formatVyosStatistics(s: Snapshot): string {
  let out = `\nMain Table Statistics:\n\n${formatStatsCt(s)}\n`;
  if (s.expect) out += `\nExpect Table Statistics:\n\n${formatStatsExpect(s)}\n`;
  return out;
}
