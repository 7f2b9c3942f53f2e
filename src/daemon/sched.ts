// The scheduling policy of the daemon's main thread (and, bound to one CPU, of all its threads).
//
// conntrackd 1.4.7 runs SCHED_RR at the highest priority (reference §5.1), so that a burst of
// kernel events is read before the event buffer fills. ctsync does the same while it matters and
// runs under the normal scheduler otherwise (CTSYNC_SCHED, default `auto`):
//
//   rr     SCHED_RR 99 from the start, as conntrackd (bound to a single CPU: every thread, as auto)
//   other  the normal scheduler throughout
//   auto   SCHED_RR 99 at the start and from the moment a read pass finds a backlog in the
//          event ring buffer (ENTER_FILL) or events that waited LATE_MS for it, or the peer has
//          to resend datagrams this node missed; the normal scheduler after 5 s without any.
//          Event sources without a ring buffer (netlink): as rr. Bound to a single CPU: the same,
//          but every thread of the process switches, not the main thread alone.
//
// Why every thread on a single CPU: the runtime works on threads of its own besides the main one
// (the JIT compiler's jobs, the collector's helpers, the commit's sends to the kernel). A real-time
// main thread with work queued keeps normal threads off their only CPU. Measured with the bench's
// split layout (each daemon bound to one CPU): with the main thread alone real-time, the first
// burst after a start took 2.4 s (sender) and 2.1 s (receiver) of CPU per 100,000 flows and a
// commit of 100,000 entries 3.7 s; with every thread real-time 0.7 s, 0.4 s and 1.0-1.2 s. The
// normal scheduler throughout (or nice -20 for every thread) costs less CPU per flow (sender 0.31 s
// against 0.42 s) but lost 169,906 events of the 261,888-flow burst in one run of two: the traffic
// then shares the CPU with the reader.
//
// Why not SCHED_RR throughout: V8 hands parts of its garbage collection to helper threads and
// to tasks it posts to the main thread. A main thread that is real-time runs those tasks the
// instant they are posted and spins through them (perf: a quarter of the receiver's CPU in
// posting and running the collector's tasks); under the normal scheduler the same work costs a
// fraction. Measured with `npm run bench` in its shared layout (docs/benchmarks.md): a third less
// CPU per flow on both sides, part of which is the kernel no longer charging other tasks'
// interrupts to a real-time thread that happened to run; and without real-time at all the
// 261,888-flow burst lost events, which `auto` keeps at 0.
import { koffi } from '../kernel/runtime.ts';
import { errno } from '../kernel/libc.ts';
import process from 'node:process';
import { readFileSync, readdirSync } from 'node:fs';

const SCHED_OTHER = 0;
const SCHED_RR = 2;

export type SchedPolicy = 'rr' | 'other' | 'auto';

/** CTSYNC_SCHED, `auto` when unset or unknown. */
export function schedPolicyFromEnv(env: Record<string, string | undefined> = process.env): SchedPolicy {
  const v = env.CTSYNC_SCHED;
  return v === 'rr' || v === 'other' ? v : 'auto';
}

/** The CPUs this process may run on (its affinity mask: Cpus_allowed_list of /proc/self/status); undefined: unknown. */
export function allowedCpuList(status = (): string => readFileSync('/proc/self/status', 'utf8')): number[] | undefined {
  let list: string | undefined;
  try {
    list = /^Cpus_allowed_list:\s*(\S+)/m.exec(status())?.[1];
  } catch {
    return undefined;
  }
  return list?.split(',').flatMap((r) => {
    const [a, b] = r.split('-').map(Number);
    return b === undefined ? [a] : Array.from({ length: b - a + 1 }, (_, k) => a + k);
  });
}

/** How many CPUs this process may run on (Infinity when unknown). */
export function allowedCpus(status?: () => string): number {
  return allowedCpuList(status)?.length ?? Infinity;
}

