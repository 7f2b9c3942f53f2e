// The two daemons under test behind one interface: start a pair on the lab's two namespaces, ask
// how many flows the receiver's external cache holds, read the loss counters, commit, stop.
// conntrackd 1.4.7 runs with the settings VyOS generates (test/lab/daemons.ts conntrackdConfig:
// FTFW, multicast, NetlinkBufferSize 2 MB, MaxGrowth 8 MB, EventsReliable on, OverrunResync off);
// ctsync runs with the equivalent `set service conntrack-sync` lines and its defaults.
import { join } from 'node:path';
import type { Lab } from '../lab/lab.ts';
import type { Netns } from '../lab/netns.ts';
import { ADDR } from '../lab/topology.ts';
import {
  startConntrackd, startCtsync, CtsyncDaemon, type Conntrackd, type SyncSetup,
} from '../lab/daemons.ts';
import { conntrackdRequest, CODE } from '../../src/control/conntrackd.ts';
import { fileURLToPath } from 'node:url';
import { scriptCommand, runtime } from '../../src/kernel/runtime.ts';
import { sleep } from './proc.ts';

export type SubjectName = 'conntrackd' | 'ctsync';

/** Counters of one daemon that say whether it lost kernel events. */
export interface LossCounters {
  /** events the daemon knows it lost (ENOBUFS, ring buffer full) */
  lost: number;
  /** times it resynchronised with the kernel table because of a loss */
  resyncs: number;
}

export interface Daemon {
  readonly pid: number;
  /** "current active connections" of the external cache */
  externalCount(): Promise<number>;
  internalCount(): Promise<number>;
  loss(): Promise<LossCounters>;
  /** commits the external cache into the kernel; resolves when done, with the daemon's own figure */
  commit(): Promise<{ wallSeconds: number; reportedSeconds?: number; committed?: number }>;
  /**
   * What a new master does, resolving when done: commit, flush the caches, resync the internal
   * cache with the kernel table, bulk send (conntrackd: primary-backup.sh's `-c`, `-f`, `-R`,
   * `-B`; ctsync: its MASTER transition). commitSeconds: the commit's part, as the daemon logs it.
   */
  becomeMaster(): Promise<{ wallSeconds: number; commitSeconds?: number }>;
  /** recent log text, for error messages */
  log(): string;
}

export interface PairOptions {
  /** write a CPU profile of each ctsync daemon into this directory (Node only; profiled-daemon.ts) */
  profileDir?: string;
  /** event source for ctsync (default auto) */
  eventSource?: SyncSetup['eventSource'];
  /** CPUs of the sender's and the receiver's daemon (the split layout, main.ts); absent: any */
  cpus?: [number, number];
}

/** Setup of node i (0 = sender fw1, 1 = receiver fw2): multicast on sync0, FTFW. */
export function setupOf(i: 0 | 1, opt: PairOptions = {}): SyncSetup {
  return {
    iface: 'sync0', local: ADDR.sync[i], mode: 'ftfw',
    // the sync link's own datagrams are tracked too; neither daemon should replicate them
    ignore: ['203.0.113.0/24', '2001:db8:3::/64'],
    ...(opt.eventSource ? { eventSource: opt.eventSource } : {}),
  };
}

function parseCount(text: string, cache: 'internal' | 'external'): number {
  const m = new RegExp(`cache ${cache}:\\s*\\ncurrent active connections:\\s+(\\d+)`).exec(text);
  return m ? Number(m[1]) : -1;
}

function parseField(text: string, label: string): number {
  const m = new RegExp(`${label}:\\s+(\\d+)`).exec(text);
  return m ? Number(m[1]) : 0;
}

class ConntrackdSubject implements Daemon {
  constructor(readonly d: Conntrackd) {}
  get pid(): number { return this.d.pid; }
  private stats(): Promise<string> { return conntrackdRequest(this.d.socket, CODE.STATS); }
  async externalCount(): Promise<number> { return parseCount(await this.stats(), 'external'); }
  async internalCount(): Promise<number> { return parseCount(await this.stats(), 'internal'); }
  async loss(): Promise<LossCounters> {
    const t = await conntrackdRequest(this.d.socket, CODE.STATS_RUNTIME);
    return { lost: parseField(t, 'catch event failed'), resyncs: parseField(t, 'resync with kernel table') };
  }
  async commit() {
    const before = this.d.log().length;
    const t0 = performance.now();
    // the daemon answers `-c` by closing the connection once the commit is done
    await conntrackdRequest(this.d.socket, CODE.CT_COMMIT);
    const wallSeconds = (performance.now() - t0) / 1000;
    return { wallSeconds, ...(await this.commitLogged(before)) };
  }
  async becomeMaster() {
    const before = this.d.log().length;
    const t0 = performance.now();
    for (const code of [CODE.ALL_COMMIT, CODE.ALL_FLUSH_CACHE, CODE.ALL_RESYNC_MASTER, CODE.SEND_BULK]) await conntrackdRequest(this.d.socket, code);
    const wallSeconds = (performance.now() - t0) / 1000;
    return { wallSeconds, commitSeconds: (await this.commitLogged(before)).reportedSeconds };
  }
  /** the figures of the commit the log shows after offset `before` */
  private async commitLogged(before: number): Promise<{ reportedSeconds?: number; committed?: number }> {
    let reportedSeconds: number | undefined, committed: number | undefined;
    for (let i = 0; i < 20 && reportedSeconds === undefined; i++) {
      const tail = this.d.log().slice(before);
      const m = /commit has taken (\d+\.\d+) seconds/.exec(tail);
      if (m) reportedSeconds = Number(m[1]);
      const c = /Committed (\d+) new entries/.exec(tail);
      if (c) committed = Number(c[1]);
      if (reportedSeconds === undefined) await sleep(50);
    }
    return { reportedSeconds, committed };
  }
  log(): string { return this.d.log().slice(-2000); }
}

