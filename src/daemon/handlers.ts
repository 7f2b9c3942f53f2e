// What the control sockets can ask of the running daemon: the ctsync JSON commands, and
// conntrackd's request codes with their text answers.
import type { Handler } from '../control/server.ts';
import { CODE } from '../control/conntrackd.ts';
import type { Daemon } from './daemon.ts';
import { takeSnapshot } from './snapshot.ts';
import {
  formatStats, formatCacheDump, formatExpectDump, formatFlowXmlDump, formatExpectXmlDump, type StatsView,
  type CacheEntryView, type ExpectEntryView,
} from '../cli/format/index.ts';
import type { VrrpState } from '../failover/machine.ts';
import { ObjState, type Cache, type Kind } from '../cache/cache.ts';
import type { Flow, Expectation } from '../flow/flow.ts';

export interface Host {
  /** the daemon currently running (a restart replaces it) */
  daemon(): Daemon;
  restart(): Promise<string>;
  reload(): Promise<string>;
  shutdown(why: string): void;
}

function entries<K extends Kind>(c: Cache<K>, d: Daemon): { data: K extends 'ct' ? Flow : Expectation; activeSince: number; expiresIn?: number }[] {
  const now = Date.now();
  const out = [];
  for (const e of c.values()) {
    // DEAD entries await an ACK and are not shown, as conntrackd hides them
    if (e.state === ObjState.DEAD) continue;
    out.push({ data: e.data, activeSince: Math.floor((now - e.since) / 1000), ...(d.config.mode === 'alarm' && c === (d.external as unknown) ? { expiresIn: Math.max(0, Math.ceil((e.lastUpdate + d.config.cacheTimeout * 1000 - now) / 1000)) } : {}) });
  }
  return out;
}

export function flowViews(c: Cache<'ct'>, d: Daemon): CacheEntryView[] {
  return entries(c, d).map((e) => ({ flow: e.data, activeSince: e.activeSince, ...(e.expiresIn !== undefined ? { expiresIn: e.expiresIn } : {}) }));
}

export function expectViews(c: Cache<'exp'>, d: Daemon): ExpectEntryView[] {
  return entries(c, d).map((e) => ({ exp: e.data, activeSince: e.activeSince }));
}

const STATES: Record<string, VrrpState> = { master: 'MASTER', backup: 'BACKUP', fault: 'FAULT', stop: 'STOP' };

export function jsonHandlers(h: Host): Record<string, Handler> {
  const d = () => h.daemon();
  return {
    ping: () => ({ pid: process.pid }),
    snapshot: (a) => takeSnapshot(d(), { rsqueue: a.rsqueue === true }),
    config: () => d().config,
    cache: (a) => {
      const which = a.which === 'external' ? 'external' : 'internal';
      const expect = a.table === 'expect';
      const dm = d();
      if (expect) return expectViews(which === 'internal' ? dm.internalExp : dm.externalExp, dm);
      return flowViews(which === 'internal' ? dm.internal : dm.external, dm);
    },
    commit: async (_a, progress) => (await d().commit(progress)) ?? { skipped: true },
    flush: (a) => {
      const which = a.which === 'internal' || a.which === 'external' ? a.which : 'all';
      d().flushCaches(which);
      return { flushed: which };
    },
    resync: (_a, progress) => ({ entries: d().resyncInternal(progress) }),
    'bulk-send': (_a, progress) => { d().bulkSend(progress); return {}; },
    'request-resync': () => { d().requestResync(); return {}; },
    purge: () => { d().schedulePurge(); return { at: d().purgeAt }; },
    'flush-kernel': (a) => ({ deleted: d().flushKernel(a.what === 'ct' || a.what === 'expect' ? a.what : 'all') }),
    failover: async (a) => {
      const state = STATES[String(a.state).toLowerCase()];
      if (!state) throw new Error(`failover state "${a.state}": use master, backup, fault or stop`);
      const group = d().config.failover.syncGroup;
      if (a.group !== undefined && a.group !== group) {
        throw new Error(`sync-group "${a.group}" is not this daemon's (${group}); nothing done`);
      }
      const t = await d().transition(state, String(a.source ?? 'ctsync failover'));
      if (t.error) throw new Error(`${state} transition failed: ${t.error}`);
      return { state, ms: t.ms };
    },
    restart: () => h.restart(),
    reload: () => h.reload(),
    kill: () => { h.shutdown('shutdown received'); return {}; },
  };
}

