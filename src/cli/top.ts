// `ctsync top`: a live view of the daemon, redrawn every second from two snapshots taken through
// the control socket: event rates by protocol and type, caches, ring-buffer fill, wire rates,
// loss, latency percentiles and the VRRP state. Alternate screen, raw keyboard: q or Ctrl-C
// quits and puts the terminal back. Without a terminal it prints one frame (rates over one
// second) and exits.
import process from 'node:process';
import { request } from '../control/client.ts';
import type { Snapshot, CacheStats, EventCounts, TableStats } from '../control/snapshot.ts';
import { formatUs } from '../metrics/text.ts';
import { sumCounts } from '../metrics/events.ts';

export interface FrameOptions {
  width: number;
  height: number;
  /** a line shown at the bottom (e.g. the daemon could not be reached) */
  note?: string;
}

const INTERVAL_MS = 1000;

// ---------------------------------------------------------------- formatting

const group = (n: number) => Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');

/** A per-second rate: one decimal below 10, grouped digits above; "-" when unknown. */
export function formatRate(r: number | undefined): string {
  if (r === undefined || !Number.isFinite(r)) return '-';
  if (r > 0 && r < 10) return r.toFixed(1);
  return group(r);
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let u = 0;
  while (n >= 1024 && u < units.length - 1) { n /= 1024; u++; }
  return `${u === 0 ? Math.round(n) : n.toFixed(1)} ${units[u]}`;
}

function duration(s: number): string {
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
  const hms = `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}`;
  return d ? `${d}d ${hms}` : hms;
}

function clock(ms: number): string {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((x) => String(x).padStart(2, '0')).join(':');
}

