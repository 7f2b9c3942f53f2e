// timeout: 180
// `ctsync top` in a pseudo-terminal (a tmux server of its own, 120x40) against a running daemon
// while flows are created in its namespace: it draws on the alternate screen, the numbers move
// between two captures (cache size, event rates), and q ends it with status 0, the alternate
// screen left and the terminal settings as they were. Without a terminal it prints one frame.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { withLab } from '../lab/lab.ts';
import { buildSyncPair, ADDR } from '../lab/topology.ts';
import { startCtsync, until, type SyncSetup } from '../lab/daemons.ts';
import { makeFlows } from '../lab/flows.ts';
import { run } from '../lab/exec.ts';
import { ctsyncCommand } from '../../src/kernel/runtime.ts';

const IGNORE = ['203.0.113.0/24', '2001:db8:3::/64'];
const setup = (i: 0 | 1): SyncSetup => ({ iface: 'sync0', local: ADDR.sync[i], ignore: IGNORE });
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The number in a frame's line that starts with `label` (after leading spaces), column `col`. */
function cell(frame: string, label: RegExp, col: number): number {
  const line = frame.split('\n').find((l) => label.test(l.trim()));
  if (!line) throw new Error(`no line ${label} in:\n${frame}`);
  const cells = line.trim().split(/\s{2,}/);
  return Number((cells[col] ?? '').replace(/,/g, ''));
}

test('ctsync top in tmux: live numbers, q quits with status 0 and restores the terminal', async () => {
  await withLab('top', async (lab) => {
    const [a, b] = await buildSyncPair(lab);
    const tx = await startCtsync(lab, a, setup(0));
    await startCtsync(lab, b, setup(1));

    // traffic: 200 new flows every 200 ms for as long as the test watches
    const ct = a.conntrack();
    let offset = 0;
    const traffic = setInterval(() => { ct.create(makeFlows(200, { offset })); offset += 200; }, 200);

    const tmux = (args: string[], check = true) => run('tmux', ['-L', lab.prefix, ...args], { check });
    const status = join(lab.dir, 'top.status');
    const [cmd, argv] = ctsyncCommand(['top', '--socket', tx.socket]);
    // the shell records top's exit status and whether the terminal settings came back, then stays
    // so that the pane can still be read
    const line = `before=$(stty -g); ${[cmd, ...argv].map(quote).join(' ')}; code=$?; ` +
      `[ "$before" = "$(stty -g)" ] && tty=same || tty=changed; echo "$code $tty" > ${quote(status)}; exec sleep 120`;
    try {
      await tmux(['new-session', '-d', '-x', '120', '-y', '40', '-s', 'top', 'sh', '-c', line]);
      const capture = async () => (await tmux(['capture-pane', '-p', '-t', 'top'])).stdout;
      let first = '';
      await until(async () => {
        first = await capture();
        return /EVENTS\/s/.test(first) && /\n\s+tcp\s+[\d,.]+/.test(first);
      }, 20_000, `top draws its frame with rates:\n${first}`);
      assert.is((await tmux(['display', '-p', '-t', 'top', '#{alternate_on}'])).stdout.trim(), '1', 'on the alternate screen');
      await new Promise((r) => setTimeout(r, 2500));
      const second = await capture();

      for (const f of [first, second]) {
        assert.match(f, /^ctsync top - pid \d+, up \d+:\d\d:\d\d, FTFW, event source (bpf-netlink|bpf-tracing|netlink)/);
        assert.match(f, /\nVRRP no state yet \(sync-group SG1\)/);
        assert.match(f, /\nCACHES\s+active\s+objects\s+created\/s/);
        assert.match(f, /\nWIRE\s+state\s+sent dgr\/s/);
        assert.match(f, /\n\s+sync0 \(multicast\)\s+ACTIVE RUNNING/);
        assert.match(f, /\nLATENCY \(60 s, 8192 max\)\s+samples\s+p50/);
        assert.match(f, /\n\s+kernel-to-wire\s+[\d,]+\s+[\d.]+ [µm]?s/);
        assert.match(f, /q quits\s*$/);
        assert.ok(f.split('\n').every((l) => l.length <= 120), 'fits the width');
      }
      const active1 = cell(first, /^internal\s/, 1), active2 = cell(second, /^internal\s/, 1);
      assert.ok(active2 > active1, `internal cache grows between captures: ${active1} -> ${active2}`);
      const tcpNew = cell(second, /^tcp\s/, 1);
      assert.ok(tcpNew > 0, `tcp new events per second: ${tcpNew}`);
      assert.ok(cell(second, /^sync0 /, 2) > 0, 'datagrams sent per second');

      await tmux(['send-keys', '-t', 'top', 'q']);
      await until(() => existsSync(status), 10_000, 'top exits on q');
      assert.is(readFileSync(status, 'utf8').trim(), '0 same', 'exit status 0, terminal settings restored');
      assert.is((await tmux(['display', '-p', '-t', 'top', '#{alternate_on}'])).stdout.trim(), '0', 'alternate screen left');
      assert.not.match(await capture(), /EVENTS\/s/, 'the frame went with the alternate screen');
    } finally {
      clearInterval(traffic);
      await tmux(['kill-server'], false);
      await ct.close();
    }
  });
});

test('ctsync top without a terminal prints one frame with rates and exits', async () => {
  await withLab('top', async (lab) => {
    const [a, b] = await buildSyncPair(lab);
    const tx = await startCtsync(lab, a, setup(0));
    await startCtsync(lab, b, setup(1));
    const ct = a.conntrack();
    let offset = 0;
    const traffic = setInterval(() => { ct.create(makeFlows(100, { offset })); offset += 100; }, 100);
    try {
      await until(async () => (await tx.snapshot()).conntrack.internal.kind === 'cache', 5000, 'daemon up');
      const r = await tx.cli(['top']);
      assert.is(r.code, 0);
      assert.not.match(r.stdout, /\x1b/, 'no escape sequences');
      assert.match(r.stdout, /^ctsync top - pid \d+/);
      assert.ok(cell(r.stdout, /^tcp\s/, 1) > 0, `tcp new events per second in:\n${r.stdout}`);
      assert.not.match(r.stdout, /q quits/);
    } finally {
      clearInterval(traffic);
      await ct.close();
    }
  });
});

test.run();
