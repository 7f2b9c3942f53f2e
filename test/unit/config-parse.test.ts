// Reading `set service conntrack-sync ...` lines and the JSON form: every node's accepted values,
// defaults and rejections (exact message with line number and node path), the seed documents'
// example, and JSON equal to set lines.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Config, parseConfig, parseConfigJson, formatIssue } from '../../src/config/index.ts';

const BASE = [
  'set service conntrack-sync interface eth0',
  'set service conntrack-sync failover-mechanism vrrp sync-group SG1',
];

function parseWith(...lines: string[]) {
  return parseConfig([...BASE, ...lines].join('\n'));
}

function ok(...lines: string[]): Config {
  const r = parseWith(...lines);
  assert.equal(r.errors.map(formatIssue), []);
  assert.ok(r.config);
  return r.config as Config;
}

function errorsOf(...lines: string[]): string[] {
  const r = parseWith(...lines);
  assert.is(r.ok, false);
  assert.is(r.config, undefined);
  return r.errors.map(formatIssue);
}

const DEFAULTS: Config = {
  acceptProtocol: [],
  disableExternalCache: false,
  disableSyslog: false,
  eventListenQueueSize: 8,
  expectSync: [],
  failover: { mechanism: 'vrrp', syncGroup: 'SG1' },
  ignoreAddress: [],
  interfaces: [{ name: 'eth0', port: 3780 }],
  listenAddress: [],
  mcastGroup: '225.0.0.50',
  purgeTimeout: 60,
  startupResync: false,
  syncQueueSize: 1,
  mode: 'ftfw',
  eventSource: 'auto',
  controlSocket: '/run/ctsync/ctsync.sock',
  commitTimeout: 0,
  keepalived: {},
  resendQueueSize: 131072,
  refreshTime: 60,
  cacheTimeout: 180,
  retransmitTimeout: 2000,
  commitGuard: true,
};

test('defaults: every node that has one', () => {
  assert.equal(ok(), DEFAULTS);
});

test('the seed documents\' example configuration', () => {
  const seed = `  set high-availablilty vrrp group internal virtual-address ... etc ...
  set high-availability vrrp sync-group syncgrp member 'internal'
  set service conntrack-sync accept-protocol 'tcp'
  set service conntrack-sync accept-protocol 'udp'
  set service conntrack-sync accept-protocol 'icmp'
  set service conntrack-sync failover-mechanism vrrp sync-group 'syncgrp'
  set service conntrack-sync interface 'eth0'
  set service conntrack-sync mcast-group '225.0.0.50'
`;
  const r = parseConfig(seed);
  assert.equal(r.errors, []);
  assert.equal(r.vrrpSyncGroups, ['syncgrp']);
  assert.equal(r.config, {
    ...DEFAULTS, acceptProtocol: ['tcp', 'udp', 'icmp'], failover: { mechanism: 'vrrp', syncGroup: 'syncgrp' },
  });
  // The older revision of the same document also set the two queue sizes, and uses unicast elsewhere.
  const older = parseConfig(`${seed}  set service conntrack-sync event-listen-queue-size '8'
  set service conntrack-sync sync-queue-size '8'
`);
  assert.is(older.config?.syncQueueSize, 8);
  assert.is(older.config?.eventListenQueueSize, 8);
  const unicast = parseConfig(`${seed.replace("interface 'eth0'", 'interface eth0 peer 192.168.0.250')}`);
  assert.equal(unicast.config?.interfaces, [{ name: 'eth0', peer: '192.168.0.250', port: 3780 }]);
});

test('accept-protocol: every protocol; VyOS text plus the full list when rejected', () => {
  assert.equal(ok(...['tcp', 'udp', 'icmp', 'icmp6', 'sctp', 'dccp'].map((p) => `set service conntrack-sync accept-protocol ${p}`)).acceptProtocol,
    ['tcp', 'udp', 'icmp', 'icmp6', 'sctp', 'dccp']);
  assert.equal(ok('set service conntrack-sync accept-protocol tcp', 'set service conntrack-sync accept-protocol tcp').acceptProtocol, ['tcp']);
  assert.equal(errorsOf('set service conntrack-sync accept-protocol gre'), [
    'line 3: service conntrack-sync accept-protocol gre: Allowed protocols: tcp udp icmp or sctp (accepted: tcp, udp, icmp, icmp6, sctp, dccp)',
  ]);
  assert.equal(errorsOf('set service conntrack-sync accept-protocol TCP'), [
    'line 3: service conntrack-sync accept-protocol TCP: Allowed protocols: tcp udp icmp or sctp (accepted: tcp, udp, icmp, icmp6, sctp, dccp)',
  ]);
});

