// conntrackd `-s` texts and VyOS `show conntrack-sync statistics`, byte for byte: the exact tab
// layout of conntrackd 1.4.7, and the seed documents' examples (whose rendering turned the tabs
// into spaces) reproduced after tab expansion.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type CacheStats, type LinkStats, type Snapshot, emptyCacheStats, emptySnapshot } from '../../src/control/snapshot.ts';
import {
  formatStats, formatStatsCt, formatStatsExpect, formatVyosStatistics, formatUptime, resolveStatsView,
  statsData, vyosStatisticsData, toJson,
} from '../../src/cli/format/index.ts';

/** Tabs to spaces with stops every 8 columns, as a terminal shows them. */
function expandTabs(s: string): string {
  return s.split('\n').map((line) => {
    let out = '';
    for (const c of line) out += c === '\t' ? ' '.repeat(8 - (out.length % 8)) : c;
    return out;
  }).join('\n');
}

function cache(active: number, created: number, updated: number, destroyed: number, extra: Partial<CacheStats> = {}) {
  return { kind: 'cache' as const, ...emptyCacheStats(), active, created, updated, destroyed, ...extra };
}

function link(name: string, transport: 'multicast' | 'udp', c: [number, number, number, number, number, number], role: 'ACTIVE' | 'BACKUP' = 'ACTIVE'): LinkStats {
  return {
    name, transport, role, status: 'RUNNING',
    bytesSent: c[0], bytesRecv: c[1], packetsSent: c[2], packetsRecv: c[3], errorsSend: c[4], errorsRecv: c[5],
  };
}

function seedSnapshot(): Snapshot {
  const s = emptySnapshot();
  s.conntrack = { internal: cache(19606, 6298470, 3786793, 6278864), external: cache(15771, 1660193, 77204, 1644422) };
  s.links = [link('eth0.5', 'multicast', [976826240, 212898000, 8302333, 2009929, 0, 0])];
  s.network.rcvLost = 263;
  return s;
}

// seed 001, "show conntrack-sync statistics" (operation section), tabs rendered as spaces
const SEED_MAIN = `Main Table Statistics:

cache internal:
current active connections:            19606
connections created:                 6298470    failed:            0
connections updated:                 3786793    failed:            0
connections destroyed:               6278864    failed:            0

cache external:
current active connections:            15771
connections created:                 1660193    failed:            0
connections updated:                   77204    failed:            0
connections destroyed:               1644422    failed:            0

traffic processed:
                   0 Bytes                         0 Pckts

multicast traffic (active device=eth0.5):
           976826240 Bytes sent            212898000 Bytes recv
             8302333 Pckts sent              2009929 Pckts recv
                   0 Error send                    0 Error recv

message tracking:
                   0 Malformed msgs                  263 Lost msgs


`;

test('VyOS statistics reproduce the seed example (after tab expansion)', () => {
  const out = formatVyosStatistics(seedSnapshot());
  assert.ok(out.startsWith('\nMain Table Statistics:\n\n'));
  assert.is(expandTabs(out.slice(1)), SEED_MAIN);
});

test('conntrackd -s: exact tabs and widths of §6.1 (multicast)', () => {
  const expected =
    'cache internal:\n' +
    'current active connections:\t       19606\n' +
    'connections created:\t\t     6298470\tfailed:\t           0\n' +
    'connections updated:\t\t     3786793\tfailed:\t           0\n' +
    'connections destroyed:\t\t     6278864\tfailed:\t           0\n' +
    '\n' +
    'cache external:\n' +
    'current active connections:\t       15771\n' +
    'connections created:\t\t     1660193\tfailed:\t           0\n' +
    'connections updated:\t\t       77204\tfailed:\t           0\n' +
    'connections destroyed:\t\t     1644422\tfailed:\t           0\n' +
    '\n' +
    'traffic processed:\n' +
    '                   0 Bytes                         0 Pckts\n' +
    '\n' +
    'multicast traffic (active device=eth0.5):\n' +
    '           976826240 Bytes sent            212898000 Bytes recv\n' +
    '             8302333 Pckts sent              2009929 Pckts recv\n' +
    '                   0 Error send                    0 Error recv\n' +
    '\n' +
    'message tracking:\n' +
    '                   0 Malformed msgs                  263 Lost msgs\n' +
    '\n';
  assert.is(formatStatsCt(seedSnapshot()), expected);
  assert.is(formatStats(seedSnapshot()), expected);
});

