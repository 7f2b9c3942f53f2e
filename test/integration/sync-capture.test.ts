// timeout: 120
// Interop with the real conntrackd 1.4.7 (Debian): it runs in one namespace (FTFW over UDP),
// conntrack -I makes flows there, `conntrackd -B` bulk-sends them, a plain UDP socket in the peer
// namespace captures the datagrams. ctsync must decode every flow as it was created, and encode
// the kernel's view of the same flows into the same bytes (sequence number and flags aside).
// The other way round, conntrackd must accept ctsync's messages into its external cache.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withLab, type Lab } from '../lab/lab.ts';
import { TRACK_ALL } from '../lab/topology.ts';
import type { Netns } from '../lab/netns.ts';
import type { Agent } from '../lab/agent.ts';
import { type Expectation, type Flow, STATUS, tupleEqual } from '../../src/flow/flow.ts';
import { decodeDatagram, encodeCt, encodeExp, type DecodedMessage } from '../../src/sync/codec.ts';
import { FLAG, MAX_MESSAGE_SIZE, MSG, NTA } from '../../src/sync/wire.ts';

const CTD_ADDR = '203.0.113.1';
const CAP_ADDR = '203.0.113.2';

function config(dir: string): string {
  return `Sync {
	Mode FTFW {
	}
	UDP {
		IPv4_address ${CTD_ADDR}
		IPv4_Destination_Address ${CAP_ADDR}
		Port 3780
		Interface sync0
		Checksum on
	}
	Options {
		ExpectationSync on
	}
}
General {
	Systemd off
	HashSize 1024
	HashLimit 8192
	LogFile ${join(dir, 'conntrackd.log')}
	Syslog off
	LockFile ${join(dir, 'conntrackd.lock')}
	UNIX {
		Path ${join(dir, 'conntrackd.ctl')}
	}
	NetlinkEventsReliable on
	Filter From Userspace {
		Address Ignore {
			IPv4_address 127.0.0.1
			IPv4_address ${CTD_ADDR}
			IPv4_address ${CAP_ADDR}
			IPv6_address ::1
		}
	}
}
`;
}

/** What conntrack -I is asked to create, and what a receiver must rebuild from the wire. */
const CREATE: { args: string; want: Partial<Flow> & Pick<Flow, 'family' | 'orig' | 'reply'>; statusBits: number }[] = [
  {
    args: '-p tcp -s 192.0.2.1 -d 198.51.100.2 --sport 40000 --dport 80 --state ESTABLISHED -u SEEN_REPLY,ASSURED --mark 7 -t 600',
    want: {
      family: 4, orig: { src: '192.0.2.1', dst: '198.51.100.2', proto: 6, sport: 40000, dport: 80 },
      reply: { src: '198.51.100.2', dst: '192.0.2.1', proto: 6, sport: 80, dport: 40000 }, mark: 7, timeout: 600, tcp: { state: 3 },
    },
    statusBits: STATUS.SEEN_REPLY | STATUS.ASSURED,
  },
  {
    args: '-p udp -s 192.0.2.1 -d 198.51.100.2 --sport 1000 --dport 53 -t 60 --zone 5 --dst-nat 198.51.100.9:5353',
    want: {
      family: 4, orig: { src: '192.0.2.1', dst: '198.51.100.2', proto: 17, sport: 1000, dport: 53 },
      reply: { src: '198.51.100.9', dst: '192.0.2.1', proto: 17, sport: 5353, dport: 1000 }, zone: 5, timeout: 60,
    },
    statusBits: STATUS.DST_NAT_DONE,
  },
  {
    args: '-p tcp -s 192.0.2.5 -d 198.51.100.2 --sport 50000 --dport 443 --state ESTABLISHED -u SEEN_REPLY --src-nat 198.51.100.77:61000 -t 300',
    want: {
      family: 4, orig: { src: '192.0.2.5', dst: '198.51.100.2', proto: 6, sport: 50000, dport: 443 },
      reply: { src: '198.51.100.2', dst: '198.51.100.77', proto: 6, sport: 443, dport: 61000 }, timeout: 300, tcp: { state: 3 },
    },
    statusBits: STATUS.SRC_NAT_DONE | STATUS.SEEN_REPLY,
  },
  {
    args: '-p icmp -s 192.0.2.1 -d 198.51.100.2 --icmp-type 8 --icmp-code 0 --icmp-id 4660 -t 30',
    want: {
      family: 4, orig: { src: '192.0.2.1', dst: '198.51.100.2', proto: 1, icmpType: 8, icmpCode: 0, icmpId: 4660 },
      reply: { src: '198.51.100.2', dst: '192.0.2.1', proto: 1, icmpType: 0, icmpCode: 0, icmpId: 4660 }, timeout: 30,
    },
    statusBits: 0,
  },
  {
    args: '-p icmp -s 192.0.2.3 -d 198.51.100.2 --icmp-type 8 --icmp-code 0 --icmp-id 4661 -t 30 --src-nat 198.51.100.78',
    want: {
      family: 4, orig: { src: '192.0.2.3', dst: '198.51.100.2', proto: 1, icmpType: 8, icmpCode: 0, icmpId: 4661 },
      reply: { src: '198.51.100.2', dst: '198.51.100.78', proto: 1, icmpType: 0, icmpCode: 0, icmpId: 4661 }, timeout: 30,
    },
    statusBits: STATUS.SRC_NAT_DONE,
  },
  {
    args: '-p tcp -s 2001:db8::1 -d 2001:db8::2 --sport 1 --dport 2 --state SYN_SENT -t 100 --mark 65261',
    want: {
      family: 6, orig: { src: '2001:db8::1', dst: '2001:db8::2', proto: 6, sport: 1, dport: 2 },
      reply: { src: '2001:db8::2', dst: '2001:db8::1', proto: 6, sport: 2, dport: 1 }, mark: 65261, timeout: 100, tcp: { state: 1 },
    },
    statusBits: 0,
  },
  {
    args: '-p udp -s 2001:db8::1 -d 2001:db8:2::9 --sport 5000 --dport 5001 -t 120 -u SEEN_REPLY --zone 9',
    want: {
      family: 6, orig: { src: '2001:db8::1', dst: '2001:db8:2::9', proto: 17, sport: 5000, dport: 5001 },
      reply: { src: '2001:db8:2::9', dst: '2001:db8::1', proto: 17, sport: 5001, dport: 5000 }, zone: 9, timeout: 120,
    },
    statusBits: STATUS.SEEN_REPLY,
  },
];

