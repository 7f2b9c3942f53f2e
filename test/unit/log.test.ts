// Log lines: conntrackd's layout on stderr, and syslog datagrams (facility daemon) unless
// disable-syslog.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger, ctime, unixAddress } from '../../src/daemon/log.ts';
import { libc } from '../../src/kernel/libc.ts';

function syslogSink(path: string) {
  const fd = libc.socket(1, 2 | 0x800, 0);
  const addr = unixAddress(path);
  assert.is(libc.bind(fd, addr, addr.length), 0, 'bind');
  const buf = new Uint8Array(2048);
  return {
    read(): string[] {
      const out: string[] = [];
      for (;;) {
        const n = libc.recv(fd, buf, buf.length, 0x40);
        if (n <= 0) return out;
        out.push(new TextDecoder().decode(buf.subarray(0, n)));
      }
    },
    close: () => libc.close(fd),
  };
}

test('stderr lines have conntrackd\'s layout', () => {
  const lines: string[] = [];
  const log = new Logger(false, (l) => lines.push(l));
  log.notice('Committed 5 new entries');
  log.error('commit-create: File exists');
  assert.match(lines[0], /^\[(Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}\] \(pid=\d+\) \[notice\] Committed 5 new entries$/);
  assert.match(lines[1], /\[ERROR\] commit-create: File exists$/);
  assert.is(ctime(new Date(2026, 10, 2, 9, 5, 7)), 'Mon Nov  2 09:05:07 2026');
});

test('syslog gets each line with facility daemon, and nothing once disable-syslog is set', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ctsync-log-'));
  const path = join(dir, 'log.sock');
  const sink = syslogSink(path);
  try {
    const log = new Logger(true, () => {}, path);
    log.notice('transitioning to MASTER state for VRRP sync-group [SG1]');
    log.warn('netlink receive buffer overrun');
    const got = sink.read();
    assert.is(got.length, 2);
    assert.match(got[0], new RegExp(`^<29>ctsync\\[${process.pid}\\]: transitioning to MASTER state`));
    assert.match(got[1], /^<28>ctsync\[\d+\]: netlink receive buffer overrun$/);
    log.setSyslog(false);
    log.notice('not for syslog');
    assert.equal(sink.read(), []);
    assert.is(log.syslogFailures, 0);
  } finally {
    sink.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('log-file: lines are appended to the file, mode 0600', async () => {
  const { readFileSync, statSync } = await import('node:fs');
  const dir = mkdtempSync(join(tmpdir(), 'ctsync-log-'));
  const file = join(dir, 'ctsync.log');
  try {
    const log = new Logger(false, () => {});
    log.setFile(file);
    log.notice('first');
    log.warn('second');
    log.setFile(undefined);
    log.notice('not in the file');
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    assert.is(lines.length, 2);
    assert.match(lines[1], /\[warning\] second$/);
    assert.is(statSync(file).mode & 0o777, 0o600);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a missing syslog socket is counted, not fatal', () => {
  const log = new Logger(true, () => {}, '/nonexistent/ctsync-test.sock');
  log.notice('hello');
  assert.is(log.syslogFailures, 1);
});

test.run();
