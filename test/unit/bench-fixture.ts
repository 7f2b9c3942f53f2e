// A bench Replication and Deletion (test/bench/run.ts) for the unit tests of the bench's summaries:
// plausible figures for 100,000 flows, with the ones a test is about given.
import type { Replication, Deletion } from '../../test/bench/run.ts';

export function replication(over: Partial<Replication> = {}): Replication {
  return {
    flows: 100000, generatorRate: 1e5, generatorSeconds: 1, generatorFailed: 0, replicated: 100000,
    seconds: 0.8, complete: true, cpuSender: 0.4, cpuReceiver: 0.1, sysSender: 0.1, sysReceiver: 0.05,
    bpfSeconds: 0.02, busyA: 0.8, busyB: 0.1, dataBytes: 8e6, dataPackets: 6000, ackBytes: 2e4, ackPackets: 333,
    sender: { lost: 0, resyncs: 0 }, receiver: { lost: 0, resyncs: 0 }, rssBefore: 1, rssAfter: 2,
    ...over,
  };
}

/** A steady-state delete of 100,000 flows, with the figures a test is about given. */
export function deletion(over: Partial<Deletion> = {}): Deletion {
  return {
    flows: 100000, seconds: 1, left: 0, cpuSender: 0.3, cpuReceiver: 0.1,
    sender: { lost: 0, resyncs: 0 }, receiver: { lost: 0, resyncs: 0 },
    ...over,
  };
}
