// Kernel events by protocol and type (new / update / destroy), counted on the hot path with one
// array increment, reported as a JSON-safe object (Snapshot.events) for metrics and `ctsync top`.
import { EVENT_NAMES, type EventType } from '../flow/event.ts';
import type { EventCounts, EventStats } from '../control/snapshot.ts';

/** Lower-case protocol names for labels; other protocols are reported by number. */
const PROTO_NAMES: Readonly<Record<number, string>> = {
  1: 'icmp', 6: 'tcp', 17: 'udp', 33: 'dccp', 47: 'gre', 58: 'icmpv6', 132: 'sctp', 136: 'udplite',
};

export function protocolLabel(proto: number): string {
  return PROTO_NAMES[proto] ?? String(proto);
}

export class EventCounter {
  /** [proto * 3 + type] */
  private readonly flows = new Float64Array(256 * 3);
  private readonly exps = new Float64Array(3);

  flow(proto: number, type: EventType): void {
    this.flows[((proto & 0xff) * 3) + type]++;
  }

  expectation(type: EventType): void {
    this.exps[type]++;
  }

  /** `own`: the daemon's count of events its own requests caused (kept by the daemon) */
  snapshot(own: number, lateDestroy = 0): EventStats {
    const conntrack: Record<string, EventCounts> = {};
    for (let p = 0; p < 256; p++) {
      const b = p * 3;
      if (this.flows[b] + this.flows[b + 1] + this.flows[b + 2] === 0) continue;
      conntrack[protocolLabel(p)] = { new: this.flows[b], update: this.flows[b + 1], destroy: this.flows[b + 2] };
    }
    return { conntrack, expect: { new: this.exps[0], update: this.exps[1], destroy: this.exps[2] }, own, lateDestroy };
  }
}

/** The sum of several counts, e.g. every protocol. */
export function sumCounts(list: Iterable<EventCounts>): EventCounts {
  const s: EventCounts = { new: 0, update: 0, destroy: 0 };
  for (const c of list) for (const k of EVENT_NAMES) s[k] += c[k];
  return s;
}
