// VyOS op-mode layouts: the cache tables (checked against Python tabulate 0.8.9 "simple"), the
// status text (seed example) and the legacy `show conntrack table` (the seed's six rows, byte for byte).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Flow, type Expectation, STATUS, TCP_STATE } from '../../src/flow/flow.ts';
import {
  flowRow, expectRow, formatVyosCacheTable, tabulateSimple, formatVyosStatus, formatDateC, formatConntrackTable,
  tcpStateCode, statusData, conntrackTableData, cacheTableData, statusViewOf,
} from '../../src/cli/format/index.ts';
import { parseConfig } from '../../src/config/index.ts';

const CF = STATUS.CONFIRMED, SR = STATUS.SEEN_REPLY, AS = STATUS.ASSURED;

function flow(family: 4 | 6, proto: number, src: string, dst: string, sport?: number, dport?: number, extra: Partial<Flow> = {}): Flow {
  const orig = proto === 1 ? { src, dst, proto, icmpType: 8, icmpCode: 0, icmpId: 1 } : { src, dst, proto, sport, dport };
  const reply = proto === 1 ? { src: dst, dst: src, proto, icmpType: 0, icmpCode: 0, icmpId: 1 } : { src: dst, dst: src, proto, sport: dport, dport: sport };
  return { family, orig, reply, status: CF | SR, ...extra };
}

test('cache table: tabulate "simple" layout (goldens from python3-tabulate)', () => {
  const flows = [
    flow(4, 6, '192.0.2.10', '198.51.100.20', 40000, 80, { tcp: { state: TCP_STATE.ESTABLISHED } }),
    flow(4, 1, '192.0.2.12', '198.51.100.22'),
    flow(6, 6, '2001:db8::1', '2001:db8::2', 1234, 443),
    flow(4, 47, '192.0.2.14', '198.51.100.24', 0x10, 0x20),
  ];
  assert.is(formatVyosCacheTable(flows.map(flowRow)),
    'Source            Destination       Protocol\n' +
    '----------------  ----------------  ----------\n' +
    '192.0.2.10:40000  198.51.100.20:80  tcp\n' +
    '192.0.2.12        198.51.100.22     icmp\n' +
    '2001:db8::1:1234  2001:db8::2:443   tcp\n' +
    '192.0.2.14        198.51.100.24     gre\n');
  assert.is(formatVyosCacheTable([flowRow(flow(4, 112, '192.0.2.1', '224.0.0.18'))]),
    'Source     Destination    Protocol\n' +
    '---------  -------------  ----------\n' +
    '192.0.2.1  224.0.0.18     unknown\n');
  assert.is(formatVyosCacheTable([]),
    'Source    Destination    Protocol\n' +
    '--------  -------------  ----------\n');
  assert.is(tabulateSimple(['A', 'B'], [['x', 'yy']]), 'A    B\n---  ---\nx    yy');
});

test('cache table for expectations shows the expected connection; JSON rows', () => {
  const e: Expectation = {
    family: 4,
    tuple: { src: '192.0.2.1', dst: '198.51.100.1', proto: 6, sport: 0, dport: 50002 },
    mask: { src: '255.255.255.255', dst: '255.255.255.255', proto: 6, sport: 0, dport: 65535 },
    master: { src: '192.0.2.1', dst: '198.51.100.1', proto: 6, sport: 47496, dport: 21 },
    helper: 'ftp',
  };
  assert.equal(expectRow(e), { source: '192.0.2.1:0', destination: '198.51.100.1:50002', protocol: 'tcp' });
  assert.equal(cacheTableData([expectRow(e)]), [{ source: '192.0.2.1:0', destination: '198.51.100.1:50002', protocol: 'tcp' }]);
});

test('status: the seed example, byte for byte', () => {
  assert.is(formatVyosStatus({ interfaces: ['eth0.5'], syncGroup: 'GEFOEKOM', expectSync: [] }),
    '\n' +
    'sync-interface        : eth0.5\n' +
    'failover-mechanism    : vrrp [sync-group GEFOEKOM]\n' +
    'last state transition : no transition yet!\n' +
    'ExpectationSync       : disabled\n');
});

