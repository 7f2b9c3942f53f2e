// VyOS's commit checks (exact strings), the host checks against an injected interface view, the
// warnings VyOS does not give, `ctsync config check` output, reload classification and the
// expect-sync helper mapping.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  type Config, type HostView, parseConfig, formatIssue, checkEnvironment, environmentWarnings, checkConfig,
  formatCheckText, formatCheckJson, configToSetLines, configToJson, planReload, expectHelperMatches,
  expectHelperNames, parseConfigJson, readHostView,
} from '../../src/config/index.ts';

const SG = 'set service conntrack-sync failover-mechanism vrrp sync-group SG1';

function parse(...lines: string[]) {
  return parseConfig(lines.join('\n'));
}
function config(...lines: string[]): Config {
  const r = parse(...lines);
  assert.equal(r.errors.map(formatIssue), []);
  return r.config as Config;
}

test('Interface not defined!', () => {
  assert.equal(parse(SG).errors.map(formatIssue), [
    'service conntrack-sync interface: Interface not defined! (add: set service conntrack-sync interface <name>)',
  ]);
});

test('Can not mix unicast and multicast mode!', () => {
  assert.equal(parse(
    'set service conntrack-sync interface eth0 peer 192.0.2.2',
    'set service conntrack-sync interface eth1',
    SG,
  ).errors.map(formatIssue), [
    'line 2: service conntrack-sync interface eth1: Can not mix unicast and multicast mode! (with peer: eth0; without: eth1; set a peer on every interface or on none)',
  ]);
});

test('a bad value is reported once, without knock-on errors', () => {
  assert.equal(parse(
    'set service conntrack-sync interface eth0 peer 192.0.2.2',
    'set service conntrack-sync interface eth1 peer 192.0.2.300',
    'set service conntrack-sync interface bad/name', SG,
  ).errors.map(formatIssue), [
    'line 2: service conntrack-sync interface eth1 peer 192.0.2.300: Peer must be an IPv4 or IPv6 unicast address (e.g. 192.0.2.2 or 2001:db8::2)',
    'line 3: service conntrack-sync interface bad/name: Interface name must be 1 to 15 characters without "/", ":" or whitespace',
  ]);
  assert.equal(parse('set service conntrack-sync interface a/b', SG).errors.map(formatIssue), [
    'line 1: service conntrack-sync interface a/b: Interface name must be 1 to 15 characters without "/", ":" or whitespace',
  ]);
});

test('expect-sync "all" with other protocols', () => {
  assert.equal(parse(
    'set service conntrack-sync interface eth0', SG,
    'set service conntrack-sync expect-sync ftp',
    'set service conntrack-sync expect-sync all',
  ).errors.map(formatIssue), [
    'line 4: service conntrack-sync expect-sync all: Can not configure expect-sync "all" with other protocols! (keep "all" alone, or list the protocols)',
  ]);
});

test('No VRRP sync-group defined! / VRRP sync-group X not configured!', () => {
  assert.equal(parse('set service conntrack-sync interface eth0').errors.map(formatIssue), [
    'service conntrack-sync failover-mechanism vrrp sync-group: No VRRP sync-group defined! (add: set service conntrack-sync failover-mechanism vrrp sync-group <name>)',
  ]);
  assert.equal(parse('set service conntrack-sync interface eth0', 'set service conntrack-sync failover-mechanism vrrp').errors.map(formatIssue), [
    'line 2: service conntrack-sync failover-mechanism vrrp sync-group: No VRRP sync-group defined! (add: set service conntrack-sync failover-mechanism vrrp sync-group <name>)',
  ]);
  assert.equal(parse(
    'set high-availability vrrp sync-group OTHER member VI_1',
    'set service conntrack-sync interface eth0', SG,
  ).errors.map(formatIssue), [
    'line 3: service conntrack-sync failover-mechanism vrrp sync-group SG1: VRRP sync-group SG1 not configured! (defined under high-availability vrrp sync-group: OTHER)',
  ]);
  // without high-availability lines in the file the check cannot be made, and is not
  assert.equal(parse('set service conntrack-sync interface eth0', SG).errors, []);
  assert.equal(parse('set high-availability vrrp sync-group SG1 member VI_1', 'set service conntrack-sync interface eth0', SG).errors, []);
});

