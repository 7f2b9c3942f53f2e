// timeout: 300
// ctsync and the Debian conntrackd 1.4.7 as a pair, both directions, FTFW and NOTRACK, multicast
// and unicast: flows created on one side (TCP established with state and mark, UDP with zone and
// a DNAT port change, SNAT, ICMP, IPv6) appear in the other side's external cache field by field.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withLab } from '../lab/lab.ts';
import { buildSyncPair, ADDR } from '../lab/topology.ts';
import { startCtsync, startConntrackd, until, type SyncSetup } from '../lab/daemons.ts';
import { formatCacheEntry } from '../../src/cli/format/index.ts';
import { type Flow, STATUS, tupleEqual } from '../../src/flow/flow.ts';
import { parseConntrackList } from '../lab/conntrack-text.ts';
import { FlowFilter } from '../../src/flow/filter.ts';

/** `conntrack -I` arguments (status before mark: conntrack-tools 1.4.7 quirk). */
const CREATE = [
  '-p tcp -s 192.0.2.1 -d 198.51.100.2 --sport 40000 --dport 80 --state ESTABLISHED -u SEEN_REPLY,ASSURED --mark 7 -t 600',
  '-p udp -s 192.0.2.1 -d 198.51.100.2 --sport 1000 --dport 53 -t 60 --zone 5 --dst-nat 198.51.100.9:5353',
  '-p tcp -s 192.0.2.5 -d 198.51.100.2 --sport 50000 --dport 443 --state ESTABLISHED -u SEEN_REPLY --src-nat 198.51.100.77:61000 -t 300',
  '-p icmp -s 192.0.2.1 -d 198.51.100.2 --icmp-type 8 --icmp-code 0 --icmp-id 4660 -t 30',
  '-p tcp -s 2001:db8::1 -d 2001:db8::2 --sport 1 --dport 2 --state SYN_SENT -t 100 --mark 65261',
  '-p udp -s 2001:db8::1 -d 2001:db8:2::9 --sport 5000 --dport 5001 -t 120 -u SEEN_REPLY --zone 9',
];

const MASK = STATUS.SEEN_REPLY | STATUS.ASSURED | STATUS.SRC_NAT | STATUS.DST_NAT;

function same(a: Flow, b: Flow): string | undefined {
  if (!tupleEqual(a.orig, b.orig)) return `orig ${JSON.stringify(a.orig)} vs ${JSON.stringify(b.orig)}`;
  if (!tupleEqual(a.reply, b.reply)) return `reply ${JSON.stringify(a.reply)} vs ${JSON.stringify(b.reply)}`;
  if ((a.status & MASK) !== (b.status & MASK)) return `status ${a.status} vs ${b.status}`;
  if ((a.mark ?? 0) !== (b.mark ?? 0)) return `mark ${a.mark} vs ${b.mark}`;
  if ((a.zone ?? 0) !== (b.zone ?? 0)) return `zone ${a.zone} vs ${b.zone}`;
  if ((a.tcp?.state ?? -1) !== (b.tcp?.state ?? -1)) return `tcp state ${a.tcp?.state} vs ${b.tcp?.state}`;
  if (Math.abs((a.timeout ?? 0) - (b.timeout ?? 0)) > 5) return `timeout ${a.timeout} vs ${b.timeout}`;
  return undefined;
}

const IGNORE = ['203.0.113.0/24', '2001:db8:3::/64'];
const SYNCED = FlowFilter.from({ ignoreAddresses: IGNORE });

function setups(i: 0 | 1, mode: 'ftfw' | 'notrack', unicast: boolean): SyncSetup {
  return {
    iface: 'sync0', local: ADDR.sync[i], mode, ignore: IGNORE, eventSource: 'netlink',
    ...(unicast ? { peer: ADDR.sync[1 - i] } : {}),
  };
}

