// One network namespace of the lab: commands, processes, nftables and sysctls inside it.
import { spawn, type ChildProcess } from 'node:child_process';
import { run, runSync, type RunResult } from './exec.ts';
import { inNetns } from '../../src/kernel/netns.ts';
import { Conntrack } from '../../src/kernel/conntrack.ts';

export class Netns {
  constructor(readonly name: string, private readonly track: (p: ChildProcess) => void) {}

  /** Runs a command inside the namespace (ip netns exec: /sys shows the namespace's devices). */
  exec(cmd: string, args: string[] = [], opt: { input?: string; check?: boolean; timeoutMs?: number } = {}): Promise<RunResult> {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args], opt);
  }

  /** Shell line inside the namespace. */
  sh(line: string, opt: { check?: boolean } = {}): Promise<RunResult> {
    return this.exec('sh', ['-c', line], opt);
  }

  /** Starts a long-running process inside the namespace; the lab ends it at teardown. */
  spawn(cmd: string, args: string[], opt: { env?: Record<string, string>; nsenter?: boolean; cpu?: number } = {}): ChildProcess {
    // bound to one CPU from its first instruction (taskset execs the command: same pid)
    const inner = opt.cpu === undefined ? [cmd, ...args] : ['taskset', '-c', String(opt.cpu), cmd, ...args];
    // nsenter keeps the host's /sys (tracefs for BPF tracepoints); ip netns exec remounts it
    const argv = opt.nsenter
      ? ['nsenter', `--net=/run/netns/${this.name}`, ...inner]
      : ['ip', 'netns', 'exec', this.name, ...inner];
    const child = spawn(argv[0], argv.slice(1), {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, ...opt.env },
    });
    this.track(child);
    return child;
  }

  ip(args: string): Promise<RunResult> {
    return run('ip', ['-n', this.name, ...args.split(/\s+/).filter(Boolean)]);
  }

  nft(ruleset: string): Promise<RunResult> {
    return this.exec('nft', ['-f', '-'], { input: ruleset });
  }

  sysctl(key: string, value: string | number): Promise<RunResult> {
    return this.exec('sysctl', ['-q', '-w', `${key}=${value}`]);
  }

  /** A ctnetlink socket bound to this namespace, for reading and changing its conntrack table. */
  conntrack(): Conntrack {
    return inNetns(this.name, () => new Conntrack());
  }

  /** `conntrack ARGS` inside the namespace (the conntrack-tools CLI, as an independent witness). */
  conntrackCli(args: string[], check = true): Promise<RunResult> {
    return this.exec('conntrack', args, { check });
  }

  deleteSync(): void {
    try { runSync('ip', ['netns', 'exec', this.name, 'conntrack', '-F']); } catch { /* may be gone */ }
    try { runSync('ip', ['netns', 'del', this.name]); } catch { /* may be gone */ }
  }
}