test('listen-address cannot serve an IPv6 peer', () => {
  assert.equal(parse(
    'set service conntrack-sync interface eth0 peer 2001:db8::2', SG,
    'set service conntrack-sync listen-address 192.0.2.1',
  ).errors.map(formatIssue), [
    'line 1: service conntrack-sync interface eth0 peer 2001:db8::2: listen-address is IPv4 only and cannot serve the IPv6 peer 2001:db8::2; remove listen-address or use an IPv4 peer',
  ]);
});

test('warnings: listen-address in multicast mode, unignored peers, ignored nodes for the mode, commit-timeout with inject', () => {
  const r = parse(
    'set service conntrack-sync interface eth0', SG,
    'set service conntrack-sync listen-address 192.0.2.1',
    'set service conntrack-sync refresh-time 5',
    'set service conntrack-sync disable-external-cache',
    'set service conntrack-sync commit-timeout 60',
  );
  assert.equal(r.errors, []);
  assert.equal(r.warnings.map(formatIssue), [
    'line 3: service conntrack-sync listen-address 192.0.2.1: listen-address is ignored in multicast mode (it only applies to interfaces with a peer)',
    'line 4: service conntrack-sync refresh-time 5: refresh-time only applies to mode alarm (mode is ftfw)',
    'line 6: service conntrack-sync commit-timeout 60: commit-timeout is ignored with disable-external-cache: received flows go straight into the kernel with the received timeout',
  ]);
  const u = parse(
    'set service conntrack-sync interface eth0 peer 192.0.2.2',
    'set service conntrack-sync interface eth1 peer 198.51.100.2', SG,
    'set service conntrack-sync ignore-address 198.51.100.0/24',
    'set service conntrack-sync mcast-group 239.0.0.1',
    'set service conntrack-sync mode notrack',
    'set service conntrack-sync retransmit-timeout 300',
  );
  assert.equal(u.warnings.map(formatIssue), [
    'line 5: service conntrack-sync mcast-group 239.0.0.1: mcast-group is ignored in unicast mode (every interface has a peer)',
    'line 1: service conntrack-sync interface eth0 peer 192.0.2.2: peer 192.0.2.2 is not in ignore-address, so the sync traffic itself is replicated (add: set service conntrack-sync ignore-address 192.0.2.2)',
    'line 7: service conntrack-sync retransmit-timeout 300: retransmit-timeout only applies to mode ftfw (mode is notrack)',
  ]);
});

const HOST: HostView = {
  interfaces: [
    { name: 'lo', addresses: ['127.0.0.1/8', '::1/128'] },
    { name: 'eth0', addresses: ['192.0.2.1/24', 'fe80::1/64'] },
    { name: 'eth1', addresses: [] },
    { name: 'eth2', addresses: ['2001:db8::1/64'] },
    { name: 'eth3', addresses: ['203.0.113.1/24'], vrf: 'mgmt' },
  ],
};

test('host checks: interface exists and has an address, listen-address assigned outside VRFs', () => {
  const c = config(
    'set service conntrack-sync interface eth0 peer 192.0.2.2',
    'set service conntrack-sync interface eth1 peer 198.51.100.2',
    'set service conntrack-sync interface eth9 peer 198.51.100.3',
    'set service conntrack-sync interface eth2 peer 192.0.2.3', SG,
    'set service conntrack-sync listen-address 192.0.2.1',
    'set service conntrack-sync listen-address 203.0.113.1',
    'set service conntrack-sync listen-address 198.51.100.9',
  );
  const origins = parse(
    'set service conntrack-sync interface eth0 peer 192.0.2.2',
    'set service conntrack-sync interface eth1 peer 198.51.100.2',
    'set service conntrack-sync interface eth9 peer 198.51.100.3',
    'set service conntrack-sync interface eth2 peer 192.0.2.3', SG,
    'set service conntrack-sync listen-address 192.0.2.1',
    'set service conntrack-sync listen-address 203.0.113.1',
    'set service conntrack-sync listen-address 198.51.100.9',
  ).origins;
  assert.equal(checkEnvironment(c, HOST, origins).map(formatIssue), [
    'line 2: service conntrack-sync interface eth1: Interface eth1 requires an IP address! (it needs an IPv4 address to reach peer 198.51.100.2)',
    'line 4: service conntrack-sync interface eth2: Interface eth2 requires an IP address! (it needs an IPv4 address to reach peer 192.0.2.3)',
    'line 3: service conntrack-sync interface eth9: Interface "eth9" does not exist! (interfaces on this host: lo, eth0, eth1, eth2, eth3)',
    'line 7: service conntrack-sync listen-address 203.0.113.1: Specified listen-address 203.0.113.1 not assigned to any interface! (assign it to an interface outside any VRF, or remove it)',
    'line 8: service conntrack-sync listen-address 198.51.100.9: Specified listen-address 198.51.100.9 not assigned to any interface! (assign it to an interface outside any VRF, or remove it)',
  ]);
  const v6 = config('set service conntrack-sync interface eth2 peer 2001:db8::2', SG);
  assert.equal(checkEnvironment(v6, HOST), []);
  const mc = config('set service conntrack-sync interface eth2', SG);
  assert.equal(checkEnvironment(mc, HOST).map(formatIssue), [
    'service conntrack-sync interface eth2: Interface eth2 requires an IP address! (it needs an IPv4 address for multicast)',
  ]);
  assert.equal(checkEnvironment(config('set service conntrack-sync interface eth0', SG), HOST), []);
});

