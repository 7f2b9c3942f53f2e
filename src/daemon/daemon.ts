// The daemon: kernel events -> internal cache -> sync mode -> links, and links -> sync mode ->
// external cache (or the kernel, with disable-external-cache). Operations (commit, flush, resync,
// bulk, purge) and failover act on these parts; the control sockets expose them.
import type { Config } from '../config/index.ts';
import { expectHelperMatches, transportOf } from '../config/index.ts';
import type { Flow, Expectation } from '../flow/flow.ts';
import { EV, type FlowEvent, type ExpectationEvent, type EventType } from '../flow/event.ts';
import { FlowFilter } from '../flow/filter.ts';
import { Cache, type Entry, ObjState } from '../cache/cache.ts';
import { Conntrack } from '../kernel/conntrack.ts';
import type { EventSource, EventSink } from '../kernel/events/source.ts';
import { openEventSource } from '../kernel/events/select.ts';
import { createSyncMode, LinkSet, MSG, type SyncMode, type SyncHost, type SyncObject, type LinkConfig } from '../sync/index.ts';
import { FailoverMachine, type VrrpState, type Transition } from '../failover/machine.ts';
import { NotifyFifo } from '../failover/fifo.ts';
import { CommitGuard } from '../failover/guard.ts';
import { commit, type CommitResult } from './commit.ts';
import { Injector, INJ } from './inject.ts';
import { authFor, type Authenticator } from '../sync/auth.ts';
import { Reconciler } from './reconcile.ts';
import { Logger } from './log.ts';
import { Probes } from '../metrics/probe.ts';
import { netfilterSysctl, eventSettingAdvice, conntrackMax, conntrackCount } from '../kernel/netfilter-sysctl.ts';
import { recordToMessage, recordEvent, recordOrigin, recordKernelNs, recordProto, recordKernelId } from './record-message.ts';
import { readTable } from './table-read.ts';
import { KEY_SIZE } from '../flow/key.ts';
import { MAX_MESSAGE_SIZE } from '../sync/wire.ts';
import { monotonicNsFast } from '../kernel/libc.ts';
import { MainThreadScheduler, schedPolicyFromEnv } from './sched.ts';
import type { RingReader } from '../kernel/bpf/ringbuf.ts';
import { ProgressMeter, formatProgress } from '../metrics/progress.ts';
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
  /** observability (src/metrics/probe.ts): latency stages and events by protocol and type */
  readonly probes = new Probes();
  readonly latency = this.probes.latency;

  source!: EventSource;
  mode!: SyncMode;
  links!: LinkSet;
  failover: FailoverMachine;
  fifo?: NotifyFifo;
  /** nftables guard around commits (commit-guard; src/failover/guard.ts) */
  readonly guard: CommitGuard;
  /** request sockets, one per purpose, so events they cause can be told apart by port id */
  private dumpCt!: Conntrack;
  private commitCt!: Conntrack;
  private flushCt!: Conntrack;
  private injectCt!: Conntrack;
  injector?: Injector;
  /** authenticated sync links (auth-key-file), absent when off */
  auth?: Authenticator;
  /** external cache repair after a peer restart (src/daemon/reconcile.ts) */
  readonly reconcile: Reconciler;
  /** control-socket requests the daemon could not place */
  readonly controlCounters = { unknown: 0 };
  commitRunning = false;
  lastCommit?: { at: number; ms: number; committed: number; failed: number };
  purgeAt?: number;
  private purgeTimer?: ReturnType<typeof setTimeout>;
  /** the main thread's scheduling policy (SCHED_RR while events back up) */
  sched?: MainThreadScheduler;
  private ring?: RingReader;
  private rcvLostSeen = 0;
  private resyncTimer?: ReturnType<typeof setTimeout>;
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
    this.reconcile = new Reconciler(this.external, this.externalExp, (m) => this.logger.notice(m));
    this.failover = new FailoverMachine(config.failover.syncGroup, {
      commit: async (resyncFollows) => {
        // a commit asked for by hand may be running: the new master waits for it, then commits
        while (this.commitRunning) await new Promise((r) => setTimeout(r, 10));
        try {
          await this.commit(undefined, { resyncFollows });
        } finally {
          // a master keeps no guard, also when there was nothing to commit
          this.guard.disarm('MASTER');
        }
      },
      flushCaches: () => this.flushCaches('all'),
      resyncInternal: () => { this.resyncInternal(); },
      bulkSend: () => this.bulkSend(),
      schedulePurge: () => this.schedulePurge(),
      requestResync: () => this.requestResync(),
      armGuard: () => { if (this.config.commitGuard && !this.injector) this.guard.arm(); },
      log: (level, msg) => this.logger.log(level, msg),
    });
    this.guard = new CommitGuard({
      log: (level, msg) => this.logger.log(level, msg),
      exemptInterfaces: () => this.config.interfaces.map((i) => i.name),
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
    if (c.disableExternalCache) this.injector = new Injector(this.injectCt, () => this.probes.injected());
    // the event source first: events during the initial dump wait in its buffer
    this.source = openEventSource({
      kind: c.eventSource, bufferMB: c.eventListenQueueSize || 8, filter: this.filter,
      expectations: this.expectSync, reliableDestroy: true,
    });
    this.logger.notice(`event source: ${this.source.kind} (${this.source.reason})`);
    // SCHED_RR while events back up in the ring buffer, as conntrackd always runs (sched.ts)
    this.ring = (this.source as { pipeline?: { ring: RingReader } }).pipeline?.ring;
    this.sched = new MainThreadScheduler(schedPolicyFromEnv(), this.ring !== undefined, (m) => this.logger.notice(m));
    this.logger.notice(this.sched.start());
    // reliability (issue 11): authenticated links when auth-key-file is set (src/sync/auth.ts)
    this.auth = authFor(c.authKeyFile);
    this.links = new LinkSet(linkConfigs(c).map((l) => ({ ...l, auth: this.auth })), { log: (l, m) => this.logger.log(l === 'error' ? 'ERROR' : l, m) });
    // the wrapped transport tells the probes when a batch's datagrams reach the socket
    this.mode = createSyncMode(c.mode, { host: this, transport: this.probes.wrap(this.links) }, {
      commitTimeout: c.commitTimeout > 0,
      resendQueueSize: c.resendQueueSize,
      retransmitMs: c.retransmitTimeout,
      refreshTime: c.refreshTime,
      cacheTimeout: c.cacheTimeout,
    });
    await this.links.open((bytes, link) => {
      this.probes.datagram();
      this.rxMs = Date.now();
      this.mode.receive(bytes, link);
      // datagrams missed (the socket's buffer overflowed while we were busy): the peer resends them
      const lost = this.mode.stats.rcvLost;
      if (lost !== this.rcvLostSeen) {
        this.rcvLostSeen = lost;
        this.sched?.observe(1);
      }
      // the stored messages of this datagram (applyCtRaw): one clock reading for all of them
      if (this.rawCached) { this.probes.cached(this.rawCached); this.rawCached = 0; }
    });
    this.initialDump();
    const advice = eventSettingAdvice(netfilterSysctl('nf_conntrack_events'));
    if (advice) this.logger.log(advice.level, advice.text);
    this.source.start(this);
    this.mode.start();
    this.guard.removeLeftover();
    this.openFifo();
    if (c.startupResync) this.requestResync();
    this.logger.notice(`initialization completed: ${c.mode.toUpperCase()} over ${transportOf(c)} on ${c.interfaces.map((i) => i.name).join(', ')}`);
  }

  async stop(why = 'shutdown received'): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.logger.notice(`---- ${why} ----`);
    clearTimeout(this.purgeTimer);
    clearTimeout(this.resyncTimer);
    this.sched?.stop();
    this.mode?.stop();
    this.guard.release('daemon stopping');
    this.guard.close();
    await this.fifo?.close();
    await this.source?.close();
    await this.links?.close();
    for (const ct of [this.dumpCt, this.commitCt, this.flushCt, this.injectCt]) await ct?.close();
    this.onStop?.();
  }

  /** keepalived notify-fifo: (re)opens the reader for the configured sync group. */
  private openFifo(): void {
    const c = this.config;
    void this.fifo?.close();
    this.fifo = undefined;
    if (!c.keepalived.notifyFifo) return;
    this.fifo = new NotifyFifo(c.keepalived.notifyFifo, c.failover.syncGroup, (s, line) => {
      void this.failover.transition(s, `notify fifo: ${line}`);
    });
    this.fifo.open();
    this.logger.notice(`reading keepalived notify fifo ${c.keepalived.notifyFifo} for sync-group ${c.failover.syncGroup}`);
  }

  whenStopped(): Promise<void> {
    return new Promise((r) => { this.onStop = r; });
  }

  /** Fills the internal cache from the kernel table; those objects go to the peer as NEW. */
  private initialDump(): void {
    let n = 0;
    const meter = this.meter('initial dump');
    const add = (e: Entry | undefined) => { if (e) { this.mode.enqueue(e); n++; } };
    this.longWork(() => readTable(this.dumpCt, this.filter, {
      step: () => meter.step(),
      stored: (key, msg, len, kid) => add(this.internal.upsertMessage(key, msg, len, true, undefined, kid)),
      flow: (f) => add(this.internal.upsert(f, true)),
    }));
    if (this.expectSync) {
      for (const x of this.dumpCt.dumpExpectations()) this.localExpectation(EV.NEW, x);
    }
    this.mode.flush();
    const p = meter.finish();
    this.logger.notice(`initial dump: ${n} entries (${p.done} read in ${p.seconds.toFixed(3)} s, ${p.rate}/s)`);
  }

  /** Progress of an operation over the kernel table, reported to `report` and the log. */
  private meter(op: string, report?: (p: Progress) => void): ProgressMeter {
    return new ProgressMeter(op, (p) => { report?.(p); this.progressLog(p); }, { total: conntrackCount() });
  }

  // ---- kernel events (EventSink) ----

  flow(ev: FlowEvent): void {
    this.counters.eventsReceived++;
    this.probes.events.flow(ev.flow.orig.proto, ev.type);
    this.probes.read(ev.kernelNs);
    const origin = ev.origin;
    if (origin !== 0) {
      if (origin === this.injectCt.portid) { this.counters.eventsOwn++; return; }
      if (origin === this.commitCt.portid) {
        // our own commit: the kernel now holds it, the peer already has it
        this.counters.eventsOwn++;
        if (ev.type === EV.DESTROY) this.internal.remove(ev.flow, ev.flow.id);
        else this.internal.upsert(ev.flow, ev.type === EV.NEW);
        return;
      }
      if (origin === this.flushCt.portid) {
        this.counters.eventsOwn++;
        this.internal.remove(ev.flow, ev.flow.id);
        return;
      }
    }
    const f = ev.flow;
    if (ev.type === EV.DESTROY) {
      if (f.countersOrig) { this.counters.trafficBytes += f.countersOrig.bytes; this.counters.trafficPackets += f.countersOrig.packets; }
      if (f.countersReply) { this.counters.trafficBytes += f.countersReply.bytes; this.counters.trafficPackets += f.countersReply.packets; }
      const e = this.internal.kill(f, f.id);
      if (e) this.enqueueLocal(e, ev.kernelNs);
    } else {
      const e = this.internal.upsert(f, ev.type === EV.NEW);
      if (e) this.enqueueLocal(e, ev.kernelNs);
    }
  }

  // ---- kernel event records, fast path (bench issue #8): see record-message.ts ----
  private readonly recMsg = new Uint8Array(MAX_MESSAGE_SIZE);
  private readonly recKey = new Uint8Array(KEY_SIZE);
  /** clock of the current drain pass (ns, ms): one reading serves every record of the pass */
  private readNs = -1;
  private readMs = 0;
  /** how long the pass's first (oldest) record waited to be read, ns */
  private passLagNs = 0;

  /** EventSink.record: the same as flow() for a ring-buffer record, with no Flow built. */
  record(dv: DataView, off: number): boolean {
    const n = recordToMessage(dv, off, this.recMsg, this.recKey);
    if (n < 0) return false;
    const type = recordEvent(dv, off) as EventType;
    this.counters.eventsReceived++;
    this.probes.events.flow(recordProto(dv, off), type);
    const kns = recordKernelNs(dv, off);
    if (this.readNs < 0) { this.readNs = monotonicNsFast(); this.readMs = Date.now(); this.passLagNs = this.readNs - kns; }
    this.latency.kernelToRead.add((this.readNs - kns) / 1000, this.readMs);
    const kid = recordKernelId(dv, off);
    const origin = recordOrigin(dv, off);
    if (origin !== 0) {
      if (origin === this.injectCt.portid) { this.counters.eventsOwn++; return true; }
      if (origin === this.commitCt.portid) {
        this.counters.eventsOwn++;
        if (type === EV.DESTROY) this.internal.removeKey(this.recKey, kid);
        else this.internal.putMessage(this.recKey, this.recMsg, n, type === EV.NEW, this.readMs, kid);
        return true;
      }
      if (origin === this.flushCt.portid) {
        this.counters.eventsOwn++;
        this.internal.removeKey(this.recKey, kid);
        return true;
      }
    }
    const e = type === EV.DESTROY
      ? this.internal.killMessage(this.recKey, this.recMsg, n, kid)
      : this.internal.upsertMessage(this.recKey, this.recMsg, n, type === EV.NEW, this.readMs, kid);
    if (e) this.enqueueLocal(e, kns);
    return true;
  }

  private enqueueLocal(e: Entry, kernelNs: bigint | number | undefined): void {
    this.mode.enqueue(e);
    if (kernelNs !== undefined) this.probes.stamp(Number(kernelNs));
  }

  expectation(ev: ExpectationEvent): void {
    this.counters.eventsReceived++;
    this.probes.events.expectation(ev.type);
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
    this.readNs = -1;
    if (this.ring) {
      this.sched!.observe(this.ring.stats.backlog / this.ring.size);
      if (this.passLagNs > 0) this.sched!.late(this.passLagNs / 1e6);
      this.passLagNs = 0;
    }
    // kernel-to-wire: the datagrams of this flush carry the batch's events
    this.probes.begin();
    try {
      this.mode.flush();
    } finally {
      this.probes.end();
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
    const meter = this.meter('resync after loss');
    this.dumpCt.dumpEach((f) => {
      meter.step();
      if (!this.filter.matches(f)) return;
      const old = this.internal.get(f);
      const key = this.internal.keyOf(f);
      seen.add(key);
      if (old && old.state !== ObjState.DEAD && sameState(old.data, f)) {
        old.data = f;
        this.internal.noteKernelId(old, f.id ?? 0);
        return;
      }
      const e = this.internal.upsert(f, !old);
      if (e) { this.mode.enqueue(e); changed++; }
    });
    for (const e of [...this.internal.values()]) {
      if (e.state === ObjState.DEAD || seen.has(e.key)) continue;
      const k = this.internal.kill(e.data);
      if (k) { this.mode.enqueue(k); gone++; }
    }
    this.mode.flush();
    const p = meter.finish();
    this.logger.notice(`resync with kernel table done: ${changed} changed, ${gone} gone (${p.done} read in ${p.seconds.toFixed(3)} s, ${p.rate}/s)`);
  }

  // ---- the peer's messages (SyncHost) ----

  applyCt(type: 0 | 1 | 2, flow: Flow): void {
    if (this.injector) {
      this.probes.queued();
      this.injector.push(type === MSG.CT_NEW ? INJ.NEW : type === MSG.CT_UPD ? INJ.UPD : INJ.DEL, flow);
      return;
    }
    this.reconcile.touchCt(flow);
    if (type === MSG.CT_NEW) this.external.replace(flow);
    else if (type === MSG.CT_UPD) this.external.update(flow);
    else this.external.remove(flow);
    this.probes.cached();
  }

  /**
   * The fast path of applyCt (bench issue #8): a received conntrack message stored in the external
   * cache as it came, with no Flow built. Inject mode and an external-cache repair in progress
   * want Flows: 0 sends the message down the applyCt path.
   */
  applyCtRaw(type: 0 | 1 | 2, b: Uint8Array, off: number, len: number): number {
    if (this.injector || this.reconcile.active) return 0;
    const r = this.external.applyWire(type, b, off, len, this.rxMs);
    if (r > 0) this.rawCached++;
    return r;
  }
  private rawCached = 0;
  /** when the datagram being applied arrived (the entries' update time) */
  private rxMs = 0;

  applyExp(type: 3 | 4 | 5, exp: Expectation): void {
    this.reconcile.touchExp(exp);
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

  idle(obj: SyncObject): void {
    if (obj.kind === 'ct') this.internal.idle(obj as Entry<'ct'>);
  }

  /** FTFW: the peer restarted; whether its external entries need a repair (reconcile.ts). */
  peerRestarted(): boolean { return !this.injector && this.reconcile.begin(); }
  /** FTFW: the peer's answer to our RESYNC is complete. */
  reconciled(): void { this.reconcile.finish(); }

  expireCt(flow: Flow): void { this.external.remove(flow); }

  log(level: 'notice' | 'warning' | 'error', message: string): void {
    this.logger.log(level === 'error' ? 'ERROR' : level, message);
  }
  expireExp(exp: Expectation): void { this.externalExp.remove(exp); }

  // ---- operations ----

  /**
   * `-c`: the external caches into the kernel; resolves when done. With `resyncFollows` (a new
   * master: flush and resync come next) the NEW events stop while it runs. They would only fill
   * the internal cache that the resync rebuilds from the kernel table anyway, new flows of real
   * traffic in between included, and building them is most of what a create costs the kernel
   * (docs/benchmarks.md, "Commit"). That saving needs nobody else on the machine listening to NEW
   * events: the kernel keeps one list of listened groups for all namespaces.
   */
  async commit(progress?: (p: Progress) => void, opt: { resyncFollows?: boolean } = {}): Promise<CommitResult | undefined> {
    if (this.injector) return undefined;
    if (this.commitRunning) {
      this.logger.notice('commit already in progress, skipping');
      return undefined;
    }
    this.commitRunning = true;
    this.cancelPurge('commit');
    const at = Date.now();
    // commit guard (src/failover/guard.ts): until the commit is done, packets of flows that are
    // not in the kernel yet are dropped rather than reset
    const guarded = this.config.commitGuard && this.external.size > 0 && this.guard.install();
    const paused = opt.resyncFollows === true && this.source.newEvents?.(false) === true;
    try {
      this.logger.notice('committing all external caches');
      if (paused) this.logger.info('NEW events paused for the commit; the resync that follows reads the kernel table');
      // the cache itself: commit writes the requests from its stored messages (commit-wire.ts)
      const r = await commit(this.commitCt, this.external, this.externalExp.values(), {
        commitTimeout: this.config.commitTimeout,
        progress: (p) => { progress?.(p); this.progressLog(p); },
        chunkDone: (n, s) => this.probes.commitChunk(n, s),
      });
      this.counters.commits++;
      this.counters.committed += r.committed;
      this.counters.commitFailed += r.failed;
      this.lastCommit = { at, ms: r.seconds * 1000, committed: r.committed, failed: r.failed };
      this.probes.commitDone(r.seconds);
      this.logger.notice(`Committed ${r.committed} new entries`);
      if (this.expectSync) this.logger.notice(`Committed ${r.expectations} new expectations`);
      if (r.failed) this.logger.warn(`${r.failed} entries can't be committed (${Object.entries(r.errors).map(([k, v]) => `${k}: ${v}`).join(', ')})`);
      this.logger.notice(`commit has taken ${r.seconds.toFixed(6)} seconds`);
      return r;
    } finally {
      // on a backup (a commit by hand) the guard goes back to its standby form
      if (guarded) this.guard.remove('commit done', { standby: this.config.commitGuard && ['BACKUP', 'FAULT', 'STOP'].includes(this.failover.current ?? '') });
      this.commitRunning = false;
      if (paused) {
        // everything queued now (the DESTROY of each entry the commit replaced, events that came
        // meanwhile) is read before the flush and resync: read after them, a DESTROY would remove
        // the entry the commit made, and the NEW that used to follow it is what the pause saves
        this.source.drain();
        // last: should rejoining fail, the commit step fails and the transition says so
        this.source.newEvents!(true);
      }
    }
  }

  private lastProgressLog = 0;
  /** Logs progress while an operation runs; each operation logs its own summary at the end. */
  private progressLog(p: Progress): void {
    const now = Date.now();
    if (p.done >= p.total || now - this.lastProgressLog < 1000) return;
    this.lastProgressLog = now;
    this.logger.info(formatProgress(p));
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
  resyncInternal(progress?: (p: Progress) => void): number {
    this.counters.resyncKernelTable++;
    let n = 0;
    const meter = this.meter('resync', progress);
    this.longWork(() => readTable(this.dumpCt, this.filter, {
      step: () => meter.step(),
      stored: (key, msg, len, kid) => { if (this.internal.putMessage(key, msg, len, false, undefined, kid) >= 0) n++; },
      flow: (f) => { if (this.internal.upsert(f, false)) n++; },
    }));
    const p = meter.finish();
    if (this.expectSync) {
      for (const x of this.dumpCt.dumpExpectations()) {
        if (expectHelperMatches(this.config, x.helper)) this.internalExp.upsert(x, false);
      }
    }
    this.logger.notice(`resync with kernel conntrack table: ${n} entries (${p.done} read in ${p.seconds.toFixed(3)} s, ${p.rate}/s)`);
    return n;
  }

  /** `-B`: send every internal object to the peer. */
  bulkSend(progress?: (p: Progress) => void): void {
    // the sync mode logs "sending bulk update" itself; one synchronous pass: the count and rate are reported at its end
    const before = this.mode.stats.sndData;
    const meter = new ProgressMeter('bulk send', (p) => { progress?.(p); this.progressLog(p); });
    this.longWork(() => {
      this.mode.bulkSend();
      this.mode.flush();
    });
    meter.done = this.mode.stats.sndData - before;
    const p = meter.finish();
    this.logger.notice(`bulk update sent: ${p.done} messages in ${p.seconds.toFixed(3)} s (${p.rate}/s)`);
  }

  /** Runs fn, a long stretch of work on this thread alone, as sched.ts normalDuring says. */
  private longWork<T>(fn: () => T): T {
    return this.sched ? this.sched.normalDuring(fn) : fn();
  }

  /** `-n`: ask the peer for everything it has. */
  requestResync(): void {
    // the sync mode logs "resync requested"
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
  transition(state: VrrpState, source: string): Promise<Transition> {
    return this.failover.transition(state, source);
  }

  /** SIGHUP: a new configuration; returns what was applied or why it was refused. */
  reload(next: Config, plan: { restart: string[]; changes: string[] }): string {
    if (plan.restart.length) {
      const msg = `reload refused: ${plan.restart.join(', ')} cannot change while running; restart ctsync (\`ctsync restart\`) to apply`;
      this.logger.warn(msg);
      return msg;
    }
    // auth-key-file is read again; a key that cannot be read refuses the whole reload
    let auth: Authenticator | undefined;
    try {
      auth = authFor(next.authKeyFile, this.auth);
    } catch (e) {
      const msg = `reload refused: ${(e as Error).message}`;
      this.logger.warn(msg);
      return msg;
    }
    if (auth !== this.auth) {
      this.auth = auth;
      this.links.setAuth(auth);
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
    this.logger.setFile(next.logFile);
    // keepalived notify-fifo or sync-group changed: read the new FIFO for the new group
    this.failover.syncGroup = next.failover.syncGroup;
    if (old.keepalived.notifyFifo !== next.keepalived.notifyFifo) {
      try { this.openFifo(); } catch (e) { this.logger.error(`keepalived notify-fifo: ${(e as Error).message}`); }
    } else if (this.fifo) this.fifo.syncGroup = next.failover.syncGroup;
    if (!next.commitGuard) this.guard.disarm('commit-guard off');
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
