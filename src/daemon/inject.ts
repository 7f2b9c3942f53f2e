// disable-external-cache: flows received from the peer go straight into the kernel. Messages that
// arrive in one turn of the event loop are applied as one batch (creates, updates, deletes).
import type { Flow } from '../flow/flow.ts';
import type { Conntrack } from '../kernel/conntrack.ts';
import type { InjectStats } from '../control/snapshot.ts';
import { E } from '../kernel/libc.ts';

export const INJ = { NEW: 0, UPD: 1, DEL: 2 } as const;

export class Injector {
  readonly stats: InjectStats = { created: 0, createFailed: 0, updated: 0, updateFailed: 0, destroyed: 0, destroyFailed: 0 };
  private pending: { type: number; flow: Flow }[] = [];
  private scheduled = false;

  constructor(private readonly ct: Conntrack, private readonly onApplied?: (n: number) => void) {}

  push(type: number, flow: Flow): void {
    this.pending.push({ type, flow });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.apply());
    }
  }

  /** Applies what is pending; in arrival order per flow (a batch keeps the last word per key). */
  apply(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    const creates: Flow[] = [], updates: Flow[] = [], deletes: Flow[] = [];
    for (const m of batch) {
      if (m.type === INJ.NEW) creates.push(m.flow);
      else if (m.type === INJ.UPD) updates.push(m.flow);
      else deletes.push(m.flow);
    }
    // deletes first: a DEL followed by a NEW of the same key in one batch must leave the NEW
    if (deletes.length) {
      const r = this.ct.delete(deletes);
      this.stats.destroyed += r.ok;
      for (const e of r.failed.values()) {
        // already gone is what a delete wants
        if (e === E.ENOENT) this.stats.destroyed++; else this.stats.destroyFailed++;
      }
    }
    if (creates.length) {
      const r = this.ct.create(creates, { replace: true, liberal: true });
      this.stats.created += r.ok;
      this.stats.createFailed += r.failed.size;
    }
    if (updates.length) {
      const r = this.ct.update(updates.map(stripForUpdate));
      this.stats.updated += r.ok;
      // unknown to the kernel: create it; refused otherwise: replace it
      const retry = [...r.failed.keys()].map((i) => updates[i]);
      if (retry.length) {
        const c = this.ct.create(retry, { replace: true, liberal: true });
        this.stats.created += c.ok;
        this.stats.updateFailed += c.failed.size;
      }
    }
    this.onApplied?.(batch.length);
  }
}

/** An update may not change NAT, helper or master; the kernel refuses those on an existing entry. */
function stripForUpdate(f: Flow): Flow {
  const { helper: _h, master: _m, ...rest } = f;
  return rest;
}
