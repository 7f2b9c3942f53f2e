// timeout: 240
// Two ctsync daemons on a sync link, each with metrics-address in its namespace. N flows are
// created in the sender's kernel; then the metrics endpoint of each daemon is scraped (from inside
// its namespace) and parsed with the strict test parser:
//   - every sample lies between the same metric rendered from a snapshot taken just before and one
//     taken just after the scrape (counters keep moving: ALIVE messages), so the endpoint serves the
//     daemon's own statistics, and `statistics --json` shows the same cache counters;
//   - the sender's internal cache created N entries, the receiver's external cache N, and the
//     sender read N NEW events by protocol;
//   - the latency stages are populated and plausible: no refused samples, p50 <= p90 <= p99 <= max,
//     and every kernel stamp lies between the test's own clock readings around the run;
//   - commit, resync and bulk send report their progress; the latency view lists the stages.
// A second test injects with disable-external-cache: wire-to-kernel is populated.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync, readFileSync } from 'node:fs';
import process from 'node:process';
import { join } from 'node:path';
import { withLab, type Lab } from '../lab/lab.ts';
import { buildSyncPair, ADDR } from '../lab/topology.ts';
import { startCtsync, until, type SyncSetup, type CtsyncDaemon } from '../lab/daemons.ts';
import { makeFlows } from '../lab/flows.ts';
import type { Netns } from '../lab/netns.ts';
import { scriptCommand } from '../../src/kernel/runtime.ts';
import { monotonicNs } from '../../src/kernel/libc.ts';
import { renderMetrics } from '../../src/metrics/prometheus.ts';
import type { Snapshot, LatencyStats } from '../../src/control/snapshot.ts';
import { parseExposition, promValue, type PromFamily } from '../unit/metrics-prom.ts';

const N = 3000;
// the sync link, and loopback: the scrapes' own connections are not flows to count or replicate
const IGNORE = ['203.0.113.0/24', '2001:db8:3::/64', '127.0.0.1'];
const METRICS = '127.0.0.1:9934';
const setup = (i: 0 | 1, extra: Partial<SyncSetup> = {}): SyncSetup => ({
  iface: 'sync0', local: ADDR.sync[i], ignore: IGNORE, ...extra,
  extra: [`set service conntrack-sync metrics-address ${METRICS}`],
});

/** GET http://METRICS/metrics from inside the namespace; status line, content type, body. */
async function scrape(lab: Lab, ns: Netns, path = '/metrics', addr = METRICS): Promise<{ status: number; type: string; body: string }> {
  const file = join(lab.dir, 'scrape.mjs');
  writeFileSync(file, `import process from 'node:process';
try {
  const res = await fetch(process.argv[2]);
  process.stdout.write(res.status + ' ' + res.headers.get('content-type') + '\\n' + await res.text());
} catch {
  process.stdout.write('0 refused\\n');
}
`);
  const [cmd, argv] = scriptCommand(file, [`http://${addr}${path}`]);
  const r = await ns.exec(cmd, argv);
  const nl = r.stdout.indexOf('\n');
  const [status, ...type] = r.stdout.slice(0, nl).split(' ');
  return { status: Number(status), type: type.join(' '), body: r.stdout.slice(nl + 1) };
}

/** Scrapes between two snapshots: each sample within [before, after] as rendered from them. */
async function scrapeChecked(lab: Lab, ns: Netns, d: CtsyncDaemon): Promise<{ fams: Map<string, PromFamily>; after: Snapshot }> {
  const s1 = await d.snapshot();
  const r = await scrape(lab, ns);
  const s2 = await d.snapshot();
  assert.is(r.status, 200);
  assert.match(r.type, /^text\/plain; version=0\.0\.4/);
  const fams = parseExposition(r.body);
  const f1 = parseExposition(renderMetrics(s1));
  const f2 = parseExposition(renderMetrics(s2));
  const id = (x: { name: string; labels: Record<string, string> }) => `${x.name}${JSON.stringify(x.labels)}`;
  let compared = 0;
  for (const [name, fam] of f2) {
    // histograms come from the live objects, not from the snapshot; uptime and window gauges move
    if (fam.type === 'histogram' || name === 'ctsync_uptime_seconds' || name.startsWith('ctsync_latency_window')) continue;
    const got = new Map(fams.get(name)?.samples.map((x) => [id(x), x.value]));
    const before = new Map(f1.get(name)?.samples.map((x) => [id(x), x.value]));
    for (const x of fam.samples) {
      const v = got.get(id(x));
      assert.ok(v !== undefined, `scrape lacks ${id(x)}`);
      const lo = Math.min(before.get(id(x)) ?? x.value, x.value), hi = Math.max(before.get(id(x)) ?? x.value, x.value);
      if (fam.type === 'counter' || name === 'ctsync_cache_active_entries' || name === 'ctsync_cache_objects') {
        assert.ok(v! >= lo && v! <= hi, `${id(x)} = ${v}, snapshots ${lo}..${hi}`);
      }
      compared++;
    }
  }
  assert.ok(compared > 100, `compared ${compared} samples`);
  return { fams, after: s2 };
}

