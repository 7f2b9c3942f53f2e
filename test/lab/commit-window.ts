// Measures the VIP-before-commit window of a failover (keepalived issues #2254, #2414) and what the
// commit guard does about it; the numbers in docs/failover.md come from here. Run as root:
//
//   node --import ./build/register.mjs test/lab/commit-window.ts [--flows 0,100000] [--guard on,off]
//        [--loose 0] [--connections 200] [--precise]
//
// For each combination: the failover lab (keepalived + ctsync on two firewalls) with a firewall
// that source-NATs the LAN to the WAN virtual address and filters nothing (a VyOS router without
// firewall rules), `--flows` background entries created on fw1 and replicated to fw2, the client's
// connections all streaming; then keepalived is stopped on fw1. Reported: when the LAN virtual
// address came up on fw2 (`ip -ts monitor address`), when ctsync's MASTER notification arrived,
// when the guard's commit form was in place (its standby form was armed at fw2's BACKUP, long
// before) and when the commit was done; the RSTs that reached the client and the server (nft
// counters in their namespaces), the connections lost, and what the guard dropped (both forms).
// --precise also times loading the tuple-matching guard (preciseGuardRuleset) for the same table
// with `nft -f`.
import process from 'node:process';
import { Lab } from './lab.ts';
import { FailoverLab, SERVICE_PORT } from './failover.ts';
import { ADDR } from './topology.ts';
import { until, type CtsyncDaemon } from './daemons.ts';
import type { Netns } from './netns.ts';
import { type Flow, STATUS } from '../../src/flow/flow.ts';
import { preciseGuardRuleset, parseGuardCounters } from '../../src/failover/guard-rules.ts';

const NAT_NO_FILTER = `
table inet ctsync_lab {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan0" ip saddr 192.0.2.0/24 snat ip to ${ADDR.vipWan}
  }
  chain forward { type filter hook forward priority 0; policy accept; }
  chain input { type filter hook input priority 0; policy accept; }
}
`;
const RST_COUNTER = 'table inet rstcount {\n  chain in {\n    type filter hook input priority 0; policy accept;\n    tcp flags & rst == rst counter\n  }\n}\n';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

/** n established TCP flows that are not the client's (no .100 addresses), 1 hour timeout */
function background(n: number): Flow[] {
  const out: Flow[] = [];
  for (let i = 0; i < n; i++) {
    const src = `192.0.2.${101 + (i % 150)}`;
    const dst = `198.51.100.${101 + (Math.floor(i / 150) % 150)}`;
    const sport = 1024 + Math.floor(i / 22500);
    const dport = 1 + (i % 60000);
    out.push({
      family: 4, status: STATUS.SEEN_REPLY | STATUS.ASSURED | STATUS.CONFIRMED, timeout: 3600, tcp: { state: 3 },
      orig: { src, dst, proto: 6, sport, dport },
      reply: { src: dst, dst: src, proto: 6, sport: dport, dport: sport },
    });
  }
  return out;
}

async function rsts(ns: Netns): Promise<number> {
  return parseGuardCounters((await ns.exec('nft', ['-j', 'list', 'table', 'inet', 'rstcount'])).stdout).packets;
}

interface Row {
  flows: number; guard: string; loose: number; notifyMs: number; guardMs?: number; commitMs: number; windowMs: number;
  rstClient: number; rstServer: number; lost: number; guardDropped: number; preciseLoadMs?: number;
}

async function once(flows: number, guard: boolean, loose: 0 | 1, connections: number, precise: boolean): Promise<Row> {
  const lab = new Lab('win');
  try {
    const f = new FailoverLab(lab, { connections, streams: connections, udp: 0, commitGuard: guard, ruleset: NAT_NO_FILTER, tcpLoose: loose });
    await f.start();
    const d2 = f.daemons[1] as CtsyncDaemon;
    if (flows) {
      const ct = f.fw[0].conntrack();
      const all = background(flows);
      for (let i = 0; i < all.length; i += 20000) ct.create(all.slice(i, i + 20000));
      await ct.close();
    }
    for (const ns of [f.pair.client, f.pair.server]) await ns.nft(RST_COUNTER);
    await f.openTraffic();
    await until(async () => {
      const s = await d2.snapshot();
      return s.conntrack.external.kind === 'cache' && s.conntrack.external.active >= flows + connections;
    }, 120000, 'fw2 holds every flow');
    await new Promise((r) => setTimeout(r, 500));
    await f.markStreams();
    const sw = await f.stopMaster();
    await f.waitState(1, 'MASTER', 60000);
    const s = await d2.snapshot();
    const c = s.commit.last!;
    const up = sw.vipUpAt ?? NaN;
    await new Promise((r) => setTimeout(r, 1000));
    const check = await f.check(5000);
    const row: Row = {
      flows, guard: guard ? 'on' : 'off', loose,
      notifyMs: Math.round((s.failover.lastTransition?.at ?? NaN) - up),
      ...(guard && s.commit.guard?.last ? { guardMs: Math.round(s.commit.guard.last.at - up) } : {}),
      commitMs: Math.round(c.ms), windowMs: Math.round(c.at + c.ms - up),
      rstClient: await rsts(f.pair.client), rstServer: await rsts(f.pair.server),
      lost: check.tcp.failed, guardDropped: (s.commit.guard?.last?.dropped ?? 0) + (s.commit.guard?.standbyDropped ?? 0),
    };
    if (precise) {
      const external = [...background(flows)];
      const text = preciseGuardRuleset(external);
      const t0 = performance.now();
      const r = await f.fw[1].exec('nft', ['-f', '-'], { input: text, check: false });
      row.preciseLoadMs = r.code === 0 ? Math.round(performance.now() - t0) : -1;
      await f.fw[1].exec('nft', ['delete', 'table', 'inet', 'ctsync_guard'], { check: false });
    }
    return row;
  } finally {
    await lab.teardown();
  }
}

const rows: Row[] = [];
const loose = Number(arg('loose', '0')) as 0 | 1;
const connections = Number(arg('connections', '200'));
for (const flows of arg('flows', '0,100000').split(',').map(Number)) {
  for (const g of arg('guard', 'on,off').split(',')) {
    const r = await once(flows, g === 'on', loose, connections, process.argv.includes('--precise') && g === 'on');
    rows.push(r);
    process.stderr.write(`${JSON.stringify(r)}\n`);
  }
}
process.stdout.write(`| background flows | guard | VIP up -> notification | VIP up -> commit form of the guard | commit | VIP up -> commit done | RSTs at client / server | connections lost (of ${connections}) | dropped by the guard |${rows.some((r) => r.preciseLoadMs !== undefined) ? ' precise guard load |' : ''}\n`);
process.stdout.write(`|---:|---|---:|---:|---:|---:|---:|---:|---:|${rows.some((r) => r.preciseLoadMs !== undefined) ? '---:|' : ''}\n`);
for (const r of rows) {
  process.stdout.write(`| ${r.flows} | ${r.guard} | ${r.notifyMs} ms | ${r.guardMs !== undefined ? `${r.guardMs} ms` : '-'} | ${r.commitMs} ms | ${r.windowMs} ms | ${r.rstClient} / ${r.rstServer} | ${r.lost} | ${r.guardDropped} |` +
    `${r.preciseLoadMs !== undefined ? ` ${r.preciseLoadMs} ms |` : rows.some((x) => x.preciseLoadMs !== undefined) ? ' |' : ''}\n`);
}
void SERVICE_PORT;
