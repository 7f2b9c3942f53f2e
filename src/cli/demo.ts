// `ctsync demo`: the whole story in under a minute, on this machine, as root. Two firewalls in
// network namespaces run keepalived (one sync group, a LAN and a WAN instance) and ctsync; a client
// keeps TCP connections and UDP flows open through the virtual addresses to a server; keepalived
// is stopped on the master and every connection is checked on the new one. Everything the demo
// starts (namespaces, keepalived, daemons, traffic agents) is removed at the end, on Ctrl-C and on
// failure. Exit 0 when every connection survived, 1 otherwise.
import process from 'node:process';
import { execFileSync } from 'node:child_process';
import { Args, UsageError } from './args.ts';
import { Lab } from '../../test/lab/lab.ts';
import { FailoverLab, SERVICE_PORT, type CheckResult, type SwitchResult } from '../../test/lab/failover.ts';
import { ADDR } from '../../test/lab/topology.ts';
import type { CtsyncDaemon } from '../../test/lab/daemons.ts';
import type { Snapshot } from '../control/snapshot.ts';

const OPTIONS = ['--connections', '--udp', '--streams'];
const FLAGS = ['--no-sync', '--failback', '--no-guard'];

function count(a: Args, name: string, dflt: number, max: number): number {
  const v = a.value(name);
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v) || Number(v) > max) throw new UsageError(`${name} must be a whole number from 0 to ${max}`);
  return Number(v);
}

/** What the demo needs from the host; each missing piece named with its fix. */
function missing(): string[] {
  const out: string[] = [];
  if (typeof process.getuid === 'function' && process.getuid() !== 0) out.push('root (network namespaces, nftables, keepalived): run it with sudo');
  for (const [cmd, arg, pkg] of [['keepalived', '--version', 'keepalived'], ['nft', '--version', 'nftables'], ['conntrack', '--version', 'conntrack'], ['ip', '-V', 'iproute2']]) {
    try { execFileSync(cmd, [arg], { stdio: 'ignore' }); } catch { out.push(`${cmd} (apt install ${pkg})`); }
  }
  return out;
}

export async function demo(argv: string[]): Promise<number> {
  const a = new Args(argv, OPTIONS);
  const bad = a.unknown([...OPTIONS, ...FLAGS]);
  if (bad.length) throw new UsageError(`demo: unknown option ${bad[0]} (options: ${OPTIONS.map((o) => `${o} N`).join(', ')}, ${FLAGS.join(', ')})`);
  const connections = count(a, '--connections', 200, 5000);
  const udp = count(a, '--udp', 50, 5000);
  const streams = Math.min(count(a, '--streams', 20, 5000), connections);
  const noSync = a.flag('--no-sync');
  const need = missing();
  if (need.length) {
    process.stderr.write(`ctsync demo needs ${need.join(', ')}\n`);
    return 1;
  }

  const t0 = performance.now();
  const say = (msg: string) => process.stdout.write(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${msg}\n`);
  const lab = new Lab('demo');
  const f = new FailoverLab(lab, {
    sync: noSync ? ['none', 'none'] : ['ctsync', 'ctsync'], connections, streams, udp, commitGuard: !a.flag('--no-guard'),
  });
  let ok = false;
  try {
    process.stdout.write('ctsync demo: two firewalls with keepalived and ctsync, live connections, a failover\n\n');
    say(`lab: namespaces ${lab.prefix}-{cl,lan,fw1,fw2,wan,sv}; client ${ADDR.client}, server ${ADDR.server}, ` +
      `virtual addresses ${ADDR.vipLan} (LAN) and ${ADDR.vipWan} (WAN), sync link 203.0.113.0/24`);
    say('firewall policy: established/related accepted, new only from the LAN (TCP: SYN only), invalid dropped, nf_conntrack_tcp_loose=0');
    await f.start();
    say(noSync
      ? 'keepalived on fw1 (priority 150) and fw2 (priority 100), sync group SG1 = {VI_LAN, VI_WAN}; NO ctsync (--no-sync)'
      : 'ctsync on fw1 and fw2 (FTFW over multicast on sync0, reading keepalived\'s notify FIFO); keepalived priority 150 / 100, sync group SG1 = {VI_LAN, VI_WAN}');
    say(`fw1 is MASTER: ${ADDR.vipLan} and ${ADDR.vipWan} are on fw1`);

    await f.openTraffic();
    say(`client: ${connections} TCP connections (${streams} with data flowing every 50 ms) and ${udp} UDP flows to ${ADDR.server}:${SERVICE_PORT} through fw1`);
    if (!noSync) {
      const n = await f.replicated(1);
      say(`replicated: fw2's external cache holds ${n} client flows; fw2's kernel holds ${await f.kernelFlows(1)} of them`);
    } else {
      say(`fw2's kernel holds ${await f.kernelFlows(1)} of the client flows (nothing replicates them)`);
    }

    say('failover: stopping keepalived on fw1 (SIGTERM, as `systemctl stop keepalived`)');
    await f.markStreams();
    const sw = await f.stopMaster();
    say(`fw2 is MASTER: the virtual addresses moved ${sw.vipMs} ms after the stop`);
    if (!noSync) await report(f, 1, sw, say);

    ok = await checkAll(f, say, noSync);
    if (a.flag('--failback') && ok) {
      say('failback: starting keepalived on fw1 again (priority 150: it takes the addresses back)');
      await f.markStreams();
      const back = await f.restartKeepalived(0);
      say(`fw1 is MASTER again, ${back.vipMs} ms after keepalived started`);
      if (!noSync) await report(f, 0, back, say);
      ok = await checkAll(f, say, noSync);
    }
    process.stdout.write(`\n${ok ? 'result: every connection survived the failover' : 'result: connections were lost in the failover'}` +
      ` (exit ${ok ? 0 : 1})\n`);
  } catch (e) {
    process.stdout.write(`\ndemo failed: ${(e as Error).message}\n`);
    ok = false;
  } finally {
    process.stdout.write('cleaning up: traffic agents, keepalived, ctsync, namespaces ... ');
    await lab.teardown();
    process.stdout.write('done\n');
  }
  return ok ? 0 : 1;
}