function table(rows: string[][], align: ('l' | 'r')[]): string[] {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (align[i] === 'l' ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ').trimEnd());
}

// ---------------------------------------------------------------- one frame

/** The lines of one frame; rates need the previous snapshot (absent: "-"). */
export function renderTop(prev: Snapshot | undefined, cur: Snapshot, opt: FrameOptions): string[] {
  const dt = prev ? (cur.takenAt - prev.takenAt) / 1000 : 0;
  const rate = (now: number, before: number | undefined) => (prev && dt > 0 && before !== undefined ? Math.max(0, now - before) / dt : undefined);
  const L: string[] = [];

  const d = cur.daemon;
  L.push(`ctsync top - pid ${d.pid}, up ${duration(d.uptimeSeconds)}, ${d.mode.toUpperCase()}, event source ${cur.eventSource.kind}` +
    `, ctsync ${d.version}   ${clock(cur.takenAt)}`);
  const f = cur.failover;
  L.push(`VRRP ${f.state ?? 'no state yet'} (sync-group ${f.syncGroup || '-'}), ${f.transitions} transitions, ${f.failures} failed` +
    `${f.lastTransition ? `, last ${f.lastTransition.state} at ${clock(f.lastTransition.at)}` : ''}` +
    `${f.purgeAt !== undefined ? `, kernel purge at ${clock(f.purgeAt)}` : ''}`);
  L.push('');

  // events by protocol and type
  const ev = cur.events;
  const pev = prev?.events;
  const evRows: string[][] = [['EVENTS/s', 'new', 'update', 'destroy', 'total']];
  if (ev) {
    const protos = Object.keys(ev.conntrack).sort((a, b) => total(ev.conntrack[b]) - total(ev.conntrack[a]));
    const row = (name: string, c: EventCounts, p: EventCounts | undefined) => [
      `  ${name}`, formatRate(rate(c.new, p?.new)), formatRate(rate(c.update, p?.update)), formatRate(rate(c.destroy, p?.destroy)),
      formatRate(rate(total(c), p ? total(p) : undefined)),
    ];
    const pZero = pev ? { new: 0, update: 0, destroy: 0 } : undefined;
    for (const p of protos) evRows.push(row(p, ev.conntrack[p], pev ? pev.conntrack[p] ?? pZero : undefined));
    if (total(ev.expect) > 0) evRows.push(row('expectations', ev.expect, pev?.expect));
    evRows.push(row('all', sumCounts([...Object.values(ev.conntrack), ev.expect]),
      pev ? sumCounts([...Object.values(pev.conntrack), pev.expect]) : undefined));
  }
  L.push(...table(evRows, ['l', 'r', 'r', 'r', 'r']));
  const r = cur.runtime, pr = prev?.runtime;
  L.push(`  read ${formatRate(rate(r.eventsReceived, pr?.eventsReceived))}/s, filtered ${formatRate(rate(r.eventsFiltered, pr?.eventsFiltered))}/s` +
    `, own ${formatRate(rate(ev?.own ?? 0, pev?.own))}/s, lost ${group(r.catchEventFailed)} (${group(r.netlinkOverrun)} overruns)` +
    `, resyncs ${group(r.resyncKernelTable)}`);
  L.push('');

  // caches
  const cRows: string[][] = [['CACHES', 'active', 'objects', 'created/s', 'updated/s', 'destroyed/s']];
  const cacheRow = (name: string, c: CacheStats, p: CacheStats | undefined) => [
    `  ${name}`, group(c.active), group(c.objects), formatRate(rate(c.created, p?.created)), formatRate(rate(c.updated, p?.updated)),
    formatRate(rate(c.destroyed, p?.destroyed)),
  ];
  const side = (label: string, t: TableStats, p: TableStats | undefined) => {
    if (t.internal.kind === 'cache') cRows.push(cacheRow(`internal${label}`, t.internal, p?.internal.kind === 'cache' ? p.internal : undefined));
    else cRows.push([`  internal${label}`, 'bypass', '-', formatRate(rate(t.internal.new, p?.internal.kind === 'bypass' ? p.internal.new : undefined)), '-', '-']);
    if (t.external.kind === 'cache') cRows.push(cacheRow(`external${label}`, t.external, p?.external.kind === 'cache' ? p.external : undefined));
    else {
      const pi = p?.external.kind === 'inject' ? p.external : undefined;
      cRows.push([`  external${label} (inject)`, '-', '-', formatRate(rate(t.external.created, pi?.created)),
        formatRate(rate(t.external.updated, pi?.updated)), formatRate(rate(t.external.destroyed, pi?.destroyed))]);
    }
  };
  side('', cur.conntrack, prev?.conntrack);
  if (cur.expect) side(' expect', cur.expect, prev?.expect);
  L.push(...table(cRows, ['l', 'r', 'r', 'r', 'r', 'r']));
  L.push('');

  // ring buffer
  const g = cur.ring;
  if (g) {
    const used = g.used ?? 0;
    const frac = g.size ? used / g.size : 0;
    const bar = 30;
    const fill = Math.min(bar, Math.round(frac * bar));
    L.push(`RING  [${'#'.repeat(fill)}${'.'.repeat(bar - fill)}] ${(frac * 100).toFixed(1)}% of ${formatBytes(g.size)}` +
      `, ${formatRate(rate(g.records, prev?.ring?.records))} records/s, drops ${group(g.reserveFailed)}` +
      ` (${formatRate(rate(g.reserveFailed, prev?.ring?.reserveFailed))}/s), kernel-filtered ${formatRate(rate(g.filteredInKernel, prev?.ring?.filteredInKernel))}/s`);
  } else {
    L.push(`RING  none (${cur.eventSource.kind} event source), socket buffer ${formatBytes(r.bufferSize)}`);
  }
  L.push('');

  // wire
  const wRows: string[][] = [['WIRE', 'state', 'sent dgr/s', 'sent/s', 'recv dgr/s', 'recv/s', 'errors']];
  for (const l of cur.links) {
    const p = prev?.links.find((x) => x.name === l.name);
    wRows.push([`  ${l.name} (${l.transport})`, `${l.role} ${l.status}`,
      formatRate(rate(l.packetsSent, p?.packetsSent)), rateBytes(rate(l.bytesSent, p?.bytesSent)),
      formatRate(rate(l.packetsRecv, p?.packetsRecv)), rateBytes(rate(l.bytesRecv, p?.bytesRecv)),
      `${group(l.errorsSend)}/${group(l.errorsRecv)}`]);
  }
  L.push(...table(wRows, ['l', 'l', 'r', 'r', 'r', 'r', 'r']));
  const m = cur.messages, pm = prev?.messages;
  const n = cur.network;
  L.push(`  messages ${formatRate(rate(m?.sentData ?? 0, pm?.sentData))}/s out, ${formatRate(rate(m?.receivedData ?? 0, pm?.receivedData))}/s in` +
    `, malformed ${group(n.rcvMalformed)}, lost ${group(n.rcvLost)}, resent ${formatRate(rate((m?.resentNack ?? 0) + (m?.resentTimeout ?? 0),
      pm ? pm.resentNack + pm.resentTimeout : undefined))}/s, resend queue ${group(cur.resendQueue?.length ?? 0)}`);
  const c = cur.commit;
  L.push(`  commits ${group(c.commits)} (${group(c.committed)} entries, ${group(c.failed)} failed)` +
    `${c.running ? ', commit running' : c.last ? `, last ${(c.last.ms / 1000).toFixed(3)} s at ${clock(c.last.at)}` : ''}`);
  L.push('');

  // latency
  const lRows: string[][] = [['LATENCY (60 s, 8192 max)', 'samples', 'p50', 'p90', 'p99', 'max']];
  for (const l of cur.latency) {
    lRows.push([`  ${l.stage}`, group(l.count), ...(l.count ? [l.p50, l.p90, l.p99, l.max].map(formatUs) : ['-', '-', '-', '-'])]);
  }
  L.push(...table(lRows, ['l', 'r', 'r', 'r', 'r', 'r']));

  const footer = opt.note ?? 'q quits';
  const body = L.slice(0, Math.max(1, opt.height - 2));
  while (body.length < opt.height - 1) body.push('');
  body.push(footer);
  return body.map((l) => (l.length > opt.width ? l.slice(0, opt.width) : l));
}

function total(c: EventCounts): number { return c.new + c.update + c.destroy; }

function rateBytes(r: number | undefined): string {
  return r === undefined ? '-' : formatBytes(r);
}

// ---------------------------------------------------------------- the terminal

const ALT_ON = '\x1b[?1049h\x1b[?25l';
const ALT_OFF = '\x1b[?25h\x1b[?1049l';

export async function top(socket: string): Promise<number> {
  const out = process.stdout;
  const snap = () => request<Snapshot>(socket, 'snapshot');
  let prev = await snap();
  if (!out.isTTY || !process.stdin.isTTY) {
    // one frame with rates over one interval
    await new Promise((r) => setTimeout(r, INTERVAL_MS));
    const cur = await snap();
    out.write(renderTop(prev, cur, { width: 1000, height: 1000, note: '' }).join('\n').trimEnd() + '\n');
    return 0;
  }

  const stdin = process.stdin;
  return new Promise<number>((resolve) => {
    let cur: Snapshot = prev;
    let first = true;
    let note: string | undefined;
    let busy = false;
    let done = false;
    const draw = () => {
      const frame = renderTop(first ? undefined : prev, cur, { width: out.columns || 80, height: out.rows || 24, note });
      out.write(`\x1b[H${frame.join('\x1b[K\n')}\x1b[K\x1b[J`);
    };
    const refresh = async () => {
      if (busy || done) return;
      busy = true;
      try {
        const next = await snap();
        prev = cur;
        cur = next;
        first = false;
        note = undefined;
      } catch (e) {
        note = `daemon not reachable (${(e as Error).message}); retrying - q quits`;
      } finally {
        busy = false;
      }
      if (!done) draw();
    };
    const finish = (code: number) => {
      if (done) return;
      done = true;
      clearInterval(timer);
      stdin.off('data', onKey);
      out.off('resize', draw);
      try { stdin.setRawMode(false); } catch { /* not a terminal any more */ }
      stdin.pause();
      out.write(ALT_OFF);
      for (const s of SIGNALS) process.off(s, onSignal);
      resolve(code);
    };
    const onKey = (b: Uint8Array | string) => {
      const s = typeof b === 'string' ? b : new TextDecoder().decode(b);
      if (s.includes('q') || s.includes('Q') || s.includes('\x03')) finish(0);
    };
    const onSignal = () => finish(130);
    const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
    for (const s of SIGNALS) {
      try { process.on(s, onSignal); } catch { /* signal not supported here */ }
    }
    out.write(ALT_ON);
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onKey);
    out.on('resize', draw);
    draw();
    const timer = setInterval(() => void refresh(), INTERVAL_MS);
  });
}