test('the two other seed examples (active and standby router)', () => {
  const active = emptySnapshot();
  active.conntrack = { internal: cache(10, 8517, 127, 8507), external: cache(0, 0, 0, 0) };
  active.links = [link('eth0', 'multicast', [868780, 224136, 20595, 14034, 0, 0])];
  const standby = emptySnapshot();
  standby.conntrack = { internal: cache(0, 0, 0, 0), external: cache(10, 888, 134, 878) };
  standby.links = [link('eth0', 'multicast', [234184, 907504, 14663, 21495, 0, 0])];
  const a = expandTabs(formatVyosStatistics(active));
  assert.ok(a.includes(`cache internal:
current active connections:               10
connections created:                    8517    failed:            0
connections updated:                     127    failed:            0
connections destroyed:                  8507    failed:            0
`));
  assert.ok(a.includes(`multicast traffic (active device=eth0):
              868780 Bytes sent               224136 Bytes recv
               20595 Pckts sent                14034 Pckts recv
                   0 Error send                    0 Error recv
`));
  const b = expandTabs(formatVyosStatistics(standby));
  assert.ok(b.includes(`cache external:
current active connections:               10
connections created:                     888    failed:            0
connections updated:                     134    failed:            0
connections destroyed:                   878    failed:            0
`));
  assert.ok(b.includes('              234184 Bytes sent               907504 Bytes recv\n'));
});

test('unicast: the UDP heading and the reference example (§3.3)', () => {
  const s = emptySnapshot();
  s.conntrack = { internal: cache(5, 5, 2, 0), external: cache(5, 5, 2, 0) };
  s.links = [link('kvb0', 'udp', [572, 564, 24, 22, 0, 0])];
  const out = formatStatsCt(s);
  assert.ok(out.includes('UDP traffic (active device=kvb0):\n' +
    '                 572 Bytes sent                  564 Bytes recv\n' +
    '                  24 Pckts sent                   22 Pckts recv\n' +
    '                   0 Error send                    0 Error recv\n\n'));
  assert.ok(out.includes('connections created:\t\t           5\tfailed:\t           0\n'));
  assert.not.ok(out.includes('multicast'));
});

test('the ACTIVE link is the one -s shows', () => {
  const s = emptySnapshot();
  s.links = [link('eth1', 'multicast', [1, 1, 1, 1, 0, 0], 'BACKUP'), link('eth2', 'multicast', [2, 2, 2, 2, 0, 0])];
  assert.ok(formatStatsCt(s).includes('multicast traffic (active device=eth2):\n'));
});

test('internal bypass and external inject blocks', () => {
  const s = emptySnapshot();
  s.conntrack = {
    internal: { kind: 'bypass', new: 3, updated: 4, destroyed: 5 },
    external: { kind: 'inject', created: 6, createFailed: 1, updated: 7, updateFailed: 2, destroyed: 8, destroyFailed: 3 },
  };
  const out = formatStatsCt(s);
  assert.ok(out.startsWith('internal bypass:\n' +
    'connections new:\t\t           3\n' +
    'connections updated:\t\t           4\n' +
    'connections destroyed:\t\t           5\n' +
    '\n' +
    'external inject:\n' +
    'connections created:\t\t           6\tfailed:\t           1\n' +
    'connections updated:\t\t           7\tfailed:\t           2\n' +
    'connections destroyed:\t\t           8\tfailed:\t           3\n' +
    '\n' +
    'traffic processed:\n'));
});

test('-s network: the network block followed by the link block', () => {
  const s = emptySnapshot();
  Object.assign(s.network, {
    rcvMalformed: 9, rcvBadVersion: 1, rcvBadHeader: 2, rcvBadPayload: 3, rcvBadType: 1, rcvTruncated: 1,
    rcvBadSize: 1, sndMalformed: 4, rcvLost: 11, rcvBefore: 12,
  });
  s.links = [link('eth0', 'multicast', [10, 20, 1, 2, 0, 0])];
  assert.is(formatStats(s, 'network'),
    'network statistics:\n' +
    '\trecv:\n' +
    '\t\tMalformed messages:\t                   9\n' +
    '\t\tWrong protocol version:\t                   1\n' +
    '\t\tMalformed header:\t                   2\n' +
    '\t\tMalformed payload:\t                   3\n' +
    '\t\tBad message type:\t                   1\n' +
    '\t\tTruncated message:\t                   1\n' +
    '\t\tBad message size:\t                   1\n' +
    '\tsend:\n' +
    '\t\tMalformed messages:\t                   4\n' +
    '\n' +
    'sequence tracking statistics:\n' +
    '\trecv:\n' +
    '\t\tPackets lost:\t\t                  11\n' +
    '\t\tPackets before:\t\t                  12\n' +
    '\n' +
    'multicast traffic (active device=eth0):\n' +
    '                  10 Bytes sent                   20 Bytes recv\n' +
    '                   1 Pckts sent                    2 Pckts recv\n' +
    '                   0 Error send                    0 Error recv\n' +
    '\n');
});

