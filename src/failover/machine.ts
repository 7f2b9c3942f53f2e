// The VRRP failover state machine for `failover-mechanism vrrp sync-group G`: what a node does
// when keepalived says it became MASTER, BACKUP or FAULT, or that it stopped. Transitions run
// one at a time, in arrival order (keepalived runs notify scripts concurrently, so two may
// overlap); each is recorded for `show conntrack-sync status` and logged.
export type VrrpState = 'MASTER' | 'BACKUP' | 'FAULT' | 'STOP';
export const VRRP_STATES: readonly VrrpState[] = ['MASTER', 'BACKUP', 'FAULT', 'STOP'];

/** What the daemon offers the state machine; each step may be slow (commit). */
export interface FailoverActions {
  /** resyncFollows: a later step of the same transition reads the kernel table into the internal cache */
  commit(resyncFollows: boolean): Promise<void>;
  flushCaches(): Promise<void> | void;
  resyncInternal(): Promise<void> | void;
  bulkSend(): void;
  schedulePurge(): void;
  requestResync(): void;
  /** the commit guard's standby form (src/failover/guard.ts), when commit-guard is on */
  armGuard(): void;
  log(level: 'notice' | 'warning' | 'ERROR', msg: string): void;
}

export type Step = 'commit' | 'flush' | 'resync' | 'bulk-send' | 'purge' | 'request-resync' | 'arm-guard';

/**
 * The steps of each transition, in order (conntrackd's primary-backup.sh and VyOS's
 * vyos-vrrp-conntracksync.sh do the same with `-c -f -R -B`, `-t -n` and `-t`).
 * STOP: keepalived stopping sends no BACKUP (only STOP) while the peer takes the addresses, so the
 * node behaves as a backup: its kernel entries are purged unless it becomes MASTER again within
 * purge-timeout, and its external cache is refilled from the new master for a later failback.
 * A node that is not master arms the commit guard first: keepalived will put the addresses up
 * before it tells ctsync, and the guard must already be there then.
 */
export const STEPS: Readonly<Record<VrrpState, readonly Step[]>> = {
  MASTER: ['commit', 'flush', 'resync', 'bulk-send'],
  BACKUP: ['arm-guard', 'purge', 'request-resync'],
  FAULT: ['arm-guard', 'purge'],
  STOP: ['arm-guard', 'purge', 'request-resync'],
};

export interface Transition {
  state: VrrpState;
  /** when the notification arrived */
  at: Date;
  /** who said so: "notify fifo: GROUP ...", "ctsync failover master", "conntrackd -c" */
  source: string;
  /** how long its steps took, once done */
  ms?: number;
  /** the steps that failed, with their messages */
  error?: string;
}

export class FailoverMachine {
  /** the state of the last transition done */
  state: VrrpState | undefined;
  /** the state of the transition running now, else of the last one done */
  current: VrrpState | undefined;
  last: Transition | undefined;
  readonly history: Transition[] = [];
  transitions = 0;
  failures = 0;
  private chain: Promise<void> = Promise.resolve();

  constructor(public syncGroup: string, private readonly act: FailoverActions) {}

  /**
   * Takes over what a previous machine knew (`ctsync restart` builds a new daemon while keepalived
   * says nothing): the state and the record, without running any step again. Returns the state.
   */
  inherit(prev: FailoverMachine): VrrpState | undefined {
    this.state = prev.state;
    this.current = prev.state;
    this.last = prev.last;
    this.history.push(...prev.history);
    this.transitions = prev.transitions;
    this.failures = prev.failures;
    return this.state;
  }

  /** Queues a transition; the promise settles when its work is done (it never rejects). */
  transition(state: VrrpState, source: string): Promise<Transition> {
    const t: Transition = { state, at: new Date(), source };
    const run = this.chain.then(() => this.run(t));
    this.chain = run.then(() => undefined, () => undefined);
    return run.then(() => t, () => t);
  }

  private async step(s: Step, steps: readonly Step[]): Promise<void> {
    switch (s) {
      case 'commit': return this.act.commit(steps.indexOf('resync') > steps.indexOf('commit'));
      case 'flush': return this.act.flushCaches();
      case 'resync': return this.act.resyncInternal();
      case 'bulk-send': return this.act.bulkSend();
      case 'purge': return this.act.schedulePurge();
      case 'request-resync': return this.act.requestResync();
      case 'arm-guard': return this.act.armGuard();
    }
  }

  private async run(t: Transition): Promise<void> {
    const started = performance.now();
    this.current = t.state;
    this.act.log('notice', `transitioning to ${t.state} state for VRRP sync-group [${this.syncGroup}] (${t.source})`);
    const errors: string[] = [];
    // a failed step does not stop the next ones: a new master that could not commit must still
    // learn its kernel table and tell the peer, as the shell scripts carry on after an error
    const steps = STEPS[t.state];
    for (const s of steps) {
      try {
        await this.step(s, steps);
      } catch (e) {
        errors.push(`${s}: ${(e as Error).message}`);
      }
    }
    t.ms = Math.round((performance.now() - started) * 10) / 10;
    if (errors.length) {
      t.error = errors.join('; ');
      this.failures++;
      this.act.log('ERROR', `${t.state} transition for sync-group [${this.syncGroup}] failed after ${t.ms} ms: ${t.error}`);
    } else {
      this.act.log('notice', `${t.state} transition for sync-group [${this.syncGroup}] done in ${t.ms} ms`);
    }
    this.state = t.state;
    this.last = t;
    this.transitions++;
    this.history.push(t);
    if (this.history.length > 50) this.history.shift();
  }
}

export interface FifoLine { kind: string; name: string; state: string; priority: number }

/**
 * Parses a keepalived notify_fifo line: `GROUP "SG1" MASTER 0`, `INSTANCE "VI_1" BACKUP 150`, and
 * the other kinds and states keepalived writes there (`INSTANCE "VI_1" MASTER_RX_LOWER_PRI 100`,
 * `VS "..." UP 0`); undefined for a line of another shape.
 */
export function parseFifoLine(line: string): FifoLine | undefined {
  const m = /^([A-Z_]+) "([^"]*)" ([A-Z_]+) (\d+)$/.exec(line.trim());
  if (!m) return undefined;
  return { kind: m[1], name: m[2], state: m[3], priority: Number(m[4]) };
}

/** The state a FIFO line asks of the given sync group, if it is about it. */
export function groupState(line: FifoLine, syncGroup: string): VrrpState | undefined {
  if (line.kind !== 'GROUP' || line.name !== syncGroup) return undefined;
  return (VRRP_STATES as readonly string[]).includes(line.state) ? line.state as VrrpState : undefined;
}