test('the real host view lists the loopback interface with its address (read-only)', () => {
  const lo = readHostView().interfaces.find((i) => i.name === 'lo');
  assert.ok(lo);
  assert.ok(lo?.addresses.some((a) => a.startsWith('127.0.0.1')));
  assert.is(lo?.vrf, undefined);
});

test('host warnings: the sync interface\'s own addresses not in ignore-address', () => {
  const c = config('set service conntrack-sync interface eth0', SG);
  assert.equal(environmentWarnings(c, HOST).map(formatIssue), [
    'service conntrack-sync interface eth0: address 192.0.2.1 of sync interface eth0 is not in ignore-address, so the sync traffic itself is replicated (add: set service conntrack-sync ignore-address 192.0.2.1)',
  ]);
  const covered = config('set service conntrack-sync interface eth0', SG, 'set service conntrack-sync ignore-address 192.0.2.0/24');
  assert.equal(environmentWarnings(covered, HOST), []);
});

test('config check: effective configuration with every default, sorted as VyOS shows it, then warnings', () => {
  const text = [
    'set high-availability vrrp sync-group SG1 member VI_1',
    'set service conntrack-sync mcast-group 239.0.0.1',
    'set service conntrack-sync interface eth10',
    'set service conntrack-sync interface eth0 port 3790',
    'set service conntrack-sync accept-protocol udp',
    'set service conntrack-sync accept-protocol tcp',
    SG,
    'set service conntrack-sync startup-resync',
    'set service conntrack-sync ignore-address 192.0.2.0/24',
  ].join('\n');
  const rep = checkConfig(text, { host: { interfaces: [...HOST.interfaces, { name: 'eth10', addresses: ['198.51.100.1/24'] }] } });
  assert.is(rep.ok, true);
  assert.is(formatCheckText(rep), [
    "set service conntrack-sync accept-protocol 'udp'",
    "set service conntrack-sync accept-protocol 'tcp'",
    "set service conntrack-sync cache-timeout '180'",
    "set service conntrack-sync commit-guard 'on'",
    "set service conntrack-sync commit-timeout '0'",
    "set service conntrack-sync control-socket '/run/ctsync/ctsync.sock'",
    "set service conntrack-sync event-listen-queue-size '8'",
    "set service conntrack-sync event-source 'auto'",
    "set service conntrack-sync failover-mechanism vrrp sync-group 'SG1'",
    "set service conntrack-sync ignore-address '192.0.2.0/24'",
    "set service conntrack-sync interface eth0 port '3790'",
    "set service conntrack-sync interface eth10 port '3780'",
    "set service conntrack-sync mcast-group '239.0.0.1'",
    "set service conntrack-sync mode 'ftfw'",
    "set service conntrack-sync purge-timeout '60'",
    "set service conntrack-sync refresh-time '60'",
    "set service conntrack-sync resend-queue-size '131072'",
    "set service conntrack-sync retransmit-timeout '2000'",
    'set service conntrack-sync startup-resync',
    "set service conntrack-sync sync-queue-size '1'",
    '# warning: line 3: service conntrack-sync interface eth10: address 198.51.100.1 of sync interface eth10 is not in ignore-address, so the sync traffic itself is replicated (add: set service conntrack-sync ignore-address 198.51.100.1)',
    '',
  ].join('\n'));
  // the output is itself a configuration that reads back to the same thing
  const again = parseConfig(formatCheckText(rep));
  assert.equal(again.config, rep.config);
  const json = JSON.parse(formatCheckJson(rep)) as { ok: boolean; errors: unknown[]; warnings: { where: string }[]; config: unknown };
  assert.is(json.ok, true);
  assert.equal(json.errors, []);
  assert.is(json.warnings[0].where, 'line 3');
  assert.equal(parseConfigJson(json.config).config, rep.config);
});