test('-s cache: one extended block per cache', () => {
  const s = emptySnapshot();
  s.conntrack = {
    internal: cache(7, 20, 30, 13, { objects: 8, total: 8, createFailed: 2, noSpace: 2, updateFailed: 1, updateNotFound: 1, destroyFailed: 3, deleteNotFound: 3 }),
    external: cache(1, 1, 0, 0, { objects: 1, total: 1 }),
  };
  assert.is(formatStats(s, 'cache'),
    'cache:internal\tactive objects:\t\t           8\n' +
    '\tactive/total entries:\t\t           7/           8\n' +
    '\tcreation OK/failed:\t\t          20/           2\n' +
    '\t\tno memory available:\t           0\n' +
    '\t\tno space left in cache:\t           2\n' +
    '\tupdate OK/failed:\t\t          30/           1\n' +
    '\t\tentry not found:\t           1\n' +
    '\tdeletion created/failed:\t          13/           3\n' +
    '\t\tentry not found:\t           3\n' +
    '\n' +
    'cache:external\tactive objects:\t\t           1\n' +
    '\tactive/total entries:\t\t           1/           1\n' +
    '\tcreation OK/failed:\t\t           1/           0\n' +
    '\t\tno memory available:\t           0\n' +
    '\t\tno space left in cache:\t           0\n' +
    '\tupdate OK/failed:\t\t           0/           0\n' +
    '\t\tentry not found:\t           0\n' +
    '\tdeletion created/failed:\t           0/           0\n' +
    '\t\tentry not found:\t           0\n' +
    '\n');
});

test('-s runtime, with the uptime in conntrackd words', () => {
  const s = emptySnapshot();
  s.daemon.uptimeSeconds = 2 * 86400 + 3 * 3600 + 4 * 60 + 59;
  Object.assign(s.runtime, {
    eventsReceived: 123456, eventsFiltered: 42, netlinkOverrun: 10, catchEventFailed: 10,
    flushKernelTable: 2, resyncKernelTable: 1, bufferSize: 2097152, localUnknownRequest: 1,
  });
  assert.is(formatStats(s, 'runtime'),
    'daemon uptime: 2 days 3 h 4 min\n' +
    '\n' +
    'netlink stats:\n' +
    '\tevents received:\t              123456\n' +
    '\tevents filtered:\t                  42\n' +
    '\tevents unknown type:\t\t           0\n' +
    '\tcatch event failed:\t\t          10\n' +
    '\tdump unknown type:\t\t           0\n' +
    '\tnetlink overrun:\t\t          10\n' +
    '\tflush kernel table:\t\t           2\n' +
    '\tresync with kernel table:\t           1\n' +
    '\tcurrent buffer size (in bytes):\t     2097152\n' +
    '\n' +
    'runtime stats:\n' +
    '\tchild process failed:\t\t           0\n' +
    '\t\tchild process segfault:\t           0\n' +
    '\t\tchild process termsig:\t           0\n' +
    '\tselect failed:\t\t\t           0\n' +
    '\twait failed:\t\t\t           0\n' +
    '\tlocal read failed:\t\t           0\n' +
    '\tlocal unknown request:\t\t           1\n' +
    '\n');
});

test('uptime text: days, hours and minutes as conntrackd writes them', () => {
  assert.is(formatUptime(59), '0 min');
  assert.is(formatUptime(61), '1 min');
  assert.is(formatUptime(3600 + 120), '1 h 2 min');
  assert.is(formatUptime(86400 + 300), '1 day 5 min');
  assert.is(formatUptime(86400 + 3600), '1 day 1 h 0 min');
  assert.is(formatUptime(3 * 86400), '3 days 0 min');
});

