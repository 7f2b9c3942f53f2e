// timeout: 300
// The single executable (dist/ctsync, `npm run build:sea`) on its own: copied alone into an empty
// directory, run with an empty environment (only PATH) from that directory mounted read-only,
// with no Node and no node_modules in reach. It answers --version and config check, two copies of
// it replicate 1,000 flows each way between two namespaces (one on the BPF event source with only
// the systemd unit's capabilities, one on a host view without libbpf.so.1, where it says so and
// uses plain netlink), and it extracts koffi's native module once into a private directory and
// reuses it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withLab, type Lab } from '../lab/lab.ts';
import type { Netns } from '../lab/netns.ts';
import { buildSyncPair, ADDR } from '../lab/topology.ts';
import { ctsyncConfig, until, type SyncSetup } from '../lab/daemons.ts';
import { request } from '../../src/control/client.ts';
import type { Snapshot } from '../../src/control/snapshot.ts';
import type { CacheEntryView } from '../../src/cli/format/index.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLEAN_PATH = 'PATH=/usr/sbin:/usr/bin:/sbin:/bin';
const LIBDIR = '/usr/lib/x86_64-linux-gnu';

// Built once per source change; the Deno run of this file reuses the Node run's binary.
const build = spawnSync('node', [join(ROOT, 'build/sea.mjs'), '--if-stale'], { cwd: ROOT, encoding: 'utf8' });
if (build.status !== 0) throw new Error(`node build/sea.mjs failed: ${build.stderr || build.stdout || build.error}`);

// the binary alone in an empty directory
const work = mkdtempSync(join(tmpdir(), 'ctsync-sea-'));
const binDir = join(work, 'bin');
mkdirSync(binDir);
copyFileSync(join(ROOT, 'dist/ctsync'), join(binDir, 'ctsync'));

// The runs see this directory as /run (bound over it in their mount namespace): root's
// extraction goes to /run/ctsync/native as on a real host, persists across this file's runs, and
// stays apart from the host's /run and from other test processes.
const runDir = join(work, 'run');
mkdirSync(runDir, { mode: 0o755 });
const NATIVE_DIR = join(runDir, 'ctsync/native');

/**
 * A command that, in a mount namespace of its own, puts runDir on /run, makes the binary's
 * directory read-only, hides node and node_modules, optionally hides libbpf (an overlay of whiteouts on the library directory) and applies extra
 * mounts, then runs `./ctsync ARGS` from there with an environment of PATH and `env` only (or
 * `instead`, a shell line, in place of ctsync).
 */
