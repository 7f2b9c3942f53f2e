// The daemons' floor on this runtime: what node:dgram alone costs for the datagrams ctsync's
// sender sent in a steady-state burst (same count, same size, same pace, same CPUs), sent by one
// process and received and discarded by another. DESIGN.md puts the sync link on node:dgram, so
// no ctsync sender or receiver can cost less than its end of this.
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import type { Lab } from '../lab/lab.ts';
import type { Netns } from '../lab/netns.ts';
import { ADDR } from '../lab/topology.ts';
import { scriptCommand } from '../../src/kernel/runtime.ts';
import { DEFAULT_BUFFER_BYTES } from '../../src/sync/link.ts';
import { IPV4_UDP_OVERHEAD } from '../../src/sync/wire.ts';
import { cpuSeconds, sleep } from './proc.ts';

/** The datagrams to replay: how many, their UDP payload size, and over how long. */
export interface Stream { datagrams: number; size: number; ms: number }

export interface Floor {
  /** CPU of the sending and of the discarding process for the stream, seconds */
  sender: number;
  receiver: number;
  /** datagrams the receiver counted, of stream.datagrams */
  received: number;
}

const PEER = fileURLToPath(new URL('./dgram-peer.ts', import.meta.url));
// the daemons' group on another port (theirs is 3780): a daemon still running never sees these
const GROUP = '225.0.0.50', PORT = '3781';
/** Ethernet, IPv4 and UDP headers: what a datagram adds to its payload in the link counters */
export const L2_UDP_OVERHEAD = 14 + IPV4_UDP_OVERHEAD;

/** A peer process and its stdin/stdout conversation. */
class Peer {
  private readonly lines: AsyncIterator<string>;
  constructor(readonly p: ChildProcess) {
    this.lines = createInterface({ input: p.stdout! })[Symbol.asyncIterator]();
  }
  async next(): Promise<string> {
    const r = await this.lines.next();
    if (r.done) throw new Error('a node:dgram floor process exited early');
    return r.value;
  }
  ask(): Promise<string> {
    this.p.stdin!.write('\n');
    return this.next();
  }
  cpu(): number { return cpuSeconds(this.p.pid!); }
}

/** Replays the stream from fw[0] to fw[1] three times; the round with the median receiver CPU. */
export async function dgramFloor(lab: Lab, fw: [Netns, Netns], stream: Stream, cpus?: [number, number]): Promise<Floor> {
  const spawn = (i: 0 | 1, args: string[]) => {
    const [cmd, argv] = scriptCommand(PEER, args);
    return new Peer(fw[i].spawn(cmd, argv, { cpu: cpus?.[i] }));
  };
  const rx = spawn(1, ['receive', GROUP, ADDR.sync[1], PORT, String(DEFAULT_BUFFER_BYTES)]);
  const tx = spawn(0, ['send', GROUP, ADDR.sync[0], PORT, String(stream.datagrams), String(stream.size), String(Math.round(stream.ms))]);
  try {
    for (const p of [rx, tx]) if ((await p.next()) !== 'ready') throw new Error('a node:dgram floor process did not start');
    const rounds: Floor[] = [];
    for (let k = 0; k < 3; k++) {
      const before = Number(await rx.ask());
      const c0 = [tx.cpu(), rx.cpu()];
      if ((await tx.ask()) !== 'sent') throw new Error('the floor sender did not send');
      // the last datagrams may still be queued: wait until the count stops moving
      let got = Number(await rx.ask()), last = -1;
      while (got !== last && got - before < stream.datagrams) { await sleep(50); last = got; got = Number(await rx.ask()); }
      rounds.push({ sender: tx.cpu() - c0[0], receiver: rx.cpu() - c0[1], received: got - before });
    }
    return rounds.sort((a, b) => a.receiver - b.receiver)[1];
  } finally {
    await lab.stop(tx.p);
    await lab.stop(rx.p);
  }
}
