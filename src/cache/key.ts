// Binary cache keys (layout in src/flow/key.ts) written from a Flow's tuple: the same bytes that
// scanCt (src/sync/codec.ts) writes from a wire message, so a flow decoded from a message has the
// key the message had.
import type { Flow, Tuple } from '../flow/flow.ts';
import { KEY, KEY_SIZE } from '../flow/key.ts';
import { putIpv4, putIpv6 } from '../sync/bytes.ts';

/** Writes the key of (tuple, zone) at b[o..o+40); false when an address does not parse. */
export function writeTupleKey(t: Tuple, zone: number, family: 4 | 6 | undefined, b: Uint8Array, o: number): boolean {
  b.fill(0, o, o + KEY_SIZE);
  const v6 = family === 6 || (family === undefined && t.src.includes(':'));
  b[o + KEY.FAMILY] = v6 ? 6 : 4;
  b[o + KEY.PROTO] = t.proto;
  b[o + KEY.ZONE] = (zone >>> 8) & 0xff;
  b[o + KEY.ZONE + 1] = zone & 0xff;
  if (v6) {
    if (!putIpv6(b, o + KEY.SRC, t.src) || !putIpv6(b, o + KEY.DST, t.dst)) return false;
  } else if (!putIpv4(b, o + KEY.SRC, t.src) || !putIpv4(b, o + KEY.DST, t.dst)) return false;
  if (t.sport !== undefined || t.dport !== undefined) {
    const s = t.sport ?? 0, d = t.dport ?? 0;
    b[o + KEY.A] = s >>> 8; b[o + KEY.A + 1] = s & 0xff;
    b[o + KEY.B] = d >>> 8; b[o + KEY.B + 1] = d & 0xff;
  } else if (t.icmpType !== undefined || t.icmpCode !== undefined || t.icmpId !== undefined) {
    const id = t.icmpId ?? 0;
    b[o + KEY.A] = t.icmpType ?? 0; b[o + KEY.A + 1] = t.icmpCode ?? 0;
    b[o + KEY.B] = id >>> 8; b[o + KEY.B + 1] = id & 0xff;
  }
  return true;
}

/** The key of a conntrack: its original tuple and zone. */
export function writeFlowKey(f: Pick<Flow, 'orig' | 'zone'> & { family?: 4 | 6 }, b: Uint8Array, o: number): boolean {
  return writeTupleKey(f.orig, f.zone ?? 0, f.family, b, o);
}