test('config check: errors, host errors included', () => {
  const rep = checkConfig('set service conntrack-sync interface eth7\n' + SG + '\nset service conntrack-sync purge-timeout 0\n', { host: HOST });
  assert.is(rep.ok, false);
  assert.is(formatCheckText(rep),
    'line 3: service conntrack-sync purge-timeout 0: Purge timeout must be in range 1 to 2147483647 seconds\n');
  const host = checkConfig('set service conntrack-sync interface eth7\n' + SG + '\n', { host: HOST });
  assert.is(formatCheckText(host),
    'line 1: service conntrack-sync interface eth7: Interface "eth7" does not exist! (interfaces on this host: lo, eth0, eth1, eth2, eth3)\n');
  const json = JSON.parse(formatCheckJson(host)) as { ok: boolean; errors: { where: string; node: string; message: string }[]; config?: unknown };
  assert.is(json.ok, false);
  assert.equal(json.errors[0], { where: 'line 1', node: 'service conntrack-sync interface eth7', message: 'Interface "eth7" does not exist! (interfaces on this host: lo, eth0, eth1, eth2, eth3)' });
  assert.is(json.config, undefined);
});

test('set lines and JSON render round-trip every node', () => {
  const c = config(
    'set service conntrack-sync interface eth0 peer 2001:db8::2', 'set service conntrack-sync interface eth1 peer 192.0.2.2', SG,
    'set service conntrack-sync accept-protocol icmp6', 'set service conntrack-sync disable-external-cache',
    'set service conntrack-sync disable-syslog', 'set service conntrack-sync event-listen-queue-size 16',
    'set service conntrack-sync expect-sync sip', 'set service conntrack-sync ignore-address 2001:db8::2',
    'set service conntrack-sync ignore-address 192.0.2.2', 'set service conntrack-sync purge-timeout 90',
    'set service conntrack-sync startup-resync', 'set service conntrack-sync sync-queue-size 2', 'set service conntrack-sync mode notrack',
    'set service conntrack-sync event-source netlink', 'set service conntrack-sync control-socket /run/c.sock',
    'set service conntrack-sync conntrackd-socket /run/d.ctl', 'set service conntrack-sync metrics-address 127.0.0.1:9100',
    'set service conntrack-sync keepalived notify-fifo /run/f', 'set service conntrack-sync hash-limit 1000',
    'set service conntrack-sync auth-key-file /etc/k', 'set service conntrack-sync log-file /var/log/c',
    'set service conntrack-sync commit-guard off',
  );
  assert.equal(parseConfig(configToSetLines(c).join('\n')).config, c);
  assert.equal(parseConfigJson(configToJson(c)).config, c);
  assert.ok(configToSetLines(c).includes("set service conntrack-sync metrics-address '127.0.0.1:9100'"));
  assert.ok(configToSetLines(c).includes('set service conntrack-sync disable-external-cache'));
  assert.ok(configToSetLines(c).includes("set service conntrack-sync commit-guard 'off'"));
});

