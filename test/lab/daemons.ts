// Sync daemons in lab namespaces: ctsync (this project, through its CLI) and the Debian conntrackd
// 1.4.7, each with a configuration written into the lab's directory and its own control socket.
import { writeFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Lab } from './lab.ts';
import type { Netns } from './netns.ts';
import { run } from './exec.ts';
import { ctsyncCommand } from '../../src/kernel/runtime.ts';
import { request } from '../../src/control/client.ts';
import { conntrackdRequest } from '../../src/control/conntrackd.ts';
import type { Snapshot } from '../../src/control/snapshot.ts';
import type { CacheEntryView } from '../../src/cli/format/index.ts';
import type { Flow } from '../../src/flow/flow.ts';

export interface SyncSetup {
  /** sync interface in the namespace */
  iface: string;
  /** unicast peer; absent: multicast */
  peer?: string;
  /** local address on the sync interface (conntrackd needs it) */
  local: string;
  mode?: 'ftfw' | 'notrack' | 'alarm';
  port?: number;
  ignore?: string[];
  acceptProtocols?: string[];
  disableExternalCache?: boolean;
  expectSync?: string[];
  purgeTimeout?: number;
  commitTimeout?: number;
  startupResync?: boolean;
  syncGroup?: string;
  notifyFifo?: string;
  eventSource?: 'auto' | 'bpf-tracing' | 'bpf-netlink' | 'netlink';
  /** extra `set service conntrack-sync ...` lines (ctsync only) */
  extra?: string[];
}

