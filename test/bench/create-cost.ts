// What 100,000 ctnetlink creates cost the kernel, by who listens to conntrack events: nobody, a
// NEW listener in the same namespace, an UPDATE and DESTROY listener only, a NEW listener in
// another namespace. The floor under any commit (docs/benchmarks.md, "A new master's commit").
//   node --import ./build/register.mjs test/bench/create-cost.ts [N=100000] [ROUNDS=2]
import { withLab } from '../lab/lab.ts';
import { buildSingle } from '../lab/topology.ts';
import { encodeCreates, burst } from './generator.ts';
import { NetlinkSocket } from '../../src/kernel/netlink.ts';
import { GROUP } from '../../src/kernel/ctnetlink.ts';
import { inNetns } from '../../src/kernel/netns.ts';

const N = Number(process.argv[2] ?? 100_000);
const ROUNDS = Number(process.argv[3] ?? 2);
const CASES = [
  { name: 'nobody listens', where: '', groups: [] },
  { name: 'NEW, UPDATE, DESTROY, same namespace', where: 'fw', groups: [GROUP.NEW, GROUP.UPDATE, GROUP.DESTROY] },
  { name: 'UPDATE, DESTROY, same namespace', where: 'fw', groups: [GROUP.UPDATE, GROUP.DESTROY] },
  { name: 'NEW, another namespace', where: 'other', groups: [GROUP.NEW] },
] as const;

await withLab('ccost', async (lab) => {
  const { fw } = await buildSingle(lab);
  const other = await lab.netns('other');
  const ct = fw.conntrack();
  const enc = encodeCreates(0, N);
  try {
    for (let r = 0; r < ROUNDS; r++) {
      for (const c of CASES) {
        // a listener that never reads: the kernel builds and offers each event, then drops it
        const l = c.where ? inNetns(c.where === 'fw' ? fw.name : other.name, () => new NetlinkSocket()) : undefined;
        for (const g of c.groups) l!.join(g);
        const cpu0 = process.cpuUsage();
        const b = burst(ct, enc);
        const cpu = process.cpuUsage(cpu0);
        console.log(`${c.name.padEnd(38)} ${b.created} created in ${b.seconds.toFixed(3)} s (system ${(cpu.system / 1e6).toFixed(3)} s)`);
        await l?.close();
        ct.flush();
        await new Promise((res) => setTimeout(res, 300));
      }
    }
  } finally {
    await ct.close();
  }
});
