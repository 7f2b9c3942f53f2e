// The commit-time checks of VyOS's service_conntrack-sync.py verify() that need no host access,
// plus the warnings VyOS does not give.
import type { Config } from './schema.ts';
import { transportOf } from './schema.ts';
import { type ConfigIssue, error, nodeText, warning } from './issues.ts';
import { type RawConfig, pathKey } from './raw.ts';
import { coveredBy, isIpv6 } from './prefix.ts';

export const VYOS = {
  noInterface: 'Interface not defined!',
  mixed: 'Can not mix unicast and multicast mode!',
  expectAll: 'Can not configure expect-sync "all" with other protocols!',
  noSyncGroup: 'No VRRP sync-group defined!',
  syncGroupMissing: (g: string) => `VRRP sync-group ${g} not configured!`,
  ifMissing: (i: string) => `Interface "${i}" does not exist!`,
  ifNoAddress: (i: string) => `Interface ${i} requires an IP address!`,
  listenNotAssigned: (a: string) => `Specified listen-address ${a} not assigned to any interface!`,
  notConfigured: 'conntrack-sync is not configured!',
} as const;

export function verify(config: Config, raw: RawConfig): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  const at = (...p: (string | number)[]) => raw.origins.get(pathKey(p));

  // Presence is judged on the raw tree: a node given with a bad value has its own error already.
  const rawIf = raw.tree.interface;
  const rawFailover = raw.tree['failover-mechanism'];
  const givenSyncGroup = typeof rawFailover === 'object' && !Array.isArray(rawFailover) &&
    typeof rawFailover.vrrp === 'object' && !Array.isArray(rawFailover.vrrp) && typeof rawFailover.vrrp['sync-group'] === 'string';
  if (config.interfaces.length === 0 && !(typeof rawIf === 'object' && Object.keys(rawIf).length > 0)) {
    out.push(error(nodeText(['interface']),
      `${VYOS.noInterface} (add: set service conntrack-sync interface <name>)`));
  } else if (config.interfaces.length > 0) {
    // A peer given with a bad value still counts as a peer here.
    const hasPeer = (name: string) => {
      const e = typeof rawIf === 'object' && !Array.isArray(rawIf) ? rawIf[name] : undefined;
      return typeof e === 'object' && !Array.isArray(e) && typeof e.peer === 'string';
    };
    const firstHas = hasPeer(config.interfaces[0].name);
    const odd = config.interfaces.find((i) => hasPeer(i.name) !== firstHas);
    if (odd) {
      const withPeer = config.interfaces.filter((i) => hasPeer(i.name)).map((i) => i.name);
      const without = config.interfaces.filter((i) => !hasPeer(i.name)).map((i) => i.name);
      out.push(error(nodeText(['interface', odd.name]),
        `${VYOS.mixed} (with peer: ${withPeer.join(', ')}; without: ${without.join(', ')}; set a peer on every interface or on none)`,
        at('interface', odd.name)));
    }
  }

  if (config.expectSync.includes('all') && config.expectSync.length > 1) {
    const idx = config.expectSync.indexOf('all');
    out.push(error(nodeText(['expect-sync', 'all']),
      `${VYOS.expectAll} (keep "all" alone, or list the protocols)`, at('expect-sync', idx) ?? at('expect-sync')));
  }

  const sg = config.failover.syncGroup;
  if (sg === '' && !givenSyncGroup) {
    out.push(error(nodeText(['failover-mechanism', 'vrrp', 'sync-group']),
      `${VYOS.noSyncGroup} (add: set service conntrack-sync failover-mechanism vrrp sync-group <name>)`,
      at('failover-mechanism')));
  } else if (sg !== '' && raw.vrrpSyncGroups !== undefined && !raw.vrrpSyncGroups.includes(sg)) {
    const known = raw.vrrpSyncGroups.length
      ? `defined under high-availability vrrp sync-group: ${raw.vrrpSyncGroups.join(', ')}`
      : 'no high-availability vrrp sync-group is defined';
    out.push(error(nodeText(['failover-mechanism', 'vrrp', 'sync-group', sg]),
      `${VYOS.syncGroupMissing(sg)} (${known})`,
      at('failover-mechanism', 'vrrp', 'sync-group')));
  }

  if (config.listenAddress.length > 0) {
    for (const i of config.interfaces) {
      if (i.peer !== undefined && isIpv6(i.peer)) {
        out.push(error(nodeText(['interface', i.name, 'peer', i.peer]),
          `listen-address is IPv4 only and cannot serve the IPv6 peer ${i.peer}; remove listen-address or use an IPv4 peer`,
          at('interface', i.name, 'peer')));
      }
    }
  }
  return out;
}

/** What VyOS accepts silently but a firewall engineer wants to hear about. */
export function configWarnings(config: Config, raw: RawConfig): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  const at = (...p: (string | number)[]) => raw.origins.get(pathKey(p));
  const has = (name: string) => Object.hasOwn(raw.tree, name);
  const unicast = transportOf(config) === 'udp';

  if (!unicast) {
    config.listenAddress.forEach((a, idx) => {
      out.push(warning(nodeText(['listen-address', a]),
        'listen-address is ignored in multicast mode (it only applies to interfaces with a peer)', at('listen-address', idx)));
    });
  }
  if (unicast && has('mcast-group')) {
    out.push(warning(nodeText(['mcast-group', config.mcastGroup]),
      'mcast-group is ignored in unicast mode (every interface has a peer)', at('mcast-group')));
  }
  for (const i of config.interfaces) {
    if (i.peer !== undefined && !coveredBy(i.peer, config.ignoreAddress)) {
      out.push(warning(nodeText(['interface', i.name, 'peer', i.peer]),
        `peer ${i.peer} is not in ignore-address, so the sync traffic itself is replicated (add: set service conntrack-sync ignore-address ${i.peer})`,
        at('interface', i.name, 'peer')));
    }
  }
  if (config.mode !== 'alarm') {
    for (const n of ['refresh-time', 'cache-timeout'] as const) {
      if (has(n)) out.push(warning(nodeText([n, String(raw.tree[n])]), `${n} only applies to mode alarm (mode is ${config.mode})`, at(n)));
    }
  }
  if (config.mode !== 'ftfw') {
    for (const n of ['resend-queue-size', 'retransmit-timeout'] as const) {
      if (has(n)) out.push(warning(nodeText([n, String(raw.tree[n])]), `${n} only applies to mode ftfw (mode is ${config.mode})`, at(n)));
    }
  }
  if (config.disableExternalCache && config.commitTimeout > 0) {
    out.push(warning(nodeText(['commit-timeout', String(config.commitTimeout)]),
      'commit-timeout is ignored with disable-external-cache: received flows go straight into the kernel with the received timeout',
      at('commit-timeout')));
  }
  return out;
}
