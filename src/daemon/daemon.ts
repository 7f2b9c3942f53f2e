// The daemon: kernel events -> internal cache -> sync mode -> links, and links -> sync mode ->
// external cache (or the kernel, with disable-external-cache). Operations (commit, flush, resync,
// bulk, purge) and failover act on these parts; the control sockets expose them.
import { readFileSync } from 'node:fs';
import type { Config } from '../config/index.ts';
import { expectHelperMatches, transportOf } from '../config/index.ts';
import type { Flow, Expectation } from '../flow/flow.ts';
import { EV, type FlowEvent, type ExpectationEvent } from '../flow/event.ts';
import { FlowFilter } from '../flow/filter.ts';
import { Cache, type Entry, ObjState } from '../cache/cache.ts';
import { Conntrack } from '../kernel/conntrack.ts';
import type { EventSource, EventSink } from '../kernel/events/source.ts';
import { openEventSource } from '../kernel/events/select.ts';
import { monotonicNs } from '../kernel/libc.ts';
import { createSyncMode, LinkSet, MSG, type SyncMode, type SyncHost, type SyncObject, type LinkConfig } from '../sync/index.ts';
import { FailoverMachine, type VrrpState } from '../failover/machine.ts';
import { NotifyFifo } from '../failover/fifo.ts';
import { commit, type CommitResult } from './commit.ts';
import { Injector, INJ } from './inject.ts';
import { Logger } from './log.ts';
import { Latency } from '../metrics/histogram.ts';
import type { Progress } from '../control/protocol.ts';

const MB = 1024 * 1024;

export interface DaemonCounters {
  eventsReceived: number;
  eventsFiltered: number;
  eventsOwn: number;
  resyncKernelTable: number;
  flushKernelTable: number;
  overrunResyncs: number;
  trafficBytes: number;
  trafficPackets: number;
  expectationsFiltered: number;
  commits: number;
  committed: number;
  commitFailed: number;
  purges: number;
}

export class Daemon implements SyncHost, EventSink {
  readonly logger: Logger;
  config: Config;
  filter: FlowFilter;
  readonly internal: Cache<'ct'>;
  readonly external: Cache<'ct'>;
  readonly internalExp: Cache<'exp'>;
  readonly externalExp: Cache<'exp'>;
  readonly startedAt = Date.now();
  readonly counters: DaemonCounters = {
    eventsReceived: 0, eventsFiltered: 0, eventsOwn: 0, resyncKernelTable: 0, flushKernelTable: 0,
    overrunResyncs: 0, trafficBytes: 0, trafficPackets: 0, expectationsFiltered: 0, commits: 0,
    committed: 0, commitFailed: 0, purges: 0,
  };
  readonly latency = {
    kernelToWire: new Latency('kernel-to-wire'),
    wireToCache: new Latency('wire-to-cache'),
    wireToKernel: new Latency('wire-to-kernel'),
    commitEntry: new Latency('commit-per-entry'),
  };

  source!: EventSource;
  mode!: SyncMode;
  links!: LinkSet;
  failover: FailoverMachine;
  private fifo?: NotifyFifo;
  /** request sockets, one per purpose, so events they cause can be told apart by port id */
  private dumpCt!: Conntrack;
  private commitCt!: Conntrack;
  private flushCt!: Conntrack;
  private injectCt!: Conntrack;
  injector?: Injector;
  /** control-socket requests the daemon could not place */
  readonly controlCounters = { unknown: 0 };
  commitRunning = false;
  lastCommit?: { at: number; ms: number; committed: number; failed: number };
  purgeAt?: number;
  private purgeTimer?: ReturnType<typeof setTimeout>;
  private resyncTimer?: ReturnType<typeof setTimeout>;
  private batchKernelNs: bigint[] = [];
  private stopped = false;
  private onStop?: () => void;

  constructor(config: Config, log = new Logger(!config.disableSyslog)) {
    this.config = config;
    this.logger = log;
    this.filter = filterOf(config);
    const limit = config.hashLimit ?? 2 * conntrackMax();
    this.internal = new Cache('internal', 'ct', limit);
    this.external = new Cache('external', 'ct', limit);
    this.internalExp = new Cache('internal', 'exp', limit);
    this.externalExp = new Cache('external', 'exp', limit);
    this.failover = new FailoverMachine(config.failover.syncGroup, {
      commit: async () => { await this.commit(); },
      flushCaches: () => this.flushCaches('all'),
      resyncInternal: () => { this.resyncInternal(); },
      bulkSend: () => this.bulkSend(),
      schedulePurge: () => this.schedulePurge(),
      requestResync: () => this.requestResync(),
      log: (level, msg) => this.logger.log(level, msg),
    });
  }

