// timeout: 120
// ctsync's ctnetlink layer against the real kernel, with conntrack-tools as the witness.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withLab } from '../lab/lab.ts';
import { TRACK_ALL } from '../lab/topology.ts';
import { parseConntrackList, type CliFlow } from '../lab/conntrack-text.ts';
import { type Flow, STATUS, TCP_STATES, tupleEqual } from '../../src/flow/flow.ts';
import type { Netns } from '../lab/netns.ts';
import { NlWriter, NLM_F } from '../../src/kernel/nlmsg.ts';
import { SUBSYS_CT, CT_MSG, familyToAf, encodeFlow } from '../../src/kernel/ctnetlink.ts';
import { E, SysError } from '../../src/kernel/libc.ts';

const A = { tcp: 6, udp: 17, icmp: 1 };

const FLOWS: Flow[] = [
  { family: 4, orig: { src: '192.0.2.1', dst: '198.51.100.2', proto: A.tcp, sport: 40000, dport: 80 },
    reply: { src: '198.51.100.2', dst: '192.0.2.1', proto: A.tcp, sport: 80, dport: 40000 },
    status: STATUS.SEEN_REPLY | STATUS.ASSURED, timeout: 600, mark: 7, tcp: { state: 3 } },
  { family: 4, orig: { src: '192.0.2.1', dst: '198.51.100.2', proto: A.udp, sport: 1000, dport: 53 },
    reply: { src: '203.0.113.9', dst: '192.0.2.1', proto: A.udp, sport: 5353, dport: 1000 },
    status: STATUS.DST_NAT_DONE | STATUS.DST_NAT, timeout: 60, zone: 5 },
  { family: 4, orig: { src: '192.0.2.5', dst: '198.51.100.2', proto: A.tcp, sport: 50000, dport: 443 },
    reply: { src: '198.51.100.2', dst: '198.51.100.77', proto: A.tcp, sport: 443, dport: 61000 },
    status: STATUS.SEEN_REPLY | STATUS.SRC_NAT_DONE | STATUS.SRC_NAT, timeout: 300, tcp: { state: 3 } },
  { family: 4, orig: { src: '192.0.2.1', dst: '198.51.100.2', proto: A.icmp, icmpType: 8, icmpCode: 0, icmpId: 4660 },
    reply: { src: '198.51.100.2', dst: '192.0.2.1', proto: A.icmp, icmpType: 0, icmpCode: 0, icmpId: 4660 },
    status: 0, timeout: 30 },
  { family: 6, orig: { src: '2001:db8::1', dst: '2001:db8::2', proto: A.tcp, sport: 1, dport: 2 },
    reply: { src: '2001:db8::2', dst: '2001:db8::1', proto: A.tcp, sport: 2, dport: 1 },
    status: 0, timeout: 100, mark: 0xfeed, tcp: { state: 1 } },
  { family: 6, orig: { src: '2001:db8::1', dst: '2001:db8:2::9', proto: A.udp, sport: 5000, dport: 5001 },
    reply: { src: '2001:db8:2::9', dst: '2001:db8::1', proto: A.udp, sport: 5001, dport: 5000 },
    status: STATUS.SEEN_REPLY, timeout: 120, zone: 9 },
];

async function cli(ns: Netns): Promise<CliFlow[]> {
  const v4 = await ns.conntrackCli(['-L', '-f', 'ipv4', '-o', 'extended,id']);
  const v6 = await ns.conntrackCli(['-L', '-f', 'ipv6', '-o', 'extended,id']);
  return [...parseConntrackList(v4.stdout), ...parseConntrackList(v6.stdout)];
}

function sameTuple(c: CliFlow['orig'], t: Flow['orig']): boolean {
  return c.src === t.src && c.dst === t.dst && (c.sport ?? 0) === (t.sport ?? 0) && (c.dport ?? 0) === (t.dport ?? 0) &&
    (c.type ?? 0) === (t.icmpType ?? 0) && (c.code ?? 0) === (t.icmpCode ?? 0) && (c.id ?? 0) === (t.icmpId ?? 0);
}

