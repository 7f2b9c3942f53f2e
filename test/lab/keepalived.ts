// keepalived in lab namespaces: one VRRP sync group holding a LAN and a WAN instance, the virtual
// addresses of test/lab/topology.ts, pid files in the lab's directory (two instances on one host
// must not share /run/keepalived.pid: the second would exit 0 saying "already running"), console
// logging so that the lab can follow the state changes. VRRP adverts (224.0.0.18) only leave
// through lan0/wan0, which end on the lab's own bridges.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Lab } from './lab.ts';
import type { Netns } from './netns.ts';
import { ADDR } from './topology.ts';

export interface KeepalivedSetup {
  /** router_id and file names */
  name: string;
  /** 150 on the primary, 100 on the standby */
  priority: number;
  syncGroup?: string;
  /** notify_fifo path (the daemon reads it) */
  notifyFifo?: string;
  /** notify_master / notify_backup / notify_fault command lines of the sync group */
  notify?: { master: string; backup: string; fault: string };
  nopreempt?: boolean;
  /** virtual router ids of the LAN and WAN instances (unique per segment; the lab's segments are its own) */
  vrid?: [number, number];
}

const q = (s: string) => `"${s.replace(/"/g, '\\"')}"`;

/** keepalived.conf for one firewall of the pair. */
export function keepalivedConfig(s: KeepalivedSetup): string {
  const sg = s.syncGroup ?? 'SG1';
  const [vLan, vWan] = s.vrid ?? [51, 52];
  const instance = (name: string, dev: string, vrid: number, vip: string) => `
vrrp_instance ${name} {
    state BACKUP
    interface ${dev}
    virtual_router_id ${vrid}
    priority ${s.priority}
    advert_int 1
${s.nopreempt ? '    nopreempt\n' : ''}    virtual_ipaddress {
        ${vip}/24 dev ${dev}
    }
}
`;
  const notify = s.notify
    ? `    notify_master ${q(s.notify.master)}\n    notify_backup ${q(s.notify.backup)}\n    notify_fault ${q(s.notify.fault)}\n`
    : '';
  return `global_defs {
    router_id ${s.name}
    script_user root
${s.notifyFifo ? `    notify_fifo ${s.notifyFifo}\n` : ''}}
${instance('VI_LAN', 'lan0', vLan, ADDR.vipLan)}${instance('VI_WAN', 'wan0', vWan, ADDR.vipWan)}
vrrp_sync_group ${sg} {
    group {
        VI_LAN
        VI_WAN
    }
${notify}}
`;
}

export type VrrpView = 'MASTER' | 'BACKUP' | 'FAULT' | 'STOP' | undefined;

export class Keepalived {
  output = '';
  /** the sync group's state as keepalived logged it last */
  state: VrrpView;
  /** wall-clock ms of each state the sync group entered */
  readonly changes: { state: string; at: number }[] = [];

  constructor(readonly lab: Lab, readonly ns: Netns, readonly proc: ChildProcess, readonly configFile: string, readonly setup: KeepalivedSetup) {
    const take = (d: Buffer) => this.take(d.toString());
    proc.stdout?.on('data', take);
    proc.stderr?.on('data', take);
  }

  private partial = '';
  private take(text: string): void {
    this.output += text;
    this.partial += text;
    let i;
    while ((i = this.partial.indexOf('\n')) >= 0) {
      const line = this.partial.slice(0, i);
      this.partial = this.partial.slice(i + 1);
      // "(VI_LAN) Entering MASTER STATE", "VRRP_Group(SG1) Syncing instances to MASTER state"
      const m = /\((VI_LAN|VI_WAN)\) Entering (MASTER|BACKUP|FAULT) STATE/.exec(line);
      if (m && m[1] === 'VI_LAN') {
        this.state = m[2] as VrrpView;
        this.changes.push({ state: m[2], at: Date.now() });
      }
    }
  }

  get running(): boolean { return this.proc.exitCode === null && this.proc.signalCode === null; }

  /**
   * Stops keepalived as systemd does (SIGTERM to the parent only): it sends priority-0 adverts and
   * removes its addresses, and the peer takes over at once.
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    const done = new Promise<void>((r) => this.proc.once('exit', () => r()));
    try { process.kill(this.proc.pid!, 'SIGTERM'); } catch { /* gone */ }
    const t = setTimeout(() => this.lab.stop(this.proc, 0), 10000);
    await done;
    clearTimeout(t);
    this.state = 'STOP';
    this.changes.push({ state: 'STOP', at: Date.now() });
  }
}

/** Starts keepalived (VRRP only, in the foreground) in a firewall namespace. */
export function startKeepalived(lab: Lab, ns: Netns, s: KeepalivedSetup): Keepalived {
  const file = join(lab.dir, `${s.name}.keepalived.conf`);
  writeFileSync(file, keepalivedConfig(s));
  const proc = ns.spawn('keepalived', [
    '-n', '-l', '-D', '-G', '-P', '-f', file,
    '-p', join(lab.dir, `${s.name}.keepalived.pid`), '-r', join(lab.dir, `${s.name}.vrrp.pid`),
  ]);
  return new Keepalived(lab, ns, proc, file, s);
}

/** Which firewall holds the LAN virtual address now (0, 1, or undefined for none or both). */
export async function vipHolder(fw: readonly Netns[]): Promise<number | undefined> {
  const has = await Promise.all(fw.map(async (f) => (await f.exec('ip', ['-4', '-o', 'addr', 'show', 'dev', 'lan0'])).stdout.includes(`${ADDR.vipLan}/`)));
  const idx = has.flatMap((h, i) => (h ? [i] : []));
  return idx.length === 1 ? idx[0] : undefined;
}

/**
 * Notes when addresses appear on and leave a namespace's interfaces (`ip -ts monitor address`,
 * stamped by ip as it reads the kernel's notification): the moment keepalived puts a virtual
 * address up. With several addresses, `up` is the first of them to appear.
 */
export class AddressWatch {
  up?: number;
  down?: number;
  readonly seen = new Map<string, number>();
  private readonly proc: ChildProcess;
  private buf = '';

  constructor(readonly ns: Netns, readonly addresses: readonly string[]) {
    this.proc = ns.spawn('ip', ['-ts', 'monitor', 'address']);
    this.proc.stdout?.on('data', (d: Buffer) => {
      this.buf += d.toString();
      let i;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        // [2026-11-22T05:15:38.698743] 3: lan0    inet 192.0.2.1/24 scope global secondary lan0
        const m = /^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)\] (Deleted )?.*\binet6? ([0-9a-f.:]+)\//.exec(line);
        if (!m || !addresses.includes(m[3])) continue;
        // local time with microseconds; Date keeps milliseconds
        const at = new Date(m[1].slice(0, 23)).getTime();
        if (m[2]) this.down ??= at;
        else {
          this.up ??= at;
          if (!this.seen.has(m[3])) this.seen.set(m[3], at);
        }
      }
    });
  }

  /** resolves once `ip monitor` is listening (a short pause: it prints nothing when ready) */
  ready(): Promise<void> { return new Promise((r) => setTimeout(r, 150)); }

  stop(): void {
    try { process.kill(this.proc.pid!, 'SIGTERM'); } catch { /* gone */ }
  }
}
