// The VRRP failover state machine for `failover-mechanism vrrp sync-group G`: what a node does
// when keepalived says it became MASTER, BACKUP or FAULT, or that it stopped. Transitions run
// one at a time, in arrival order; each is recorded for `show conntrack-sync status`.
export type VrrpState = 'MASTER' | 'BACKUP' | 'FAULT' | 'STOP';

/** What the daemon offers the state machine; each step may be slow (commit). */
export interface FailoverActions {
  commit(): Promise<void>;
  flushCaches(): Promise<void> | void;
  resyncInternal(): Promise<void> | void;
  bulkSend(): void;
  schedulePurge(): void;
  requestResync(): void;
  log(level: 'notice' | 'warning' | 'ERROR', msg: string): void;
}

export interface Transition { state: VrrpState; at: Date; source: string; ms?: number; error?: string }

export class FailoverMachine {
  state: VrrpState | undefined;
  last: Transition | undefined;
  readonly history: Transition[] = [];
  transitions = 0;
  failures = 0;
  private chain: Promise<void> = Promise.resolve();

  constructor(readonly syncGroup: string, private readonly act: FailoverActions) {}

  /** Queues a transition; the promise settles when its work is done. */
  transition(state: VrrpState, source: string): Promise<Transition> {
    const t: Transition = { state, at: new Date(), source };
    const run = this.chain.then(() => this.run(t));
    this.chain = run.then(() => undefined, () => undefined);
    return run.then(() => t);
  }

  private async run(t: Transition): Promise<void> {
    const started = Date.now();
    this.act.log('notice', `transitioning to ${t.state} state for VRRP sync-group [${this.syncGroup}] (${t.source})`);
    try {
      switch (t.state) {
        case 'MASTER':
          // the peer's flows into our kernel, then start afresh from what the kernel holds
          await this.act.commit();
          await this.act.flushCaches();
          await this.act.resyncInternal();
          this.act.bulkSend();
          break;
        case 'BACKUP':
          this.act.schedulePurge();
          this.act.requestResync();
          break;
        case 'FAULT':
          this.act.schedulePurge();
          break;
        case 'STOP':
          // keepalived stopping sends no BACKUP; the peer takes the addresses, so behave as backup
          this.act.schedulePurge();
          this.act.requestResync();
          break;
      }
    } catch (e) {
      t.error = (e as Error).message;
      this.failures++;
      this.act.log('ERROR', `${t.state} transition failed: ${t.error}`);
    }
    t.ms = Date.now() - started;
    this.state = t.state;
    this.last = t;
    this.transitions++;
    this.history.push(t);
    if (this.history.length > 50) this.history.shift();
  }
}

/** Parses a keepalived notify_fifo line: `GROUP "SG1" MASTER 0` or `INSTANCE "VI_1" BACKUP 150`. */
export function parseFifoLine(line: string): { kind: 'GROUP' | 'INSTANCE'; name: string; state: VrrpState; priority: number } | undefined {
  const m = /^(GROUP|INSTANCE) "([^"]+)" (MASTER|BACKUP|FAULT|STOP) (\d+)$/.exec(line.trim());
  if (!m) return undefined;
  return { kind: m[1] as 'GROUP' | 'INSTANCE', name: m[2], state: m[3] as VrrpState, priority: Number(m[4]) };
}
