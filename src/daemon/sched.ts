// Real-time scheduling for the daemon's main thread, as conntrackd 1.4.7 does by default
// (SCHED_RR at the highest priority, reference §5.1): a burst of kernel events must be read
// before the event buffer fills, whatever else the firewall is busy with. The kernel's RT
// throttling (sched_rt_runtime_us) still leaves the rest of the system its share.
import { koffi } from '../kernel/runtime.ts';
import { errno } from '../kernel/libc.ts';
import process from 'node:process';

const SCHED_RR = 2;

let setScheduler: ((pid: number, policy: number, param: Int32Array) => number) | undefined;
let maxPriority: ((policy: number) => number) | undefined;

/**
 * Switches the calling thread to SCHED_RR at `priority` (default: the highest). Returns a line
 * for the log: what was set, or why not (e.g. no CAP_SYS_NICE in a container).
 */
export function useRealtimeScheduling(priority?: number): string {
  // for measurements of the difference it makes (docs/benchmarks.md)
  if (process.env.CTSYNC_SCHED === 'other') return 'scheduler: default (CTSYNC_SCHED=other)';
  try {
    if (!setScheduler) {
      const lib = koffi.load('libc.so.6');
      setScheduler = lib.func('int sched_setscheduler(int pid, int policy, const int32_t *param)') as unknown as typeof setScheduler;
      maxPriority = lib.func('int sched_get_priority_max(int policy)') as unknown as typeof maxPriority;
    }
    const prio = priority ?? maxPriority!(SCHED_RR);
    if (setScheduler!(0, SCHED_RR, new Int32Array([prio])) !== 0) {
      return `real-time scheduling not available (errno ${errno()}): running with the default scheduler`;
    }
    return `scheduler: SCHED_RR priority ${prio}`;
  } catch (e) {
    return `real-time scheduling not available (${(e as Error).message}): running with the default scheduler`;
  }
}
