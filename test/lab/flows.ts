// Synthetic but valid conntrack entries for tests that need many at once (created with
// Conntrack.create in a lab namespace, they produce the same kernel events as traffic).
import { type Flow, STATUS } from '../../src/flow/flow.ts';

/**
 * n distinct flows: TCP ESTABLISHED (some with a mark, some in zone 3, every 10th source-NATed to
 * 198.51.100.251-254 with a port change, every 7th destination-NATed to 192.0.2.251-254), UDP
 * and ICMP. Nothing uses 203.0.113.0/24, the lab's sync link.
 */
export function makeFlows(n: number, opt: { offset?: number } = {}): Flow[] {
  const out: Flow[] = [];
  for (let k = 0; k < n; k++) {
    const i = k + (opt.offset ?? 0);
    const src = `192.0.2.${1 + (i % 250)}`;
    const dst = `198.51.100.${1 + (Math.floor(i / 250) % 250)}`;
    const sport = 1024 + Math.floor(i / 62500);
    const kind = i % 20;
    if (kind < 16) {
      const dport = 1 + (i % 60000);
      const f: Flow = {
        family: 4,
        orig: { src, dst, proto: 6, sport, dport },
        reply: { src: dst, dst: src, proto: 6, sport: dport, dport: sport },
        status: STATUS.SEEN_REPLY | STATUS.ASSURED | STATUS.CONFIRMED,
        timeout: 3600 + (i % 1000),
        tcp: { state: 3 },
      };
      if (i % 3 === 0) f.mark = i % 1000;
      if (i % 5 === 0) f.zone = 3;
      if (i % 10 === 1) {
        f.reply = { ...f.reply, dst: `198.51.100.${251 + (i % 4)}`, dport: 20000 + (i % 40000) };
        f.status |= STATUS.SRC_NAT | STATUS.SRC_NAT_DONE;
      } else if (i % 7 === 2) {
        f.reply = { ...f.reply, src: `192.0.2.${251 + (i % 4)}` };
        f.status |= STATUS.DST_NAT | STATUS.DST_NAT_DONE;
      }
      out.push(f);
    } else if (kind < 19) {
      const dport = 1 + (i % 60000);
      out.push({
        family: 4,
        orig: { src, dst, proto: 17, sport: sport + 10000, dport },
        reply: { src: dst, dst: src, proto: 17, sport: dport, dport: sport + 10000 },
        status: STATUS.SEEN_REPLY | STATUS.CONFIRMED,
        timeout: 600,
      });
    } else {
      const id = i % 65536;
      out.push({
        family: 4,
        orig: { src, dst, proto: 1, icmpType: 8, icmpCode: 0, icmpId: id },
        reply: { src: dst, dst: src, proto: 1, icmpType: 0, icmpCode: 0, icmpId: id },
        status: STATUS.CONFIRMED,
        timeout: 120,
      });
    }
  }
  return out;
}