function plausible(l: LatencyStats | undefined, what: string, minCount: number, spanUs: number): void {
  assert.ok(l, `${what}: stage reported`);
  assert.ok(l!.count >= minCount, `${what}: ${l!.count} samples, want >= ${minCount}`);
  assert.is(l!.dropped, 0, `${what}: no sample with its end before its start`);
  assert.ok(l!.p50 >= 0 && l!.p50 <= l!.p90 && l!.p90 <= l!.p99 && l!.p99 <= l!.p999 && l!.p999 <= l!.max, `${what}: ordered ${JSON.stringify(l)}`);
  assert.ok(l!.max > 0, `${what}: max > 0`);
  assert.ok(l!.max <= spanUs, `${what}: max ${l!.max} µs within the ${Math.round(spanUs)} µs the test watched`);
}

const stage = (s: Snapshot, name: string) => s.latency.find((l) => l.stage === name);

test('metrics of a sender and a receiver after N flows: valid exposition, equal to the statistics, latency plausible', async () => {
  await withLab('mt', async (lab) => {
    const [a, b] = await buildSyncPair(lab);
    const tx = await startCtsync(lab, a, setup(0));
    const rx = await startCtsync(lab, b, setup(1));
    assert.is((await scrape(lab, a, '/')).status, 404);

    const t0 = monotonicNs();
    const ct = a.conntrack();
    const made = ct.create(makeFlows(N));
    await ct.close();
    assert.is(made.failed.size, 0);
    await until(async () => {
      const s = await rx.snapshot();
      return s.conntrack.external.kind === 'cache' && s.conntrack.external.created >= N;
    }, 60_000, 'replicated');
    const spanUs = Number(monotonicNs() - t0) / 1000;

    const { fams: ft, after: st } = await scrapeChecked(lab, a, tx);
    const { fams: fr, after: sr } = await scrapeChecked(lab, b, rx);
    assert.is(promValue(ft, 'ctsync_cache_created_total', { cache: 'internal', table: 'conntrack' }), N);
    assert.is(promValue(fr, 'ctsync_cache_created_total', { cache: 'external', table: 'conntrack' }), N);
    assert.is(promValue(fr, 'ctsync_cache_active_entries', { cache: 'external', table: 'conntrack' }), N);
    const news = ft.get('ctsync_kernel_events_total')!.samples.filter((x) => x.labels.type === 'new');
    assert.is(news.reduce((n, x) => n + x.value, 0), N, 'NEW events read by the sender');
    assert.equal(news.map((x) => x.labels.protocol).sort(), ['icmp', 'tcp', 'udp']);
    assert.ok(promValue(ft, 'ctsync_link_sent_datagrams_total', { link: 'sync0' }) > 0);
    assert.ok(promValue(fr, 'ctsync_messages_received_total', { kind: 'data' }) >= N);

    // the CLI's statistics --json shows the same counters
    const js = JSON.parse((await tx.cli(['show', 'conntrack-sync', 'statistics', '--json'])).stdout);
    const jr = JSON.parse((await rx.cli(['show', 'conntrack-sync', 'statistics', '--json'])).stdout);
    assert.is(js.main.internal.created, N);
    assert.is(jr.main.external.created, N);

    // latency: the sender's kernel stages, the receiver's wire-to-cache
    const usesBpf = st.eventSource.kind !== 'netlink';
    assert.ok(usesBpf, `a BPF event source stamps events (got ${st.eventSource.kind}: ${st.eventSource.reason})`);
    plausible(stage(st, 'kernel-to-read'), 'kernel-to-read', N, spanUs);
    plausible(stage(st, 'kernel-to-wire'), 'kernel-to-wire', N, spanUs);
    plausible(stage(sr, 'wire-to-cache'), 'wire-to-cache', N, spanUs);
    // each event reaches the wire after it was read
    assert.ok(stage(st, 'kernel-to-wire')!.max >= stage(st, 'kernel-to-read')!.p50, 'wire after read');
    const count = (f: Map<string, PromFamily>, st: string) => promValue(f, 'ctsync_latency_seconds', { stage: st }, 'ctsync_latency_seconds_count');
    assert.ok(count(ft, 'kernel-to-wire') >= N);
    assert.ok(count(fr, 'wire-to-cache') >= N);
    assert.is(count(fr, 'kernel-to-read'), 0, 'the receiver read no events of synced flows');

    // the latency view
    const view = (await tx.cli(['show', 'conntrack-sync', 'latency'])).stdout;
    assert.match(view, /^stage\s+samples\s+p50\s+p90\s+p99\s+p99\.9\s+max\n/);
    assert.match(view, new RegExp(`\\nkernel-to-wire\\s+${stage(await tx.snapshot(), 'kernel-to-wire')!.count}\\s+[\\d.]+ [µm]?s`));
    const vj = JSON.parse((await tx.cli(['show', 'conntrack-sync', 'stats', 'latency', '--json'])).stdout) as LatencyStats[];
    assert.equal(vj.map((l) => l.stage), ['kernel-to-read', 'kernel-to-wire', 'wire-to-cache', 'wire-to-kernel', 'commit-per-entry', 'commit']);

    // long operations report progress (lines on a pipe) and feed the commit metrics
    const c = await rx.cli(['commit']);
    assert.match(c.stdout, new RegExp(`committed ${N} entries, 0 failed`));
    assert.match(c.stderr, new RegExp(`commit: ${N}/${N}`));
    const rs = await tx.cli(['resync']);
    assert.match(rs.stderr, /resync: \d+\/\d+\s+\d+\/s/);
    const bs = await tx.cli(['bulk-send']);
    const sent = /bulk send: (\d+)\/(\d+)/.exec(bs.stderr);
    assert.ok(sent && Number(sent[1]) >= N, `bulk send progress: ${bs.stderr}`);
    const fc = (await scrapeChecked(lab, b, rx)).fams;
    assert.is(promValue(fc, 'ctsync_commits_total'), 1);
    assert.is(promValue(fc, 'ctsync_commit_entries_total', { result: 'ok' }), N);
    assert.is(promValue(fc, 'ctsync_commit_duration_seconds', {}, 'ctsync_commit_duration_seconds_count'), 1);
    assert.is(promValue(fc, 'ctsync_latency_seconds', { stage: 'commit-per-entry' }, 'ctsync_latency_seconds_count'), N);
    assert.ok(promValue(fc, 'ctsync_commit_last_duration_seconds') > 0);
  });
});

