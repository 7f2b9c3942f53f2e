// timeout: 120
// What the systemd unit (packaging/ctsync.service, Type=notify, WatchdogSec) relies on, without
// systemd: a daemon started with NOTIFY_SOCKET and WATCHDOG_USEC sends READY=1 (with MAINPID)
// once its control socket answers, WATCHDOG=1 while it runs, and STOPPING=1 on SIGTERM, each as
// one datagram to the UNIX socket the test binds, the way systemd's notify socket receives them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withLab } from '../lab/lab.ts';
import { buildSyncPair, ADDR } from '../lab/topology.ts';
import { ctsyncConfig, until } from '../lab/daemons.ts';
import { ctsyncCommand } from '../../src/kernel/runtime.ts';
import { libc, errno, E } from '../../src/kernel/libc.ts';
import { request } from '../../src/control/client.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const AF_UNIX = 1, SOCK_DGRAM = 2, SOCK_NONBLOCK = 0x800, SOCK_CLOEXEC = 0x80000;

/** A bound AF_UNIX datagram socket, read without blocking. */
class NotifySocket {
  readonly fd: number;
  readonly messages: string[] = [];
  private readonly buf = new Uint8Array(4096);
  constructor(readonly path: string) {
    this.fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (this.fd < 0) throw new Error(`socket: errno ${errno()}`);
    const addr = new Uint8Array(110);
    addr[0] = AF_UNIX;
    const p = new TextEncoder().encode(path);
    addr.set(p, 2);
    if (libc.bind(this.fd, addr, 2 + p.length + 1) < 0) throw new Error(`bind ${path}: errno ${errno()}`);
  }
  /** Reads every queued datagram into `messages`. */
  drain(): string[] {
    for (;;) {
      const n = libc.recv(this.fd, this.buf, this.buf.length, 0);
      if (n < 0) {
        const e = errno();
        if (e === E.EAGAIN) return this.messages;
        throw new Error(`recv: errno ${e}`);
      }
      this.messages.push(new TextDecoder().decode(this.buf.subarray(0, n)));
    }
  }
  close(): void {
    libc.close(this.fd);
    try { unlinkSync(this.path); } catch { /* gone */ }
  }
}

const has = (msgs: string[], line: string) => msgs.some((m) => m.split('\n').includes(line));

test('READY=1 when serving, WATCHDOG=1 while running, STOPPING=1 on SIGTERM', async () => {
  await withLab('sdn', async (lab) => {
    const [a] = await buildSyncPair(lab);
    const file = join(lab.dir, 'n.conf');
    writeFileSync(file, ctsyncConfig({ iface: 'sync0', local: ADDR.sync[0], eventSource: 'netlink', ignore: ['203.0.113.0/24'] }, lab.dir, 'n'));
    const sock = new NotifySocket(join(lab.dir, 'notify'));
    try {
      const [cmd, argv] = ctsyncCommand(['daemon', '-c', file]);
      // a watchdog of 2 s: the daemon pings every second (half of it, as sd_watchdog_enabled advises)
      const proc = a.spawn(cmd, argv, { env: { NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '2000000' } });
      let out = '';
      proc.stderr!.on('data', (d) => { out += d; });
      await until(() => {
        if (proc.exitCode !== null) throw new Error(`daemon exited ${proc.exitCode}: ${out}`);
        return has(sock.drain(), 'READY=1');
      }, 30000, 'READY=1');
      const ready = sock.messages.find((m) => m.split('\n').includes('READY=1'))!;
      assert.match(ready, new RegExp(`^MAINPID=${proc.pid}$`, 'm'), ready);
      assert.match(ready, /^STATUS=synchronising over sync0$/m);
      // READY means served: the control socket answers at once
      assert.ok(existsSync(join(lab.dir, 'n.sock')));
      assert.is((await request<{ pid: number }>(join(lab.dir, 'n.sock'), 'ping')).pid, proc.pid);
      assert.not.ok(has(sock.messages, 'STOPPING=1'));

      await until(() => has(sock.drain(), 'WATCHDOG=1'), 10000, 'WATCHDOG=1');

      const code = lab.stop(proc, 10000);
      assert.is(await code, 0, out);
      sock.drain();
      assert.ok(has(sock.messages, 'STOPPING=1'), sock.messages.join(' | '));
      const order = sock.messages.map((m) => (m.includes('READY=1') ? 'R' : m.includes('STOPPING=1') ? 'S' : 'W')).join('');
      assert.match(order, /^RW+S$/, 'READY, then watchdog pings, then STOPPING last');
    } finally {
      sock.close();
    }
  });
});

test('a configuration that cannot start: exit status 1 and no READY=1 (systemd marks the unit failed)', async () => {
  await withLab('sdn', async (lab) => {
    const [a] = await buildSyncPair(lab);
    const file = join(lab.dir, 'bad.conf');
    // an interface that is not in the namespace
    writeFileSync(file, ctsyncConfig({ iface: 'sync9', local: ADDR.sync[0], eventSource: 'netlink' }, lab.dir, 'bad'));
    const sock = new NotifySocket(join(lab.dir, 'notify'));
    try {
      const [cmd, argv] = ctsyncCommand(['daemon', '-c', file]);
      const proc = a.spawn(cmd, argv, { env: { NOTIFY_SOCKET: sock.path } });
      let out = '';
      proc.stderr!.on('data', (d) => { out += d; });
      const code = await new Promise<number | null>((r) => proc.on('exit', (c) => r(c)));
      assert.is(code, 1);
      assert.match(out, /Interface "sync9" does not exist/);
      assert.not.ok(has(sock.drain(), 'READY=1'), sock.messages.join(' | '));
    } finally {
      sock.close();
    }
  });
});

test('packaging/ctsync.service: systemd accepts every line, and it asks for what the daemon does', () => {
  const unit = readFileSync(join(ROOT, 'packaging/ctsync.service'), 'utf8');
  const dir = mkdtempSync(join(tmpdir(), 'ctsync-unit-'));
  try {
    // the installed binary and man page are not on this machine: the rest is checked as shipped
    const copy = unit.replace(/^ExecStart=\S+/m, 'ExecStart=/bin/true').replace(/^Documentation=.*$/m, '');
    writeFileSync(join(dir, 'ctsync.service'), copy);
    const r = spawnSync('systemd-analyze', ['verify', join(dir, 'ctsync.service')], { encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    assert.is(`${r.stdout}${r.stderr}`.trim(), '', 'no unknown key, no bad value');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const key = (k: string) => [...unit.matchAll(new RegExp(`^${k}=(.*)$`, 'gm'))].map((m) => m[1]);
  assert.equal(key('Type'), ['notify'], 'READY=1 is sent');
  assert.equal(key('ExecReload'), ['/bin/kill -HUP $MAINPID'], 'SIGHUP reloads');
  assert.ok(key('WatchdogSec').length === 1, 'WATCHDOG=1 is sent');
  assert.equal(key('MemoryDenyWriteExecute'), ['no'], 'V8 needs writable+executable pages');
  assert.match(key('ExecStart')[0], / daemon -c \/etc\/ctsync\/ctsync\.conf$/);
  assert.equal(key('RestrictAddressFamilies'), ['AF_UNIX AF_NETLINK AF_INET AF_INET6']);
});

test.run();