for (const mode of ['ftfw', 'notrack'] as const) {
  for (const unicast of [false, true]) {
    const how = `${mode.toUpperCase()} ${unicast ? 'unicast' : 'multicast'}`;

    test(`${how}: conntrackd -> ctsync, every field in ctsync's external cache`, async () => {
      await withLab('io', async (lab) => {
        const [a, b] = await buildSyncPair(lab);
        const ctd = await startConntrackd(lab, a, setups(0, mode, unicast));
        const cts = await startCtsync(lab, b, setups(1, mode, unicast));
        for (const c of CREATE) await a.conntrackCli(['-I', ...c.split(' ')]);
        const ct = a.conntrack();
        const kernel = ct.dump().filter((f) => SYNCED.matches(f));
        await ct.close();
        assert.is(kernel.length, CREATE.length);
        await until(async () => (await cts.cache('external')).length >= CREATE.length, 15000, 'external cache filled');
        const ext = await cts.cache('external');
        assert.is(ext.length, CREATE.length, 'nothing else replicated');
        for (const k of kernel) {
          const e = ext.find((x) => tupleEqual(x.orig, k.orig));
          assert.ok(e, `replicated: ${JSON.stringify(k.orig)}`);
          const diff = same(e!, k);
          assert.not.ok(diff, `${JSON.stringify(k.orig)}: ${diff}`);
        }
        const s = await cts.snapshot();
        assert.is(s.network.rcvMalformed, 0, 'malformed');
        void ctd;
      });
    });

    test(`${how}: ctsync -> conntrackd, conntrackd -e shows every flow as its own text`, async () => {
      await withLab('io', async (lab) => {
        const [a, b] = await buildSyncPair(lab);
        const cts = await startCtsync(lab, a, setups(0, mode, unicast));
        const ctd = await startConntrackd(lab, b, setups(1, mode, unicast));
        for (const c of CREATE) await a.conntrackCli(['-I', ...c.split(' ')]);
        const ct = a.conntrack();
        const kernel = ct.dump().filter((f) => SYNCED.matches(f));
        await ct.close();
        const strip = (t: string) => t.split('\n').filter(Boolean).map((l) => l.replace(/ \[active since \d+s\]$/, '')).sort();
        let got: string[] = [];
        await until(async () => {
          got = strip((await ctd.client(['-e'])).stdout);
          return got.length >= CREATE.length;
        }, 15000, 'conntrackd external cache filled');
        // conntrackd prints what it received; ctsync's formatter prints what was sent
        const want = strip(kernel.map((f) => formatCacheEntry({ flow: f, activeSince: 0 }, 'external')).join('\n'));
        assert.equal(got, want);
        const net = (await ctd.client(['-s', 'network'])).stdout;
        assert.match(net, /Malformed messages:\s+0\n/);
        void cts;
      });
    });
  }
}

test('FTFW: the kernel entries committed from ctsync\'s external cache equal conntrackd\'s originals', async () => {
  await withLab('io', async (lab) => {
    const [a, b] = await buildSyncPair(lab);
    await startConntrackd(lab, a, setups(0, 'ftfw', false));
    const cts = await startCtsync(lab, b, setups(1, 'ftfw', false));
    for (const c of CREATE) await a.conntrackCli(['-I', ...c.split(' ')]);
    await until(async () => (await cts.cache('external')).length >= CREATE.length, 15000, 'external cache filled');
    await cts.request('commit');
    const list = async (ns: typeof a) => [
      ...parseConntrackList((await ns.conntrackCli(['-L', '-f', 'ipv4', '-o', 'extended'])).stdout),
      ...parseConntrackList((await ns.conntrackCli(['-L', '-f', 'ipv6', '-o', 'extended'])).stdout),
    ].filter((f) => !f.orig.src.startsWith('203.0.113.') && !f.orig.src.startsWith('2001:db8:3:')).map((f) => ({ ...f, timeout: 0, use: 0 }));
    const byKey = (x: { orig: { src: string; dport?: number; id?: number } }) => `${x.orig.src}|${x.orig.dport ?? x.orig.id}`;
    const want = (await list(a)).sort((x, y) => byKey(x).localeCompare(byKey(y)));
    const got = (await list(b)).sort((x, y) => byKey(x).localeCompare(byKey(y)));
    assert.equal(got, want);
  });
});

test.run();
