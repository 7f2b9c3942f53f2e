#!/usr/bin/env node
// Builds the BPF object from bpf/*.bpf.c and regenerates its TypeScript bindings:
//
//   node build/bpf.mjs                 # bpf/ctsync.bpf.o + src/kernel/bpf/ctsync.gen.ts
//   node build/bpf.mjs --out DIR       # the same two files into DIR (the staleness test)
//
// Steps: vmlinux.h from the running kernel's BTF (cached outside the repository: it is large and
// machine-specific), clang per compilation unit, `bpftool gen object` to link the units and strip
// DWARF, then build/bpf2ts.mjs. Reproducible: the inputs are named by relative paths from bpf/ and
// the cache directory is mapped away, so the same sources and vmlinux.h give the same bytes.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import process from 'node:process';
import { generate } from './bpf2ts.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
export const BPF_DIR = join(root, 'bpf');
export const OBJECT_NAME = 'ctsync.bpf.o';
export const GEN_TS = join(root, 'src/kernel/bpf/ctsync.gen.ts');
const BTF_FILE = process.env.CTSYNC_VMLINUX_BTF ?? '/sys/kernel/btf/vmlinux';

const sha256 = (data) => createHash('sha256').update(data).digest('hex');

/** The files whose content determines the object: the C sources and headers, and this build. */
export function sourceFiles() {
  const c = readdirSync(BPF_DIR).filter((f) => f.endsWith('.c') || f.endsWith('.h')).sort().map((f) => `bpf/${f}`);
  return [...c, 'build/bpf.mjs', 'build/bpf2ts.mjs'];
}

/** SHA-256 over the names and contents of sourceFiles(); stored in the generated TS. */
export function sourceHash(base = root) {
  const h = createHash('sha256');
  for (const f of sourceFiles()) {
    // normalise line endings so a checkout with CRLF does not look stale
    const text = readFileSync(join(base, f), 'utf8').replace(/\r\n/g, '\n');
    h.update(`${f}\0${text}\0`);
  }
  return h.digest('hex');
}

function run(cmd, args, opts = {}) {
  try {
    return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 << 20, ...opts });
  } catch (e) {
    const err = e.stderr?.toString() || e.message;
    throw new Error(`${cmd} ${args.slice(0, 3).join(' ')}...: ${err.trim().split('\n').slice(-20).join('\n')}`);
  }
}

export function toolsAvailable() {
  try {
    execFileSync('clang', ['--version'], { stdio: 'ignore' });
    execFileSync('bpftool', ['version'], { stdio: 'ignore' });
    return existsSync(BTF_FILE);
  } catch {
    return false;
  }
}

/** vmlinux.h for the running kernel, in a cache directory keyed by the BTF's hash. */
export function vmlinuxHeader() {
  const btf = readFileSync(BTF_FILE);
  const dir = join(process.env.CTSYNC_BPF_CACHE ?? join(tmpdir(), 'ctsync-bpf-cache'), sha256(btf).slice(0, 16));
  const file = join(dir, 'vmlinux.h');
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    const text = run('bpftool', ['btf', 'dump', 'file', BTF_FILE, 'format', 'c']);
    const tmp = `${file}.${process.pid}`;
    writeFileSync(tmp, text);
    copyFileSync(tmp, file);
    rmSync(tmp);
  }
  return { dir, file, sha256: sha256(readFileSync(file)) };
}

/** Compiles and links; returns the object bytes and the vmlinux.h hash. */
export function buildObject() {
  const vm = vmlinuxHeader();
  const work = mkdtempSync(join(tmpdir(), 'ctsync-bpf-'));
  try {
    const units = readdirSync(BPF_DIR).filter((f) => f.endsWith('.bpf.c')).sort();
    const objs = [];
    for (const unit of units) {
      const out = join(work, unit.replace(/\.c$/, '.o'));
      run('clang', [
        '-g', '-O2', '-target', 'bpf', '-D__TARGET_ARCH_x86',
        '-Wall', '-Werror', '-Wno-unused-function',
        `-fdebug-prefix-map=${vm.dir}=.`, `-fdebug-prefix-map=${BPF_DIR}=.`, `-fdebug-prefix-map=${work}=.`,
        '-I', vm.dir, '-I', '.',
        '-c', unit, '-o', out,
      ], { cwd: BPF_DIR });
      objs.push(out);
    }
    const linked = join(work, OBJECT_NAME);
    run('bpftool', ['gen', 'object', linked, ...objs]);
    return { bytes: readFileSync(linked), vmlinuxSha256: vm.sha256 };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Builds and writes the object and the generated TS into outDir (default: the repository). */
export function build(outDir) {
  const { bytes, vmlinuxSha256 } = buildObject();
  const objPath = outDir ? join(outDir, OBJECT_NAME) : join(BPF_DIR, OBJECT_NAME);
  const tsPath = outDir ? join(outDir, 'ctsync.gen.ts') : GEN_TS;
  mkdirSync(dirname(objPath), { recursive: true });
  writeFileSync(objPath, bytes);
  const ts = generate({ object: objPath, bytes, sourceSha256: sourceHash(), vmlinuxSha256, objectPath: `bpf/${OBJECT_NAME}` });
  writeFileSync(tsPath, ts);
  return { objPath, tsPath, size: bytes.length, sha256: sha256(bytes) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--out');
  const r = build(i > 0 ? process.argv[i + 1] : undefined);
  console.log(`${r.objPath}: ${r.size} bytes, sha256 ${r.sha256}\n${r.tsPath}`);
}