test('valueless nodes: disable-external-cache, disable-syslog, startup-resync', () => {
  const c = ok('set service conntrack-sync disable-external-cache', 'set service conntrack-sync disable-syslog', 'set service conntrack-sync startup-resync');
  assert.is(c.disableExternalCache, true);
  assert.is(c.disableSyslog, true);
  assert.is(c.startupResync, true);
  assert.equal(errorsOf('set service conntrack-sync disable-syslog yes'), [
    'line 3: service conntrack-sync disable-syslog yes: disable-syslog takes no value; write it alone',
  ]);
});

test('event-listen-queue-size and sync-queue-size: 0 to 4294967295 MB', () => {
  assert.is(ok("set service conntrack-sync event-listen-queue-size '0'").eventListenQueueSize, 0);
  assert.is(ok('set service conntrack-sync event-listen-queue-size 4294967295').eventListenQueueSize, 4294967295);
  assert.is(ok('set service conntrack-sync sync-queue-size 16').syncQueueSize, 16);
  assert.equal(errorsOf('set service conntrack-sync event-listen-queue-size 4294967296'), [
    'line 3: service conntrack-sync event-listen-queue-size 4294967296: Size must be a whole number of MB in range 0 to 4294967295',
  ]);
  assert.equal(errorsOf('set service conntrack-sync sync-queue-size -1'), [
    'line 3: service conntrack-sync sync-queue-size -1: Size must be a whole number of MB in range 0 to 4294967295',
  ]);
  assert.equal(errorsOf('set service conntrack-sync sync-queue-size 1.5'), [
    'line 3: service conntrack-sync sync-queue-size 1.5: Size must be a whole number of MB in range 0 to 4294967295',
  ]);
});

test('expect-sync: the six values; "Invalid protocol"', () => {
  assert.equal(ok(...['ftp', 'h323', 'nfs', 'sip', 'sqlnet'].map((p) => `set service conntrack-sync expect-sync ${p}`)).expectSync,
    ['ftp', 'h323', 'nfs', 'sip', 'sqlnet']);
  assert.equal(ok('set service conntrack-sync expect-sync all').expectSync, ['all']);
  assert.equal(errorsOf('set service conntrack-sync expect-sync tftp'), [
    'line 3: service conntrack-sync expect-sync tftp: Invalid protocol (accepted: all, ftp, h323, nfs, sip, sqlnet)',
  ]);
});

test('failover-mechanism vrrp sync-group', () => {
  assert.is(ok("set service conntrack-sync failover-mechanism vrrp sync-group 'SG1'").failover.syncGroup, 'SG1');
  assert.equal(errorsOf('set service conntrack-sync failover-mechanism vrrp sync-group'), [
    'line 3: service conntrack-sync failover-mechanism vrrp sync-group: sync-group needs a value: the VRRP sync-group name',
  ]);
  assert.equal(errorsOf('set service conntrack-sync failover-mechanism vrrp sync-group SG2'), [
    'line 3: service conntrack-sync failover-mechanism vrrp sync-group SG2: sync-group takes one value and is already set to SG1 on line 2; delete one of the lines',
  ]);
  assert.equal(errorsOf('set service conntrack-sync failover-mechanism cluster group x'), [
    'line 3: service conntrack-sync failover-mechanism cluster: Unknown node "cluster"; allowed here: vrrp',
  ]);
  assert.equal(errorsOf("set service conntrack-sync failover-mechanism vrrp sync-group 'a b'"), [
    "line 3: service conntrack-sync failover-mechanism vrrp sync-group 'a b': sync-group takes one value and is already set to SG1 on line 2; delete one of the lines",
  ]);
  const r = parseConfig("set service conntrack-sync interface eth0\nset service conntrack-sync failover-mechanism vrrp sync-group 'a b'");
  assert.equal(r.errors.map(formatIssue), [
    "line 2: service conntrack-sync failover-mechanism vrrp sync-group 'a b': Sync-group name must be 1 to 100 characters without spaces or quotes",
  ]);
});

