#!/usr/bin/env node
// Runs every test file on Node, then the same files on Deno, each file in a process of its own
// (FFI faults stay contained), and prints one closing line: "N passed, N failed".
//
//   node test/run.mjs [--runtime node|deno] [--unit|--integration] [FILE...]
//
// A file may declare `// timeout: SECONDS` in its first lines (default 300).
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const runtimes = args.includes('--runtime') ? [args[args.indexOf('--runtime') + 1]] : ['node', 'deno'];
const onlyUnit = args.includes('--unit');
const onlyIntegration = args.includes('--integration');
const explicit = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--runtime');

function find(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...find(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const files = explicit.length ? explicit.map((f) => join(process.cwd(), f)) : [
  ...(onlyIntegration ? [] : find(join(root, 'test/unit'))),
  ...(onlyUnit ? [] : find(join(root, 'test/integration'))),
];

function commandFor(runtime, file) {
  if (runtime === 'node') {
    return [process.execPath, ['--enable-source-maps', '--import', join(root, 'build/register.mjs'), file]];
  }
  return [join(root, 'node_modules/.bin/deno'), ['run', '-A', '--quiet', file]];
}

function timeoutOf(file) {
  const head = readFileSync(file, 'utf8').split('\n', 5).join('\n');
  const m = /\/\/ timeout: (\d+)/.exec(head);
  return (m ? Number(m[1]) : 300) * 1000;
}

const strip = (s) => s.replace(/\x1b\[[0-9;]*m/g, '');

function runFile(runtime, file) {
  return new Promise((resolve) => {
    const [cmd, argv] = commandFor(runtime, file);
    const started = Date.now();
    const child = spawn(cmd, argv, {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', CTSYNC_TEST_RUNTIME: runtime },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const limit = timeoutOf(file);
    const timer = setTimeout(() => {
      out += `\n[runner] timed out after ${limit / 1000}s\n`;
      try { process.kill(-child.pid, 'SIGTERM'); } catch {}
      setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch {} }, 5000);
    }, limit);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const text = strip(out);
      const total = Number(/Total:\s+(\d+)/.exec(text)?.[1] ?? 0);
      const passed = Number(/Passed:\s+(\d+)/.exec(text)?.[1] ?? 0);
      const skipped = Number(/Skipped:\s+(\d+)/.exec(text)?.[1] ?? 0);
      let failed = total - passed - skipped;
      // a crash or a non-zero exit with nothing counted as failed still fails the file
      if ((code !== 0 || signal) && failed === 0) failed = 1;
      if (total === 0 && failed === 0) failed = 1;
      resolve({ file, passed, failed, skipped, code, signal, text, seconds: (Date.now() - started) / 1000 });
    });
  });
}

async function runAll(runtime) {
  const results = [];
  const unit = files.filter((f) => f.includes('/test/unit/'));
  const rest = files.filter((f) => !f.includes('/test/unit/'));
  // unit files need no privileges and share nothing: two at a time; lab tests one at a time
  const queue = [...unit];
  const worker = async () => {
    while (queue.length) {
      const r = await runFile(runtime, queue.shift());
      report(runtime, r);
      results.push(r);
    }
  };
  await Promise.all([worker(), worker()]);
  for (const f of rest) {
    const r = await runFile(runtime, f);
    report(runtime, r);
    results.push(r);
  }
  return results;
}

function report(runtime, r) {
  const name = relative(root, r.file);
  const mark = r.failed ? 'FAIL' : 'ok  ';
  console.log(`${mark} [${runtime}] ${name}: ${r.passed} passed, ${r.failed} failed${r.skipped ? `, ${r.skipped} skipped` : ''} (${r.seconds.toFixed(1)}s)`);
  if (r.failed) {
    const lines = r.text.trim().split('\n');
    console.log(lines.slice(-60).map((l) => `    | ${l}`).join('\n'));
  }
}

let passed = 0, failed = 0, skipped = 0;
for (const rt of runtimes) {
  const results = await runAll(rt);
  const p = results.reduce((a, r) => a + r.passed, 0);
  const f = results.reduce((a, r) => a + r.failed, 0);
  const s = results.reduce((a, r) => a + r.skipped, 0);
  console.log(`${rt}: ${p} passed, ${f} failed${s ? `, ${s} skipped` : ''}`);
  passed += p; failed += f; skipped += s;
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed ? 1 : 0);
