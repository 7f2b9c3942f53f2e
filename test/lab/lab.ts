// The lab: network namespaces and processes a test creates, always torn down, also on failure,
// on an uncaught exception and on SIGINT/SIGTERM. Names are unique per run.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { Netns } from './netns.ts';
import { run } from './exec.ts';
import { Agent } from './agent.ts';

let counter = 0;
const live = new Set<Lab>();

function teardownAll(): void {
  for (const lab of live) lab.teardownSync();
}
process.on('exit', teardownAll);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => { teardownAll(); process.exit(130); });
}

export class Lab {
  readonly prefix: string;
  readonly dir: string;
  readonly namespaces: Netns[] = [];
  private readonly procs = new Set<ChildProcess>();
  private readonly agents = new Set<Agent>();

  constructor(tag = 'lab') {
    // short: interface and namespace names stay readable; pid + counter keep runs apart
    this.prefix = `ct${tag.slice(0, 4)}${process.pid.toString(36)}${(counter++).toString(36)}`;
    this.dir = mkdtempSync(join(tmpdir(), `${this.prefix}-`));
    live.add(this);
  }

  async netns(suffix: string): Promise<Netns> {
    const ns = new Netns(`${this.prefix}-${suffix}`, (p) => this.trackProcess(p));
    await run('ip', ['netns', 'add', ns.name]);
    this.namespaces.push(ns);
    await ns.ip('link set lo up');
    return ns;
  }

  trackProcess(p: ChildProcess): void {
    this.procs.add(p);
    p.on('exit', () => this.procs.delete(p));
  }

  /** Starts a traffic agent script (test/lab/agents/NAME.ts) inside a namespace. */
  agent(ns: Netns, name: string, args: string[] = []): Agent {
    const a = new Agent(ns, name, args);
    this.agents.add(a);
    return a;
  }

  /** Stops a process the lab started: SIGTERM to its group, SIGKILL after graceMs. */
  async stop(p: ChildProcess, graceMs = 3000): Promise<number | null> {
    if (p.exitCode !== null || p.signalCode !== null) return p.exitCode;
    const done = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
    killGroup(p, 'SIGTERM');
    const t = setTimeout(() => killGroup(p, 'SIGKILL'), graceMs);
    const code = await done;
    clearTimeout(t);
    return code;
  }

  async teardown(): Promise<void> {
    for (const a of this.agents) a.kill();
    await Promise.all([...this.procs].map((p) => this.stop(p, 2000)));
    this.teardownSync();
  }

  teardownSync(): void {
    for (const p of this.procs) killGroup(p, 'SIGKILL');
    this.procs.clear();
    for (const ns of this.namespaces.splice(0)) ns.deleteSync();
    rmSync(this.dir, { recursive: true, force: true });
    live.delete(this);
  }
}

function killGroup(p: ChildProcess, sig: NodeJS.Signals): void {
  if (p.pid === undefined) return;
  try { process.kill(-p.pid, sig); } catch { try { p.kill(sig); } catch { /* gone */ } }
}

/** Runs fn with a fresh lab and tears it down whatever happens. */
export async function withLab<T>(tag: string, fn: (lab: Lab) => Promise<T>): Promise<T> {
  const lab = new Lab(tag);
  try {
    return await fn(lab);
  } finally {
    await lab.teardown();
  }
}