/** Every field conntrack -L shows, compared with a Flow. */
function assertSame(c: CliFlow, f: Flow, what: string): void {
  assert.is(c.family, f.family === 4 ? 'ipv4' : 'ipv6', `${what}: family`);
  assert.is(c.proto, f.orig.proto, `${what}: protocol`);
  assert.ok(sameTuple(c.orig, f.orig), `${what}: orig tuple ${JSON.stringify(c.orig)} vs ${JSON.stringify(f.orig)}`);
  assert.ok(sameTuple(c.reply, f.reply), `${what}: reply tuple ${JSON.stringify(c.reply)} vs ${JSON.stringify(f.reply)}`);
  assert.is(c.state, f.tcp ? TCP_STATES[f.tcp.state] : undefined, `${what}: state`);
  assert.is(c.mark ?? 0, f.mark ?? 0, `${what}: mark`);
  assert.is(c.zone ?? 0, f.zone ?? 0, `${what}: zone`);
  assert.is(c.flags.includes('ASSURED'), Boolean(f.status & STATUS.ASSURED), `${what}: ASSURED`);
  assert.is(c.flags.includes('UNREPLIED'), !(f.status & STATUS.SEEN_REPLY), `${what}: UNREPLIED`);
}

test('flows created by ctsync are listed by conntrack -L with identical fields', async () => {
  await withLab('rt', async (lab) => {
    const ns = await lab.netns('fw');
    await ns.nft(TRACK_ALL);
    const ct = ns.conntrack();
    try {
      const r = ct.create(FLOWS);
      assert.is(r.failed.size, 0, `create failures: ${[...r.failed]}`);
      const listed = await cli(ns);
      assert.is(listed.length, FLOWS.length);
      for (const f of FLOWS) {
        const c = listed.find((l) => sameTuple(l.orig, f.orig) && l.proto === f.orig.proto);
        assert.ok(c, `listed: ${JSON.stringify(f.orig)}`);
        assertSame(c!, f, `${f.orig.src}->${f.orig.dst}/${f.orig.proto}`);
        assert.ok(c!.timeout <= f.timeout! && c!.timeout >= f.timeout! - 3, `timeout ${c!.timeout} vs ${f.timeout}`);
      }
    } finally {
      await ct.close();
    }
  });
});

test('flows created with conntrack -I are read back by a ctsync dump with every field equal', async () => {
  await withLab('rt', async (lab) => {
    const ns = await lab.netns('fw');
    await ns.nft(TRACK_ALL);
    const add = (a: string) => ns.conntrackCli(['-I', ...a.split(' ')]);
    await add('-s 192.0.2.1 -d 198.51.100.2 -p tcp --sport 40000 --dport 80 --state ESTABLISHED -t 600 -u SEEN_REPLY,ASSURED --mark 7');
    await add('-s 192.0.2.1 -d 198.51.100.2 -p udp --sport 1000 --dport 53 -t 60 --zone 5 --dst-nat 203.0.113.9:5353');
    await add('-s 192.0.2.5 -d 198.51.100.2 -p tcp --sport 50000 --dport 443 --state ESTABLISHED -t 300 -u SEEN_REPLY --src-nat 198.51.100.77:61000');
    await add('-s 192.0.2.1 -d 198.51.100.2 -p icmp --icmp-type 8 --icmp-code 0 --icmp-id 4660 -t 30');
    await add('-s 2001:db8::1 -d 2001:db8::2 -p tcp --sport 1 --dport 2 --state SYN_SENT -t 100 --mark 65261');
    await add('-s 2001:db8::1 -d 2001:db8:2::9 -p udp --sport 5000 --dport 5001 -t 120 -u SEEN_REPLY --zone 9');
    const listed = await cli(ns);
    const ct = ns.conntrack();
    try {
      const dumped = ct.dump();
      assert.is(dumped.length, 6);
      for (const c of listed) {
        const f = dumped.find((d) => d.id === c.id);
        assert.ok(f, `dumped id ${c.id}`);
        assertSame(c, f!, `id ${c.id}`);
        assert.ok(Math.abs(f!.timeout! - c.timeout) <= 2, `timeout ${f!.timeout} vs ${c.timeout}`);
        assert.is(f!.use, c.use, 'use');
      }
      // and against what was asked for, including the NAT the kernel derived
      for (const want of FLOWS) {
        const f = dumped.find((d) => tupleEqual(d.orig, want.orig));
        assert.ok(f, `dumped ${JSON.stringify(want.orig)}`);
        assert.ok(tupleEqual(f!.reply, want.reply), `reply of ${want.orig.dport}: ${JSON.stringify(f!.reply)}`);
        assert.is(f!.status & (STATUS.SRC_NAT | STATUS.DST_NAT), want.status & (STATUS.SRC_NAT | STATUS.DST_NAT), 'NAT bits');
      }
    } finally {
      await ct.close();
    }
  });
});