test('status: several interfaces, a transition, expect-sync list and "all"', () => {
  const at = new Date(Date.UTC(2021, 11, 24, 8, 34, 36));
  const out = formatVyosStatus({
    interfaces: ['eth0', 'eth1'], syncGroup: 'SGR', expectSync: ['ftp', 'sip'],
    lastTransition: { state: 'MASTER', at },
  });
  assert.is(out,
    '\n' +
    'sync-interface        : eth0, eth1\n' +
    'failover-mechanism    : vrrp [sync-group SGR]\n' +
    'last state transition : MASTER at Fri Dec 24 08:34:36 UTC 2021\n' +
    'ExpectationSync       : ftp, sip\n');
  assert.ok(formatVyosStatus({ interfaces: ['eth0'], syncGroup: 'S', expectSync: ['all'] })
    .endsWith('ExpectationSync       : ftp, sip, h323, nfs, sqlnet\n'));
  assert.is(formatDateC(at, 'Europe/Helsinki'), 'Fri Dec 24 10:34:36 +0200 2021');
  assert.is(formatDateC(new Date(Date.UTC(2024, 0, 5, 23, 0, 0))), 'Fri Jan  5 23:00:00 UTC 2024');
  assert.equal(statusData({ interfaces: ['eth0', 'eth1'], syncGroup: 'SGR', expectSync: ['all'], lastTransition: { state: 'BACKUP', at } }), {
    sync_interface: 'eth0, eth1', failover_mechanism: 'vrrp', sync_group: 'SGR',
    last_transition: 'BACKUP at Fri Dec 24 08:34:36 UTC 2021', sync_protocols: ['ftp', 'sip', 'h323', 'nfs', 'sqlnet'],
  });
  assert.equal(statusData({ interfaces: ['eth0'], syncGroup: 'S', expectSync: [] }).sync_protocols, []);
});

test('status from a parsed configuration and the failover snapshot', () => {
  const c = parseConfig('set service conntrack-sync interface eth0.5\nset service conntrack-sync failover-mechanism vrrp sync-group GEFOEKOM\n' +
    'set service conntrack-sync interface eth1\nset service conntrack-sync expect-sync all').config;
  assert.ok(c);
  if (!c) return;
  assert.is(formatVyosStatus(statusViewOf(c)),
    '\nsync-interface        : eth0.5, eth1\nfailover-mechanism    : vrrp [sync-group GEFOEKOM]\n' +
    'last state transition : no transition yet!\nExpectationSync       : ftp, sip, h323, nfs, sqlnet\n');
  const v = statusViewOf(c, { syncGroup: 'GEFOEKOM', transitions: 1, failures: 0, state: 'BACKUP',
    lastTransition: { state: 'BACKUP', at: Date.UTC(2024, 5, 1, 12, 0, 0) } });
  assert.ok(formatVyosStatus(v).includes('last state transition : BACKUP at Sat Jun  1 12:00:00 UTC 2024\n'));
});

// seed 001, "show conntrack table ipv4"
const SEED_TABLE = `TCP state codes: SS - SYN SENT, SR - SYN RECEIVED, ES - ESTABLISHED,
                 FW - FIN WAIT, CW - CLOSE WAIT, LA - LAST ACK,
                 TW - TIME WAIT, CL - CLOSE, LI - LISTEN

CONN ID    Source                 Destination            Protocol         TIMEOUT
1015736576 10.35.100.87:58172     172.31.20.12:22        tcp [6] ES       430279
1006235648 10.35.101.221:57483    172.31.120.21:22       tcp [6] ES       413310
1006237088 10.100.68.100          172.31.120.21          icmp [1]         29
1015734848 10.35.100.87:56282     172.31.20.12:22        tcp [6] ES       300
1015734272 172.31.20.12:60286     239.10.10.14:694       udp [17]         29
1006239392 10.35.101.221          172.31.120.21          icmp [1]         29
`;

