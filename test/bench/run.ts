// The benchmark phases, run for each daemon in turn on the same two namespaces with the same load:
//
//   replication  N new flows as one burst; time until the receiver's external cache holds all N;
//                CPU of sender and receiver, bytes and datagrams on the sync link, losses, the
//                receiver's RSS growth; then all N deleted, and N other new flows as one burst
//                (the steady state: daemons that have seen a cycle of creates and deletes, as a
//                firewall's always have), W times over, deleting in between; each steady-state
//                figure is the median of the W bursts; then a commit of the last N entries into
//                the receiver's kernel; then, that kernel emptied again and the sender's daemon
//                stopped (a master that died), the receiver becomes master (commit, flush, resync,
//                bulk send)
//   latency      flows at a steady rate for some seconds, captured on the sync link (capture.ts)
//   burst        the largest burst the kernel table allows (up to 1,000,000); losses, resyncs,
//                flows missing at the peer; then a commit of everything that arrived
//
// Between phases the daemons are stopped and both kernel tables flushed, so every phase starts
// from empty tables and freshly started daemons.
import { join } from 'node:path';
import type { Lab } from '../lab/lab.ts';
import type { Netns } from '../lab/netns.ts';
import { buildSyncPair } from '../lab/topology.ts';
import { ADDR } from '../lab/topology.ts';
import type { Conntrack } from '../../src/kernel/conntrack.ts';
import { NetlinkSocket } from '../../src/kernel/netlink.ts';
import { GROUP } from '../../src/kernel/ctnetlink.ts';
import { inNetns } from '../../src/kernel/netns.ts';
import { startPair, type SubjectName, type Daemon, type LossCounters, type PairOptions, type RunningPair } from './subjects.ts';
import { encodeCreates, burst as runBurst, paced, flowAt, flowTag, type Encoded } from './generator.ts';
import { cpuSeconds, cpuSplit, cpuBusy, rssBytes, linkCounters, linkDelta, sleep } from './proc.ts';
import { conntrackMax } from '../../src/kernel/netfilter-sysctl.ts';
import { medianRun, medianDeletion } from './median.ts';
import { programRunTime } from '../../src/kernel/bpf/prog-stats.ts';
import { startCapture, stopCapture, readPcap, firstArrivals, summarise, type LatencySummary } from './capture.ts';
import { dgramFloor, L2_UDP_OVERHEAD, type Floor } from './dgram-floor.ts';

export interface BenchOptions {
  /** flows of the replication phase (and entries of the first commit) */
  n: number;
  /** flows asked for in the burst phase, and what the kernel allows */
  bigRequested: number;
  big: number;
  /** steady rate (flows/s) and duration (s) of the latency phase */
  rate: number;
  seconds: number;
  /** steady-state bursts; the figures are their medians */
  warmRuns: number;
  /** the kernel counts BPF programs' run time (main.ts turned statistics on) */
  bpfStats: boolean;
  subjects: SubjectName[];
  pair: PairOptions;
  /**
   * the split layout: the bench (the traffic) and the sender's daemon on CPU 0, the receiver's
   * daemon alone on CPU 1, each CPU standing for one firewall; false: all share every CPU
   */
  split: boolean;
  /** give up waiting when the receiver's count has not moved for this long (ms) */
  stallMs: number;
  log: (msg: string) => void;
}

export interface Replication {
  flows: number;
  generatorRate: number;
  generatorSeconds: number;
  generatorFailed: number;
  /** flows in the receiver's external cache at the end */
  replicated: number;
  /** from the first create until the receiver held the final count */
  seconds: number;
  complete: boolean;
  cpuSender: number;
  cpuReceiver: number;
  /** the kernel's share of those (stime): system calls, and the network stack run for them */
  sysSender: number;
  sysReceiver: number;
  /**
   * kernel time of ctsync's BPF programs (both daemons'; the sender's does nearly all the work),
   * spent where events are raised and so in no process's CPU above; NaN when not measured
   */
  bpfSeconds: number;
  /**
   * busy time of CPU 0 (traffic, kernel events, sender) and CPU 1 (receiver) in the split layout,
   * interrupts included whichever task they interrupted; NaN in the shared layout
   */
  busyA: number;
  busyB: number;
  /** sender -> receiver (data) and receiver -> sender (acknowledgements), link counters */
  dataBytes: number;
  dataPackets: number;
  ackBytes: number;
  ackPackets: number;
  sender: LossCounters;
  receiver: LossCounters;
  rssBefore: number;
  rssAfter: number;
}