test('get, update, delete and a selective flush', async () => {
  await withLab('rt', async (lab) => {
    const ns = await lab.netns('fw');
    await ns.nft(TRACK_ALL);
    const ct = ns.conntrack();
    try {
      assert.is(ct.create(FLOWS).failed.size, 0);
      const tcp = FLOWS[0];
      const got = ct.get(tcp);
      assert.ok(got && got.mark === 7 && got.tcp?.state === 3);
      assert.is(ct.update([{ ...tcp, mark: 99, timeout: 1000 }]).failed.size, 0);
      const after = ct.get(tcp)!;
      assert.is(after.mark, 99);
      assert.ok(after.timeout! > 600);
      const dup = ct.create([tcp]);
      assert.is(dup.failed.get(0), 17, 'EEXIST without replace');
      const rep = ct.create([{ ...tcp, mark: 5 }], { replace: true });
      assert.is(rep.failed.size, 0, 'replace');
      assert.is(ct.get(tcp)!.mark, 5);
      assert.is(ct.delete([FLOWS[3]]).failed.size, 0);
      assert.is(ct.get(FLOWS[3]), undefined);
      const missing = ct.delete([FLOWS[3]]);
      assert.is(missing.failed.get(0), 2, 'ENOENT');
      const removed = ct.flushWhere((f) => f.family === 6);
      assert.is(removed, 2);
      const left = ct.dump();
      assert.is(left.length, 3);
      assert.ok(left.every((f) => f.family === 4));
    } finally {
      await ct.close();
    }
  });
});

test('a batch sent from a worker thread: entries created, failures by index, a closed socket rejects', async () => {
  await withLab('rt', async (lab) => {
    const ns = await lab.netns('fw');
    await ns.nft(TRACK_ALL);
    const ct = ns.conntrack();
    try {
      assert.is(ct.create([FLOWS[1]]).failed.size, 0);
      const w = new NlWriter(64 * 1024);
      const base = ct.reserveSeq(FLOWS.length);
      FLOWS.forEach((f, i) => {
        w.begin((SUBSYS_CT << 8) | CT_MSG.NEW, NLM_F.REQUEST | NLM_F.CREATE | NLM_F.EXCL, base + i, familyToAf(f.family));
        encodeFlow(w, f, { create: true });
        w.end();
      });
      const failed = await ct.sendBatchAsync(w.data(), base, FLOWS.length);
      assert.equal([...failed], [[1, E.EEXIST]], 'the entry that was there already: EEXIST at its index');
      assert.is(ct.dump().length, FLOWS.length);
      // larger than the socket's send buffer: refused by sendto itself, on the worker and again here
      try {
        await ct.sendBatchAsync(new Uint8Array(4 << 20), base, 1);
        assert.unreachable('an oversized send went out');
      } catch (e) {
        assert.instance(e, SysError);
        assert.is((e as SysError).errno, E.EMSGSIZE);
      }
    } finally {
      await ct.close();
    }
  });
});

test('expectations: created after their master with a helper, dumped, deleted', async () => {
  await withLab('rt', async (lab) => {
    const ns = await lab.netns('fw');
    await ns.nft(TRACK_ALL);
    const ct = ns.conntrack();
    try {
      const master: Flow = { ...FLOWS[0], orig: { ...FLOWS[0].orig, dport: 21 }, reply: { ...FLOWS[0].reply, sport: 21 }, helper: 'ftp' };
      assert.is(ct.create([master]).failed.size, 0);
      assert.is(ct.get(master)!.helper, 'ftp');
      const exp = {
        family: 4 as const,
        master: master.orig,
        tuple: { src: '198.51.100.2', dst: '192.0.2.1', proto: 6, sport: 0, dport: 50002 },
        mask: { src: '255.255.255.255', dst: '255.255.255.255', proto: 6, sport: 0, dport: 0xffff },
        timeout: 300,
        helper: 'ftp',
      };
      const r = ct.createExpectations([exp]);
      assert.is(r.failed.size, 0, `expectation create: ${[...r.failed]}`);
      const listed = await ns.conntrackCli(['-L', 'expect']);
      assert.match(listed.stdout, /dport=50002/);
      const dumped = ct.dumpExpectations();
      assert.is(dumped.length, 1);
      const e = dumped[0];
      assert.ok(tupleEqual(e.master, master.orig), 'master');
      assert.ok(tupleEqual(e.tuple, exp.tuple), `tuple ${JSON.stringify(e.tuple)}`);
      assert.is(e.mask.dport, 0xffff);
      assert.is(e.helper, 'ftp');
      assert.ok(e.timeout! <= 300 && e.timeout! >= 297);
      assert.is(ct.deleteExpectations([e]).failed.size, 0);
      assert.is(ct.dumpExpectations().length, 0);
    } finally {
      await ct.close();
    }
  });
});

test.run();
