// The load generator: real kernel conntrack entries made through ctnetlink in the sender's
// namespace. The requests are encoded before the clock starts (many creates per sendto, no
// acknowledgements but failures), so what is timed is the kernel creating the entries and emitting
// their NEW events, exactly as traffic would. Every flow is a TCP connection in ESTABLISHED
// (what a firewall pair mostly carries), with a distinct original tuple.
import type { Flow } from '../../src/flow/flow.ts';
import { STATUS, TCP_STATE, invertTuple } from '../../src/flow/flow.ts';
import type { Conntrack } from '../../src/kernel/conntrack.ts';
import { NlWriter, NLM_F, NLMSG, eachMessage } from '../../src/kernel/nlmsg.ts';
import { SUBSYS_CT, CT_MSG, AF_INET, encodeFlow } from '../../src/kernel/ctnetlink.ts';
import { E, errnoName } from '../../src/kernel/libc.ts';

/** Timeout (s) of generated entries: long enough that none expires during a run. */
export const FLOW_TIMEOUT = 3600;

/** The i-th flow of the load: client 192.0.2.1-254 port 1024-65023 -> server 198.51.100.x:443. */
export function flowAt(i: number): Flow {
  const host = 1 + (i % 254);
  const port = 1024 + (Math.floor(i / 254) % 64000);
  const server = 1 + (Math.floor(i / (254 * 64000)) % 254);
  const orig = { src: `192.0.2.${host}`, dst: `198.51.100.${server}`, proto: 6, sport: port, dport: 443 };
  return {
    family: 4, orig, reply: invertTuple(orig),
    status: STATUS.SEEN_REPLY | STATUS.ASSURED | STATUS.CONFIRMED,
    timeout: FLOW_TIMEOUT,
    tcp: { state: TCP_STATE.ESTABLISHED },
  };
}

/** The key the capture and the checks use for a flow: its original source address and port. */
export function flowTag(src: string, sport: number): string {
  return `${src}:${sport}`;
}

const CHUNK_BYTES = 128 * 1024;

/** Creates requests for flows [from, to), pre-encoded into sendto-sized chunks. */
export interface Encoded {
  chunks: Uint8Array[];
  /** flows per chunk, in order */
  counts: number[];
}

export function encodeCreates(from: number, to: number, perChunk = Infinity): Encoded {
  const chunks: Uint8Array[] = [];
  const counts: number[] = [];
  const w = new NlWriter(CHUNK_BYTES + 4096);
  let n = 0, seq = 1;
  const cut = () => {
    if (n === 0) return;
    chunks.push(w.data().slice());
    counts.push(n);
    w.reset();
    n = 0;
  };
  for (let i = from; i < to; i++) {
    w.begin((SUBSYS_CT << 8) | CT_MSG.NEW, NLM_F.REQUEST | NLM_F.CREATE | NLM_F.EXCL, seq++, AF_INET);
    encodeFlow(w, flowAt(i), { create: true });
    w.end();
    n++;
    if (w.len >= CHUNK_BYTES || n >= perChunk) cut();
  }
  cut();
  return { chunks, counts };
}

export interface SendResult {
  created: number;
  failed: number;
  /** errno name -> count */
  errors: Record<string, number>;
}

/** Sends one pre-encoded chunk; the kernel handles it inside sendto and queues only failures. */
export function sendChunk(ct: Conntrack, chunk: Uint8Array, count: number, into: SendResult): void {
  const s = ct.sock;
  s.send(chunk);
  let failed = 0;
  for (;;) {
    const n = s.recv();
    if (n === 0) break;
    if (n < 0) { into.errors.ENOBUFS = (into.errors.ENOBUFS ?? 0) + 1; continue; }
    eachMessage(s.rdv, n, (h, p) => {
      if (h.type !== NLMSG.ERROR) return;
      const err = -s.rdv.getInt32(p, true);
      if (err) {
        failed++;
        const name = errnoName(err);
        into.errors[name] = (into.errors[name] ?? 0) + 1;
      }
    });
  }
  into.created += count - failed;
  into.failed += failed;
}

export interface BurstResult extends SendResult {
  seconds: number;
  /** flows per second the generator achieved */
  rate: number;
}

/** Creates every pre-encoded flow as fast as the kernel takes them. */
export function burst(ct: Conntrack, enc: Encoded): BurstResult {
  const r: SendResult = { created: 0, failed: 0, errors: {} };
  const t0 = performance.now();
  for (let i = 0; i < enc.chunks.length; i++) sendChunk(ct, enc.chunks[i], enc.counts[i], r);
  const seconds = (performance.now() - t0) / 1000;
  return { ...r, seconds, rate: Math.round(r.created / Math.max(seconds, 1e-9)) };
}

export interface PacedResult extends SendResult {
  /** wall-clock ms (epoch, fractional) just before each chunk's sendto: no entry of it exists earlier */
  stamps: number[];
  seconds: number;
  rate: number;
}

/** Wall-clock time in ms with sub-ms precision (compares with tcpdump's packet stamps). */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Creates the flows at a steady rate: chunk k is sent at t0 + k × interval. Returns when every
 * chunk is out; stamps[k] is taken just before chunk k's sendto, in which the kernel creates them.
 */
export async function paced(ct: Conntrack, enc: Encoded, perSecond: number): Promise<PacedResult> {
  const r: SendResult = { created: 0, failed: 0, errors: {} };
  const stamps: number[] = [];
  const interval = (1000 * enc.counts[0]) / perSecond;
  const t0 = performance.now();
  for (let k = 0; k < enc.chunks.length; k++) {
    const due = t0 + k * interval;
    let wait = due - performance.now();
    while (wait > 1.5) {
      await new Promise((res) => setTimeout(res, Math.max(0, wait - 1)));
      wait = due - performance.now();
    }
    while (performance.now() < due) { /* the last millisecond: spin for precision */ }
    stamps.push(wallMs());
    sendChunk(ct, enc.chunks[k], enc.counts[k], r);
  }
  const seconds = (performance.now() - t0) / 1000;
  return { ...r, stamps, seconds, rate: Math.round(r.created / Math.max(seconds, 1e-9)) };
}

export { E };