/** A steady-state delete: the sender's kernel table flushed, until the peer's external cache is empty. */
export interface Deletion {
  /** flows in the peer's external cache when the flush began */
  flows: number;
  /** from the flush until the receiver's cache held its final count */
  seconds: number;
  /** flows still in the receiver's external cache at the end (0 when every delete arrived) */
  left: number;
  cpuSender: number;
  cpuReceiver: number;
  /** losses and resyncs during the delete (differences of the daemons' counters) */
  sender: LossCounters;
  receiver: LossCounters;
}

export interface CommitFigure {
  entries: number;
  wallSeconds: number;
  reportedSeconds?: number;
  committed?: number;
}

export interface FailoverFigure {
  /** external entries when it started */
  entries: number;
  /** the whole transition, and its commit as the daemon logged it */
  wallSeconds: number;
  commitSeconds?: number;
  /**
   * the kernel alone: as many creates, back to back from a bare socket into the same emptied
   * table, with only an UPDATE and DESTROY listener there (what a commit without NEW events leaves
   * the kernel to do), once the daemons have stopped
   */
  kernelSeconds?: number;
}

export interface Latency extends LatencySummary {
  rate: number;
  generatorRate: number;
}

export interface SubjectResult {
  name: SubjectName;
  replication: Replication;
  /**
   * the same N again, new tuples, after the first N were replicated and deleted (steady state):
   * each figure the median of the warmRuns bursts
   */
  warm: Replication;
  warmRuns: Replication[];
  /** the deletes of the steady-state cycles (the first N, then each burst but the last); each figure the median */
  deletion: Deletion;
  deletions: Deletion[];
  commit: CommitFigure;
  failover: FailoverFigure;
  latency: Latency;
  burst: Replication;
  bigCommit: CommitFigure;
  /** firewall A's busy time for the steady-state burst with no daemon running (split layout; else NaN) */
  trafficSeconds: number;
  /** ctsync: node:dgram alone sending and receiving its steady-state datagrams (dgram-floor.ts); else null */
  floor: Floor | null;
}

/** Run time of ctsync's BPF programs so far, ns (0 with none loaded: conntrackd); NaN unmeasured. */
function bpfNs(opt: BenchOptions): number {
  if (!opt.bpfStats) return NaN;
  return programRunTime('ct_socket', 'ct_trace_event').ns;
}

async function flushTables(cts: Conntrack[]): Promise<void> {
  for (const ct of cts) ct.flush();
  // the kernel frees entries through RCU; give it a moment so the next phase starts empty
  await sleep(300);
}

/**
 * Polls the receiver's external cache until it holds `want` flows (at least; `down`: at most) or
 * stops changing for stallMs.
 * Every poll costs the daemon some CPU (a statistics request), so polls are spaced by the
 * expected time to completion (from the rate seen so far), between 5 and 100 ms: few polls, and
 * the last ones close together, so the end is known to within a few ms for both daemons alike.
 */
async function waitReplicated(d: Daemon, want: number, stallMs: number, t0: number, down = false): Promise<{ count: number; at: number; polls: number }> {
  let last = -1, lastChange = performance.now(), polls = 0;
  let prevCount = 0, prevAt = performance.now();
  for (;;) {
    const c = await d.externalCount();
    polls++;
    const now = performance.now();
    if (c !== last) { last = c; lastChange = now; }
    if ((down ? c <= want : c >= want) || now - lastChange > stallMs) return { count: c, at: lastChange - t0, polls };
    const rate = Math.abs(c - prevCount) / Math.max(1, now - prevAt);
    prevCount = c;
    prevAt = now;
    const eta = rate > 0 ? Math.abs(want - c) / rate : 100;
    await sleep(Math.min(100, Math.max(5, eta / 2)));
  }
}

