// Where the daemon's latency stages are measured. Every stamp is CLOCK_MONOTONIC, the clock of the
// kernel's event stamps (bpf_ktime_get_ns), so kernel and user-space times compare directly:
//
//   kernel-to-read    kernel event stamp -> the record read from the ring buffer (every event)
//   kernel-to-wire    kernel event stamp -> the last datagram of its batch handed to the socket
//                     (the send callback of node:dgram: the kernel has taken the datagram)
//   wire-to-cache     datagram received by the daemon -> its message applied to the external cache
//   wire-to-kernel    datagram received -> the kernel acknowledged the inject batch holding it
//                     (disable-external-cache)
//   commit-per-entry  commit time per entry, per batch of creates (chunk time / entries)
//   commit            duration of whole commits
//
// The daemon calls: read(ev) per event; stamp(ns) per event it queues; begin() / end() around the
// flush of a batch, with its transport wrapped by wrap(); datagram() per received datagram;
// cached() per message applied; queued() / injected() around the injector.
import type { Transport } from '../sync/mode.ts';
import { monotonicNsFast } from '../kernel/libc.ts';
import { Latency } from './histogram.ts';
import { EventCounter } from './events.ts';

/** A transport whose send can tell when the datagram has been handed to the socket (LinkSet). */
export interface AckingTransport extends Transport {
  send(buf: Uint8Array, len: number, sent?: () => void): void;
}

interface Batch {
  /** kernel stamps of the batch's events, ns: the first n of the array */
  stamps: number[];
  n: number;
  /** datagrams sent for it whose callback has not come yet */
  pending: number;
  sent: number;
  closed: boolean;
}

export const monoNs = monotonicNsFast;

export class Probes {
  readonly latency = {
    kernelToRead: new Latency('kernel-to-read'),
    kernelToWire: new Latency('kernel-to-wire'),
    wireToCache: new Latency('wire-to-cache'),
    wireToKernel: new Latency('wire-to-kernel'),
    commitEntry: new Latency('commit-per-entry'),
    commit: new Latency('commit'),
  };
  readonly events = new EventCounter();
  /** event stamps of batches whose flush sent nothing (their messages were dropped or merged away) */
  unsent = 0;
  private open: Batch | undefined;
  private stamps: number[] = [];
  private stampN = 0;
  private rxNs = 0;
  private injectRx: number[] = [];

  constructor(private readonly nowNs: () => number = monoNs) {}

  // ---- sender ----

  /** An event read from the kernel; `kernelNs` when the source stamps events. */
  read(kernelNs: bigint | undefined): void {
    if (kernelNs !== undefined) this.latency.kernelToRead.add((this.nowNs() - Number(kernelNs)) / 1000);
  }

  /** The sync mode's transport, with sends of an open batch tracked to their socket hand-over. */
  wrap(t: AckingTransport): Transport {
    return {
      get maxPayload() { return t.maxPayload; },
      acquire: () => t.acquire(),
      send: (buf, len) => {
        const b = this.open;
        if (!b) return t.send(buf, len);
        b.pending++;
        b.sent++;
        t.send(buf, len, () => {
          if (--b.pending === 0 && b.closed) this.record(b);
        });
      },
      heard: (link) => t.heard?.(link),
    };
  }

  /** The kernel stamp of an event queued for the peer, for the next batch. */
  stamp(kernelNs: number): void {
    if (this.stampN < 65536) this.stamps[this.stampN++] = kernelNs;
  }

  /**
   * Opens a batch: the datagrams sent until end() carry the messages of the events stamped since
   * the last one. The batch keeps its stamps until its last datagram is sent; arrays are recycled
   * and never shrunk (emptying a JavaScript array drops its storage, regrown every batch).
   */
  begin(): void {
    if (this.stampN === 0) {
      this.open = undefined;
      return;
    }
    this.open = { stamps: this.stamps, n: this.stampN, pending: 0, sent: 0, closed: false };
    this.stamps = this.spare.pop() ?? [];
    this.stampN = 0;
  }

  end(): void {
    const b = this.open;
    this.open = undefined;
    if (!b) return;
    b.closed = true;
    if (b.pending > 0) return;
    if (b.sent > 0) this.record(b);
    else {
      this.unsent += b.n;
      this.recycle(b.stamps);
    }
  }

  private record(b: Batch): void {
    const now = this.nowNs(), ms = Date.now();
    const s = b.stamps;
    for (let i = 0; i < b.n; i++) this.latency.kernelToWire.add((now - s[i]) / 1000, ms);
    this.recycle(b.stamps);
  }

  private readonly spare: number[][] = [];

  private recycle(stamps: number[]): void {
    // kept whole, so a few: one batch waits for its socket while the next fills
    if (this.spare.length < 4) this.spare.push(stamps);
  }

  // ---- receiver ----

  /** A datagram arrived from the peer (before its messages are applied). */
  datagram(): void {
    this.rxNs = this.nowNs();
  }

  /** A message of the current datagram was applied to the external cache. */
  cached(n = 1): void {
    this.latency.wireToCache.addMany((this.nowNs() - this.rxNs) / 1000, n);
  }

  /** A message of the current datagram was queued for injection into the kernel. */
  queued(): void {
    if (this.injectRx.length < 1 << 20) this.injectRx.push(this.rxNs);
  }

  /** The injector's batch was acknowledged by the kernel. */
  injected(): void {
    const now = this.nowNs(), ms = Date.now();
    for (const t of this.injectRx) this.latency.wireToKernel.add((now - t) / 1000, ms);
    this.injectRx.length = 0;
  }

  // ---- commit ----

  /** One batch of commit creates: `entries` in `seconds`. */
  commitChunk(entries: number, seconds: number): void {
    if (entries > 0) this.latency.commitEntry.addMany((seconds * 1e6) / entries, entries);
  }

  commitDone(seconds: number): void {
    this.latency.commit.add(seconds * 1e6);
  }
}
