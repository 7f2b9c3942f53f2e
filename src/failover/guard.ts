// The commit guard (`commit-guard on`): an nftables table installed in the daemon's own network
// namespace just before a commit and deleted right after it, also when the commit fails and when
// the daemon exits; a table left by a daemon that was killed is deleted at the next start. What it
// drops and why: guard-rules.ts; how it reaches the kernel: nftables.ts (netlink, no `nft`
// process). Every install, removal, failure and dropped packet is counted.
import process from 'node:process';
import { GUARD_TABLE, GUARD_CHAIN, GUARD_PRIORITY, guardRules, addDrops, type GuardDrops, type GuardRule } from './guard-rules.ts';
import { NfTables } from './nftables.ts';

export interface GuardCounters {
  installs: number;
  installFailed: number;
  removals: number;
  removeFailed: number;
  /** tables found at start (a previous daemon was killed during a commit) */
  leftovers: number;
  droppedPackets: number;
  droppedBytes: number;
  droppedByRule: Record<GuardRule, number>;
  /** the last guard: how long it took to install, how long it stood, what it dropped */
  last?: { installMs: number; heldMs: number; dropped: number };
}

export interface GuardOptions {
  log: (level: 'notice' | 'warning' | 'ERROR', msg: string) => void;
  /** a named network namespace to work in (tests); default: the daemon's own */
  netns?: string;
  table?: string;
  /** the dedicated sync interfaces, read at each install */
  exemptInterfaces?: () => readonly string[];
}

export class CommitGuard {
  installed = false;
  readonly counters: GuardCounters = {
    installs: 0, installFailed: 0, removals: 0, removeFailed: 0, leftovers: 0, droppedPackets: 0, droppedBytes: 0,
    droppedByRule: { invalid: 0, loose: 0, udp: 0 },
  };
  readonly table: string;
  private installedAt = 0;
  private installMs = 0;
  private readonly onExit = () => this.removeNow();

  constructor(private readonly opt: GuardOptions) {
    this.table = opt.table ?? GUARD_TABLE;
  }

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

  /** Installs the guard; false (counted, logged) when the kernel refuses, and the commit goes on unguarded. */
  install(): boolean {
    if (this.installed) return true;
    const t0 = performance.now();
    try {
      const rules = guardRules({ exemptInterfaces: this.opt.exemptInterfaces?.() ?? [] });
      this.with((nft) => nft.installTable({ table: this.table, chain: GUARD_CHAIN, priority: GUARD_PRIORITY, rules }));
    } catch (e) {
      this.counters.installFailed++;
      this.opt.log('warning', `commit guard not installed: ${(e as Error).message}; committing without it ` +
        '(nf_tables needs CAP_NET_ADMIN and the nf_tables module; or: set service conntrack-sync commit-guard off)');
      return false;
    }
    this.installed = true;
    this.installedAt = performance.now();
    this.installMs = this.installedAt - t0;
    this.counters.installs++;
    process.once('exit', this.onExit);
    this.opt.log('notice', `commit guard installed in ${this.installMs.toFixed(2)} ms (table inet ${this.table}): ` +
      'packets of flows not committed yet are dropped, not reset');
    return true;
  }

  /** Reads the drop counters and deletes the table. */
  remove(why = 'commit done'): GuardDrops | undefined {
    if (!this.installed) return undefined;
    let drops: GuardDrops | undefined;
    try {
      drops = this.with((nft) => {
        const d: GuardDrops = { packets: 0, bytes: 0, byRule: {} };
        for (const r of nft.counters(this.table)) addDrops(d, r.comment, r.packets, r.bytes);
        nft.deleteTable(this.table);
        return d;
      });
    } catch (e) {
      // the counters are lost; the table must still go
      try {
        this.with((nft) => nft.deleteTable(this.table));
      } catch (e2) {
        this.counters.removeFailed++;
        this.opt.log('ERROR', `commit guard could not be removed: ${(e2 as Error).message}; remove it by hand: nft delete table inet ${this.table}`);
        return undefined;
      }
      this.opt.log('warning', `commit guard counters unreadable: ${(e as Error).message}`);
    }
    this.installed = false;
    process.removeListener('exit', this.onExit);
    this.counters.removals++;
    const heldMs = performance.now() - this.installedAt;
    const d = drops ?? { packets: 0, bytes: 0, byRule: {} };
    this.counters.droppedPackets += d.packets;
    this.counters.droppedBytes += d.bytes;
    for (const [k, n] of Object.entries(d.byRule) as [GuardRule, number][]) this.counters.droppedByRule[k] += n;
    this.counters.last = { installMs: this.installMs, heldMs, dropped: d.packets };
    const detail = Object.entries(d.byRule).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ');
    this.opt.log('notice', `commit guard removed (${why}) after ${heldMs.toFixed(1)} ms: ${d.packets} packets dropped${detail ? ` (${detail})` : ''}`);
    return drops;
  }

  /** At start: a guard table left by a daemon that was killed during a commit goes away. */
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

  /** The process is exiting with the guard installed: delete it, no questions asked. */
  removeNow(): void {
    if (!this.installed) return;
    try {
      this.with((nft) => nft.deleteTable(this.table));
      this.installed = false;
    } catch {
      this.counters.removeFailed++;
    }
  }
}