/** An FTP control connection with the kernel's ftp helper, and one expectation for it. */
const FTP_MASTER: Flow = {
  family: 4, orig: { src: '192.0.2.7', dst: '198.51.100.7', proto: 6, sport: 47496, dport: 21 },
  reply: { src: '198.51.100.7', dst: '192.0.2.7', proto: 6, sport: 21, dport: 47496 },
  status: STATUS.SEEN_REPLY | STATUS.ASSURED, timeout: 500, tcp: { state: 3 }, helper: 'ftp',
};
const FTP_EXP: Expectation = {
  family: 4, master: FTP_MASTER.orig,
  tuple: { src: '198.51.100.7', dst: '192.0.2.7', proto: 6, sport: 0, dport: 50002 },
  mask: { src: '255.255.255.255', dst: '255.255.255.255', proto: 6, sport: 0, dport: 0xffff },
  timeout: 300, helper: 'ftp',
};

/** A flow with a connlabel (bit 1); the kernel keeps 128 label bits per entry. */
const LABELED: Flow = {
  family: 4, orig: { src: '192.0.2.8', dst: '198.51.100.8', proto: 6, sport: 40008, dport: 8080 },
  reply: { src: '198.51.100.8', dst: '192.0.2.8', proto: 6, sport: 8080, dport: 40008 },
  status: STATUS.SEEN_REPLY | STATUS.ASSURED, timeout: 400, tcp: { state: 3 }, labels: [0x2],
};
/** Conntrack labels exist in a namespace only once a rule uses them. */
const LABELS_IN_USE = `
table inet ctsync_labels {
  chain pre {
    type filter hook prerouting priority 10; policy accept;
    ct label 127 accept
  }
}
`;

async function setup(lab: Lab, capture = true): Promise<{ ctdNs: Netns; capNs: Netns; peer: Agent }> {
  const ctdNs = await lab.netns('ctd');
  const capNs = await lab.netns('cap');
  await ctdNs.ip(`link add sync0 type veth peer name sync0 netns ${capNs.name}`);
  await ctdNs.ip('link set sync0 up');
  await capNs.ip('link set sync0 up');
  await ctdNs.ip(`addr add ${CTD_ADDR}/24 dev sync0`);
  await capNs.ip(`addr add ${CAP_ADDR}/24 dev sync0`);
  await ctdNs.nft(TRACK_ALL);
  await ctdNs.nft(LABELS_IN_USE);
  const peer = lab.agent(capNs, 'sync-peer');
  assert.is((await peer.next()).event, 'started');
  if (capture) assert.is((await peer.request({ cmd: 'capture', address: CAP_ADDR, port: 3780 })).event, 'ok');
  return { ctdNs, capNs, peer };
}