async function replicate(
  pair: RunningPair, fw: [Netns, Netns], gen: Conntrack, enc: Encoded, flows: number, opt: BenchOptions,
): Promise<Replication> {
  const { sender, receiver } = pair;
  await sleep(1000);
  const rssBefore = rssBytes(receiver.pid);
  const l0 = await linkCounters(fw[0], 'sync0');
  const l1 = await linkCounters(fw[1], 'sync0');
  const c0 = [cpuSeconds(sender.pid), cpuSeconds(receiver.pid)];
  const s0 = [cpuSplit(sender.pid).system, cpuSplit(receiver.pid).system];
  const b0 = bpfNs(opt);
  const u0 = cpuBusy();
  const t0 = performance.now();
  const g = runBurst(gen, enc);
  const r = await waitReplicated(receiver, flows, opt.stallMs, t0);
  const c1 = [cpuSeconds(sender.pid), cpuSeconds(receiver.pid)];
  const s1 = [cpuSplit(sender.pid).system, cpuSplit(receiver.pid).system];
  const b1 = bpfNs(opt);
  const u1 = cpuBusy();
  // acknowledgements trail the data by up to a second (FTFW's idle ACK)
  await sleep(1200);
  const d0 = linkDelta(l0, await linkCounters(fw[0], 'sync0'));
  const d1 = linkDelta(l1, await linkCounters(fw[1], 'sync0'));
  const rssAfter = rssBytes(receiver.pid);
  return {
    flows, generatorRate: g.rate, generatorSeconds: g.seconds, generatorFailed: g.failed,
    replicated: r.count, seconds: r.at / 1000, complete: r.count >= flows,
    cpuSender: c1[0] - c0[0], cpuReceiver: c1[1] - c0[1], sysSender: s1[0] - s0[0], sysReceiver: s1[1] - s0[1],
    bpfSeconds: (b1 - b0) / 1e9,
    busyA: opt.split ? u1[0] - u0[0] : NaN, busyB: opt.split ? u1[1] - u0[1] : NaN,
    dataBytes: d0.txBytes, dataPackets: d0.txPackets, ackBytes: d1.txBytes, ackPackets: d1.txPackets,
    sender: await sender.loss(), receiver: await receiver.loss(),
    rssBefore, rssAfter,
  };
}

/**
 * Deletes every flow of the sender's kernel table (one flush: the kernel raises a DESTROY event
 * for each, back to back) and waits until the receiver's external cache is empty again (or stops
 * shrinking for stallMs): the daemons have then handled a whole cycle of creates and deletes, as a
 * firewall's daemon always has, and their code is compiled.
 */
async function deleteAll(pair: RunningPair, gen: Conntrack, opt: BenchOptions): Promise<Deletion> {
  const { sender, receiver } = pair;
  const flows = await receiver.externalCount();
  const l0 = [await sender.loss(), await receiver.loss()];
  const c0 = [cpuSeconds(sender.pid), cpuSeconds(receiver.pid)];
  const t0 = performance.now();
  gen.flush();
  const r = await waitReplicated(receiver, 0, opt.stallMs, t0, true);
  const c1 = [cpuSeconds(sender.pid), cpuSeconds(receiver.pid)];
  // a loss is reported at the daemon's next look at its counters: give it that moment
  await sleep(300);
  const l1 = [await sender.loss(), await receiver.loss()];
  const delta = (a: LossCounters, b: LossCounters): LossCounters => ({ lost: b.lost - a.lost, resyncs: b.resyncs - a.resyncs });
  return {
    flows, seconds: r.at / 1000, left: r.count, cpuSender: c1[0] - c0[0], cpuReceiver: c1[1] - c0[1],
    sender: delta(l0[0], l1[0]), receiver: delta(l0[1], l1[1]),
  };
}

async function commitAll(d: Daemon): Promise<CommitFigure> {
  const entries = await d.externalCount();
  const r = await d.commit();
  return { entries, ...r };
}

/**
 * The receiver's kernel emptied again (its daemon handles the destroy events while the peer is
 * still there), the sender's daemon stopped, and the receiver made master.
 */
async function failoverPhase(pair: RunningPair, recvCt: Conntrack, opt: BenchOptions): Promise<FailoverFigure> {
  recvCt.flush();
  const end = performance.now() + opt.stallMs * 10;
  while ((await pair.receiver.internalCount()) > 0 && performance.now() < end) await sleep(100);
  await pair.stopSender();
  const entries = await pair.receiver.externalCount();
  return { entries, ...(await pair.receiver.becomeMaster()) };
}

/**
 * The kernel's own time for the creates of a commit without NEW events (FailoverFigure
 * .kernelSeconds): the median of three bursts into the emptied table.
 */
async function kernelCreates(ns: Netns, ct: Conntrack, enc: Encoded): Promise<number> {
  const listener = inNetns(ns.name, () => new NetlinkSocket());
  try {
    listener.join(GROUP.UPDATE);
    listener.join(GROUP.DESTROY);
    return await medianBurst(ct, () => runBurst(ct, enc).seconds);
  } finally {
    await listener.close();
  }
}

