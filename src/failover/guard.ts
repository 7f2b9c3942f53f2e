// The commit guard (`commit-guard on`): an nftables table in the daemon's own network namespace.
// Armed in its standby form when keepalived makes the node BACKUP, FAULT or STOPs it, so that it
// is in place before the virtual addresses ever arrive; widened to its commit form just before a
// commit; deleted right after the commit on a new master (put back to standby after a commit on a
// backup), also when the commit fails, and when the daemon exits. A table left by a daemon that
// was killed is deleted at the next start. What each form drops and why: guard-rules.ts; how it
// reaches the kernel: nftables.ts (netlink, no `nft` process). Every change, failure and dropped
// packet is counted.
import process from 'node:process';
import { GUARD_TABLE, GUARD_CHAIN, GUARD_PRIORITY, guardRules, addDrops, type GuardDrops, type GuardRule, type GuardStage } from './guard-rules.ts';
import { NfTables } from './nftables.ts';

export interface GuardCounters {
  installs: number;
  installFailed: number;
  removals: number;
  removeFailed: number;
  /** tables found at start (a previous daemon was killed) */
  leftovers: number;
  /** packets and bytes dropped while commits ran (the commit form) */
  droppedPackets: number;
  droppedBytes: number;
  droppedByRule: Record<GuardRule, number>;
  /** times the standby form was armed, and what it dropped (forwarded packets reaching a standby) */
  standbyArms: number;
  standbyDropped: number;
  /** the last commit guard: when it was in place (epoch ms), install time, how long it stood, drops */
  last?: { at: number; installMs: number; heldMs: number; dropped: number };
}

export interface GuardOptions {
  log: (level: 'notice' | 'warning' | 'ERROR', msg: string) => void;
  /** a named network namespace to work in (tests); default: the daemon's own */
  netns?: string;
  table?: string;
  /** the dedicated sync interfaces, read at each change */
  exemptInterfaces?: () => readonly string[];
}

export class CommitGuard {
  /** what is in the kernel now */
  mode: 'none' | GuardStage = 'none';
  readonly counters: GuardCounters = {
    installs: 0, installFailed: 0, removals: 0, removeFailed: 0, leftovers: 0, droppedPackets: 0, droppedBytes: 0,
    droppedByRule: { invalid: 0, loose: 0, udp: 0 }, standbyArms: 0, standbyDropped: 0,
  };
  readonly table: string;
  private installedAt = 0;
  private installedWall = 0;
  private installMs = 0;
  private readonly onExit = () => this.removeNow();

  constructor(private readonly opt: GuardOptions) {
    this.table = opt.table ?? GUARD_TABLE;
  }

  /** the commit form is in place (a commit runs) */
  get installed(): boolean { return this.mode === 'commit'; }
  /** the standby form is in place */
  get standby(): boolean { return this.mode === 'standby'; }

  /**
   * One nf_tables socket for the guard's life: an operation on it takes a fraction of a
   * millisecond, while closing a socket that changed nf_tables costs the kernel some 13 ms. A
   * socket that failed is replaced at the next operation.
   */
  private nft?: NfTables;
  private with<T>(fn: (nft: NfTables) => T): T {
    this.nft ??= new NfTables(this.opt.netns);
    try {
      return fn(this.nft);
    } catch (e) {
      this.nft.close();
      this.nft = undefined;
      throw e;
    }
  }

  /** Releases the socket (the daemon stops); a later operation opens a new one. */
  close(): void {
    this.nft?.close();
    this.nft = undefined;
  }

  private put(stage: GuardStage): void {
    const rules = guardRules({ stage, exemptInterfaces: this.opt.exemptInterfaces?.() ?? [] });
    // one transaction replaces whatever table of that name is there: no moment without a guard
    this.with((nft) => nft.installTable({ table: this.table, chain: GUARD_CHAIN, priority: GUARD_PRIORITY, rules }));
    if (this.mode === 'none') process.once('exit', this.onExit);
    this.mode = stage;
  }

  private read(): GuardDrops | undefined {
    try {
      return this.with((nft) => {
        const d: GuardDrops = { packets: 0, bytes: 0, byRule: {} };
        for (const r of nft.counters(this.table)) addDrops(d, r.comment, r.packets, r.bytes);
        return d;
      });
    } catch (e) {
      this.opt.log('warning', `commit guard counters unreadable: ${(e as Error).message}`);
      return undefined;
    }
  }