test('-s link, rsqueue, queue, process', () => {
  const s = emptySnapshot();
  s.links = [link('eth0', 'udp', [1, 2, 3, 4, 5, 6]), { ...link('eth1', 'udp', [0, 0, 0, 0, 0, 0], 'BACKUP'), status: 'NO-CARRIER' }];
  assert.is(formatStats(s, 'link'),
    'UDP traffic device=eth0 status=RUNNING role=ACTIVE:\n' +
    '                   1 Bytes sent                    2 Bytes recv\n' +
    '                   3 Pckts sent                    4 Pckts recv\n' +
    '                   5 Error send                    6 Error recv\n\n' +
    'UDP traffic device=eth1 status=NO-CARRIER role=BACKUP:\n' +
    '                   0 Bytes sent                    0 Bytes recv\n' +
    '                   0 Pckts sent                    0 Pckts recv\n' +
    '                   0 Error send                    0 Error recv\n\n');
  assert.is(formatStats(s, 'rsqueue'), '');
  s.resendQueue = { length: 2, entries: [{ kind: 'control', seq: 17, flags: 72 }, { kind: 'object', seq: 18 }] };
  assert.is(formatStats(s, 'rsqueue'), 'resent queue (len=2)\ncontrol -> seq:17 flags:72\nobject -> seq:18\n');
  s.queues = { allocatedNodes: 3, list: [{ name: 'txqueue', current: 1, max: 2147483647, enospc: 0 }, { name: 'rsqueue', current: 2, max: 131072, enospc: 5 }] };
  assert.is(formatStats(s, 'queue'),
    'allocated queue nodes:\t\t           3\n\n' +
    'queue txqueue:\ncurrent elements:\t\t           1\nmaximum elements:\t\t  2147483647\nnot enough space errors:\t           0\n\n' +
    'queue rsqueue:\ncurrent elements:\t\t           2\nmaximum elements:\t\t      131072\nnot enough space errors:\t           5\n\n');
  assert.is(formatStats(s, 'process'), '');
  s.processes = [{ pid: 4242, type: 'commit' }, { pid: 4243, type: 'flush' }];
  assert.is(formatStats(s, 'process'), 'PID=4242 type=commit\nPID=4243 type=flush\n');
});

test('-s expect: nothing without expect-sync; the expectation caches under the same labels with it', () => {
  const s = seedSnapshot();
  assert.is(formatStatsExpect(s), '');
  assert.is(formatVyosStatistics(s).includes('Expect Table'), false);
  s.expect = { internal: cache(2, 3, 0, 1), external: cache(1, 1, 0, 0) };
  const exp = formatStatsExpect(s);
  assert.ok(exp.startsWith('cache internal:\ncurrent active connections:\t           2\nconnections created:\t\t           3\t'));
  assert.ok(exp.endsWith('message tracking:\n                   0 Malformed msgs                  263 Lost msgs\n\n'));
  assert.is(formatVyosStatistics(s), `\nMain Table Statistics:\n\n${formatStatsCt(s)}\n\nExpect Table Statistics:\n\n${exp}\n`);
});

test('-s argument matching follows conntrackd (prefixes, order, multicast alias)', () => {
  assert.is(resolveStatsView(undefined), 'ct');
  assert.is(resolveStatsView('net'), 'network');
  assert.is(resolveStatsView('r'), 'runtime');
  assert.is(resolveStatsView('rs'), 'rsqueue');
  assert.is(resolveStatsView('multicast'), 'link');
  assert.is(resolveStatsView('exp'), 'expect');
  assert.is(resolveStatsView('c'), 'cache');
  assert.is(resolveStatsView('ct'), 'ct');
  assert.is(resolveStatsView('p'), 'process');
  assert.is(resolveStatsView('bogus'), undefined);
});

test('JSON forms carry the numbers behind the text', () => {
  const s = seedSnapshot();
  const d = statsData(s, 'ct') as { internal: { active: number }; link: { name: string }; messages: { lost: number } };
  assert.is(d.internal.active, 19606);
  assert.is(d.link.name, 'eth0.5');
  assert.is(d.messages.lost, 263);
  assert.is(statsData(s, 'expect'), null);
  const v = JSON.parse(toJson(vyosStatisticsData(s))) as { main: { external: { created: number } }; expect?: unknown };
  assert.is(v.main.external.created, 1660193);
  assert.is(v.expect, undefined);
  assert.equal(statsData(s, 'link'), s.links);
  assert.is((statsData(s, 'runtime') as { uptimeSeconds: number }).uptimeSeconds, 0);
  assert.ok(toJson({ big: 2n ** 64n }).includes('"18446744073709551616"'));
});

test.run();