/**
 * Firewall A's busy time for a burst of the same N creates with no daemon running (no event
 * listener, so the kernel builds no events): the traffic's own cost, which the replication's busy
 * time of CPU 0 includes. Median of three; NaN in the shared layout.
 */
async function trafficAlone(ct: Conntrack, enc: Encoded, opt: BenchOptions): Promise<number> {
  if (!opt.split) return NaN;
  return medianBurst(ct, () => {
    const u0 = cpuBusy()[0];
    runBurst(ct, enc);
    return cpuBusy()[0] - u0;
  });
}

/** The median of three measured bursts, each into ct's emptied table (left empty after). */
async function medianBurst(ct: Conntrack, measure: () => number): Promise<number> {
  const v: number[] = [];
  try {
    for (let k = 0; k < 3; k++) {
      ct.flush();
      // the kernel frees entries through RCU and timers: give the last burst's time to end
      await sleep(1000);
      v.push(measure());
    }
  } finally {
    ct.flush();
  }
  return v.sort((x, y) => x - y)[1];
}

async function latencyPhase(lab: Lab, pair: RunningPair, fw: [Netns, Netns], gen: Conntrack, opt: BenchOptions, tag: string): Promise<Latency> {
  const count = Math.round(opt.rate * opt.seconds);
  // chunks every 2 ms: flows leave the generator in small groups, as a busy firewall makes them
  const perChunk = Math.max(1, Math.round(opt.rate / 500));
  const enc = encodeCreates(0, count, perChunk);
  await sleep(1000);
  const cap = await startCapture(lab, fw[1], 'sync0', ADDR.sync[0], join(lab.dir, `latency-${tag}.pcap`));
  const g = await paced(gen, enc, opt.rate);
  await waitReplicated(pair.receiver, count, opt.stallMs, performance.now());
  await sleep(300);
  const dropped = await stopCapture(lab, cap);
  if (dropped) opt.log(`  tcpdump: ${dropped} packets dropped by the kernel`);
  const packets = readPcap(cap.file);
  const created: { tag: string; at: number }[] = [];
  let i = 0;
  enc.counts.forEach((n, k) => {
    for (let j = 0; j < n; j++, i++) {
      const f = flowAt(i);
      created.push({ tag: flowTag(f.orig.src, f.orig.sport!), at: g.stamps[k] });
    }
  });
  const arrivals = firstArrivals(packets);
  const s = summarise(created, arrivals);
  if (s.matched < s.flows) opt.log(`  ${packets.length} datagrams captured, ${arrivals.size} flows in them; missing ${created.map((c, i) => (arrivals.has(c.tag) ? -1 : i)).filter((i) => i >= 0).slice(0, 40).join(' ')}`);
  return { ...s, rate: opt.rate, generatorRate: g.rate };
}

