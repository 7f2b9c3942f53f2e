// Shared by the agents: JSON lines out, JSON-line commands in.
import process from 'node:process';
import { createInterface } from 'node:readline';

export function say(msg: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(msg) + '\n');
}

export function onCommand(fn: (cmd: Record<string, unknown>) => void | Promise<void>): void {
  const rl = createInterface({ input: process.stdin });
  rl.on('line', async (line) => {
    if (!line.trim()) return;
    try { await fn(JSON.parse(line)); } catch (e) { say({ event: 'error', message: String(e) }); }
  });
  rl.on('close', () => process.exit(0));
}

export function arg(name: string, dflt?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  if (dflt === undefined) throw new Error(`missing --${name}`);
  return dflt;
}