/** The calling thread's policy, as the kernel sees it (0, or an errno). */
export interface SchedCalls {
  /** all: every thread of the process, not the calling one alone */
  realtime(all?: boolean): number;
  normal(all?: boolean): number;
  priority: number;
}

let libc: { set: (pid: number, policy: number, param: Int32Array) => number; max: (policy: number) => number } | undefined;

/** sched_setscheduler(2) on the calling thread (pid 0), through libc. */
export function libcSched(): SchedCalls {
  if (!libc) {
    const lib = koffi.load('libc.so.6');
    libc = {
      set: lib.func('int sched_setscheduler(int pid, int policy, const int32_t *param)') as unknown as NonNullable<typeof libc>['set'],
      max: lib.func('int sched_get_priority_max(int policy)') as unknown as NonNullable<typeof libc>['max'],
    };
  }
  const l = libc;
  const priority = l.max(SCHED_RR);
  // a thread id as pid sets that thread alone; threads started later inherit their creator's
  const set = (all: boolean | undefined, policy: number, param: Int32Array): number => {
    for (const tid of all ? readdirSync('/proc/self/task').map(Number) : [0]) {
      if (l.set(tid, policy, param) !== 0) return errno();
    }
    return 0;
  };
  return {
    priority,
    realtime: (all) => set(all, SCHED_RR, new Int32Array([priority])),
    normal: (all) => set(all, SCHED_OTHER, new Int32Array([0])),
  };
}

/**
 * A read pass that finds the ring this full switches to SCHED_RR (8 MB: about 390 records, a few
 * milliseconds behind a burst); it switches back after LEAVE_MS without a backlog over LEAVE_FILL.
 * At an eighth and one second the 261,888-flow burst of the bench still lost events.
 */
export const ENTER_FILL = 1 / 64;
export const LEAVE_FILL = 1 / 256;
export const LEAVE_MS = 5000;
/**
 * A read pass that begins this long after its oldest event was raised switches to SCHED_RR too:
 * the reader waited for the CPU (a busy reader reads every 1-2 ms, so less is its own timer). At a
 * steady 5,000 flows/s no backlog builds, and under the normal scheduler the replication latency's
 * p99 was 2.4-3.1 ms; with this rule 1.15 ms (docs/benchmarks.md).
 */
export const LATE_MS = 3;
const CHECK_MS = 250;

export class MainThreadScheduler {
  /** whether the main thread runs SCHED_RR now */
  realtime = false;
  /** times it switched to SCHED_RR after the start (auto) */
  entered = 0;
  private calls: SchedCalls | undefined;
  private refused = false;
  /** bound to one CPU: every thread switches, not the main thread alone (top of this file) */
  private single = false;
  private lastHigh = 0;
  private timer: ReturnType<typeof setInterval> | undefined;

  /**
   * backlogSignal: whether observe() will be called (an event source with a ring buffer); without
   * one, auto runs SCHED_RR throughout.
   */
  constructor(
    readonly policy: SchedPolicy,
    private readonly backlogSignal: boolean,
    private readonly log: (msg: string) => void,
    private readonly sys: () => SchedCalls = libcSched,
    private readonly now: () => number = () => performance.now(),
    private readonly cpus: () => number = allowedCpus,
  ) {}

  /** Applies the policy; returns the line for the log. */
  start(): string {
    if (this.policy === 'other') return 'scheduler: normal (CTSYNC_SCHED=other)';
    // one CPU: the runtime's other threads must share it with a real-time main thread
    // rr too: with the main thread alone real-time on its only CPU, replication stalled for 30-50 ms
    // at a time while the runtime's threads waited (latency p90 26-31 ms at 5,000 flows/s)
    this.single = this.cpus() < 2;
    const r = this.enter();
    if (r) return `real-time scheduling not available (${r}): running with the default scheduler`;
    const prio = this.calls!.priority;
    if (this.policy === 'rr' || !this.backlogSignal) return `scheduler: SCHED_RR priority ${prio}${this.single ? ' for every thread (one CPU allowed)' : ''}`;
    // the start (the first dump, a peer's resync, code not yet compiled) is a backlog of its own
    this.lastHigh = this.now();
    this.watch();
    const who = this.single ? 'every thread (one CPU allowed: the compiler, the collector and the workers share it)' : 'the main thread';
    return `scheduler: SCHED_RR priority ${prio} for ${who} while events back up (the ring buffer over 1/${Math.round(1 / ENTER_FILL)} full, or datagrams missed), normal otherwise`;
  }