/** Runs every phase for one daemon on the lab's pair of namespaces. */
export async function benchSubject(lab: Lab, fw: [Netns, Netns], gens: [Conntrack, Conntrack], name: SubjectName, opt: BenchOptions, pre: { n: Encoded; warm: Encoded; big: Encoded }): Promise<SubjectResult> {
  const say = (m: string) => opt.log(`[${name}] ${m}`);

  say(`replication of ${opt.n} flows`);
  let pair = await startPair(name, lab, fw, opt.pair);
  let replication: Replication, warm: Replication, commit: CommitFigure, failover: FailoverFigure;
  const warmRuns: Replication[] = [];
  const deletions: Deletion[] = [];
  const deleted = async () => {
    const d = await deleteAll(pair, gens[0], opt);
    deletions.push(d);
    say(`  deleted: the peer's cache from ${d.flows} to ${d.left} in ${d.seconds.toFixed(3)} s, CPU sender ${d.cpuSender.toFixed(2)} s, receiver ${d.cpuReceiver.toFixed(2)} s, lost ${d.sender.lost}, resyncs ${d.sender.resyncs}`);
  };
  try {
    replication = await replicate(pair, fw, gens[0], pre.n, opt.n, opt);
    say(`  ${replication.replicated}/${opt.n} in ${replication.seconds.toFixed(3)} s; all deleted again`);
    await deleted();
    for (let k = 0; k < opt.warmRuns; k++) {
      if (k > 0) await deleted();
      // the tuples alternate, so that a burst never meets the last one's entries still dying
      const r = await replicate(pair, fw, gens[0], k % 2 === 0 ? pre.warm : pre.n, opt.n, opt);
      warmRuns.push(r);
      say(`  again with new flows (steady state ${k + 1}/${opt.warmRuns}): ${r.replicated}/${opt.n} in ${r.seconds.toFixed(3)} s, CPU sender ${r.cpuSender.toFixed(2)} s, receiver ${r.cpuReceiver.toFixed(2)} s`);
    }
    warm = medianRun(warmRuns);
    say('  commit');
    commit = await commitAll(pair.receiver);
    say(`  commit of ${commit.entries}: ${commit.wallSeconds.toFixed(3)} s`);
    failover = await failoverPhase(pair, gens[1], opt);
    say(`  failover with ${failover.entries}, the sender stopped: ${failover.wallSeconds.toFixed(3)} s, the commit ${failover.commitSeconds?.toFixed(3)} s`);
  } finally {
    await pair.stop();
  }
  failover.kernelSeconds = await kernelCreates(fw[1], gens[1], pre.n);
  say(`  the kernel alone, ${opt.n} creates from a bare socket (median of three): ${failover.kernelSeconds.toFixed(3)} s`);
  const trafficSeconds = await trafficAlone(gens[0], pre.warm, opt);
  if (opt.split) say(`  the traffic alone, no daemon running: CPU 0 busy ${trafficSeconds.toFixed(3)} s (median of three)`);
  let floor: Floor | null = null;
  if (name === 'ctsync' && warm.dataPackets > 0) {
    const stream = { datagrams: warm.dataPackets, size: Math.round(warm.dataBytes / warm.dataPackets) - L2_UDP_OVERHEAD, ms: warm.seconds * 1000 };
    floor = await dgramFloor(lab, fw, stream, opt.pair.cpus);
    say(`  node:dgram alone, ${stream.datagrams} datagrams of ${stream.size} bytes: sender ${floor.sender.toFixed(3)} s, receiver ${floor.receiver.toFixed(3)} s CPU (median of three; ${floor.received} received)`);
  }
  await flushTables(gens);

  say(`latency at ${opt.rate} flows/s for ${opt.seconds} s`);
  pair = await startPair(name, lab, fw, opt.pair);
  let latency: Latency;
  try {
    latency = await latencyPhase(lab, pair, fw, gens[0], opt, name);
    say(`  p50 ${latency.p50.toFixed(2)} ms, p99 ${latency.p99.toFixed(2)} ms (${latency.matched}/${latency.flows} seen)`);
  } finally {
    await pair.stop();
  }
  await flushTables(gens);

  say(`burst of ${opt.big} flows`);
  pair = await startPair(name, lab, fw, opt.pair);
  let burst: Replication, bigCommit: CommitFigure;
  try {
    burst = await replicate(pair, fw, gens[0], pre.big, opt.big, opt);
    say(`  ${burst.replicated}/${opt.big} in ${burst.seconds.toFixed(3)} s, lost ${burst.sender.lost}, resyncs ${burst.sender.resyncs}; commit`);
    bigCommit = await commitAll(pair.receiver);
    say(`  commit of ${bigCommit.entries}: ${bigCommit.wallSeconds.toFixed(3)} s`);
  } finally {
    await pair.stop();
  }
  await flushTables(gens);
  return { name, replication, warm, warmRuns, deletion: medianDeletion(deletions), deletions, commit, failover, latency, burst, bigCommit, trafficSeconds, floor };
}

/** Builds the lab, runs every daemon, tears the lab down. */
export async function runBench(lab: Lab, opt: BenchOptions): Promise<SubjectResult[]> {
  const fw = await buildSyncPair(lab);
  const gens: [Conntrack, Conntrack] = [fw[0].conntrack(), fw[1].conntrack()];
  try {
    // encoding happens once, before any clock runs; both daemons get the very same requests
    const pre = { n: encodeCreates(0, opt.n), warm: encodeCreates(opt.n, 2 * opt.n), big: encodeCreates(0, opt.big) };
    const out: SubjectResult[] = [];
    for (const s of opt.subjects) out.push(await benchSubject(lab, fw, gens, s, opt, pre));
    return out;
  } finally {
    for (const g of gens) await g.close();
  }
}

/** The burst size the kernel allows: nf_conntrack_max per namespace, minus room for the sync link's own entries. */
export function burstSize(requested: number): number {
  return Math.min(requested, conntrackMax() - 256);
}
