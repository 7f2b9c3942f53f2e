// The convergence check of the sync tests: the receiver's external cache equals the sender's
// internal cache, field by field (timeouts move, so they are compared loosely).
import type { CtsyncDaemon } from './daemons.ts';
import { until } from './daemons.ts';
import { type Flow, tupleEqual, STATUS } from '../../src/flow/flow.ts';
import { flowKey } from '../../src/flow/key.ts';

const BITS = STATUS.SEEN_REPLY | STATUS.ASSURED | STATUS.SRC_NAT | STATUS.DST_NAT;

/** The differences between two flow sets (empty when they are equal). */
export function diffFlows(want: Flow[], got: Flow[], max = 5): string[] {
  const g = new Map(got.map((f) => [flowKey(f), f]));
  const out: string[] = [];
  let n = 0;
  for (const w of want) {
    const k = flowKey(w);
    const x = g.get(k);
    g.delete(k);
    let d: string | undefined;
    if (!x) d = 'missing';
    else if (!tupleEqual(x.reply, w.reply)) d = `reply ${JSON.stringify(x.reply)} != ${JSON.stringify(w.reply)}`;
    else if ((x.status & BITS) !== (w.status & BITS)) d = `status ${x.status} != ${w.status}`;
    else if ((x.mark ?? 0) !== (w.mark ?? 0)) d = `mark ${x.mark} != ${w.mark}`;
    else if ((x.tcp?.state ?? -1) !== (w.tcp?.state ?? -1)) d = `tcp state ${x.tcp?.state} != ${w.tcp?.state}`;
    else if ((x.sctp?.state ?? -1) !== (w.sctp?.state ?? -1)) d = `sctp state ${x.sctp?.state} != ${w.sctp?.state}`;
    if (d && n++ < max) out.push(`${k}: ${d}`);
  }
  for (const k of g.keys()) if (n++ < max) out.push(`${k}: not on the sender`);
  if (n > max) out.push(`... ${n - max} more`);
  return out;
}

/** Waits until the receiver's external cache equals the sender's internal cache. */
export async function converged(sender: CtsyncDaemon, receiver: CtsyncDaemon, ms: number): Promise<void> {
  let last: string[] = [];
  try {
    await until(async () => {
      const [want, got] = await Promise.all([sender.cache('internal'), receiver.cache('external')]);
      last = diffFlows(want, got);
      return last.length === 0;
    }, ms, 'external cache equal to the internal cache');
  } catch (e) {
    throw new Error(`${(e as Error).message}: ${last.join('; ')}`);
  }
}
