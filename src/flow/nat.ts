// NAT as conntrackd sees it: derived from the difference between the orig and reply tuples, and
// the reverse (the reply tuple rebuilt from the orig tuple and the NAT), which the wire never carries.
import { type Flow, type Tuple, STATUS, invertTuple } from './flow.ts';

export interface Nat {
  /** source NAT: the address (and port) the original source is rewritten to */
  snat?: { addr: string; port?: number };
  /** destination NAT: the address (and port) the original destination is rewritten to */
  dnat?: { addr: string; port?: number };
}

export function natOf(f: Pick<Flow, 'orig' | 'reply' | 'status'>): Nat {
  const nat: Nat = {};
  const { orig, reply } = f;
  if (f.status & STATUS.SRC_NAT_DONE) {
    const portChanged = reply.dport !== undefined && reply.dport !== orig.sport;
    if (reply.dst !== orig.src || portChanged) {
      nat.snat = { addr: reply.dst };
      if (portChanged) nat.snat.port = reply.dport;
    }
  }
  if (f.status & STATUS.DST_NAT_DONE) {
    const portChanged = reply.sport !== undefined && reply.sport !== orig.dport;
    if (reply.src !== orig.dst || portChanged) {
      nat.dnat = { addr: reply.src };
      if (portChanged) nat.dnat.port = reply.sport;
    }
  }
  return nat;
}

/** The reply tuple implied by an orig tuple and its NAT (conntrackd's NFCT_SOPT_SETUP_REPLY). */
export function replyFor(orig: Tuple, nat: Nat): Tuple {
  const r = invertTuple(orig);
  if (nat.snat) {
    r.dst = nat.snat.addr;
    if (nat.snat.port !== undefined) r.dport = nat.snat.port;
  }
  if (nat.dnat) {
    r.src = nat.dnat.addr;
    if (nat.dnat.port !== undefined) r.sport = nat.dnat.port;
  }
  return r;
}
