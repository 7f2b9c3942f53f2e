// `npm run build:sea`: dist/ctsync, one executable file (a Node.js single executable application)
// holding the whole program, the BPF object (generated TS in src/kernel/bpf/) and koffi's native
// module as an asset. It runs where neither Node nor node_modules exist; the host needs glibc,
// libstdc++ and, for the BPF event sources, libbpf.so.1 (Debian: libbpf1).
//
//   node build/sea.mjs                         embeds the node binary that runs this script
//   CTSYNC_SEA_NODE=/opt/node22/bin/node node build/sea.mjs   embeds another one (>= 20.12)
//   node build/sea.mjs --if-stale              rebuilds only when an input is newer (tests use it)
//   CTSYNC_SEA_STRIP=0                         keeps the node binary's symbol table
//
// Steps: esbuild bundle (CommonJS, as Node 20 requires for the SEA entry) -> SEA preparation blob
// made by the embedded node itself (the blob is tied to its version) -> copy of that node binary
// -> postject writes the blob into it and flips the SEA fuse.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

if (globalThis.Deno) {
  console.error('build:sea copies a node binary and must run on Node: node build/sea.mjs');
  process.exit(2);
}

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const nodeBin = process.env.CTSYNC_SEA_NODE || process.execPath;
const dist = join(root, 'dist');
// per-process scratch space: two builds at once (parallel test runs) must not share files
const work = join(dist, `.sea-build-${process.pid}`);
const target = join(dist, 'ctsync');
// the sentinel Node's SEA loader looks for; postject sets its last byte to mark the blob present
const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

// koffi ships one prebuilt module per platform in @koromix/koffi-<os>-<arch>/<os>_<arch>/
const koffiPkg = `koffi-${process.platform}-${process.arch}`;
const koffiNode = join(root, 'node_modules/@koromix', koffiPkg, `${process.platform}_${process.arch}`, 'koffi.node');
if (!existsSync(koffiNode)) {
  console.error(`${koffiNode} is missing: run npm ci (the SEA build embeds koffi's native module for ${process.platform}-${process.arch})`);
  process.exit(1);
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}): ${(r.stderr || r.stdout || '').trim()}`);
  }
  return r.stdout.trim();
}

/** The newest modification time among the files the executable is made of. */
function newestInput() {
  let newest = 0;
  const walk = (p) => {
    let st;
    try { st = statSync(p); } catch { return; }
    if (st.isDirectory()) for (const n of readdirSync(p)) walk(join(p, n));
    else newest = Math.max(newest, st.mtimeMs);
  };
  for (const p of ['src', 'test/lab/agents', 'build/sea.mjs', 'build/sea', 'package.json', 'package-lock.json']) walk(join(root, p));
  walk(nodeBin);
  walk(koffiNode);
  return newest;
}

// --if-stale: keep an existing dist/ctsync that is newer than everything it is made of (tests)
if (process.argv.includes('--if-stale') && existsSync(target) && statSync(target).mtimeMs > newestInput()) {
  console.log('dist/ctsync is up to date');
  process.exit(0);
}

const t0 = Date.now();
const nodeVersion = run(nodeBin, ['--version']);
const [major, minor] = nodeVersion.slice(1).split('.').map(Number);
if (major < 20 || (major === 20 && minor < 12)) {
  console.error(`${nodeBin} is Node ${nodeVersion}; single executables with assets need Node >= 20.12`);
  process.exit(1);
}
mkdirSync(work, { recursive: true });
// also after a failure: nothing half-made stays in dist/
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

// 1. the bundle: CommonJS and no top-level await (Node's SEA entry is a CommonJS script whose
// require() reaches only built-in modules, so everything else must be inside)
const seaPlugin = {
  name: 'ctsync-sea',
  setup(b) {
    // koffi's ESM entry finds its native module through createRequire(import.meta.url), which a
    // CommonJS bundle cannot provide; its CJS entry requires the per-platform package statically
    b.onResolve({ filter: /^koffi$/ }, () => ({ path: join(root, 'node_modules/koffi/index.cjs') }));
    // the per-platform package becomes the shim that loads the module from the SEA asset; the
    // other platforms' packages are never required on this one
    b.onResolve({ filter: /^@koromix\/koffi-/ }, (a) => (a.path === `@koromix/${koffiPkg}`
      ? { path: join(root, 'build/sea/koffi-native.cjs') }
      : { path: a.path, external: true }));
  },
};
const bundle = join(work, 'ctsync.cjs');
await build({
  entryPoints: [join(root, 'src/cli/main.ts')],
  outfile: bundle,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: `node${major}`,
  plugins: [seaPlugin],
  define: {
    CTSYNC_VERSION: JSON.stringify(pkg.version),
    CTSYNC_SEA: 'true',
    // CommonJS has no import.meta; the few uses want a file URL of the program
    'import.meta.url': '__ctsync_import_meta_url',
  },
  banner: { js: 'var __ctsync_import_meta_url = require("node:url").pathToFileURL(__filename).href;' },
  legalComments: 'none',
  logLevel: 'warning',
});

// 2. the preparation blob, made by the node that will carry it
const blob = join(work, 'ctsync.blob');
const config = join(work, 'sea-config.json');
writeFileSync(config, JSON.stringify({
  main: bundle,
  output: blob,
  disableExperimentalSEAWarning: true,
  // V8's code cache for the bundle: a faster start, valid because the same binary reads it
  useCodeCache: true,
  assets: { 'koffi.node': koffiNode },
}, null, 2));
run(nodeBin, ['--experimental-sea-config', config]);

// 3. a copy of that node, without its symbol table when binutils' strip is there (about 12 MB
// less; the dynamic symbols that native modules link against stay), with the blob injected,
// renamed into place only when complete
const partial = join(work, 'ctsync');
copyFileSync(nodeBin, partial);
chmodSync(partial, 0o755);
const stripped = process.env.CTSYNC_SEA_STRIP !== '0' && spawnSync('strip', [partial], { stdio: 'ignore' }).status === 0;
// postject runs in a child process: its ELF library prints a warning per unnamed note section
// of the node binary, harmless, and only other lines are worth showing
const postject = require.resolve('postject/dist/cli.js');
const inj = spawnSync(process.execPath, [postject, partial, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', FUSE],
  { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const noise = /^warning: Can't find string offset for section name|^Start injection of|Injection done|^$/u;
const said = `${inj.stdout}\n${inj.stderr}`.replace(/\x1b\[[0-9;]*m/g, '').split('\n').filter((l) => !noise.test(l.trim()));
if (inj.status !== 0) throw new Error(`postject failed (exit ${inj.status}): ${said.join('\n')}`);
if (said.length) console.error(said.join('\n'));
renameSync(partial, target);

const mb = (statSync(target).size / 1048576).toFixed(1);
console.log(`dist/ctsync (${mb} MB, Node ${nodeVersion}${stripped ? ', stripped' : ''}, ctsync ${pkg.version}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