  get expectSync(): boolean { return this.config.expectSync.length > 0; }

  // ---- lifecycle ----

  async start(): Promise<void> {
    const c = this.config;
    this.logger.notice('-- starting in console mode --'.replace('console', 'daemon'));
    this.dumpCt = new Conntrack();
    this.commitCt = new Conntrack();
    this.flushCt = new Conntrack();
    this.injectCt = new Conntrack();
    if (c.disableExternalCache) this.injector = new Injector(this.injectCt);
    // the event source first: events during the initial dump wait in its buffer
    this.source = openEventSource({
      kind: c.eventSource, bufferMB: c.eventListenQueueSize || 8, filter: this.filter,
      expectations: this.expectSync, reliableDestroy: true,
    });
    this.logger.notice(`event source: ${this.source.kind} (${this.source.reason})`);
    this.links = new LinkSet(linkConfigs(c), { log: (l, m) => this.logger.log(l === 'error' ? 'ERROR' : l, m) });
    this.mode = createSyncMode(c.mode, { host: this, transport: this.links }, {
      commitTimeout: c.commitTimeout > 0,
      resendQueueSize: c.resendQueueSize,
      retransmitMs: c.retransmitTimeout,
      refreshTime: c.refreshTime,
      cacheTimeout: c.cacheTimeout,
    });
    await this.links.open((bytes, link) => this.mode.receive(bytes, link));
    this.initialDump();
    this.source.start(this);
    this.mode.start();
    if (c.keepalived.notifyFifo) {
      this.fifo = new NotifyFifo(c.keepalived.notifyFifo, c.failover.syncGroup, (s, line) => {
        void this.failover.transition(s, `notify fifo: ${line}`);
      });
      this.fifo.open();
      this.logger.notice(`reading keepalived notify fifo ${c.keepalived.notifyFifo} for sync-group ${c.failover.syncGroup}`);
    }
    if (c.startupResync) this.requestResync();
    this.logger.notice(`initialization completed: ${c.mode.toUpperCase()} over ${transportOf(c)} on ${c.interfaces.map((i) => i.name).join(', ')}`);
  }

