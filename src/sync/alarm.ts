// ALARM: conntrackd's periodic-refresh mode (reference §3.2). Every internal object is re-sent
// at random intervals of (random() % RefreshTime + 1) s + (random() % 5 + 1) × 200 ms, with the
// message type of its state; there is no ALIVE, ACK, NACK, RESYNC or HELLO, and any received
// message with flags is ignored. External entries expire CacheTimeout seconds (default 180) after
// their last message: the host's expireCt/expireExp is called (or a DEL applied).
//
// Refresh timers live in a wheel of 200 ms slots, external expiry in one insertion-ordered map (a
// refresh moves an entry to the end), so 100k objects cost two periodic ticks, not 100k timers.
import type { Expectation, Flow } from '../flow/flow.ts';
import { expectationKey, flowKey } from '../flow/key.ts';
import { ModeBase, Verdict } from './base.ts';
import type { MsgHeader } from './codec.ts';
import type { ModeKind, SyncDeps, SyncOptions } from './mode.ts';
import { OBJ_STATE, type SyncObject } from './object.ts';
import { ObjNode, type QItem } from './queue.ts';
import { MSG } from './wire.ts';

const SLOT_MS = 200;

interface External { at: number; flow?: Flow; exp?: Expectation }

export class AlarmMode extends ModeBase {
  readonly kind: ModeKind = 'alarm';
  private readonly slots: Set<ObjNode>[];
  private cur = 0;
  private wheelAt = 0;
  private readonly external = new Map<string, External>();

  constructor(deps: SyncDeps, opt: SyncOptions = {}) {
    super(deps, opt);
    this.slots = Array.from({ length: (this.opt.refreshTime + 2) * (1000 / SLOT_MS) + 1 }, () => new Set<ObjNode>());
  }

  override start(): void {
    super.start();
    this.wheelAt = this.clock.now();
  }

  // ---------------------------------------------------------------- local side

  enqueue(obj: SyncObject): void {
    this.toTx(obj);
    const n = obj.sync!;
    if (obj.state === OBJ_STATE.DEAD) this.disarm(n);
    else this.arm(n);
  }

  override forget(obj: SyncObject): void {
    super.forget(obj);
    if (obj.sync) this.disarm(obj.sync);
  }

  /** conntrackd: `-n` does nothing in ALARM. */
  override requestResync(): void {}
  /** conntrackd: `-B` does nothing in ALARM. */
  override bulkSend(): void {}

  private refreshDelayMs(): number {
    const r = () => Math.floor(this.random() * 0x7fffffff);
    return (r() % this.opt.refreshTime + 1) * 1000 + (r() % 5 + 1) * 200;
  }

  private arm(n: ObjNode): void {
    this.disarm(n);
    const steps = Math.max(1, Math.ceil(this.refreshDelayMs() / SLOT_MS));
    const s = (this.cur + steps) % this.slots.length;
    this.slots[s].add(n);
    n.slot = s;
  }

  private disarm(n: ObjNode): void {
    if (n.slot >= 0) {
      this.slots[n.slot].delete(n);
      n.slot = -1;
    }
  }

  protected xmit(): void {
    let n: QItem | null;
    while ((n = this.tx.shift())) {
      if (n.ctl) {
        this.emitControl(n.flags, n.from, n.to);
        this.freeCtl(n);
      } else {
        this.emitObject(n.obj, 0);
        if (n.obj.state === OBJ_STATE.DEAD) this.drop(n);
      }
    }
  }

  // ---------------------------------------------------------------- receive

  protected classify(h: MsgHeader): Verdict {
    // conntrackd tracks nothing here (its "Lost msgs" stays 0 in ALARM)
    return h.flags ? Verdict.CTL : Verdict.DATA;
  }

  protected override applied(type: number, data: Flow | Expectation): void {
    const isCt = type <= MSG.CT_DEL;
    const key = isCt ? flowKey(data as Flow) : expectationKey(data as Expectation);
    this.external.delete(key);
    if (type === MSG.CT_DEL || type === MSG.EXP_DEL) return;
    this.external.set(key, isCt ? { at: this.clock.now(), flow: data as Flow } : { at: this.clock.now(), exp: data as Expectation });
  }

  /** External entries currently under CacheTimeout watch. */
  get externalTracked(): number {
    return this.external.size;
  }

  // ---------------------------------------------------------------- timers

  protected tick(now: number): void {
    while (now - this.wheelAt >= SLOT_MS) {
      this.wheelAt += SLOT_MS;
      this.cur = (this.cur + 1) % this.slots.length;
      const due = this.slots[this.cur];
      if (!due.size) continue;
      const nodes = [...due];
      due.clear();
      for (const n of nodes) {
        n.slot = -1;
        this.enqueue(n.obj);
      }
    }
    const limit = this.opt.cacheTimeout * 1000;
    for (const [key, e] of this.external) {
      if (now - e.at < limit) break;
      this.external.delete(key);
      this.stats.externalExpired++;
      this.guard(() => {
        if (e.flow) {
          if (this.host.expireCt) this.host.expireCt(e.flow);
          else this.host.applyCt(MSG.CT_DEL, e.flow);
        } else if (e.exp) {
          if (this.host.expireExp) this.host.expireExp(e.exp);
          else this.host.applyExp(MSG.EXP_DEL, e.exp);
        }
      }, true);
    }
    if (this.tx.len) this.flush();
  }
}
