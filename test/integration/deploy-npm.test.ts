// timeout: 240
// The npm package: `npm pack` builds dist/ctsync.mjs (prepack) and ships it with the docs and the
// systemd files and nothing of the sources or tests; `npm install -g` of that tarball into a
// fresh prefix gives a `ctsync` command that works from any directory, on Node through the bin
// link and on Deno straight from the installed bundle, koffi included: a daemon run by each
// replicates to the other.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileSync } from 'node:fs';
import { withLab } from '../lab/lab.ts';
import type { Netns } from '../lab/netns.ts';
import { buildSyncPair, ADDR } from '../lab/topology.ts';
import { ctsyncConfig, until } from '../lab/daemons.ts';
import { request } from '../../src/control/client.ts';
import type { CacheEntryView } from '../../src/cli/format/index.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'ctsync-npm-'));
const prefix = join(work, 'prefix');
const CLEAN = { PATH: '/usr/bin:/bin', HOME: work };

function sh(cmd: string, args: string[], opt: { cwd?: string; env?: Record<string, string> } = {}) {
  const r = spawnSync(cmd, args, { cwd: opt.cwd ?? ROOT, env: opt.env ?? { ...process.env, npm_config_update_notifier: 'false' }, encoding: 'utf8', timeout: 180000 });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test.after(() => rmSync(work, { recursive: true, force: true }));

let tarball = '';

test('npm pack builds and ships dist/ctsync.mjs, the docs and the unit, not the sources', () => {
  const r = sh('npm', ['pack', '--pack-destination', work, '--json', '--loglevel=error']);
  assert.is(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout.slice(r.stdout.indexOf('[')))[0] as { filename: string; files: { path: string }[] };
  tarball = join(work, info.filename);
  assert.ok(existsSync(tarball));
  const files = info.files.map((f) => f.path).sort();
  for (const f of ['dist/ctsync.mjs', 'package.json', 'docs/ctsync.8.md', 'docs/install.md', 'packaging/ctsync.service', 'packaging/ctsync.conf']) {
    assert.ok(files.includes(f), `${f} in the package: ${files.join(' ')}`);
  }
  for (const f of files) {
    assert.not.match(f, /^(src|test|build|node_modules)\//, `${f} is not shipped`);
    assert.is.not(f, 'dist/ctsync', 'the single executable is not shipped in the npm package');
  }
});

test('npm install -g into a prefix gives a working ctsync (Node, through the bin link)', () => {
  assert.ok(tarball, 'packed');
  const r = sh('npm', ['install', '-g', '--prefix', prefix, tarball, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error']);
  assert.is(r.code, 0, r.stderr);
  const bin = join(prefix, 'bin/ctsync');
  assert.ok(realpathSync(bin).endsWith('/lib/node_modules/ctsync/dist/ctsync.mjs'));
  const v = sh(bin, ['--version'], { cwd: '/', env: CLEAN });
  assert.is(v.code, 0, v.stderr);
  assert.match(v.stdout, /^ctsync \d+\.\d+\.\d+\n$/);
  const h = sh(bin, ['help'], { cwd: '/', env: CLEAN });
  assert.is(h.code, 0, h.stderr);
  for (const c of ['daemon', 'config', 'show', 'commit', 'failover', 'conntrackd']) assert.match(h.stdout, new RegExp(`^  ${c} `, 'm'));
  const d = sh(bin, ['help', 'daemon'], { cwd: '/', env: CLEAN });
  assert.match(d.stdout, /Type=notify/);
  const bad = sh(bin, ['help', 'nosuch'], { cwd: '/', env: CLEAN });
  assert.is(bad.code, 2);
});

test('the installed bundle on Node and on Deno: conntrack table through koffi, and a sync pair', async () => {
  const pkgDir = join(prefix, 'lib/node_modules/ctsync');
  const bundle = join(pkgDir, 'dist/ctsync.mjs');
  assert.ok(existsSync(join(pkgDir, 'node_modules/koffi')), readdirSync(pkgDir).join(' '));
  const deno = realpathSync(join(ROOT, 'node_modules/.bin/deno'));
  // node through the bin link; deno straight from the installed file (the daemon reads /proc
  // and /sys, which Deno grants only with -A; the table needs ffi, read and env)
  const onNode = (args: string[]) => [join(prefix, 'bin/ctsync'), ...args];
  const onDeno = (args: string[], all = false) => [deno, 'run', '--quiet', ...(all ? ['-A'] : ['--allow-ffi', '--allow-read', '--allow-env']), bundle, ...args];
  await withLab('npm', async (lab) => {
    const [a, b] = await buildSyncPair(lab);
    const mk = (ns: Netns, src: string) => Promise.all(Array.from({ length: 20 }, (_, i) =>
      ns.conntrackCli(['-I', '-p', 'udp', '-s', src, '-d', '198.51.100.7', '--sport', String(4000 + i), '--dport', '53', '-t', '120'])));
    await mk(a, '192.0.2.10');
    for (const argv of [onNode(['show', 'conntrack', 'table', 'ipv4', '--json']), onDeno(['show', 'conntrack', 'table', 'ipv4', '--json'])]) {
      const r = await a.exec('env', ['-i', CLEAN_PATH, `HOME=${work}`, ...argv], { check: false });
      assert.is(r.code, 0, `${argv[0]}: ${r.stderr}`);
      assert.is((JSON.stringify(JSON.parse(r.stdout)).match(/192\.0\.2\.10/g) ?? []).length >= 20, true, r.stdout);
    }
    // a pair: the Node-run daemon in a, the Deno-run one in b
    const setup = (i: number) => ctsyncConfig({ iface: 'sync0', local: ADDR.sync[i], ignore: ['203.0.113.0/24'], eventSource: 'auto' }, lab.dir, `p${i}`);
    const socks: string[] = [];
    for (const [i, ns, argv] of [[0, a, onNode], [1, b, (x: string[]) => onDeno(x, true)]] as const) {
      const file = join(lab.dir, `p${i}.conf`);
      writeFileSync(file, setup(i));
      const [cmd, ...rest] = argv(['daemon', '-c', file]);
      const proc = ns.spawn('env', ['-i', CLEAN_PATH, `HOME=${work}`, cmd, ...rest]);
      let out = '';
      proc.stderr!.on('data', (d) => { out += d; });
      const sock = join(lab.dir, `p${i}.sock`);
      socks.push(sock);
      await until(async () => {
        if (proc.exitCode !== null) throw new Error(`daemon ${i} exited ${proc.exitCode}: ${out}`);
        return existsSync(sock) && request(sock, 'ping').then(() => true, () => false);
      }, 30000, `daemon ${i}`);
    }
    await mk(b, '192.0.2.20');
    const ext = async (sock: string, src: string) =>
      (await request<CacheEntryView[]>(sock, 'cache', { which: 'external' })).filter((e) => e.flow.orig.src === src).length;
    // a's flows existed before its daemon started: they reach b by the startup dump and resync
    await until(async () => (await ext(socks[1], '192.0.2.10')) === 20 && (await ext(socks[0], '192.0.2.20')) === 20, 20000, 'both external caches');
  });
});

const CLEAN_PATH = `PATH=${CLEAN.PATH}`;

test.run();