const VIEWS: Partial<Record<number, StatsView>> = {
  [CODE.STATS]: 'ct', [CODE.STATS_NETWORK]: 'network', [CODE.STATS_CACHE]: 'cache', [CODE.STATS_RUNTIME]: 'runtime',
  [CODE.STATS_LINK]: 'link', [CODE.STATS_RSQUEUE]: 'rsqueue', [CODE.STATS_PROCESS]: 'process', [CODE.STATS_QUEUE]: 'queue',
  [CODE.STATS_EXPECT]: 'expect',
};

/** conntrackd's request codes: do the work, answer its text. */
export function conntrackdHandler(h: Host): (code: number) => Promise<string> {
  return async (code) => {
    const dm = h.daemon();
    const view = VIEWS[code];
    if (view) {
      if (view === 'expect' && !dm.expectSync) return '';
      return formatStats(takeSnapshot(dm, { rsqueue: view === 'rsqueue', latency: false }), view);
    }
    switch (code) {
      case CODE.ALL_COMMIT: case CODE.CT_COMMIT: case CODE.EXP_COMMIT:
        await dm.commit();
        return '';
      case CODE.ALL_FLUSH_CACHE: dm.flushCaches('all'); return '';
      case CODE.FLUSH_INT_CACHE: dm.flushCaches('internal'); return '';
      case CODE.FLUSH_EXT_CACHE: dm.flushCaches('external'); return '';
      case CODE.ALL_FLUSH_MASTER: dm.flushKernel('all'); return '';
      case CODE.CT_FLUSH_MASTER: dm.flushKernel('ct'); return '';
      case CODE.EXP_FLUSH_MASTER: dm.flushKernel('expect'); return '';
      case CODE.ALL_RESYNC_MASTER: case CODE.CT_RESYNC_MASTER: case CODE.EXP_RESYNC_MASTER:
        dm.resyncInternal();
        return '';
      case CODE.SEND_BULK: dm.bulkSend(); return '';
      case CODE.REQUEST_DUMP: dm.requestResync(); return '';
      case CODE.RESET_TIMERS: dm.schedulePurge(); return '';
      case CODE.KILL: h.shutdown('shutdown received'); return '';
      case CODE.CT_DUMP_INTERNAL: return formatCacheDump(flowViews(dm.internal, dm), 'internal');
      case CODE.CT_DUMP_EXTERNAL: return formatCacheDump(flowViews(dm.external, dm), 'external');
      case CODE.EXP_DUMP_INTERNAL: return formatExpectDump(expectViews(dm.internalExp, dm));
      case CODE.EXP_DUMP_EXTERNAL: return formatExpectDump(expectViews(dm.externalExp, dm));
      case CODE.DUMP_INT_XML: return formatFlowXmlDump(flowViews(dm.internal, dm).map((e) => e.flow), 'internal');
      case CODE.DUMP_EXT_XML: return formatFlowXmlDump(flowViews(dm.external, dm).map((e) => e.flow), 'external');
      case CODE.EXP_DUMP_INT_XML: return formatExpectXmlDump(expectViews(dm.internalExp, dm).map((e) => e.exp));
      case CODE.EXP_DUMP_EXT_XML: return formatExpectXmlDump(expectViews(dm.externalExp, dm).map((e) => e.exp));
    }
    dm.controlCounters.unknown++;
    return '';
  };
}