async function waitFor(cond: () => boolean, ms: number, what: string, proc?: ChildProcess, log?: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (proc && (proc.exitCode !== null || proc.signalCode !== null)) throw new Error(`${what}: the process exited (${proc.exitCode ?? proc.signalCode}): ${log?.().slice(-1500)}`);
    if (Date.now() > end) throw new Error(`${what}: not ready after ${ms} ms: ${log?.().slice(-1500)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export class CtsyncDaemon {
  output = '';
  constructor(readonly ns: Netns, readonly proc: ChildProcess, readonly socket: string, readonly configFile: string, readonly compatSocket: string) {
    proc.stdout?.on('data', (d) => { this.output += d; });
    proc.stderr?.on('data', (d) => { this.output += d; });
  }
  request<T = unknown>(cmd: string, args: Record<string, unknown> = {}): Promise<T> { return request<T>(this.socket, cmd, args); }
  snapshot(): Promise<Snapshot> { return this.request<Snapshot>('snapshot'); }
  async cache(which: 'internal' | 'external'): Promise<Flow[]> {
    return (await this.request<CacheEntryView[]>('cache', { which })).map((e) => e.flow);
  }
  /** conntrackd's protocol on the conntrackd-compatible socket */
  conntrackd(code: number): Promise<string> { return conntrackdRequest(this.compatSocket, code); }
  /** runs `ctsync ARGS` (the CLI) against this daemon */
  cli(args: string[], opt: { check?: boolean } = {}) {
    const [cmd, argv] = ctsyncCommand([...args, '--socket', this.socket]);
    return run(cmd, argv, { check: opt.check ?? true });
  }
  get pid(): number { return this.proc.pid!; }
}

/** The ctsync configuration for a setup, as VyOS set lines. */
export function ctsyncConfig(s: SyncSetup, dir: string, name: string): string {
  const p = 'set service conntrack-sync';
  const l = [
    `${p} interface ${s.iface}${s.peer ? ` peer ${s.peer}` : ''}`,
    `${p} failover-mechanism vrrp sync-group ${s.syncGroup ?? 'SG1'}`,
    `${p} control-socket ${join(dir, `${name}.sock`)}`,
    `${p} conntrackd-socket ${join(dir, `${name}.ctl`)}`,
    `${p} disable-syslog`,
  ];
  if (s.port) l.push(`${p} interface ${s.iface} port ${s.port}`);
  if (s.peer) l.push(`${p} listen-address ${s.local}`);
  if (s.mode) l.push(`${p} mode ${s.mode}`);
  for (const a of s.ignore ?? []) l.push(`${p} ignore-address ${a}`);
  for (const a of s.acceptProtocols ?? []) l.push(`${p} accept-protocol ${a}`);
  for (const e of s.expectSync ?? []) l.push(`${p} expect-sync ${e}`);
  if (s.disableExternalCache) l.push(`${p} disable-external-cache`);
  if (s.purgeTimeout) l.push(`${p} purge-timeout ${s.purgeTimeout}`);
  if (s.commitTimeout) l.push(`${p} commit-timeout ${s.commitTimeout}`);
  if (s.startupResync) l.push(`${p} startup-resync`);
  if (s.notifyFifo) l.push(`${p} keepalived notify-fifo ${s.notifyFifo}`);
  if (s.eventSource) l.push(`${p} event-source ${s.eventSource}`);
  l.push(...(s.extra ?? []));
  return l.join('\n') + '\n';
}

let seq = 0;

export interface StartOptions {
  /** bound to this CPU from its first instruction */
  cpu?: number;
  /** the command that runs the daemon with this configuration file (default `ctsync daemon -c FILE`) */
  command?: (configFile: string) => [string, string[]];
}

/** Starts `ctsync daemon` in a namespace and waits until its control socket answers. */
export async function startCtsync(lab: Lab, ns: Netns, s: SyncSetup, name = `ctsync${seq++}`, opt: StartOptions = {}): Promise<CtsyncDaemon> {
  const file = join(lab.dir, `${name}.conf`);
  writeFileSync(file, ctsyncConfig(s, lab.dir, name));
  const [cmd, argv] = opt.command ? opt.command(file) : ctsyncCommand(['daemon', '-c', file]);
  const proc = ns.spawn(cmd, argv, { cpu: opt.cpu });
  const d = new CtsyncDaemon(ns, proc, join(lab.dir, `${name}.sock`), file, join(lab.dir, `${name}.ctl`));
  await waitFor(() => existsSync(d.socket), 30000, `ctsync ${name}`, proc, () => d.output);
  await d.request('ping');
  return d;
}

export class Conntrackd {
  output = '';
  constructor(readonly ns: Netns, readonly proc: ChildProcess, readonly configFile: string, readonly socket: string, readonly logFile: string) {
    proc.stdout?.on('data', (d) => { this.output += d; });
    proc.stderr?.on('data', (d) => { this.output += d; });
  }
  /** `conntrackd -C FILE ARGS` (the Debian client binary) */
  client(args: string[], check = true) {
    return run('conntrackd', ['-C', this.configFile, ...args], { check });
  }
  request(code: number): Promise<string> { return conntrackdRequest(this.socket, code); }
  log(): string { try { return readFileSync(this.logFile, 'utf8'); } catch { return ''; } }
  get pid(): number { return this.proc.pid!; }
}

/** conntrackd.conf for a setup, with VyOS's settings where they matter (no Helper block). */
export function conntrackdConfig(s: SyncSetup, dir: string, name: string): string {
  const mode = (s.mode ?? 'ftfw').toUpperCase();
  const port = s.port ?? 3780;
  const v6 = s.local.includes(':');
  const link = s.peer
    ? `UDP {\n\t\t${v6 ? 'IPv6' : 'IPv4'}_address ${s.local}\n\t\t${v6 ? 'IPv6' : 'IPv4'}_Destination_Address ${s.peer}\n\t\tPort ${port}\n\t\tInterface ${s.iface}\n\t\tSndSocketBuffer 1048576\n\t\tRcvSocketBuffer 1048576\n\t\tChecksum on\n\t}`
    : `Multicast {\n\t\tIPv4_address 225.0.0.50\n\t\tGroup ${port}\n\t\tIPv4_interface ${s.local}\n\t\tInterface ${s.iface}\n\t\tSndSocketBuffer 1048576\n\t\tRcvSocketBuffer 1048576\n\t\tChecksum on\n\t}`;
  const ignore = (s.ignore ?? []).map((a) => `\t\t\t${a.includes(':') ? 'IPv6' : 'IPv4'}_address ${a}`).join('\n');
  const protos = (s.acceptProtocols ?? []).map((p) => (p === 'icmp6' ? 'IPv6-ICMP' : p.toUpperCase())).join(' ');
  const filter = ignore || protos
    ? `\tFilter From Userspace {\n${protos ? `\t\tProtocol Accept {\n\t\t\t${protos}\n\t\t}\n` : ''}${ignore ? `\t\tAddress Ignore {\n${ignore}\n\t\t}\n` : ''}\t}\n`
    : '';
  const expect = s.expectSync?.length
    ? (s.expectSync.includes('all') ? '\t\tExpectationSync on\n' : `\t\tExpectationSync {\n${s.expectSync.map((e) => `\t\t\t${e}`).join('\n')}\n\t\t}\n`)
    : '';
  const ftfw = mode === 'FTFW'
    ? `\t\tDisableExternalCache ${s.disableExternalCache ? 'on' : 'off'}\n\t\tStartupResync ${s.startupResync ? 'on' : 'off'}\n`
    : '';
  return `Sync {
\tMode ${mode} {
${ftfw}${s.purgeTimeout ? `\t\tPurgeTimeout ${s.purgeTimeout}\n` : ''}${s.commitTimeout ? `\t\tCommitTimeout ${s.commitTimeout}\n` : ''}\t}
\t${link}
${expect ? `\tOptions {\n${expect}\t}\n` : ''}}
General {
\tSystemd off
\tHashSize 32768
\tHashLimit 524288
\tLogFile ${join(dir, `${name}.log`)}
\tSyslog off
\tLockFile ${join(dir, `${name}.lock`)}
\tUNIX {
\t\tPath ${join(dir, `${name}.ctl`)}
\t}
\tNetlinkBufferSize 2097152
\tNetlinkBufferSizeMaxGrowth 8388608
\tNetlinkOverrunResync off
\tNetlinkEventsReliable on
${filter}}
`;
}

/** Starts the Debian conntrackd in a namespace and waits until its socket answers. */
export async function startConntrackd(lab: Lab, ns: Netns, s: SyncSetup, name = `conntrackd${seq++}`, opt: Pick<StartOptions, 'cpu'> = {}): Promise<Conntrackd> {
  const file = join(lab.dir, `${name}.conf`);
  writeFileSync(file, conntrackdConfig(s, lab.dir, name));
  const proc = ns.spawn('conntrackd', ['-C', file], { cpu: opt.cpu });
  const d = new Conntrackd(ns, proc, file, join(lab.dir, `${name}.ctl`), join(lab.dir, `${name}.log`));
  await waitFor(() => existsSync(d.socket), 10000, `conntrackd ${name}`, proc, () => d.output + d.log());
  return d;
}

/** Polls until fn() is true (or throws with what it last saw). */
export async function until(fn: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error(`${what}: not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Entries in a snapshot's cache (0 for the inject/bypass counters, which hold none). */
export function active(s: Snapshot, which: 'internal' | 'external'): number {
  const t = s.conntrack[which];
  return t.kind === 'cache' ? t.active : 0;
}

/** The `created` counter of a snapshot's cache. */
export function created(s: Snapshot, which: 'internal' | 'external'): number {
  const t = s.conntrack[which];
  return t.kind === 'bypass' ? t.new : t.created;
}
