// The `ctsync` command. Exit status: 0 done, 1 failed (or the daemon is not running), 2 usage error.
import { readFileSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { basename } from 'node:path';
import process from 'node:process';
import { Args, UsageError } from './args.ts';
import { helpText } from './help.ts';
import { VERSION } from './version.ts';
import { conntrackdMain } from './conntrackd.ts';
import { request, DaemonNotRunning } from '../control/client.ts';
import { DEFAULT_CONTROL_SOCKET, type Progress } from '../control/protocol.ts';
import { parseConfig, checkConfig, formatCheckText, formatCheckJson, readHostView, type Config } from '../config/index.ts';
import type { Snapshot } from '../control/snapshot.ts';
import {
  formatVyosStatistics, formatVyosStatus, statusViewOf, formatVyosCacheTable, flowRow, expectRow, formatStats,
  resolveStatsView, formatConntrackTable, toJson, vyosStatisticsData, statusData, cacheTableData, conntrackTableData,
  statsData, type CacheEntryView, type ExpectEntryView,
} from './format/index.ts';
import { formatLatencyTable } from '../metrics/text.ts';

export const DEFAULT_CONFIG = '/etc/ctsync/ctsync.conf';
const VALUE_OPTS = ['--socket', '-c', '--config', '-C'];

const out = (s: string) => process.stdout.write(s.endsWith('\n') || s === '' ? s : s + '\n');

/** The control socket: --socket, else the configuration's control-socket, else the default. */
function socketPath(a: Args): string {
  const s = a.value('--socket');
  if (s) return s;
  const file = a.value('-c', '--config') ?? (existsSync(DEFAULT_CONFIG) ? DEFAULT_CONFIG : undefined);
  if (file) {
    const r = parseConfig(readFileSync(file, 'utf8'));
    if (r.config) return r.config.controlSocket;
  }
  return DEFAULT_CONTROL_SOCKET;
}

function progressPrinter(): (p: Progress) => void {
  const tty = process.stderr.isTTY;
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (!tty && now - last < 1000 && p.done < p.total) return;
    last = now;
    const line = `${p.op}: ${p.done}/${p.total}${p.rate ? `  ${p.rate}/s` : ''}${p.eta !== undefined && p.done < p.total ? `  ${p.eta.toFixed(1)} s left` : ''}`;
    process.stderr.write(tty ? `\r\x1b[K${line}${p.done >= p.total ? '\n' : ''}` : `${line}\n`);
  };
}

async function call<T>(a: Args, cmd: string, args: Record<string, unknown> = {}): Promise<T> {
  return request<T>(socketPath(a), cmd, args, progressPrinter());
}

async function show(a: Args): Promise<number> {
  const [what, sub, arg1, arg2] = a.positional.slice(1);
  const json = a.flag('--json');
  if (what === 'conntrack' && sub === 'table') {
    const family = arg1 === 'ipv6' ? 6 : arg1 === 'ipv4' || arg1 === undefined ? 4 : 0;
    if (!family) throw new UsageError('show conntrack table ipv4|ipv6');
    const { Conntrack } = await import('../kernel/conntrack.ts');
    const ct = new Conntrack();
    try {
      const flows = ct.dump(family);
      if (json) out(toJson(conntrackTableData(flows)));
      else out(formatConntrackTable(flows, { family, conntrackEnabled: flows.length > 0 || conntrackInUse() }));
    } finally {
      await ct.close();
    }
    return 0;
  }
  if (what !== 'conntrack-sync') throw new UsageError('show conntrack table ipv4|ipv6, or show conntrack-sync ...');
  switch (sub) {
    case 'statistics': {
      const s = await call<Snapshot>(a, 'snapshot');
      out(json ? toJson(vyosStatisticsData(s)) : formatVyosStatistics(s));
      return 0;
    }
    case 'latency': {
      const s = await call<Snapshot>(a, 'snapshot');
      out(json ? toJson(s.latency) : formatLatencyTable(s.latency));
      return 0;
    }
    case 'stats': {
      if (arg1 === 'latency') {
        const s = await call<Snapshot>(a, 'snapshot');
        out(json ? toJson(s.latency) : formatLatencyTable(s.latency));
        return 0;
      }
      const view = resolveStatsView(arg1);
      if (!view) throw new UsageError('show conntrack-sync stats [network|cache|runtime|link|rsqueue|queue|process|expect|latency]');
      const s = await call<Snapshot>(a, 'snapshot', { rsqueue: view === 'rsqueue' });
      out(json ? toJson(statsData(s, view)) : formatStats(s, view));
      return 0;
    }
    case 'status': {
      const [s, config] = await Promise.all([call<Snapshot>(a, 'snapshot'), call<Config>(a, 'config')]);
      const view = statusViewOf(config, s.failover, undefined, s.eventSource);
      out(json ? toJson(statusData(view)) : formatVyosStatus(view));
      return 0;
    }
    case 'cache': {
      if (arg1 !== 'internal' && arg1 !== 'external') throw new UsageError('show conntrack-sync cache internal|external [main|expect]');
      const table = arg2 === 'expect' ? 'expect' : 'ct';
      if (arg2 !== undefined && arg2 !== 'main' && arg2 !== 'expect') throw new UsageError('cache table: main or expect');
      if (table === 'expect') {
        const rows = (await call<ExpectEntryView[]>(a, 'cache', { which: arg1, table })).map((e) => expectRow(e.exp));
        out(json ? toJson(cacheTableData(rows)) : formatVyosCacheTable(rows));
      } else {
        const rows = (await call<CacheEntryView[]>(a, 'cache', { which: arg1, table })).map((e) => flowRow(e.flow));
        out(json ? toJson(cacheTableData(rows)) : formatVyosCacheTable(rows));
      }
      return 0;
    }
  }
  throw new UsageError('show conntrack-sync statistics|status|cache|stats|latency');
}