/** The new master's transition, commit and guard, and the window from its addresses to the commit. */
async function report(f: FailoverLab, i: number, sw: SwitchResult, say: (m: string) => void): Promise<void> {
  await f.waitState(i, 'MASTER', 10000);
  const s: Snapshot = await (f.daemons[i] as CtsyncDaemon).snapshot();
  const c = s.commit.last;
  const g = s.commit.guard;
  say(`fw${i + 1} ctsync: ${s.failover.last?.source ?? 'transition'} -> MASTER steps (commit, flush, resync, bulk-send) done in ${s.failover.last?.ms ?? '?'} ms`);
  if (c) {
    const window = sw.vipUpAt !== undefined ? Math.round(c.at + c.ms - sw.vipUpAt) : undefined;
    say(`fw${i + 1} ctsync: committed ${c.committed} entries (${c.failed} failed) in ${c.ms.toFixed(1)} ms` +
      (window !== undefined ? `; from the virtual address up to the commit done: ${window} ms` : '') +
      (g?.last ? `; commit guard (armed since fw${i + 1} became BACKUP) dropped ${packets(g.standbyDropped + g.last.dropped)}, none rejected` : ''));
  }
}

async function checkAll(f: FailoverLab, say: (m: string) => void, noSync: boolean): Promise<boolean> {
  say('checking every connection: a token each way on every TCP connection and UDP flow ...');
  const r: CheckResult = await f.check(noSync ? 3000 : 5000);
  const total = r.tcp.ok + r.tcp.failed;
  say(`TCP: ${r.tcp.ok} of ${total} connections answered, ${r.tcp.resets} reset, ${r.tcp.closes} closed, none reopened` +
    (f.opt.streams ? `; the ${f.opt.streams} streaming ones made ${r.streams.echoed} exchanges during and after the switch (${r.streams.sent - r.streams.echoed} unanswered)` : ''));
  if (r.udp) say(`UDP: ${r.udp.ok}/${r.udp.ok + r.udp.failed} flows answered, ${r.udp.refused} port-unreachable`);
  const to = await (async () => { try { return await f.kernelFlows(f.keepalived[0]?.running ? 0 : 1); } catch { return undefined; } })();
  if (to !== undefined) say(`the master's kernel holds ${to} client flows`);
  return r.survived;
}

function packets(n: number): string {
  return `${n} packet${n === 1 ? '' : 's'}`;
}