interface CommitReply { committed: number; failed: number; seconds: number }
interface SnapshotLike {
  conntrack: { internal: { active?: number }; external: { active?: number } };
  commit: { last?: { ms: number } };
  runtime: { catchEventFailed: number; netlinkOverrun: number; resyncKernelTable: number };
}

class CtsyncSubject implements Daemon {
  constructor(readonly d: CtsyncDaemon) {}
  get pid(): number { return this.d.pid; }
  private snapshot(): Promise<SnapshotLike> { return this.d.request<SnapshotLike>('snapshot'); }
  // the counts are polled during a burst: the same request, on the conntrackd-compatible socket, as
  // conntrackd is asked (`conntrackd -s`), so that both daemons do the same work for the harness
  async externalCount(): Promise<number> { return parseCount(await this.d.conntrackd(CODE.STATS), 'external'); }
  async internalCount(): Promise<number> { return parseCount(await this.d.conntrackd(CODE.STATS), 'internal'); }
  async loss(): Promise<LossCounters> {
    const s = await this.snapshot();
    // -R also counts as a resync with the kernel table; the bench never sends it
    return { lost: s.runtime.catchEventFailed, resyncs: s.runtime.resyncKernelTable };
  }
  async commit() {
    const t0 = performance.now();
    const r = await this.d.request<CommitReply | undefined>('commit');
    const wallSeconds = (performance.now() - t0) / 1000;
    return { wallSeconds, reportedSeconds: r?.seconds, committed: r?.committed };
  }
  async becomeMaster() {
    const t0 = performance.now();
    await this.d.request('failover', { state: 'master' });
    const wallSeconds = (performance.now() - t0) / 1000;
    const last = (await this.snapshot()).commit.last;
    return { wallSeconds, commitSeconds: last ? last.ms / 1000 : undefined };
  }
  log(): string { return this.d.output.slice(-2000); }
}

let seq = 0;

const PROFILED = fileURLToPath(new URL('./profiled-daemon.ts', import.meta.url));
let profiles = 0;

/** Starts ctsync in a namespace, optionally under the CPU profiler. */
function startCtsyncBench(lab: Lab, ns: Netns, s: SyncSetup, role: string, profileDir?: string, cpu?: number): Promise<CtsyncDaemon> {
  const command = profileDir && runtime === 'node'
    ? (file: string) => scriptCommand(PROFILED, [file, join(profileDir, `ctsync-${++profiles}-${role}.cpuprofile`)])
    : undefined;
  return startCtsync(lab, ns, s, `bench-ctsync${seq++}`, { cpu, command });
}

export interface RunningPair {
  sender: Daemon;
  receiver: Daemon;
  /** stops the sender's daemon alone (a master that died) */
  stopSender(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the pair: node 0 (sender) in fw[0], node 1 (receiver) in fw[1]. */
export async function startPair(name: SubjectName, lab: Lab, fw: [Netns, Netns], opt: PairOptions = {}): Promise<RunningPair> {
  if (name === 'conntrackd') {
    const a = await startConntrackd(lab, fw[0], setupOf(0, opt), `bench-conntrackd${seq++}`, { cpu: opt.cpus?.[0] });
    const b = await startConntrackd(lab, fw[1], setupOf(1, opt), `bench-conntrackd${seq++}`, { cpu: opt.cpus?.[1] });
    return {
      sender: new ConntrackdSubject(a), receiver: new ConntrackdSubject(b),
      stopSender: async () => { await lab.stop(a.proc); },
      stop: async () => { await lab.stop(a.proc); await lab.stop(b.proc); },
    };
  }
  const a = await startCtsyncBench(lab, fw[0], setupOf(0, opt), 'sender', opt.profileDir, opt.cpus?.[0]);
  const b = await startCtsyncBench(lab, fw[1], setupOf(1, opt), 'receiver', opt.profileDir, opt.cpus?.[1]);
  return {
    sender: new CtsyncSubject(a), receiver: new CtsyncSubject(b),
    stopSender: async () => { await lab.stop(a.proc, 10000); },
    // a graceful stop lets a profiled daemon write its profile
    stop: async () => { await lab.stop(a.proc, 10000); await lab.stop(b.proc, 10000); },
  };
}