test('reload: live changes apply, transport and mode changes need a restart', () => {
  const base = ['set service conntrack-sync interface eth0', SG];
  const a = config(...base);
  const live = config(...base, 'set service conntrack-sync ignore-address 192.0.2.0/24', 'set service conntrack-sync purge-timeout 30',
    'set service conntrack-sync accept-protocol tcp', 'set service conntrack-sync expect-sync ftp', 'set service conntrack-sync startup-resync',
    'set service conntrack-sync disable-syslog', 'set service conntrack-sync commit-timeout 10', 'set service conntrack-sync metrics-address 127.0.0.1:9100',
    'set service conntrack-sync commit-guard off');
  const p = planReload(a, live);
  assert.is(p.live, true);
  assert.equal(p.restart, []);
  assert.equal(p.changes.map((c) => c.node).sort(), ['accept-protocol', 'commit-guard', 'commit-timeout', 'disable-syslog', 'expect-sync', 'ignore-address',
    'metrics-address', 'purge-timeout', 'startup-resync']);
  assert.ok(p.message.startsWith('reload: applying live: '));
  assert.ok(p.message.includes('accept-protocol ((absent) -> tcp)'));
  assert.ok(p.message.includes('purge-timeout (60 -> 30)'));

  const same = planReload(a, config(...base));
  assert.equal(same.changes, []);
  assert.is(same.live, true);
  assert.is(same.message, 'reload: configuration unchanged');

  const mode = planReload(a, config(...base, 'set service conntrack-sync mode alarm', 'set service conntrack-sync purge-timeout 30'));
  assert.is(mode.live, false);
  assert.equal(mode.restart.map((c) => [c.node, c.from, c.to]), [['mode', ['ftfw'], ['alarm']]]);
  assert.is(mode.changes.length, 2);
  assert.is(mode.message, 'reload refused: mode (ftfw -> alarm) needs a restart; the running configuration is unchanged. ' +
    'Restart ctsync to apply the new file (with startup-resync the peer resends its flows), or undo these changes and reload again');

  const transport = planReload(a, config('set service conntrack-sync interface eth0 peer 192.0.2.2', 'set service conntrack-sync interface eth1 peer 192.0.2.3', SG));
  assert.is(transport.live, false);
  assert.equal(transport.restart.map((c) => c.node), ['interface eth0 peer', 'interface eth1 peer', 'interface eth1 port']);
  const port = planReload(a, config('set service conntrack-sync interface eth0 port 4000', SG));
  assert.equal(port.restart.map((c) => `${c.node}: ${c.from.join()} -> ${c.to.join()}`), ['interface eth0 port: 3780 -> 4000']);
  const group = planReload(a, config('set service conntrack-sync interface eth0', SG, 'set service conntrack-sync mcast-group 239.1.1.1'));
  assert.equal(group.restart.map((c) => c.node), ['mcast-group']);
});

test('expect-sync helper mapping (legacy) and conntrackd\'s case-insensitive prefix rule', () => {
  const h323 = config('set service conntrack-sync interface eth0', SG, 'set service conntrack-sync expect-sync h323');
  assert.equal(expectHelperNames(h323), ['RAS', 'Q.931', 'H.245']);
  assert.is(expectHelperMatches(h323, 'RAS'), true);
  assert.is(expectHelperMatches(h323, 'q.931'), true);
  assert.is(expectHelperMatches(h323, 'H.245'), true);
  assert.is(expectHelperMatches(h323, 'h323'), false);
  assert.is(expectHelperMatches(h323, 'ftp'), false);
  const multi = config('set service conntrack-sync interface eth0', SG, 'set service conntrack-sync expect-sync sip',
    'set service conntrack-sync expect-sync nfs', 'set service conntrack-sync expect-sync sqlnet', 'set service conntrack-sync expect-sync ftp');
  assert.equal(expectHelperNames(multi), ['sip', 'rpc', 'tns', 'ftp']);
  assert.is(expectHelperMatches(multi, 'sip-5060'), true);
  assert.is(expectHelperMatches(multi, 'SIP'), true);
  assert.is(expectHelperMatches(multi, 'rpc'), true);
  assert.is(expectHelperMatches(multi, 'tns'), true);
  assert.is(expectHelperMatches(multi, 'ftp-2121'), true);
  assert.is(expectHelperMatches(multi, 'tftp'), false);
  assert.is(expectHelperMatches(multi, 'nfs'), false);
  assert.is(expectHelperMatches(multi, undefined), false);
  const all = config('set service conntrack-sync interface eth0', SG, 'set service conntrack-sync expect-sync all');
  assert.is(expectHelperNames(all), 'all');
  assert.is(expectHelperMatches(all, 'irc'), true);
  assert.is(expectHelperMatches(all, undefined), true);
  const off = config('set service conntrack-sync interface eth0', SG);
  assert.equal(expectHelperNames(off), []);
  assert.is(expectHelperMatches(off, 'ftp'), false);
});

test.run();
