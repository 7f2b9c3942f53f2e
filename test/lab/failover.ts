// The failover lab: client — LAN switch — two firewalls with keepalived (one sync group holding a
// LAN and a WAN instance) and a sync daemon each — WAN switch — server, long-lived TCP connections
// and UDP flows through the virtual addresses, and the operations of a failover: stop keepalived
// on the master, start it again (it preempts), check every connection. Shared by the failover
// tests and `ctsync demo`.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Lab } from './lab.ts';
import type { Netns } from './netns.ts';
import type { Agent } from './agent.ts';
import { buildPair, firewallRuleset, ADDR, type Pair } from './topology.ts';
import { startCtsync, startConntrackd, until, type CtsyncDaemon, type Conntrackd, type SyncSetup } from './daemons.ts';
import { startKeepalived, vipHolder, AddressWatch, type Keepalived, type KeepalivedSetup } from './keepalived.ts';
import { ctsyncCommand } from '../../src/kernel/runtime.ts';

export type SyncKind = 'ctsync' | 'conntrackd' | 'none';

export interface FailoverLabOptions {
  /** the sync daemon on fw1 and fw2 (default ctsync on both) */
  sync?: [SyncKind, SyncKind];
  /** how keepalived drives ctsync: its notify FIFO (default) or notify_* lines running `ctsync failover` */
  drive?: 'fifo' | 'notify';
  /** TCP connections kept open through the virtual address (default 200) */
  connections?: number;
  /** of them, connections with data flowing all the time (default 20) */
  streams?: number;
  /** UDP flows (default 0) */
  udp?: number;
  /** ctsync's commit-guard (default on) */
  commitGuard?: boolean;
  /** nftables ruleset of the firewalls (default: the stateful policy of topology.ts) */
  ruleset?: string;
  /** net.netfilter.nf_conntrack_tcp_loose on the firewalls (default 0) */
  tcpLoose?: 0 | 1;
  /** extra `set service conntrack-sync` lines for ctsync */
  extra?: string[];
  /** ctsync's event source (default auto: the eBPF path where the kernel allows it) */
  eventSource?: 'auto' | 'bpf-tracing' | 'bpf-netlink' | 'netlink';
  /** progress lines */
  log?: (msg: string) => void;
}

export const SERVICE_PORT = 7000;
/** the sync link and the firewalls' own addresses stay out of the replication */
const IGNORE = ['203.0.113.0/24', ...ADDR.fwLan, ...ADDR.fwWan];
const PROTOCOLS = ['tcp', 'udp', 'icmp'];

export interface CheckResult {
  tcp: { ok: number; failed: number; resets: number; closes: number };
  streams: { sent: number; echoed: number; failed: number };
  udp?: { ok: number; failed: number; refused: number };
  /** every connection and flow answered, none was reset or closed, no streamed exchange failed */
  survived: boolean;
}

export interface SwitchResult {
  from: number;
  to: number;
  /** from the stop (or start) of keepalived to the virtual address on the new master */
  vipMs: number;
  /** wall-clock ms when the first virtual address (keepalived's WAN or LAN instance) appeared on the new master */
  vipUpAt?: number;
}

/** the shipped examples (the conntrackd notify script), next to test/ in the source tree */
const examples = () => fileURLToPath(new URL('../../examples/', import.meta.url));

export class FailoverLab {
  pair!: Pair;
  readonly daemons: (CtsyncDaemon | Conntrackd | undefined)[] = [undefined, undefined];
  readonly keepalived: (Keepalived | undefined)[] = [undefined, undefined];
  server?: Agent;
  tcp?: Agent;
  udp?: Agent;
  readonly sync: [SyncKind, SyncKind];
  readonly opt: FailoverLabOptions;
  private streamBase = { sent: 0, echoed: 0, failed: 0 };

  constructor(readonly lab: Lab, opt: FailoverLabOptions = {}) {
    this.opt = opt;
    this.sync = opt.sync ?? ['ctsync', 'ctsync'];
  }

  private log(msg: string): void { this.opt.log?.(msg); }

  get fw(): [Netns, Netns] { return this.pair.fw; }

  /** Namespaces, sync daemons, keepalived on both firewalls; resolves when fw1 holds the addresses. */
  async start(): Promise<void> {
    const o = this.opt;
    this.pair = await buildPair(this.lab, { ruleset: o.ruleset ?? firewallRuleset() });
    if (o.tcpLoose !== undefined) for (const f of this.pair.fw) await f.sysctl('net.netfilter.nf_conntrack_tcp_loose', o.tcpLoose);
    await Promise.all([0, 1].map((i) => this.startSync(i)));
    for (const i of [0, 1]) this.startKeepalived(i);
    await until(async () => (await vipHolder(this.fw)) === 0, 20000, 'keepalived: fw1 MASTER with the virtual addresses');
    // the sync daemon on the master has run its MASTER steps (the notification follows the addresses)
    await this.waitState(0, 'MASTER', 10000);
  }

