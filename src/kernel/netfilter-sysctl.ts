// net.netfilter.* settings of the calling process's network namespace, and what the kernel's
// conntrack event setting means for a synchronisation daemon.
import { readFileSync } from 'node:fs';

/** /proc/sys/net/netfilter/NAME as a number; undefined when absent or not a number. */
export function netfilterSysctl(name: string, read = (path: string) => readFileSync(path, 'utf8')): number | undefined {
  try {
    const v = Number(read(`/proc/sys/net/netfilter/${name}`).trim());
    return Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** The conntrack table's size limit (nf_conntrack_max); the kernel's usual default when unreadable or 0. */
export function conntrackMax(read?: (path: string) => string): number {
  return netfilterSysctl('nf_conntrack_max', read) || 262144;
}

/** Conntracks in the table now (nf_conntrack_count: a dump's total, as an estimate); undefined when unreadable or 0. */
export function conntrackCount(read?: (path: string) => string): number | undefined {
  return netfilterSysctl('nf_conntrack_count', read) || undefined;
}

/**
 * nf_conntrack_events: 1, every conntrack raises events; 2 (the kernel's default since 5.19), only
 * one created while some ctnetlink listener exists, since the kernel decides at creation whether
 * to give it the event extension; 0, none. A conntrack without the extension never reports its
 * end, so one made while no daemon ran (at boot, during a restart) stays in the internal cache
 * once the initial dump has put it there (until a flush, or a resync after lost events). The
 * line to log at start, or undefined.
 */
export function eventSettingAdvice(value: number | undefined): { level: 'warning' | 'ERROR'; text: string } | undefined {
  const fix = 'sysctl -w net.netfilter.nf_conntrack_events=1';
  if (value === 0) {
    return { level: 'ERROR', text: `net.netfilter.nf_conntrack_events is 0: the kernel raises no conntrack events, so no flow of this node is synchronised (${fix})` };
  }
  if (value === 2) {
    return {
      level: 'warning',
      text: `net.netfilter.nf_conntrack_events is 2: the kernel raises events only for conntracks created while a listener exists, so one created while no daemon runs (at boot, during a restart) never reports its end and stays in the internal cache, and in the peer's external cache (${fix} gives every conntrack its events)`,
    };
  }
  return undefined;
}
