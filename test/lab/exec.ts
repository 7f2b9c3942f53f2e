// Running commands for the lab: captured output, a clear error naming the command when it fails.
import { spawn, execFileSync } from 'node:child_process';

export interface RunResult { code: number; stdout: string; stderr: string }

export function run(cmd: string, args: string[], opt: { input?: string; check?: boolean; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = opt.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opt.timeoutMs) : undefined;
    child.on('error', (e) => { if (timer) clearTimeout(timer); reject(e); });
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      const r = { code: code ?? -1, stdout, stderr };
      if (opt.check !== false && r.code !== 0) {
        reject(new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${stderr.trim() || stdout.trim()}`));
      } else resolve(r);
    });
    // a command that exits without reading its input must not crash the test with EPIPE
    child.stdin.on('error', () => {});
    child.stdin.end(opt.input ?? '');
  });
}

/** Synchronous variant, for teardown paths that must finish before the process exits. */
export function runSync(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
