// A traffic agent: a script from test/lab/agents/ running inside a namespace, driven by JSON
// lines on stdin and answering with JSON lines on stdout.
import type { ChildProcess } from 'node:child_process';
import { ctsyncCommand } from '../../src/kernel/runtime.ts';
import type { Netns } from './netns.ts';

export type AgentMessage = Record<string, unknown>;

export class Agent {
  readonly proc: ChildProcess;
  private buf = '';
  private readonly inbox: AgentMessage[] = [];
  private waiters: ((m: AgentMessage) => void)[] = [];
  stderr = '';
  private exited = false;

  constructor(ns: Netns, name: string, args: string[]) {
    const [cmd, argv] = ctsyncCommand(['__agent', name, ...args]);
    this.proc = ns.spawn(cmd, argv);
    this.proc.stdout!.setEncoding('utf8');
    this.proc.stdout!.on('data', (d: string) => this.onData(d));
    this.proc.stderr!.on('data', (d) => { this.stderr += d; });
    this.proc.on('exit', (code, sig) => {
      this.exited = true;
      this.deliver({ event: 'exit', code, signal: sig, stderr: this.stderr.slice(-2000) });
    });
  }

  private onData(d: string): void {
    this.buf += d;
    let i;
    while ((i = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, i).trim();
      this.buf = this.buf.slice(i + 1);
      if (!line) continue;
      try { this.deliver(JSON.parse(line)); } catch { this.stderr += `unparsed: ${line}\n`; }
    }
  }

  private deliver(m: AgentMessage): void {
    const w = this.waiters.shift();
    if (w) w(m); else this.inbox.push(m);
  }

  /** Next message; rejects on timeout or when the agent exited before saying anything. */
  next(timeoutMs = 30000): Promise<AgentMessage> {
    const m = this.inbox.shift();
    if (m) return m.event === 'exit' ? Promise.reject(exitError(m)) : Promise.resolve(m);
    if (this.exited) return Promise.reject(new Error(`agent exited: ${this.stderr.slice(-500)}`));
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`agent gave no answer within ${timeoutMs} ms; stderr: ${this.stderr.slice(-500)}`));
      }, timeoutMs);
      const waiter = (msg: AgentMessage) => {
        clearTimeout(t);
        if (msg.event === 'exit') reject(exitError(msg)); else resolve(msg);
      };
      this.waiters.push(waiter);
    });
  }

  send(cmd: AgentMessage): void {
    this.proc.stdin!.write(JSON.stringify(cmd) + '\n');
  }

  async request(cmd: AgentMessage, timeoutMs = 30000): Promise<AgentMessage> {
    this.send(cmd);
    return this.next(timeoutMs);
  }

  kill(): void {
    if (!this.exited && this.proc.pid) {
      try { process.kill(-this.proc.pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }
}

function exitError(m: AgentMessage): Error {
  return new Error(`agent exited (code ${m.code}, signal ${m.signal}): ${String(m.stderr ?? '')}`);
}