function wrapped(args: string[], opt: { hideLibbpf?: boolean; mounts?: string[]; env?: string[]; instead?: string; cwd?: string; caps?: string[] } = {}): [string, string[]] {
  const steps = [
    `mount --bind "${runDir}" /run`,
    `mount --bind "${binDir}" "${binDir}"`, `mount -o remount,bind,ro "${binDir}"`,
    // no Node and no node_modules in reach: the node binary on PATH and the repository's
    // node_modules are covered up
    'for n in $(command -v node nodejs || true); do mount --bind /dev/null "$n"; done',
    `mount -t tmpfs -o ro,size=4k tmpfs "${join(ROOT, 'node_modules')}"`,
  ];
  if (opt.hideLibbpf) {
    const wh = join(work, 'no-libbpf');
    if (!existsSync(wh)) {
      mkdirSync(wh);
      for (const n of readdirSync(LIBDIR).filter((f) => f.startsWith('libbpf.so'))) {
        // a 0/0 character device in an overlay layer hides that name in the layers below
        spawnSync('mknod', [join(wh, n), 'c', '0', '0']);
      }
    }
    steps.push(`mount -t overlay overlay -o "lowerdir=${wh}:${LIBDIR}" "${LIBDIR}"`);
  }
  steps.push(...(opt.mounts ?? []));
  const self = opt.cwd ? join(binDir, 'ctsync') : './ctsync';
  // root limited to these capabilities, as systemd's CapabilityBoundingSet= does
  const setpriv = opt.caps ? `setpriv --bounding-set -all,${opt.caps.map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`).join(',')} --inh-caps -all ` : '';
  steps.push(`cd "${opt.cwd ?? binDir}"`, opt.instead ?? `exec ${setpriv}env -i ${CLEAN_PATH} ${(opt.env ?? []).join(' ')} ${self} "$@"`);
  return ['unshare', ['-m', '--propagation', 'private', '--', 'sh', '-ec', steps.join('\n'), 'sh', ...args]];
}

function runHere(args: string[], opt: Parameters<typeof wrapped>[1] = {}) {
  const [cmd, argv] = wrapped(args, opt);
  return spawnSync(cmd, argv, { encoding: 'utf8', timeout: 60000 });
}

function runIn(ns: Netns, args: string[], opt: Parameters<typeof wrapped>[1] = {}) {
  const [cmd, argv] = wrapped(args, opt);
  return ns.exec(cmd, argv, { check: false, timeoutMs: 60000 });
}

test.after(() => rmSync(work, { recursive: true, force: true }));

test('dist/ctsync is one ELF executable with the program inside', () => {
  const st = statSync(join(binDir, 'ctsync'));
  assert.ok(st.size > 30 * 1048576, `size ${st.size}`);
  assert.ok(st.mode & 0o100, 'executable');
  assert.equal(readdirSync(binDir), ['ctsync']);
});

test('--version and help from a read-only directory with an empty environment', () => {
  const v = runHere(['--version']);
  assert.is(v.status, 0, v.stderr);
  assert.match(v.stdout, /^ctsync \d+\.\d+\.\d+\n$/);
  assert.is(v.stderr, '', 'no warning on stderr (SEA or otherwise)');
  // any current directory
  const h = runHere(['help', 'daemon'], { cwd: '/' });
  assert.is(h.status, 0, h.stderr);
  assert.match(h.stdout, /^usage: ctsync daemon -c FILE/);
  // the directory really is read-only in there, and there is no node to run
  const probe = runHere([], { instead: 'touch probe' });
  assert.is.not(probe.status, 0);
  assert.match(probe.stderr, /Read-only file system/);
  const noNode = runHere([], { instead: `node --version 2>/dev/null || echo no-node; ls -A "${join(ROOT, 'node_modules')}" | wc -l` });
  assert.is(noNode.stdout, 'no-node\n0\n', `no node, node_modules empty: ${noNode.stdout}${noNode.stderr}`);
});

test('koffi\'s native module is extracted once, privately, named by its SHA-256, and reused', () => {
  assert.is(runHere(['--version']).status, 0);
  const dir = lstatSync(NATIVE_DIR);
  assert.ok(dir.isDirectory());
  assert.is(dir.mode & 0o777, 0o700);
  assert.is(dir.uid, 0);
  const files = readdirSync(NATIVE_DIR).filter((f) => /^koffi-[0-9a-f]{64}\.node$/.test(f));
  assert.is(files.length, 1, readdirSync(NATIVE_DIR).join(' '));
  const first = lstatSync(join(NATIVE_DIR, files[0]));
  assert.is(first.mode & 0o022, 0, 'not writable by group or others');
  assert.is(runHere(['--version']).status, 0);
  const again = lstatSync(join(NATIVE_DIR, files[0]));
  assert.is(again.ino, first.ino, 'same file on the next start');
  assert.is(again.mtimeMs, first.mtimeMs);
  assert.equal(readdirSync(NATIVE_DIR).filter((f) => f.startsWith('.tmp-')), [], 'no temporary left');
});

test('with nowhere private and executable to extract to, it says so and where it looked', () => {
  // /run/ctsync and the temporary directory on noexec file systems, in a mount namespace
  const tmp = join(work, 'noexec-tmp');
  mkdirSync(tmp);
  const noexec = ['mkdir -p /run/ctsync', 'mount -t tmpfs -o noexec,mode=0755 tmpfs /run/ctsync', `mount -t tmpfs -o noexec tmpfs "${tmp}"`];
  const r = runHere(['--version'], { mounts: noexec, env: [`TMPDIR=${tmp}`] });
  assert.is(r.status, 1);
  assert.is(r.stdout, '');
  const esc = tmp.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  assert.match(r.stderr, new RegExp(`^ctsync: cannot extract the native module koffi: /run/ctsync/native is on a noexec mount; ${esc}/ctsync-native-0 is on a noexec mount; set CTSYNC_NATIVE_DIR to [^\\n]*\\n$`));
  // a directory given by CTSYNC_NATIVE_DIR that others can write to is refused, the next one used
  const shared = join(work, 'shared');
  mkdirSync(shared, { mode: 0o755 });
  const ok = runHere(['--version'], { env: [`CTSYNC_NATIVE_DIR=${shared}`] });
  assert.is(ok.status, 0, ok.stderr);
  assert.equal(readdirSync(shared), [], 'nothing written into a group/other-readable directory');
});

interface Node {
  ns: Netns;
  proc: ChildProcess;
  socket: string;
  log: () => string;
}

/** The capabilities packaging/ctsync.service leaves the daemon. */
function unitCapabilities(): string[] {
  const unit = readFileSync(join(ROOT, 'packaging/ctsync.service'), 'utf8');
  return /^CapabilityBoundingSet=(.*)$/m.exec(unit)![1].trim().split(/\s+/);
}

function startDaemon(lab: Lab, ns: Netns, setup: SyncSetup, name: string, opt: { hideLibbpf?: boolean; caps?: string[] }): Promise<Node> {
  const file = join(lab.dir, `${name}.conf`);
  writeFileSync(file, ctsyncConfig(setup, lab.dir, name));
  const [cmd, argv] = wrapped(['daemon', '-c', file], opt);
  const proc = ns.spawn(cmd, argv);
  let out = '';
  proc.stdout!.on('data', (d) => { out += d; });
  proc.stderr!.on('data', (d) => { out += d; });
  const node = { ns, proc, socket: join(lab.dir, `${name}.sock`), log: () => out };
  return until(async () => {
    if (proc.exitCode !== null) throw new Error(`${name} exited ${proc.exitCode}: ${out}`);
    return existsSync(node.socket) && (await request(node.socket, 'ping').then(() => true, () => false));
  }, 20000, `${name} answers`).then(() => node);
}

const external = async (n: Node) => (await request<CacheEntryView[]>(n.socket, 'cache', { which: 'external' })).map((e) => e.flow);

test('two copies replicate 1,000 flows each way; without libbpf one says so and uses netlink', async () => {
  await withLab('sea', async (lab) => {
    const [a, b] = await buildSyncPair(lab);
    // flows from a LAN-side address to 198.51.100.0/24, out of sync0 to a neighbour that is not
    // there: the frames go nowhere, the conntrack entries are real
    const src = ['192.0.2.10', '192.0.2.20'];
    for (const [i, ns] of [a, b].entries()) {
      await ns.ip(`addr add ${src[i]}/32 dev sync0`);
      await ns.ip('neigh add 203.0.113.254 lladdr 02:00:00:00:00:fe dev sync0 nud permanent');
      await ns.ip('route add 198.51.100.0/24 via 203.0.113.254');
    }
    const setup = (i: number): SyncSetup => ({ iface: 'sync0', local: ADDR.sync[i], ignore: ['203.0.113.0/24'], eventSource: 'auto' });

    // config check first, with the host view of the namespace
    writeFileSync(join(lab.dir, 'check.conf'), ctsyncConfig(setup(0), lab.dir, 'check'));
    const check = await runIn(a, ['config', 'check', join(lab.dir, 'check.conf')]);
    assert.is(check.code, 0, check.stderr);
    // the effective configuration, defaults filled in
    assert.match(check.stdout, /^set service conntrack-sync interface sync0 port '3780'$/m, check.stdout);
    assert.match(check.stdout, /^set service conntrack-sync mcast-group '225\.0\.0\.50'$/m);

    const plain = await startDaemon(lab, a, setup(0), 'fw1', { hideLibbpf: true });
    // with only the capabilities the systemd unit grants: BPF must still load
    const caps = unitCapabilities();
    assert.ok(caps.includes('CAP_NET_ADMIN') && !caps.includes('ALL'), caps.join(' '));
    const bpf = await startDaemon(lab, b, setup(1), 'fw2', { caps });
    const sa = await request<Snapshot>(plain.socket, 'snapshot');
    const sb = await request<Snapshot>(bpf.socket, 'snapshot');
    assert.is(sa.eventSource.kind, 'netlink');
    assert.match(sa.eventSource.reason ?? '', /libbpf\.so\.1 not loadable \(not found; on Debian: apt-get install libbpf1\); install libbpf1 \(>= 1\.0\) or use event-source netlink/);
    assert.match(plain.log(), /event source: netlink \(.*libbpf\.so\.1 not loadable \(not found/);
    assert.match(sb.eventSource.kind, /^bpf-/, `BPF from the embedded object, with ${caps.join(' ')}: ${sb.eventSource.reason}`);

    const flows = (ns: Netns, from: string) => runIn(ns, ['__agent', 'udp-flows', '--targets', '198.51.100.0/24', '--count', '1000', '--bind', from]);
    const [fa, fb] = await Promise.all([flows(a, src[0]), flows(b, src[1])]);
    for (const r of [fa, fb]) {
      assert.is(r.code, 0, r.stderr);
      assert.match(r.stdout, /"event":"done","sent":1000,"errors":0/);
    }
    const from = (list: { orig: { src: string } }[], addr: string) => list.filter((f) => f.orig.src === addr).length;
    await until(async () => from(await external(bpf), src[0]) >= 1000 && from(await external(plain), src[1]) >= 1000, 30000, 'both external caches hold 1,000 flows');
    const eb = await external(bpf);
    const ea = await external(plain);
    assert.is(from(eb, src[0]), 1000, 'fw2 holds fw1\'s 1,000 flows');
    assert.is(from(ea, src[1]), 1000, 'fw1 holds fw2\'s 1,000 flows');
    assert.is(eb.length, 1000, 'and nothing else');
    assert.is(ea.length, 1000, 'and nothing else');
    const udp = eb.every((f) => f.orig.proto === 17 && f.orig.dst.startsWith('198.51.100.') && f.orig.dport! >= 1024 && f.orig.dport! <= 1027);
    assert.ok(udp, 'the flows the agent made');
    for (const n of [plain, bpf]) {
      const code = await lab.stop(n.proc, 10000);
      assert.is(code, 0, `clean exit on SIGTERM: ${n.log().slice(-500)}`);
    }
  });
});

test.run();