  /** Standby form (BACKUP, FAULT, STOP); false (counted, logged) when the kernel refuses it. */
  arm(): boolean {
    if (this.mode === 'standby') return true;
    if (this.mode === 'commit') return true; // a commit runs; remove() puts the standby form back
    try {
      this.put('standby');
    } catch (e) {
      this.counters.installFailed++;
      this.opt.log('warning', `commit guard not armed: ${(e as Error).message} (nf_tables needs CAP_NET_ADMIN and the nf_tables module; ` +
        'or: set service conntrack-sync commit-guard off)');
      return false;
    }
    this.counters.standbyArms++;
    this.opt.log('notice', `commit guard armed for the standby (table inet ${this.table}): forwarded packets of flows ` +
      'this node has no entry for are dropped, not reset, until its commit is done');
    return true;
  }

  /** Takes the standby form away (the node is master, or commit-guard was turned off). */
  disarm(why: string): void {
    if (this.mode !== 'standby') return;
    const d = this.read();
    if (!this.delete()) return;
    this.counters.standbyDropped += d?.packets ?? 0;
    this.opt.log('notice', `commit guard disarmed (${why}): ${d?.packets ?? 0} packets dropped while standby`);
  }

  /** Commit form, just before a commit; false (counted, logged) when the kernel refuses it. */
  install(): boolean {
    if (this.mode === 'commit') return true;
    const t0 = performance.now();
    const standby = this.mode === 'standby' ? this.read() : undefined;
    try {
      this.put('commit');
    } catch (e) {
      this.counters.installFailed++;
      this.opt.log('warning', `commit guard not installed: ${(e as Error).message}; committing without it ` +
        '(nf_tables needs CAP_NET_ADMIN and the nf_tables module; or: set service conntrack-sync commit-guard off)');
      return false;
    }
    this.counters.standbyDropped += standby?.packets ?? 0;
    this.installedAt = performance.now();
    this.installedWall = Date.now();
    this.installMs = this.installedAt - t0;
    this.counters.installs++;
    this.opt.log('notice', `commit guard installed in ${this.installMs.toFixed(2)} ms (table inet ${this.table}): ` +
      'packets of flows not committed yet are dropped, not reset');
    return true;
  }

  /** After the commit: counters read, then the table deleted, or its standby form put back. */
  remove(why = 'commit done', opt: { standby?: boolean } = {}): GuardDrops | undefined {
    if (this.mode !== 'commit') return undefined;
    const drops = this.read();
    if (opt.standby) {
      try {
        this.put('standby');
      } catch (e) {
        this.opt.log('warning', `commit guard: standby form not restored: ${(e as Error).message}`);
        if (!this.delete()) return drops;
      }
    } else if (!this.delete()) return drops;
    this.counters.removals++;
    const heldMs = performance.now() - this.installedAt;
    const d = drops ?? { packets: 0, bytes: 0, byRule: {} };
    this.counters.droppedPackets += d.packets;
    this.counters.droppedBytes += d.bytes;
    for (const [k, n] of Object.entries(d.byRule) as [GuardRule, number][]) this.counters.droppedByRule[k] += n;
    this.counters.last = { at: this.installedWall, installMs: this.installMs, heldMs, dropped: d.packets };
    const detail = Object.entries(d.byRule).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ');
    this.opt.log('notice', `commit guard removed (${why}) after ${heldMs.toFixed(1)} ms: ${d.packets} packets dropped${detail ? ` (${detail})` : ''}` +
      `${(this.mode as string) === 'standby' ? '; standby form back in place' : ''}`);
    return drops;
  }

  /** The daemon stops: whatever form is in place goes, counted. */
  release(why: string): void {
    if (this.mode === 'commit') this.remove(why);
    else if (this.mode === 'standby') this.disarm(why);
  }

  /** Deletes the table; false (counted, logged) when that failed. */
  private delete(): boolean {
    try {
      this.with((nft) => nft.deleteTable(this.table));
    } catch (e) {
      this.counters.removeFailed++;
      this.opt.log('ERROR', `commit guard could not be removed: ${(e as Error).message}; remove it by hand: nft delete table inet ${this.table}`);
      return false;
    }
    this.mode = 'none';
    process.removeListener('exit', this.onExit);
    return true;
  }

  /** At start: a guard table left by a daemon that was killed goes away. */
  removeLeftover(): void {
    try {
      if (this.with((nft) => nft.deleteTable(this.table))) {
        this.counters.leftovers++;
        this.opt.log('warning', `removed a commit guard (table inet ${this.table}) left by a previous run`);
      }
    } catch (e) {
      this.opt.log('warning', `cannot check for a leftover commit guard: ${(e as Error).message}`);
    }
  }

  /** The process is exiting with a guard in place: delete it, no questions asked. */
  removeNow(): void {
    if (this.mode === 'none') return;
    try {
      this.with((nft) => nft.deleteTable(this.table));
      this.mode = 'none';
    } catch {
      this.counters.removeFailed++;
    }
  }
}