test('ignore-address: IPv4/IPv6 addresses and prefixes, canonical form', () => {
  const c = ok(
    'set service conntrack-sync ignore-address 192.0.2.1',
    'set service conntrack-sync ignore-address 198.51.100.0/24',
    'set service conntrack-sync ignore-address 2001:DB8:0:0::1',
    'set service conntrack-sync ignore-address 2001:db8::/32',
  );
  assert.equal(c.ignoreAddress, ['192.0.2.1', '198.51.100.0/24', '2001:db8::1', '2001:db8::/32']);
  for (const bad of ['192.0.2.256', '192.0.2.0/33', '2001:db8::/129', 'host.example', '10.0.0.1/']) {
    assert.equal(errorsOf(`set service conntrack-sync ignore-address ${bad}`), [
      `line 3: service conntrack-sync ignore-address ${bad}: Must be an IPv4 or IPv6 address or prefix (e.g. 192.0.2.1, 198.51.100.0/24, 2001:db8::/32)`,
    ]);
  }
  assert.equal(errorsOf('set service conntrack-sync ignore-address ipv4 192.0.2.1'), [
    'line 3: service conntrack-sync ignore-address ipv4 192.0.2.1: VyOS 1.2 syntax; write "set service conntrack-sync ignore-address 192.0.2.1"',
  ]);
});

test('interface: tag node with peer (IPv4 or IPv6) and port (default 3780)', () => {
  const c = parseConfig([
    'set service conntrack-sync interface eth10 peer 192.0.2.2',
    'set service conntrack-sync interface eth2 peer 2001:db8::2',
    'set service conntrack-sync interface eth2 port 4000',
    'set service conntrack-sync failover-mechanism vrrp sync-group SG1',
  ].join('\n')).config as Config;
  assert.equal(c.interfaces, [
    { name: 'eth2', peer: '2001:db8::2', port: 4000 },
    { name: 'eth10', peer: '192.0.2.2', port: 3780 },
  ]);
  assert.equal(errorsOf('set service conntrack-sync interface eth0 port 70000'), [
    'line 3: service conntrack-sync interface eth0 port 70000: Port number must be in range 1 to 65535',
  ]);
  assert.equal(errorsOf('set service conntrack-sync interface eth0 port 0'), [
    'line 3: service conntrack-sync interface eth0 port 0: Port number must be in range 1 to 65535',
  ]);
  assert.equal(errorsOf('set service conntrack-sync interface eth0 peer 224.0.0.18'), [
    'line 3: service conntrack-sync interface eth0 peer 224.0.0.18: Peer must be an IPv4 or IPv6 unicast address (e.g. 192.0.2.2 or 2001:db8::2)',
  ]);
  assert.equal(errorsOf('set service conntrack-sync interface eth0 peer 192.0.2.0/24'), [
    'line 3: service conntrack-sync interface eth0 peer 192.0.2.0/24: Peer must be an IPv4 or IPv6 unicast address (e.g. 192.0.2.2 or 2001:db8::2)',
  ]);
  assert.equal(errorsOf('set service conntrack-sync interface averyveryverylongname'), [
    'line 3: service conntrack-sync interface averyveryverylongname: Interface name must be 1 to 15 characters without "/", ":" or whitespace',
  ]);
  assert.equal(errorsOf('set service conntrack-sync interface'), [
    'line 3: service conntrack-sync interface: interface needs a name: interface name',
  ]);
  assert.equal(errorsOf('set service conntrack-sync interface eth0 mtu 1500'), [
    'line 3: service conntrack-sync interface eth0 mtu: Unknown node "mtu"; allowed here: peer, port',
  ]);
  assert.equal(errorsOf('set service conntrack-sync interface eth0 prot 1500'), [
    'line 3: service conntrack-sync interface eth0 prot: Unknown node "prot"; did you mean "port"?',
  ]);
});

test('listen-address: IPv4 only', () => {
  assert.equal(ok('set service conntrack-sync interface eth0 peer 192.0.2.2', 'set service conntrack-sync ignore-address 192.0.2.2',
    'set service conntrack-sync listen-address 192.0.2.1').listenAddress, ['192.0.2.1']);
  assert.equal(errorsOf('set service conntrack-sync listen-address 2001:db8::1'), [
    'line 3: service conntrack-sync listen-address 2001:db8::1: Listen address must be an IPv4 address (e.g. 192.0.2.1)',
  ]);
});

test('mcast-group: an IPv4 multicast address', () => {
  assert.is(ok('set service conntrack-sync mcast-group 239.1.2.3').mcastGroup, '239.1.2.3');
  assert.equal(errorsOf('set service conntrack-sync mcast-group 192.0.2.1'), [
    'line 3: service conntrack-sync mcast-group 192.0.2.1: Multicast group must be an IPv4 multicast address, 224.0.0.0 to 239.255.255.255',
  ]);
});