test('status: ctsync\'s event-source line follows VyOS\'s four, and only when given', () => {
  const base = { interfaces: ['sync0'], syncGroup: 'SG1', expectSync: [] };
  const four = formatVyosStatus(base);
  const five = formatVyosStatus({ ...base, eventSource: { kind: 'bpf-netlink', reason: 'bpf-tracing refused by the kernel (EPERM)' } });
  assert.ok(five.startsWith(four), 'the VyOS lines are unchanged');
  assert.is(five.slice(four.length), 'event source          : bpf-netlink (bpf-tracing refused by the kernel (EPERM))\n');
  assert.equal(statusData({ ...base, eventSource: { kind: 'netlink' } }).event_source, { kind: 'netlink' });
});

test('show conntrack table ipv4: the seed\'s six rows from Flow inputs', () => {
  const es = { tcp: { state: TCP_STATE.ESTABLISHED }, status: CF | SR | AS };
  const flows: Flow[] = [
    flow(4, 6, '10.35.100.87', '172.31.20.12', 58172, 22, { ...es, id: 1015736576, timeout: 430279 }),
    flow(4, 6, '10.35.101.221', '172.31.120.21', 57483, 22, { ...es, id: 1006235648, timeout: 413310 }),
    flow(4, 1, '10.100.68.100', '172.31.120.21', undefined, undefined, { id: 1006237088, timeout: 29 }),
    flow(4, 6, '10.35.100.87', '172.31.20.12', 56282, 22, { ...es, id: 1015734848, timeout: 300 }),
    flow(4, 17, '172.31.20.12', '239.10.10.14', 60286, 694, { id: 1015734272, timeout: 29, status: CF }),
    flow(4, 1, '10.35.101.221', '172.31.120.21', undefined, undefined, { id: 1006239392, timeout: 29 }),
  ];
  assert.is(formatConntrackTable(flows, { family: 4, conntrackEnabled: true }), SEED_TABLE);
  const json = conntrackTableData(flows);
  assert.equal(json[0], {
    id: 1015736576, family: 4, protocol: 'tcp', protonum: 6, state: 'ESTABLISHED',
    source: { address: '10.35.100.87', port: 58172 }, destination: { address: '172.31.20.12', port: 22 }, timeout: 430279,
    flow: flows[0],
  });
  assert.equal(json[2].source, { address: '10.100.68.100', port: null });
  assert.is(json[2].state, null);
});

test('show conntrack table ipv6: 40-wide address columns and [addr]:port', () => {
  const f = flow(6, 6, '2001:db8::10', '2001:db8:1::20', 40000, 443, { tcp: { state: TCP_STATE.TIME_WAIT }, id: 7, timeout: 120 });
  const ic = flow(6, 58, '2001:db8::10', '2001:db8:1::20', undefined, undefined, { id: 8, timeout: 30 });
  const out = formatConntrackTable([f, ic], { family: 6, conntrackEnabled: true });
  const lines = out.split('\n');
  assert.is(lines[4], 'CONN ID    Source                                   Destination                              Protocol         TIMEOUT');
  assert.is(lines[5], '7          [2001:db8::10]:40000                     [2001:db8:1::20]:443                     tcp [6] TW       120');
  assert.is(lines[6], '8          2001:db8::10                             2001:db8:1::20                           icmpv6 [58]      30');
});

test('empty table: the warning only when conntrack is off', () => {
  const header = SEED_TABLE.split('\n').slice(0, 5).join('\n') + '\n';
  assert.is(formatConntrackTable([], { family: 4, conntrackEnabled: false }),
    `${header}\nWarning: Connection tracking is not enabled\n\n`);
  assert.is(formatConntrackTable([], { family: 4, conntrackEnabled: true }), header);
});

test('TCP state codes', () => {
  const codes = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((s) => tcpStateCode(s));
  assert.equal(codes, ['SS', 'SR', 'ES', 'FW', 'CW', 'LA', 'TW', 'CL', 'LI']);
  assert.is(tcpStateCode(0), undefined);
});

test.run();