  fifoPath(i: number): string { return join(this.lab.dir, `fw${i + 1}.notify.fifo`); }

  setup(i: number): SyncSetup {
    return {
      iface: 'sync0', local: ADDR.sync[i], mode: 'ftfw', eventSource: this.opt.eventSource ?? 'auto', ignore: IGNORE, acceptProtocols: PROTOCOLS,
      syncGroup: 'SG1',
      ...(this.sync[i] === 'ctsync' && (this.opt.drive ?? 'fifo') === 'fifo' ? { notifyFifo: this.fifoPath(i) } : {}),
      extra: [
        ...(this.opt.commitGuard === false ? ['set service conntrack-sync commit-guard off'] : []),
        ...(this.opt.extra ?? []),
      ],
    };
  }

  private async startSync(i: number): Promise<void> {
    const kind = this.sync[i];
    if (kind === 'ctsync') this.daemons[i] = await startCtsync(this.lab, this.fw[i], this.setup(i), `ctsync-fw${i + 1}`);
    else if (kind === 'conntrackd') this.daemons[i] = await startConntrackd(this.lab, this.fw[i], this.setup(i), `conntrackd-fw${i + 1}`);
  }

  /** keepalived.conf of firewall i: the FIFO, notify lines, or nothing (no sync daemon). */
  keepalivedSetup(i: number): KeepalivedSetup {
    const s: KeepalivedSetup = { name: `fw${i + 1}`, priority: i === 0 ? 150 : 100, syncGroup: 'SG1' };
    const d = this.daemons[i];
    if (this.sync[i] === 'ctsync' && (this.opt.drive ?? 'fifo') === 'fifo') s.notifyFifo = this.fifoPath(i);
    else if (this.sync[i] === 'ctsync') {
      const line = (state: string) => {
        const [cmd, argv] = ctsyncCommand(['failover', state, 'SG1', '--socket', (d as CtsyncDaemon).socket]);
        return [cmd, ...argv].join(' ');
      };
      s.notify = { master: line('master'), backup: line('backup'), fault: line('fault') };
    } else if (this.sync[i] === 'conntrackd') {
      const line = (state: string) => `/bin/sh ${join(examples(), 'conntrackd-notify.sh')} ${state} ${(d as Conntrackd).configFile}`;
      s.notify = { master: line('primary'), backup: line('backup'), fault: line('fault') };
    }
    return s;
  }

  startKeepalived(i: number): Keepalived {
    const k = startKeepalived(this.lab, this.fw[i], this.keepalivedSetup(i));
    this.keepalived[i] = k;
    return k;
  }

  /** Waits until the sync daemon of firewall i has finished a transition to `state`. */
  async waitState(i: number, state: 'MASTER' | 'BACKUP' | 'STOP', ms: number): Promise<void> {
    const d = this.daemons[i];
    if (this.sync[i] === 'ctsync') {
      await until(async () => (await (d as CtsyncDaemon).snapshot()).failover.state === state, ms, `ctsync on fw${i + 1}: ${state} transition done`);
    } else if (this.sync[i] === 'conntrackd' && state === 'MASTER') {
      // the notify script's steps, as conntrackd logs them (-c, -f, -R, then -B); the last sequence
      await until(() => /committing all external caches[\s\S]*resync with master conntrack table[\s\S]*sending bulk update/
        .test((d as Conntrackd).log().split('committing all external caches').slice(-2).join('committing all external caches')),
      ms, `conntrackd on fw${i + 1}: master steps done`);
    }
  }

  /** The echo server, `connections` TCP connections (some streaming) and `udp` UDP flows. */
  async openTraffic(): Promise<void> {
    const o = this.opt;
    this.server = this.lab.agent(this.pair.server, 'tcp-server', ['--port', String(SERVICE_PORT)]);
    await this.server.next();
    this.tcp = this.lab.agent(this.pair.client, 'tcp-clients', ['--server', ADDR.server, '--port', String(SERVICE_PORT), '--count', String(o.connections ?? 200)]);
    const ready = await this.tcp.next();
    if (ready.open !== (o.connections ?? 200)) throw new Error(`only ${String(ready.open)} TCP connections opened`);
    if (o.udp) {
      this.udp = this.lab.agent(this.pair.client, 'udp-clients', ['--server', ADDR.server, '--port', String(SERVICE_PORT), '--count', String(o.udp)]);
      const u = await this.udp.next();
      if (u.ok !== o.udp) throw new Error(`only ${String(u.ok)} of ${o.udp} UDP flows answered before the failover`);
    }
    const k = o.streams ?? 20;
    if (k > 0) await this.tcp.request({ cmd: 'stream', connections: k, intervalMs: 50 });
  }