  async stop(why = 'shutdown received'): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.logger.notice(`---- ${why} ----`);
    clearTimeout(this.purgeTimer);
    clearTimeout(this.resyncTimer);
    this.mode?.stop();
    await this.fifo?.close();
    await this.source?.close();
    await this.links?.close();
    for (const ct of [this.dumpCt, this.commitCt, this.flushCt, this.injectCt]) await ct?.close();
    this.onStop?.();
  }

  whenStopped(): Promise<void> {
    return new Promise((r) => { this.onStop = r; });
  }

  /** Fills the internal cache from the kernel table; those objects go to the peer as NEW. */
  private initialDump(): void {
    let n = 0;
    this.dumpCt.dumpEach((f) => {
      if (!this.filter.matches(f)) return;
      const e = this.internal.upsert(f, true);
      if (e) { this.mode.enqueue(e); n++; }
    });
    if (this.expectSync) {
      for (const x of this.dumpCt.dumpExpectations()) this.localExpectation(EV.NEW, x);
    }
    this.mode.flush();
    this.logger.notice(`initial dump: ${n} entries`);
  }

  // ---- kernel events (EventSink) ----

  flow(ev: FlowEvent): void {
    this.counters.eventsReceived++;
    const origin = ev.origin;
    if (origin !== 0) {
      if (origin === this.injectCt.portid) { this.counters.eventsOwn++; return; }
      if (origin === this.commitCt.portid) {
        // our own commit: the kernel now holds it, the peer already has it
        this.counters.eventsOwn++;
        if (ev.type === EV.DESTROY) this.internal.remove(ev.flow);
        else this.internal.upsert(ev.flow, ev.type === EV.NEW);
        return;
      }
      if (origin === this.flushCt.portid) {
        this.counters.eventsOwn++;
        this.internal.remove(ev.flow);
        return;
      }
    }
    const f = ev.flow;
    if (ev.type === EV.DESTROY) {
      if (f.countersOrig) { this.counters.trafficBytes += f.countersOrig.bytes; this.counters.trafficPackets += f.countersOrig.packets; }
      if (f.countersReply) { this.counters.trafficBytes += f.countersReply.bytes; this.counters.trafficPackets += f.countersReply.packets; }
      const e = this.internal.kill(f);
      if (e) this.enqueueLocal(e, ev.kernelNs);
    } else {
      const e = this.internal.upsert(f, ev.type === EV.NEW);
      if (e) this.enqueueLocal(e, ev.kernelNs);
    }
  }

  private enqueueLocal(e: Entry, kernelNs: bigint | undefined): void {
    this.mode.enqueue(e);
    if (kernelNs !== undefined && this.batchKernelNs.length < 65536) this.batchKernelNs.push(kernelNs);
  }

  expectation(ev: ExpectationEvent): void {
    this.counters.eventsReceived++;
    if (ev.origin !== 0 && (ev.origin === this.injectCt.portid || ev.origin === this.commitCt.portid || ev.origin === this.flushCt.portid)) {
      this.counters.eventsOwn++;
      return;
    }
    this.localExpectation(ev.type, ev.exp);
  }

  private localExpectation(type: number, x: Expectation): void {
    if (!this.expectSync) return;
    // conntrackd's rule: a matching helper, and a master we synchronise
    if (!expectHelperMatches(this.config, x.helper) || !this.internal.get({ orig: x.master, zone: x.zone } as Flow)) {
      this.counters.expectationsFiltered++;
      return;
    }
    const e = type === EV.DESTROY ? this.internalExp.kill(x) : this.internalExp.upsert(x, type === EV.NEW);
    if (e) this.mode.enqueue(e);
  }

  batchEnd(): void {
    this.mode.flush();
    if (this.batchKernelNs.length) {
      const now = monotonicNs();
      for (const k of this.batchKernelNs) this.latency.kernelToWire.add(Number(now - k) / 1000);
      this.batchKernelNs.length = 0;
    }
  }

  loss(count: number, why: string): void {
    this.logger.warn(`${why}: ${count} event(s) lost, resync with the kernel table scheduled`);
    // coalesce a burst of losses into one resync once the burst is over
    clearTimeout(this.resyncTimer);
    this.resyncTimer = setTimeout(() => this.overrunResync(), 250);
  }

  /** After lost events: make the internal cache equal the kernel table, and tell the peer. */
  overrunResync(): void {
    this.counters.overrunResyncs++;
    this.counters.resyncKernelTable++;
    const seen = new Set<string>();
    let changed = 0, gone = 0;
    this.dumpCt.dumpEach((f) => {
      if (!this.filter.matches(f)) return;
      const old = this.internal.get(f);
      const key = this.internal.keyOf(f);
      seen.add(key);
      if (old && old.state !== ObjState.DEAD && sameState(old.data, f)) { old.data = f; return; }
      const e = this.internal.upsert(f, !old);
      if (e) { this.mode.enqueue(e); changed++; }
    });
    for (const e of [...this.internal.values()]) {
      if (e.state === ObjState.DEAD || seen.has(e.key)) continue;
      const k = this.internal.kill(e.data);
      if (k) { this.mode.enqueue(k); gone++; }
    }
    this.mode.flush();
    this.logger.notice(`resync with kernel table done: ${changed} changed, ${gone} gone`);
  }

  // ---- the peer's messages (SyncHost) ----

  applyCt(type: 0 | 1 | 2, flow: Flow): void {
    const t0 = performance.now();
    if (this.injector) {
      this.injector.push(type === MSG.CT_NEW ? INJ.NEW : type === MSG.CT_UPD ? INJ.UPD : INJ.DEL, flow);
      return;
    }
    if (type === MSG.CT_NEW) this.external.replace(flow);
    else if (type === MSG.CT_UPD) this.external.update(flow);
    else this.external.remove(flow);
    this.latency.wireToCache.add((performance.now() - t0) * 1000);
  }

  applyExp(type: 3 | 4 | 5, exp: Expectation): void {
    if (type === MSG.EXP_NEW) this.externalExp.replace(exp);
    else if (type === MSG.EXP_UPD) this.externalExp.update(exp);
    else this.externalExp.remove(exp);
  }

  forEachObject(fn: (obj: SyncObject) => void): void {
    for (const e of this.internal.live()) fn(e);
    for (const e of this.internalExp.live()) fn(e);
  }

  release(obj: SyncObject): void {
    const e = obj as Entry;
    if (e.kind === 'ct') this.internal.release(e as Entry<'ct'>); else this.internalExp.release(e as Entry<'exp'>);
  }

  expireCt(flow: Flow): void { this.external.remove(flow); }

  log(level: 'notice' | 'warning' | 'error', message: string): void {
    this.logger.log(level === 'error' ? 'ERROR' : level, message);
  }
  expireExp(exp: Expectation): void { this.externalExp.remove(exp); }

  // ---- operations ----

  /** `-c`: the external caches into the kernel; resolves when done. */
  async commit(progress?: (p: Progress) => void): Promise<CommitResult | undefined> {
    if (this.injector) return undefined;
    if (this.commitRunning) {
      this.logger.notice('commit already in progress, skipping');
      return undefined;
    }
    this.commitRunning = true;
    this.cancelPurge('commit');
    const at = Date.now();
    try {
      this.logger.notice('committing all external caches');
      const r = await commit(this.commitCt, this.external.values(), this.externalExp.values(), {
        commitTimeout: this.config.commitTimeout,
        progress: (p) => { progress?.(p); this.progressLog(p); },
      });
      this.counters.commits++;
      this.counters.committed += r.committed;
      this.counters.commitFailed += r.failed;
      this.lastCommit = { at, ms: r.seconds * 1000, committed: r.committed, failed: r.failed };
      if (r.committed + r.failed > 0) this.latency.commitEntry.add((r.seconds * 1e6) / (r.committed + r.failed));
      this.logger.notice(`Committed ${r.committed} new entries`);
      if (this.expectSync) this.logger.notice(`Committed ${r.expectations} new expectations`);
      if (r.failed) this.logger.warn(`${r.failed} entries can't be committed (${Object.entries(r.errors).map(([k, v]) => `${k}: ${v}`).join(', ')})`);
      this.logger.notice(`commit has taken ${r.seconds.toFixed(6)} seconds`);
      return r;
    } finally {
      this.commitRunning = false;
    }
  }

  private lastProgressLog = 0;
  private progressLog(p: Progress): void {
    const now = Date.now();
    if (now - this.lastProgressLog < 1000 && p.done < p.total) return;
    this.lastProgressLog = now;
    this.logger.info(`${p.op}: ${p.done}/${p.total}${p.rate ? ` (${p.rate}/s` : ''}${p.eta !== undefined ? `, ${p.eta.toFixed(1)} s left)` : p.rate ? ')' : ''}`);
  }

  /** `-f`: empty the caches (nothing goes on the wire). */
  flushCaches(which: 'internal' | 'external' | 'all'): void {
    if (which !== 'internal' && this.commitRunning) throw new Error('a commit is running: flush refused, try again when it is done');
    if (which !== 'external') {
      for (const e of this.internal.flush()) this.mode.forget(e);
      for (const e of this.internalExp.flush()) this.mode.forget(e);
      this.cancelPurge('flush');
    }
    if (which !== 'internal') {
      this.external.flush();
      this.externalExp.flush();
    }
    this.logger.notice(`flushing ${which === 'all' ? 'internal and external' : which} cache`);
  }

  /** `-R`: the kernel table into the internal cache (added or updated; nothing sent or purged). */
  resyncInternal(): number {
    this.counters.resyncKernelTable++;
    let n = 0;
    this.dumpCt.dumpEach((f) => {
      if (!this.filter.matches(f)) return;
      if (this.internal.upsert(f, false)) n++;
    });
    if (this.expectSync) {
      for (const x of this.dumpCt.dumpExpectations()) {
        if (expectHelperMatches(this.config, x.helper)) this.internalExp.upsert(x, false);
      }
    }
    this.logger.notice(`resync with kernel conntrack table: ${n} entries`);
    return n;
  }

  /** `-B`: send every internal object to the peer. */
  bulkSend(): void {
    this.logger.notice('sending bulk update');
    this.mode.bulkSend();
    this.mode.flush();
  }

  /** `-n`: ask the peer for everything it has. */
  requestResync(): void {
    this.logger.notice('resync requested');
    this.mode.requestResync();
    this.mode.flush();
  }

  /** `-t`: flush the synchronised kernel entries after purge-timeout, unless cancelled. */
  schedulePurge(): void {
    const s = this.config.purgeTimeout;
    clearTimeout(this.purgeTimer);
    this.purgeAt = Date.now() + s * 1000;
    this.purgeTimer = setTimeout(() => {
      this.purgeAt = undefined;
      this.logger.notice('flushing kernel conntrack table (scheduled)');
      this.counters.purges++;
      this.flushKernel();
      for (const e of this.internal.flush()) this.mode.forget(e);
      for (const e of this.internalExp.flush()) this.mode.forget(e);
    }, s * 1000);
    this.logger.notice(`flushing conntrack table in ${s} secs`);
  }

  cancelPurge(why: string): void {
    if (!this.purgeTimer || this.purgeAt === undefined) return;
    clearTimeout(this.purgeTimer);
    this.purgeTimer = undefined;
    this.purgeAt = undefined;
    this.logger.notice(`scheduled kernel flush cancelled by ${why}`);
  }

  /** `-F`: delete the kernel entries the filter lets through; ignored ones stay. */
  flushKernel(what: 'ct' | 'expect' | 'all' = 'all'): number {
    this.counters.flushKernelTable++;
    let n = 0;
    if (what !== 'expect') n = this.flushCt.flushWhere((f) => this.filter.matches(f));
    if (what !== 'ct' && this.expectSync) this.flushCt.flushExpectations();
    this.logger.notice(`flushing kernel conntrack table: ${n} entries`);
    return n;
  }

  /** A VRRP transition, from the FIFO or `ctsync failover ...`; resolves when its work is done. */
  async transition(state: VrrpState, source: string): Promise<void> {
    await this.failover.transition(state, source);
  }

  /** SIGHUP: a new configuration; returns what was applied or why it was refused. */
  reload(next: Config, plan: { restart: string[]; changes: string[] }): string {
    if (plan.restart.length) {
      const msg = `reload refused: ${plan.restart.join(', ')} cannot change while running; restart ctsync (\`ctsync restart\`) to apply`;
      this.logger.warn(msg);
      return msg;
    }
    const old = this.config;
    this.config = next;
    if (!sameList(old.ignoreAddress, next.ignoreAddress) || !sameList(old.acceptProtocol, next.acceptProtocol)) {
      this.filter = filterOf(next);
      (this.source as EventSource & { setFilter?: (f: FlowFilter) => void }).setFilter?.(this.filter);
      // flows the new filter excludes leave the internal cache (and the peer is told)
      let dropped = 0;
      for (const e of [...this.internal.live()]) {
        if (!this.filter.matches(e.data)) {
          const k = this.internal.kill(e.data);
          if (k) { this.mode.enqueue(k); dropped++; }
        }
      }
      this.mode.flush();
      this.logger.notice(`filter updated: ${dropped} cached flows now ignored`);
    }
    this.logger.setSyslog(!next.disableSyslog);
    const msg = plan.changes.length ? `configuration reloaded: ${plan.changes.join(', ')}` : 'configuration reloaded: no change';
    this.logger.notice(msg);
    return msg;
  }
}

function filterOf(c: Config): FlowFilter {
  return FlowFilter.from({ acceptProtocols: c.acceptProtocol, ignoreAddresses: c.ignoreAddress });
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Whether a kernel dump entry carries news for the peer (timeouts always move; not news). */
function sameState(a: Flow, b: Flow): boolean {
  return a.status === b.status && (a.mark ?? 0) === (b.mark ?? 0) && (a.tcp?.state ?? -1) === (b.tcp?.state ?? -1) &&
    (a.sctp?.state ?? -1) === (b.sctp?.state ?? -1) && (a.helper ?? '') === (b.helper ?? '');
}

function conntrackMax(): number {
  try {
    return Number(readFileSync('/proc/sys/net/netfilter/nf_conntrack_max', 'utf8').trim()) || 262144;
  } catch {
    return 262144;
  }
}

export function linkConfigs(c: Config): LinkConfig[] {
  return c.interfaces.map((i) => ({
    interface: i.name,
    kind: i.peer ? 'unicast' : 'multicast',
    group: c.mcastGroup,
    peer: i.peer,
    port: i.port,
    listenAddress: i.peer ? c.listenAddress[0] : undefined,
    bufferBytes: Math.max(1, c.syncQueueSize) * MB,
  }));
}