test('disable-external-cache: wire-to-kernel measured up to the kernel\'s acknowledgement; a reload moves the endpoint', async () => {
  await withLab('mt', async (lab) => {
    const [a, b] = await buildSyncPair(lab);
    await startCtsync(lab, a, setup(0));
    const rx = await startCtsync(lab, b, setup(1, { disableExternalCache: true }));
    const n = 500;
    const t0 = monotonicNs();
    const ct = a.conntrack();
    ct.create(makeFlows(n));
    await ct.close();
    await until(async () => {
      const s = await rx.snapshot();
      return s.conntrack.external.kind === 'inject' && s.conntrack.external.created >= n;
    }, 30_000, 'injected');
    const spanUs = Number(monotonicNs() - t0) / 1000;
    const { fams, after } = await scrapeChecked(lab, b, rx);
    assert.is(promValue(fams, 'ctsync_inject_total', { table: 'conntrack', op: 'create' }), n);
    plausible(stage(after, 'wire-to-kernel'), 'wire-to-kernel', n, spanUs);
    assert.is(stage(after, 'wire-to-cache')!.count, 0, 'no external cache');

    // SIGHUP with a new metrics-address: the endpoint moves, the old port is closed
    writeFileSync(rx.configFile, readFileSync(rx.configFile, 'utf8').replace(METRICS, '127.0.0.1:9935'));
    process.kill(rx.pid, 'SIGHUP');
    await until(async () => (await scrape(lab, b, '/metrics', '127.0.0.1:9935')).status === 200, 10_000, 'metrics on the new address');
    assert.is((await scrape(lab, b)).status, 0, 'old address closed');
    assert.match(rx.output, /Prometheus metrics on http:\/\/127\.0\.0\.1:9935\/metrics/);
  });
});

test.run();