test('purge-timeout: 1 to 2147483647', () => {
  assert.is(ok('set service conntrack-sync purge-timeout 1').purgeTimeout, 1);
  assert.is(ok('set service conntrack-sync purge-timeout 2147483647').purgeTimeout, 2147483647);
  assert.equal(errorsOf('set service conntrack-sync purge-timeout 0'), [
    'line 3: service conntrack-sync purge-timeout 0: Purge timeout must be in range 1 to 2147483647 seconds',
  ]);
});

test('ctsync nodes: accepted values', () => {
  const c = ok(
    'set service conntrack-sync mode alarm',
    'set service conntrack-sync event-source bpf-netlink',
    'set service conntrack-sync control-socket /run/x/ctsync.sock',
    'set service conntrack-sync conntrackd-socket /var/run/conntrackd.ctl',
    'set service conntrack-sync commit-timeout 180',
    'set service conntrack-sync metrics-address [::1]:9934',
    'set service conntrack-sync keepalived notify-fifo /run/keepalived/keepalived_notify_fifo',
    'set service conntrack-sync resend-queue-size 1000',
    'set service conntrack-sync refresh-time 5',
    'set service conntrack-sync cache-timeout 15',
    'set service conntrack-sync hash-limit 524288',
    'set service conntrack-sync auth-key-file /etc/ctsync/key',
    'set service conntrack-sync retransmit-timeout 500',
    'set service conntrack-sync log-file /var/log/ctsync.log',
    'set service conntrack-sync commit-guard off',
  );
  assert.equal(c, {
    ...DEFAULTS, mode: 'alarm', eventSource: 'bpf-netlink', controlSocket: '/run/x/ctsync.sock',
    conntrackdSocket: '/var/run/conntrackd.ctl', commitTimeout: 180, metricsAddress: { address: '::1', port: 9934 },
    keepalived: { notifyFifo: '/run/keepalived/keepalived_notify_fifo' }, resendQueueSize: 1000, refreshTime: 5,
    cacheTimeout: 15, hashLimit: 524288, authKeyFile: '/etc/ctsync/key', retransmitTimeout: 500, logFile: '/var/log/ctsync.log',
    commitGuard: false,
  });
  assert.is(ok('set service conntrack-sync commit-guard on').commitGuard, true);
  assert.equal(ok('set service conntrack-sync metrics-address 127.0.0.1:9934').metricsAddress, { address: '127.0.0.1', port: 9934 });
  for (const m of ['ftfw', 'notrack', 'alarm']) assert.is(ok(`set service conntrack-sync mode ${m}`).mode, m);
  for (const e of ['auto', 'bpf-tracing', 'bpf-netlink', 'netlink']) assert.is(ok(`set service conntrack-sync event-source ${e}`).eventSource, e);
});

test('ctsync nodes: rejected values', () => {
  const cases: [string, string][] = [
    ['mode fast', 'Invalid mode (accepted: ftfw, notrack, alarm)'],
    ['event-source kprobe', 'Invalid event source (accepted: auto, bpf-tracing, bpf-netlink, netlink)'],
    ['control-socket run/ctsync.sock', 'Socket path must be absolute (begin with "/") and at most 107 bytes long'],
    [`conntrackd-socket /${'x'.repeat(107)}`, 'Socket path must be absolute (begin with "/") and at most 107 bytes long'],
    ['commit-timeout -5', 'Commit timeout must be in range 0 to 2147483647 seconds (0: computed from the received timeout)'],
    ['metrics-address ::1:9934', 'Metrics address must be ADDR:PORT with an IPv4 address or a bracketed IPv6 address and a port 1 to 65535 (e.g. 127.0.0.1:9934 or [::1]:9934)'],
    ['metrics-address 127.0.0.1:0', 'Metrics address must be ADDR:PORT with an IPv4 address or a bracketed IPv6 address and a port 1 to 65535 (e.g. 127.0.0.1:9934 or [::1]:9934)'],
    ['keepalived notify-fifo fifo', 'Path must be absolute (begin with "/")'],
    ['resend-queue-size 0', 'Resend queue size must be in range 1 to 4294967295 messages'],
    ['refresh-time 0', 'Refresh time must be in range 1 to 2147483647 seconds'],
    ['cache-timeout 2147483648', 'Cache timeout must be in range 1 to 2147483647 seconds'],
    ['hash-limit 0', 'Hash limit must be in range 1 to 4294967295 entries'],
    ['auth-key-file key', 'Path must be absolute (begin with "/")'],
    ['retransmit-timeout 50', 'Retransmit timeout must be in range 100 to 600000 milliseconds'],
    ['log-file ctsync.log', 'Path must be absolute (begin with "/")'],
    ['commit-guard yes', 'Commit guard must be on or off'],
  ];
  for (const [line, msg] of cases) {
    assert.equal(errorsOf(`set service conntrack-sync ${line}`), [`line 3: service conntrack-sync ${line}: ${msg}`]);
  }
});