  private watch(): void {
    this.timer = setInterval(this.check, CHECK_MS);
    this.timer.unref?.();
  }

  /**
   * How far behind the daemon found itself (auto): `fill` is the share of a buffer that waited for
   * it (the event ring buffer when a read pass began; 1 for datagrams the peer had to resend).
   * Switches to SCHED_RR at ENTER_FILL; every report over LEAVE_FILL keeps it there LEAVE_MS more.
   */
  observe(fill: number): void {
    if (this.policy !== 'auto' || !this.backlogSignal || this.refused) return;
    if (fill < LEAVE_FILL) return;
    this.lastHigh = this.now();
    if (this.realtime || fill < ENTER_FILL) return;
    this.behind(`behind by ${Math.round(fill * 100)} % of a buffer`);
  }

  /** A read pass began `ms` after the oldest of its events was raised (auto): LATE_MS or more is a backlog. */
  late(ms: number): void {
    if (this.policy !== 'auto' || !this.backlogSignal || this.refused || !(ms >= LATE_MS)) return;
    this.lastHigh = this.now();
    if (!this.realtime) this.behind(`an event read ${ms.toFixed(1)} ms after the kernel raised it`);
  }

  private behind(why: string): void {
    const r = this.enter();
    if (r) {
      this.log(`behind, but real-time scheduling is not available (${r})`);
      return;
    }
    this.entered++;
    if (this.entered === 1) this.log(`${why}: SCHED_RR until the backlog is gone (logged once)`);
    this.watch();
  }

  private readonly check = (): void => this.tick();

  /** While SCHED_RR (auto): back to normal once nothing was behind for LEAVE_MS. */
  tick(): void {
    if (!this.realtime || this.policy !== 'auto' || !this.backlogSignal) return;
    if (this.now() - this.lastHigh < LEAVE_MS) return;
    this.leave();
  }

  private leave(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (!this.realtime) return;
    if (this.calls!.normal(this.single) === 0) this.realtime = false;
  }

  /**
   * Runs fn, a long stretch of work on the main thread alone (a dump of the kernel table read into
   * the cache, a bulk send), under the normal scheduler when every thread is real-time on one CPU,
   * and switches back after. A real-time main thread that does not stop for hundreds of
   * milliseconds keeps the compiler's and the collector's threads, real-time too, off the CPU for
   * a whole round-robin slice at a time; its code stays unoptimised meanwhile. A new master's
   * resync of 100,000 entries took 0.51-0.57 s under SCHED_RR and 0.33-0.35 s under the normal
   * scheduler, its bulk send 0.40-0.50 s and 0.23-0.26 s (docs/benchmarks.md). No events are read
   * while fn runs either way, and on more CPUs the other threads are not real-time.
   */
  normalDuring<T>(fn: () => T): T {
    if (!this.realtime || !this.single || this.calls!.normal(true) !== 0) return fn();
    try {
      return fn();
    } finally {
      // the state follows what the kernel did: refused now, the next backlog asks again (auto)
      this.realtime = this.calls!.realtime(true) === 0;
    }
  }

  /** Switches to SCHED_RR; returns '' or why not. */
  private enter(): string {
    try {
      this.calls ??= this.sys();
      const e = this.calls.realtime(this.single);
      if (e !== 0) {
        this.refused = true;
        return `errno ${e}`;
      }
      this.realtime = true;
      return '';
    } catch (e) {
      this.refused = true;
      return (e as Error).message;
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
