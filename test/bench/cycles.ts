// Steady-state CPU of one daemon pair, for comparing two versions of ctsync: K cycles in one lab of
// N new flows, replicated, then deleted; prints each cycle's CPU seconds (sender, receiver) and the
// median of cycles 1..K (cycle 0, the first burst after the start, is left out). Whole
// `npm run bench` runs spread more, since each starts fresh daemons on a fresh lab.
//   node --import ./build/register.mjs test/bench/cycles.ts [N=100000] [K=6] [ctsync|conntrackd] [split|shared]
// split (the default, as `npm run bench`): this process and the sender on CPU 0, the receiver on CPU 1.
import { withLab } from '../lab/lab.ts';
import { buildSyncPair } from '../lab/topology.ts';
import { startPair } from './subjects.ts';
import { encodeCreates, burst } from './generator.ts';
import { cpuSplit, pinTo, sleep } from './proc.ts';
const N = Number(process.argv[2] ?? 100000);
const K = Number(process.argv[3] ?? 6);
const who = (process.argv[4] ?? 'ctsync') as 'ctsync' | 'conntrackd';
const split = (process.argv[5] ?? 'split') === 'split';
if (split) pinTo(process.pid, 0);
const med = (a: number[]) => { const s = [...a].sort((x, y) => x - y); return s[s.length >> 1]; };
await withLab('cyc', async (lab) => {
  const fw = await buildSyncPair(lab);
  const gen = fw[0].conntrack();
  const pair = await startPair(who, lab, fw, split ? { cpus: [0, 1] } : {});
  const snd: number[] = [], rcv: number[] = [];
  try {
    for (let k = 0; k <= K; k++) {
      const enc = encodeCreates((k % 2) * N, (k % 2) * N + N);
      await sleep(300);
      const a = [cpuSplit(pair.sender.pid), cpuSplit(pair.receiver.pid)];
      const t0 = performance.now();
      burst(gen, enc);
      while ((await pair.receiver.externalCount()) < N && performance.now() - t0 < 20000) await sleep(20);
      await sleep(100);
      const b = [cpuSplit(pair.sender.pid), cpuSplit(pair.receiver.pid)];
      const s = b[0].user + b[0].system - a[0].user - a[0].system, r = b[1].user + b[1].system - a[1].user - a[1].system;
      if (k > 0) { snd.push(s); rcv.push(r); }
      console.log(`cycle ${k}: ${((performance.now() - t0) / 1000).toFixed(2)} s sender ${s.toFixed(2)} receiver ${r.toFixed(2)}`);
      gen.flush();
      for (let i = 0; i < 200 && (await pair.receiver.externalCount()) > 0; i++) await sleep(50);
    }
    console.log(`${who} median sender ${med(snd).toFixed(3)} receiver ${med(rcv).toFixed(3)}`);
  } finally {
    await pair.stop();
    await gen.close();
  }
});