test('syntax: quotes, comments, blank lines, other lines ignored, high-availability recorded', () => {
  const r = parseConfig([
    '# exported from router1',
    '',
    'set system host-name router1',
    'set service conntrack-sync interface "eth0" peer \'192.0.2.2\'',
    '   set service conntrack-sync failover-mechanism vrrp sync-group "SG 1"   # trailing comment',
    'set high-availability vrrp sync-group "SG 1" member VI_1',
    'set high-availability vrrp group VI_1 vrid 51',
    'set service conntrack-sync ignore-address 192.0.2.2',
  ].join('\n'));
  assert.equal(r.errors.map(formatIssue), [
    "line 5: service conntrack-sync failover-mechanism vrrp sync-group 'SG 1': Sync-group name must be 1 to 100 characters without spaces or quotes",
  ]);
  assert.equal(r.vrrpSyncGroups, ['SG 1']);
  const good = parseConfig([
    'set service conntrack-sync interface "eth0" peer \'192.0.2.2\'',
    'set service conntrack-sync failover-mechanism vrrp sync-group "SG1" # comment',
    'set service conntrack-sync ignore-address "192.0.2.2"',
  ].join('\r\n'));
  assert.equal(good.errors, []);
  assert.equal(good.config?.interfaces, [{ name: 'eth0', peer: '192.0.2.2', port: 3780 }]);
  assert.equal(parseConfig('set service conntrack-sync interface \'eth0').errors.map(formatIssue), [
    "line 1: set service conntrack-sync interface 'eth0: Unterminated single quote; close the value with '",
  ]);
  assert.equal(parseConfig('delete service conntrack-sync interface eth0').errors.map(formatIssue), [
    'line 1: delete service conntrack-sync interface: Only "set ..." lines are understood (as "show configuration commands" prints them), or a JSON document',
  ]);
});

test('unknown nodes: "did you mean" when close, the allowed list otherwise', () => {
  assert.equal(errorsOf('set service conntrack-sync mcast-grop 225.0.0.50'), [
    'line 3: service conntrack-sync mcast-grop: Unknown node "mcast-grop"; did you mean "mcast-group"?',
  ]);
  assert.equal(errorsOf('set service conntrack-sync expect-synch ftp'), [
    'line 3: service conntrack-sync expect-synch: Unknown node "expect-synch"; did you mean "expect-sync"?',
  ]);
  const far = errorsOf('set service conntrack-sync zzz');
  assert.is(far.length, 1);
  assert.ok(far[0].startsWith('line 3: service conntrack-sync zzz: Unknown node "zzz"; allowed here: accept-protocol, auth-key-file, '));
  assert.ok(far[0].endsWith(', startup-resync, sync-queue-size'));
});

test('every error is reported, in file order, missing nodes last', () => {
  const r = parseConfig([
    'set service conntrack-sync interface eth0 port 70000',
    'set service conntrack-sync accept-protocol gre',
    'set service conntrack-sync mcast-grop 1.2.3.4',
    'set service conntrack-sync mode turbo',
  ].join('\n'));
  assert.equal(r.errors.map(formatIssue), [
    'line 1: service conntrack-sync interface eth0 port 70000: Port number must be in range 1 to 65535',
    'line 2: service conntrack-sync accept-protocol gre: Allowed protocols: tcp udp icmp or sctp (accepted: tcp, udp, icmp, icmp6, sctp, dccp)',
    'line 3: service conntrack-sync mcast-grop: Unknown node "mcast-grop"; did you mean "mcast-group"?',
    'line 4: service conntrack-sync mode turbo: Invalid mode (accepted: ftfw, notrack, alarm)',
    'service conntrack-sync failover-mechanism vrrp sync-group: No VRRP sync-group defined! (add: set service conntrack-sync failover-mechanism vrrp sync-group <name>)',
  ]);
});

