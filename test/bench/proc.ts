// What the benchmark reads about a process and a link: CPU time and resident memory from /proc,
// interface counters from the kernel (ip -s -j), and the machine it runs on.
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { allowedCpuList } from '../../src/daemon/sched.ts';
import { conntrackMax } from '../../src/kernel/netfilter-sysctl.ts';
import os from 'node:os';
import type { Netns } from '../lab/netns.ts';

/** Clock ticks per second of /proc/PID/stat (USER_HZ; 100 on every Linux architecture in use). */
const USER_HZ = 100;

/** utime + stime of the whole process (all threads), in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // the command name may hold spaces and parentheses: fields start after the last ") "
  const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / USER_HZ;
}

/** utime and stime of the whole process, in seconds: user-space and kernel work apart. */
export function cpuSplit(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  return { user: Number(f[11]) / USER_HZ, system: Number(f[12]) / USER_HZ };
}

/**
 * Busy time of each CPU since boot, in seconds (/proc/stat: user, nice, system, irq and softirq;
 * idle, iowait and the hypervisor's steal left out). Unlike a process's CPU time it does not
 * depend on which task the kernel charged an interrupt to.
 */
export function cpuBusy(): number[] {
  const out: number[] = [];
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const f = m[2].trim().split(/\s+/).map(Number);
    out[Number(m[1])] = (f[0] + f[1] + f[2] + f[5] + f[6]) / USER_HZ;
  }
  return out;
}

/** The split layout's two CPUs, 0 and 1, are both allowed to this process. */
export function canSplit(): boolean {
  const ids = allowedCpuList() ?? [];
  return ids.includes(0) && ids.includes(1);
}

/** Binds every thread of a process to one CPU (taskset, util-linux); threads it starts later inherit it. */
export function pinTo(pid: number, cpu: number): void {
  execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
}

/** Resident set size in bytes. */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

export interface LinkCounters { txBytes: number; txPackets: number; rxBytes: number; rxPackets: number }

/** Counters of an interface inside a namespace (bytes include Ethernet, IP and UDP headers). */
export async function linkCounters(ns: Netns, ifname: string): Promise<LinkCounters> {
  const r = await ns.exec('ip', ['-s', '-j', 'link', 'show', 'dev', ifname]);
  const s = (JSON.parse(r.stdout) as { stats64: { rx: { bytes: number; packets: number }; tx: { bytes: number; packets: number } } }[])[0].stats64;
  return { txBytes: s.tx.bytes, txPackets: s.tx.packets, rxBytes: s.rx.bytes, rxPackets: s.rx.packets };
}

export function linkDelta(a: LinkCounters, b: LinkCounters): LinkCounters {
  return { txBytes: b.txBytes - a.txBytes, txPackets: b.txPackets - a.txPackets, rxBytes: b.rxBytes - a.rxBytes, rxPackets: b.rxPackets - a.rxPackets };
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  loadAverage: number[];
  conntrackMax: number;
}

export function machine(): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    node: process.versions.node,
    loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
    conntrackMax: conntrackMax(),
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
