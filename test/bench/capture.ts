// Replication latency as the wire shows it, the same way for both daemons: tcpdump in the
// receiver's namespace records the sync link with kernel timestamps (ns), and each flow's first
// data message (CT_NEW, or CT_UPD when the sender coalesced) is matched to the time the generator
// created the flow. Decoding uses the conntrackd 1.4.7 codec of src/sync.
import { readFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import type { Lab } from '../lab/lab.ts';
import type { Netns } from '../lab/netns.ts';
import { decodeDatagram } from '../../src/sync/codec.ts';
import { MSG } from '../../src/sync/wire.ts';
import { flowTag } from './generator.ts';
import { sleep } from './proc.ts';

export interface Capture {
  file: string;
  proc: ChildProcess;
  /** tcpdump's messages (its closing statistics say whether the kernel dropped packets) */
  stderr(): string;
}

/** Starts tcpdump on `ifname` for datagrams from `source` to the sync port; resolves once it listens. */
export async function startCapture(lab: Lab, ns: Netns, ifname: string, source: string, file: string, port = 3780): Promise<Capture> {
  const proc = ns.spawn('tcpdump', [
    '-i', ifname, '-n', '-U', '--immediate-mode', '-s', '0', '-B', '32768', '--time-stamp-precision=nano', '-w', file,
    `udp and src host ${source} and dst port ${port}`,
  ]);
  let err = '';
  proc.stderr?.on('data', (d) => { err += d; });
  const end = Date.now() + 10000;
  while (!/listening on/.test(err)) {
    if (proc.exitCode !== null) throw new Error(`tcpdump exited: ${err.trim()}`);
    if (Date.now() > end) throw new Error(`tcpdump did not start: ${err.trim()}`);
    await sleep(20);
  }
  void lab;
  return { file, proc, stderr: () => err };
}

/** Stops tcpdump; returns the packets it says the kernel dropped. */
export async function stopCapture(lab: Lab, c: Capture): Promise<number> {
  // tcpdump writes out what it holds on SIGTERM
  await lab.stop(c.proc, 5000);
  await sleep(50);
  const m = /(\d+) packets? dropped by kernel/.exec(c.stderr());
  return m ? Number(m[1]) : 0;
}

export interface Packet {
  /** epoch ms, fractional (ns precision from the pcap) */
  at: number;
  /** UDP payload */
  payload: Uint8Array;
}

const LINKTYPE_ETHERNET = 1;

/** Reads a pcap file (microsecond or nanosecond variant, Ethernet, IPv4/IPv6 + UDP). */
export function readPcap(file: string): Packet[] {
  const b = readFileSync(file);
  if (b.length < 24) return [];
  const magic = b.readUInt32LE(0);
  const nano = magic === 0xa1b23c4d;
  if (!nano && magic !== 0xa1b2c3d4) throw new Error(`${file}: not a little-endian pcap file`);
  if (b.readUInt32LE(20) !== LINKTYPE_ETHERNET) throw new Error(`${file}: link type ${b.readUInt32LE(20)} is not Ethernet`);
  const out: Packet[] = [];
  let o = 24;
  while (o + 16 <= b.length) {
    const sec = b.readUInt32LE(o);
    const frac = b.readUInt32LE(o + 4);
    const caplen = b.readUInt32LE(o + 8);
    const p = o + 16;
    o = p + caplen;
    if (o > b.length) break;
    let ip = p + 14;
    let etype = b.readUInt16BE(p + 12);
    if (etype === 0x8100) { etype = b.readUInt16BE(p + 16); ip += 4; }
    let udp: number;
    if (etype === 0x0800) udp = ip + (b[ip] & 0x0f) * 4;
    else if (etype === 0x86dd) udp = ip + 40;
    else continue;
    const len = b.readUInt16BE(udp + 4) - 8;
    const at = sec * 1000 + (nano ? frac / 1e6 : frac / 1e3);
    out.push({ at, payload: new Uint8Array(b.buffer, b.byteOffset + udp + 8, Math.min(len, o - udp - 8)) });
  }
  return out;
}

/** First arrival (epoch ms) of a data message for each flow, by flowTag. */
export function firstArrivals(packets: Packet[]): Map<string, number> {
  const seen = new Map<string, number>();
  for (const pkt of packets) {
    for (const m of decodeDatagram(pkt.payload)) {
      if (!m.flow || (m.type !== MSG.CT_NEW && m.type !== MSG.CT_UPD)) continue;
      const tag = flowTag(m.flow.orig.src, m.flow.orig.sport ?? 0);
      if (!seen.has(tag)) seen.set(tag, pkt.at);
    }
  }
  return seen;
}

export interface LatencySummary {
  /** flows created */
  flows: number;
  /** flows seen on the wire */
  matched: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Latency in ms per flow: arrival on the wire minus creation. */
export function summarise(created: { tag: string; at: number }[], arrivals: Map<string, number>): LatencySummary {
  const lat: number[] = [];
  for (const c of created) {
    const a = arrivals.get(c.tag);
    if (a !== undefined) lat.push(Math.max(0, a - c.at));
  }
  lat.sort((x, y) => x - y);
  const q = (p: number) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : NaN);
  return { flows: created.length, matched: lat.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: lat.length ? lat[lat.length - 1] : NaN };
}