  /** Client flows (to the service port) in the external cache of firewall i. */
  async externalFlows(i: number): Promise<number> {
    const d = this.daemons[i];
    if (this.sync[i] === 'ctsync') {
      return (await (d as CtsyncDaemon).cache('external')).filter((f) => f.orig.src === ADDR.client && f.orig.dport === SERVICE_PORT).length;
    }
    if (this.sync[i] === 'conntrackd') {
      const text = (await (d as Conntrackd).client(['-e'])).stdout;
      return text.split('\n').filter((l) => l.includes(`src=${ADDR.client} `) && l.includes(`dport=${SERVICE_PORT} `)).length;
    }
    return 0;
  }

  /** Client flows (to the service port) in the kernel table of firewall i. */
  async kernelFlows(i: number): Promise<number> {
    const r = await this.fw[i].conntrackCli(['-L', '-s', ADDR.client], false);
    return r.stdout.split('\n').filter((l) => l.includes(`dport=${SERVICE_PORT} `)).length;
  }

  /** Waits until firewall i's external cache holds every client flow. */
  async replicated(i: number, ms = 15000): Promise<number> {
    const want = (this.opt.connections ?? 200) + (this.opt.udp ?? 0);
    let n = 0;
    await until(async () => (n = await this.externalFlows(i)) >= want, ms, `fw${i + 1}'s external cache holds the ${want} client flows`);
    return n;
  }

  /** Stops keepalived on the master (SIGTERM); resolves when the other firewall holds the addresses. */
  async stopMaster(): Promise<SwitchResult> {
    const from = await vipHolder(this.fw);
    if (from === undefined) throw new Error('no single firewall holds the virtual addresses');
    const to = 1 - from;
    const watch = new AddressWatch(this.fw[to], [ADDR.vipLan, ADDR.vipWan]);
    await watch.ready();
    try {
      const t0 = performance.now();
      await this.keepalived[from]!.stop();
      await until(async () => (await vipHolder(this.fw)) === to, 10000, `virtual addresses on fw${to + 1}`);
      return { from, to, vipMs: Math.round(performance.now() - t0), ...(watch.up ? { vipUpAt: watch.up } : {}) };
    } finally {
      watch.stop();
    }
  }

  /** Starts keepalived again on firewall i; with the higher priority it preempts. */
  async restartKeepalived(i: number): Promise<SwitchResult> {
    const watch = new AddressWatch(this.fw[i], [ADDR.vipLan, ADDR.vipWan]);
    await watch.ready();
    try {
      const t0 = performance.now();
      this.startKeepalived(i);
      await until(async () => (await vipHolder(this.fw)) === i, 20000, `virtual addresses back on fw${i + 1}`);
      return { from: 1 - i, to: i, vipMs: Math.round(performance.now() - t0), ...(watch.up ? { vipUpAt: watch.up } : {}) };
    } finally {
      watch.stop();
    }
  }

  /**
   * Every connection and flow exchanges data both ways. The streams pause for the check, so that
   * it covers every TCP connection, and resume after it; resets and closes count since the start.
   */
  async check(timeoutMs = 5000): Promise<CheckResult> {
    const streaming = (this.opt.streams ?? 20) > 0;
    const un = streaming ? await this.tcp!.request({ cmd: 'unstream' }) : { sent: 0, echoed: 0, failed: 0 };
    const streams = {
      sent: Number(un.sent) - this.streamBase.sent, echoed: Number(un.echoed) - this.streamBase.echoed,
      failed: Number(un.failed) - this.streamBase.failed,
    };
    const tcp = await this.tcp!.request({ cmd: 'check', timeoutMs }, timeoutMs + 10000);
    const r: CheckResult = {
      tcp: { ok: Number(tcp.ok), failed: Number(tcp.failed), resets: Number(tcp.resets), closes: Number(tcp.closes) },
      streams,
      survived: false,
    };
    if (this.udp) {
      const u = await this.udp.request({ cmd: 'check', timeoutMs: Math.min(timeoutMs, 3000), tries: 3 }, timeoutMs + 10000);
      r.udp = { ok: Number(u.ok), failed: Number(u.failed), refused: Number(u.refused) };
    }
    r.survived = r.tcp.failed === 0 && r.tcp.resets === 0 && r.tcp.closes === 0 && (!streaming || streams.echoed > 0) &&
      (!r.udp || (r.udp.failed === 0 && r.udp.refused === 0));
    // (a stream stuck on a dead connection would still be waiting: it is not restarted)
    if (streaming && r.survived) {
      await this.tcp!.request({ cmd: 'stream', connections: this.opt.streams ?? 20, intervalMs: 50 });
      await this.markStreams();
    }
    return r;
  }

  /** Marks the stream counters so that the next check() reports only what happened after now. */
  async markStreams(): Promise<void> {
    const st = await this.tcp!.request({ cmd: 'stats' });
    this.streamBase = { sent: Number(st.sent), echoed: Number(st.echoed), failed: Number(st.failed) };
  }
}