async function startConntrackd(lab: Lab, ns: Netns) {
  const conf = join(lab.dir, 'conntrackd.conf');
  writeFileSync(conf, config(lab.dir));
  const proc = ns.spawn('conntrackd', ['-C', conf]);
  let out = '';
  proc.stdout!.on('data', (d) => { out += d; });
  proc.stderr!.on('data', (d) => { out += d; });
  const sock = join(lab.dir, 'conntrackd.ctl');
  for (let i = 0; i < 100 && !existsSync(sock); i++) {
    if (proc.exitCode !== null) break;
    await sleep(100);
  }
  assert.ok(existsSync(sock), `conntrackd did not start: ${out}`);
  const client = (args: string[]) => ns.exec('conntrackd', ['-C', conf, ...args]);
  return { proc, client, output: () => out };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function captured(peer: Agent): Promise<DecodedMessage[]> {
  const r = await peer.request({ cmd: 'received' });
  const dgrams = r.dgrams as { hex: string; from: string }[];
  return dgrams.flatMap((d) => decodeDatagram(Uint8Array.from(Buffer.from(d.hex, 'hex'))));
}

async function waitFor(peer: Agent, what: string, cond: (m: DecodedMessage[]) => boolean): Promise<DecodedMessage[]> {
  for (let i = 0; i < 100; i++) {
    const m = await captured(peer);
    if (cond(m)) return m;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The message without the given attributes (length fixed), and the removed payloads in hex. */
function withoutAttrs(m: Uint8Array, ids: number[]): { rest: Uint8Array; removed: string[] } {
  const parts: Uint8Array[] = [m.slice(0, 8)];
  const removed: string[] = [];
  for (let p = 8; p < m.length;) {
    const len = (m[p] << 8) | m[p + 1];
    const id = (m[p + 2] << 8) | m[p + 3];
    const next = p + ((len + 3) & ~3);
    if (ids.includes(id)) removed.push(Buffer.from(m.slice(p + 4, p + len)).toString('hex'));
    else parts.push(m.slice(p, next));
    p = next;
  }
  const rest = Uint8Array.from(parts.flatMap((x) => [...x]));
  rest[2] = rest.length >> 8;
  rest[3] = rest.length & 0xff;
  return { rest, removed };
}

const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex').replace(/(..)/g, '$1 ').trim();
/** A message with the sequence number and flags blanked (they legitimately differ). */
function comparable(b: Uint8Array): string {
  const c = b.slice();
  c[1] = 0;
  c.fill(0, 4, 8);
  return hexOf(c);
}

test('conntrackd 1.4.7 bulk send: every flow decoded as created, and re-encoded byte for byte', async () => {
  await withLab('scap', async (lab) => {
    const { ctdNs, peer } = await setup(lab);
    const ctd = await startConntrackd(lab, ctdNs);
    const ct = ctdNs.conntrack();
    try {
      for (const c of CREATE) await ctdNs.conntrackCli(['-I', ...c.args.split(' ')]);
      assert.is(ct.create([FTP_MASTER]).failed.size, 0, 'ftp master');
      assert.is(ct.create([LABELED]).failed.size, 0, 'labeled flow');
      assert.is(ct.createExpectations([FTP_EXP]).failed.size, 0, 'expectation');
      const n = CREATE.length + 2;
      await waitFor(peer, 'the event messages', (m) => m.filter((x) => x.flow).length >= n && m.some((x) => x.exp));
      const before = (await captured(peer)).length;
      await ctd.client(['-B']);
      const all = await waitFor(peer, 'the bulk messages', (m) => m.slice(before).filter((x) => x.flow || x.exp).length >= n + 1);
      const bulk = all.slice(before).filter((x) => x.type <= MSG.EXP_DEL);

      assert.ok(all.every((m) => !m.error), 'every message decodes');
      assert.ok(bulk.every((m) => m.type === MSG.CT_NEW || m.type === MSG.EXP_NEW), 'never-updated entries go out as NEW');

      const kernel = ct.dump();
      const buf = new Uint8Array(MAX_MESSAGE_SIZE);
      const made = [...CREATE, { args: 'ftp', want: FTP_MASTER, statusBits: FTP_MASTER.status }, { args: 'labels', want: LABELED, statusBits: LABELED.status }];
      for (const c of made) {
        const what = `${c.want.orig.src} -> ${c.want.orig.dst} proto ${c.want.orig.proto}`;
        const msg = bulk.find((m) => m.flow && tupleEqual(m.flow.orig, c.want.orig));
        assert.ok(msg, `bulk message for ${what}`);
        const f = msg!.flow!;
        // field by field against what was created
        assert.is(f.family, c.want.family, `${what}: family`);
        assert.equal(f.orig, c.want.orig, `${what}: orig tuple`);
        assert.equal(f.reply, c.want.reply, `${what}: reply tuple rebuilt from the NAT attributes`);
        assert.is(f.status & c.statusBits, c.statusBits, `${what}: status 0x${f.status.toString(16)}`);
        assert.is(f.mark ?? 0, c.want.mark ?? 0, `${what}: mark`);
        assert.is(f.zone ?? 0, c.want.zone ?? 0, `${what}: zone`);
        assert.equal(f.tcp?.state, c.want.tcp?.state, `${what}: TCP state`);
        assert.is(f.helper, c.want.helper, `${what}: helper`);
        assert.equal(f.labels, c.want.labels, `${what}: labels`);
        assert.ok(f.timeout! <= c.want.timeout! && f.timeout! >= c.want.timeout! - 5, `${what}: timeout ${f.timeout}`);
        // the kernel's entry, encoded by ctsync, gives conntrackd's bytes
        const k = kernel.find((x) => tupleEqual(x.orig, c.want.orig));
        assert.ok(k, `${what}: in the kernel table`);
        const len = encodeCt(buf, 0, MSG.CT_NEW, 0, 0, { ...k!, timeout: f.timeout }, {});
        let theirs = msg!.bytes;
        if (c.want.orig.proto === 1 && c.statusBits) {
          // the one deliberate difference: conntrackd's zero SPAT/DPAT on NATed ICMP flows
          const { rest, removed } = withoutAttrs(theirs, [NTA.SPAT_PORT, NTA.DPAT_PORT]);
          assert.equal(removed, ['0000', '0000'], `${what}: conntrackd's ICMP NAT ports`);
          theirs = rest;
        }
        assert.is(comparable(buf.slice(0, len)), comparable(theirs), `${what}: ctsync's bytes`);
      }
      const em = bulk.find((m) => m.exp);
      assert.ok(em, 'expectation in the bulk');
      const e = em!.exp!;
      assert.equal(e.master, FTP_EXP.master, 'expectation master');
      assert.equal(e.tuple, FTP_EXP.tuple, 'expected tuple');
      assert.equal(e.mask, FTP_EXP.mask, 'mask');
      assert.is(e.helper, 'ftp');
      const ke = ct.dumpExpectations()[0];
      const elen = encodeExp(buf, 0, MSG.EXP_NEW, 0, 0, { ...ke, timeout: e.timeout }, {});
      assert.is(comparable(buf.slice(0, elen)), comparable(em!.bytes), 'expectation: ctsync\'s bytes');
    } finally {
      await ct.close();
      await lab.stop(ctd.proc);
    }
  });
});

test('conntrackd 1.4.7 accepts ctsync\'s messages into its external cache, none malformed', async () => {
  await withLab('scap', async (lab) => {
    const { ctdNs, peer } = await setup(lab);
    const ctd = await startConntrackd(lab, ctdNs);
    try {
      const flows: Flow[] = CREATE.map((c) => ({ ...c.want, status: c.statusBits | STATUS.CONFIRMED } as Flow));
      flows.push(FTP_MASTER);
      const buf = new Uint8Array(1472 + MAX_MESSAGE_SIZE);
      let off = 0;
      let seq = 1000;
      for (const f of flows) off += encodeCt(buf, off, MSG.CT_NEW, seq === 1000 ? FLAG.HELLO : 0, seq++, f, {});
      off += encodeExp(buf, off, MSG.EXP_NEW, 0, seq++, FTP_EXP, {});
      const r = await peer.request({ cmd: 'raw-send', hex: Buffer.from(buf.subarray(0, off)).toString('hex'), to: CTD_ADDR, port: 3780, from: CAP_ADDR });
      assert.is(r.event, 'ok', JSON.stringify(r));
      let ext = '';
      for (let i = 0; i < 50; i++) {
        ext = (await ctd.client(['-e'])).stdout;
        if (ext.trim().split('\n').length >= flows.length) break;
        await sleep(100);
      }
      const lines = ext.trim().split('\n');
      assert.is(lines.length, flows.length, ext);
      for (const f of flows) {
        const o = f.orig;
        const ports = o.sport !== undefined ? ` sport=${o.sport} dport=${o.dport}` : ` type=${o.icmpType} code=${o.icmpCode} id=${o.icmpId}`;
        const line = lines.find((l) => l.includes(`src=${o.src} dst=${o.dst}${ports}`));
        assert.ok(line, `conntrackd -e shows ${o.src} -> ${o.dst}: ${ext}`);
        if (f.mark) assert.match(line!, `mark=${f.mark}`);
        if (f.zone) assert.match(line!, `zone=${f.zone}`);
        if (f.helper) assert.match(line!, `helper=${f.helper}`);
      }
      const exp = (await ctd.client(['-e', 'expect'])).stdout;
      assert.match(exp, /dport=50002/);
      assert.match(exp, /helper=ftp/);
      const net = (await ctd.client(['-s', 'network'])).stdout;
      assert.match(net, /Malformed messages:\s+0\n/);
      assert.match(net, /Malformed payload:\s+0\n/);
    } finally {
      await lab.stop(ctd.proc);
    }
  });
});

interface ModeState {
  external: Flow[];
  stats: Record<string, number>;
  rsqueue: { kind: string }[];
}

test('a ctsync FTFW node and conntrackd 1.4.7 replicate both ways: HELLO, ACKs, RESYNC, nothing lost', async () => {
  await withLab('scap', async (lab) => {
    const { ctdNs, peer } = await setup(lab, false);
    const r = await peer.request({
      cmd: 'mode', kind: 'ftfw',
      links: [{ interface: 'sync0', kind: 'unicast', peer: CTD_ADDR, listenAddress: CAP_ADDR, port: 3780 }],
    });
    assert.is(r.event, 'ok', JSON.stringify(r));
    const ctd = await startConntrackd(lab, ctdNs);
    const state = async () => (await peer.request({ cmd: 'mode-state' })) as unknown as ModeState;
    try {
      // conntrackd -> ctsync: kernel events of the conntrackd node
      for (const c of CREATE) await ctdNs.conntrackCli(['-I', ...c.args.split(' ')]);
      // ctsync -> conntrackd: local objects of the ctsync node
      const ours: Flow[] = [0, 1, 2].map((i) => ({
        family: 4, orig: { src: '192.0.2.50', dst: '198.51.100.50', proto: 6, sport: 30000 + i, dport: 22 },
        reply: { src: '198.51.100.50', dst: '192.0.2.50', proto: 6, sport: 22, dport: 30000 + i },
        status: STATUS.SEEN_REPLY | STATUS.ASSURED | STATUS.CONFIRMED, timeout: 7200, mark: i, tcp: { state: 3 },
      }));
      assert.is((await peer.request({ cmd: 'create', flows: ours })).event, 'ok');
      let st = await state();
      for (let i = 0; i < 60 && (st.external.length < CREATE.length || st.rsqueue.some((e) => e.kind === 'object')); i++) {
        await sleep(100);
        st = await state();
      }
      for (const c of CREATE) {
        assert.ok(st.external.some((f) => tupleEqual(f.orig, c.want.orig) && tupleEqual(f.reply, c.want.reply)), `ctsync received ${c.args}`);
      }
      assert.is(st.rsqueue.filter((e) => e.kind === 'object').length, 0, 'conntrackd acknowledged our objects');
      let ext = '';
      for (let i = 0; i < 30; i++) {
        ext = (await ctd.client(['-e'])).stdout;
        if (ext.trim().split('\n').filter(Boolean).length >= ours.length) break;
        await sleep(100);
      }
      for (const f of ours) assert.match(ext, `sport=${f.orig.sport} dport=22 [ASSURED] mark=${f.mark}`);
      // RESYNC: conntrackd answers with its whole table
      const before = st.stats.rcvData;
      assert.is((await peer.request({ cmd: 'resync' })).event, 'ok');
      for (let i = 0; i < 50 && st.stats.rcvData < before + CREATE.length; i++) {
        await sleep(100);
        st = await state();
      }
      assert.ok(st.stats.rcvData >= before + CREATE.length, `bulk answer to RESYNC: ${st.stats.rcvData - before} messages`);
      await sleep(1500);
      st = await state();
      const bad = ['rcvMalformed', 'rcvLost', 'rcvBefore', 'sndMalformed', 'rcvNoAddress', 'applyFailed'].filter((k) => st.stats[k]);
      assert.equal(bad, [], `ctsync counters: ${JSON.stringify(st.stats)}`);
      assert.ok(st.stats.helloReceived >= 1, 'conntrackd said HELLO');
      const net = (await ctd.client(['-s', 'network'])).stdout;
      assert.match(net, /Malformed messages:\s+0\n/);
      assert.match(net, /Packets lost:\s+0\n/);
      const rs = (await ctd.client(['-s', 'rsqueue'])).stdout;
      assert.not.match(rs, /object ->/, `conntrackd's resend queue holds no object: ${rs}`);
    } finally {
      await lab.stop(ctd.proc);
    }
  });
});

test.run();