/** Whether a ruleset uses conntrack (otherwise the kernel keeps no table). */
function conntrackInUse(): boolean {
  try {
    const rules = execFileSync('nft', ['list', 'ruleset'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return /\bct (state|status|mark|label|zone|helper|direction)\b|\b(masquerade|snat|dnat|redirect)\b/.test(rules);
  } catch {
    return true;
  }
}

async function failover(a: Args): Promise<number> {
  const [, state, group] = a.positional;
  if (!state || !['master', 'backup', 'fault', 'stop'].includes(state.toLowerCase())) {
    throw new UsageError('failover master|backup|fault|stop SYNC-GROUP');
  }
  const r = await call<{ state: string; ms: number }>(a, 'failover', { state, group, source: `ctsync failover ${state}` });
  out(`${r.state}: done in ${r.ms} ms`);
  return 0;
}

async function run(argv: string[]): Promise<number> {
  if (basename(process.argv[1] ?? '') === 'conntrackd' || argv[0] === 'conntrackd') {
    return conntrackdMain(argv[0] === 'conntrackd' ? argv.slice(1) : argv);
  }
  const a = new Args(argv, VALUE_OPTS);
  const [cmd, ...rest] = a.positional;
  if (a.flag('--version', '-V') || cmd === 'version') { out(`ctsync ${VERSION}`); return 0; }
  if (!cmd || cmd === 'help' || a.flag('--help', '-h')) {
    const t = helpText(cmd === 'help' ? rest[0] : cmd);
    if (!t) throw new UsageError(`no command "${rest[0]}"; \`ctsync help\` lists them`);
    out(t);
    return 0;
  }
  switch (cmd) {
    case 'daemon': {
      const file = a.value('-c', '--config') ?? rest[0] ?? DEFAULT_CONFIG;
      const { runDaemon } = await import('../daemon/run.ts');
      return runDaemon(file);
    }
    case 'config': {
      if (rest[0] !== 'check' || !rest[1]) throw new UsageError('config check FILE [--json]');
      const report = checkConfig(readFileSync(rest[1], 'utf8'), { host: readHostView() });
      out(a.flag('--json') ? formatCheckJson(report) : formatCheckText(report));
      return report.ok ? 0 : 1;
    }
    case 'show': return show(a);
    case 'commit': {
      const r = await call<{ committed?: number; failed?: number; seconds?: number; skipped?: boolean }>(a, 'commit');
      out(r.skipped ? 'commit skipped: one is already running, or the external cache is disabled'
        : `committed ${r.committed} entries, ${r.failed} failed, in ${r.seconds!.toFixed(3)} s`);
      return r.failed ? 1 : 0;
    }
    case 'flush': {
      const which = rest[0] ?? 'all';
      if (!['internal', 'external', 'all'].includes(which)) throw new UsageError('flush [internal|external]');
      await call(a, 'flush', { which });
      return 0;
    }
    case 'resync': { const r = await call<{ entries: number }>(a, 'resync'); out(`internal cache resynced: ${r.entries} entries`); return 0; }
    case 'bulk-send': await call(a, 'bulk-send'); return 0;
    case 'request-resync': await call(a, 'request-resync'); return 0;
    case 'purge': await call(a, 'purge'); return 0;
    case 'reset': {
      if (rest[0] !== 'conntrack-sync' || !['internal-cache', 'external-cache'].includes(rest[1])) {
        throw new UsageError('reset conntrack-sync internal-cache|external-cache');
      }
      if (rest[1] === 'external-cache') {
        await call(a, 'flush', { which: 'external' });
        await call(a, 'request-resync');
      } else {
        await call(a, 'flush', { which: 'internal' });
        await call(a, 'resync');
        await call(a, 'bulk-send');
      }
      return 0;
    }
    case 'restart': await call(a, 'restart'); return 0;
    case 'failover': return failover(a);
    case 'top': {
      const { top } = await import('./top.ts');
      return top(socketPath(a));
    }
    case 'demo': {
      const { demo } = await import('./demo.ts');
      return demo(argv.slice(1));
    }
    case '__agent': {
      const { runAgent } = await import('../../test/lab/agents/index.ts');
      return runAgent(rest[0], argv.slice(2));
    }
  }
  throw new UsageError(`unknown command "${cmd}"; \`ctsync help\` lists the commands`);
}

run(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e: Error) => {
    if (e instanceof UsageError) {
      process.stderr.write(`ctsync: ${e.message}\n`);
      process.exitCode = 2;
    } else if (e instanceof DaemonNotRunning) {
      process.stderr.write(`ctsync: ${e.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`ctsync: ${e.message}\n`);
      process.exitCode = 1;
    }
  },
);