test('no conntrack-sync at all', () => {
  const r = parseConfig('set system host-name r1\n');
  assert.equal(r.errors.map(formatIssue), [
    'service conntrack-sync: conntrack-sync is not configured! (the input has no "set service conntrack-sync ..." line or "conntrack-sync" object)',
  ]);
});

const SET_FORM = [
  'set high-availability vrrp sync-group SG1 member VI_1',
  'set service conntrack-sync accept-protocol tcp',
  'set service conntrack-sync accept-protocol udp',
  'set service conntrack-sync disable-syslog',
  'set service conntrack-sync expect-sync ftp',
  'set service conntrack-sync failover-mechanism vrrp sync-group SG1',
  'set service conntrack-sync ignore-address 192.0.2.2',
  'set service conntrack-sync interface eth1 peer 192.0.2.2',
  'set service conntrack-sync interface eth1 port 3781',
  'set service conntrack-sync interface eth0 peer 192.0.2.2',
  'set service conntrack-sync listen-address 192.0.2.1',
  'set service conntrack-sync purge-timeout 30',
  'set service conntrack-sync keepalived notify-fifo /run/keepalived/fifo',
].join('\n');

const JSON_FORM = {
  'high-availability': { vrrp: { 'sync-group': { SG1: { member: ['VI_1'] } } } },
  service: {
    'conntrack-sync': {
      'accept-protocol': ['tcp', 'udp'],
      'disable-syslog': {},
      'expect-sync': ['ftp'],
      'failover-mechanism': { vrrp: { 'sync-group': 'SG1' } },
      'ignore-address': ['192.0.2.2'],
      interface: { eth1: { peer: '192.0.2.2', port: '3781' }, eth0: { peer: '192.0.2.2' } },
      'listen-address': ['192.0.2.1'],
      'purge-timeout': 30,
      keepalived: { 'notify-fifo': '/run/keepalived/fifo' },
    },
  },
};

test('JSON form equals the set-line form (whole tree, or the conntrack-sync object alone)', () => {
  const a = parseConfig(SET_FORM);
  const b = parseConfig(JSON.stringify(JSON_FORM));
  assert.equal(a.errors, []);
  assert.equal(b.errors, []);
  assert.is(b.format, 'json');
  assert.equal(b.config, a.config);
  assert.equal(b.vrrpSyncGroups, ['SG1']);
  const c = parseConfigJson(JSON_FORM.service['conntrack-sync']);
  assert.equal(c.config, a.config);
  // single-value multi nodes and null flags are accepted too
  const d = parseConfigJson({ ...JSON_FORM.service['conntrack-sync'], 'expect-sync': 'ftp', 'disable-syslog': null });
  assert.equal(d.config, a.config);
});

test('JSON errors name the JSON path', () => {
  const r = parseConfigJson({
    service: {
      'conntrack-sync': {
        interface: { eth0: { port: '70000' }, eth1: 'x' },
        'accept-protocol': ['tcp', 'gre'],
        'disable-syslog': 'yes',
        'mcast-grop': '225.0.0.50',
        'failover-mechanism': { vrrp: { 'sync-group': 'SG1' } },
        'purge-timeout': true,
      },
    },
  });
  assert.equal(r.errors.map(formatIssue), [
    '$.service["conntrack-sync"].interface.eth1: service conntrack-sync interface eth1: interface eth1 takes an object of peer, port',
    '$.service["conntrack-sync"]["disable-syslog"]: service conntrack-sync disable-syslog: disable-syslog takes no value; write {} (or true)',
    '$.service["conntrack-sync"]["mcast-grop"]: service conntrack-sync mcast-grop: Unknown node "mcast-grop"; did you mean "mcast-group"?',
    '$.service["conntrack-sync"]["purge-timeout"]: service conntrack-sync purge-timeout: purge-timeout needs one value (a string or a number): seconds, 1 to 2147483647 (default 60)',
    '$.service["conntrack-sync"]["accept-protocol"][1]: service conntrack-sync accept-protocol gre: Allowed protocols: tcp udp icmp or sctp (accepted: tcp, udp, icmp, icmp6, sctp, dccp)',
    '$.service["conntrack-sync"].interface.eth0.port: service conntrack-sync interface eth0 port 70000: Port number must be in range 1 to 65535',
  ]);
  assert.equal(parseConfig('{"service": ').errors.map((e) => e.where), ['$']);
});

test.run();
