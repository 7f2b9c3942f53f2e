// The checks that look at the host (VyOS verify(): interfaces exist and carry an address, every
// listen-address is assigned), against an injected view of the host's interfaces so tests need no
// root. readHostView() builds the real view.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { basename } from 'node:path';
import type { Config } from './schema.ts';
import { type ConfigIssue, error, nodeText, warning } from './issues.ts';
import { VYOS } from './verify.ts';
import { pathKey } from './raw.ts';
import { canonicalAddr } from '../flow/addr.ts';
import { coveredBy, isIpv6, isLinkLocal6 } from './prefix.ts';

export interface HostInterface {
  name: string;
  /** assigned addresses, plain or with a prefix length: "192.0.2.1/24", "2001:db8::1/64" */
  addresses: string[];
  /** the VRF the interface is enslaved to, if any */
  vrf?: string;
}

export interface HostView {
  interfaces: HostInterface[];
}

function plain(a: string): string {
  const s = a.split('/')[0];
  return canonicalAddr(s) ?? s;
}

/** VyOS's host checks. `origins` (from ParseResult) adds the line of the offending node. */
export function checkEnvironment(config: Config, host: HostView, origins?: ReadonlyMap<string, string>): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  const at = (...p: string[]) => origins?.get(pathKey(p));
  const byName = new Map(host.interfaces.map((i) => [i.name, i]));
  for (const i of config.interfaces) {
    const h = byName.get(i.name);
    if (!h) {
      const names = host.interfaces.map((x) => x.name).join(', ');
      out.push(error(nodeText(['interface', i.name]), `${VYOS.ifMissing(i.name)} (interfaces on this host: ${names || 'none'})`, at('interface', i.name)));
      continue;
    }
    // Multicast and IPv4 peers need an IPv4 source address (IPv4_interface); IPv6 peers an IPv6 one.
    const wantV6 = i.peer !== undefined && isIpv6(i.peer);
    const has = h.addresses.map(plain).some((a) => isIpv6(a) === wantV6);
    if (!has) {
      out.push(error(nodeText(['interface', i.name]),
        `${VYOS.ifNoAddress(i.name)} (it needs an ${wantV6 ? 'IPv6' : 'IPv4'} address ${i.peer === undefined ? 'for multicast' : `to reach peer ${i.peer}`})`,
        at('interface', i.name)));
    }
  }
  // VyOS's is_addr_assigned() only looks at interfaces outside VRFs.
  const assigned = new Set(host.interfaces.filter((i) => i.vrf === undefined).flatMap((i) => i.addresses.map(plain)));
  config.listenAddress.forEach((a, idx) => {
    if (!assigned.has(a)) {
      out.push(error(nodeText(['listen-address', a]),
        `${VYOS.listenNotAssigned(a)} (assign it to an interface outside any VRF, or remove it)`,
        origins?.get(pathKey(['listen-address', idx]))));
    }
  });
  return out;
}

/** Warnings that need the host: the sync interfaces' own addresses missing from ignore-address. */
export function environmentWarnings(config: Config, host: HostView, origins?: ReadonlyMap<string, string>): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  const byName = new Map(host.interfaces.map((i) => [i.name, i]));
  for (const i of config.interfaces) {
    const h = byName.get(i.name);
    if (!h) continue;
    const wantV6 = i.peer !== undefined && isIpv6(i.peer);
    for (const a of h.addresses.map(plain)) {
      if (isIpv6(a) !== wantV6 || isLinkLocal6(a)) continue;
      if (coveredBy(a, config.ignoreAddress)) continue;
      out.push(warning(nodeText(['interface', i.name]),
        `address ${a} of sync interface ${i.name} is not in ignore-address, so the sync traffic itself is replicated (add: set service conntrack-sync ignore-address ${a})`,
        origins?.get(pathKey(['interface', i.name]))));
    }
  }
  return out;
}

/** The real host: interface names from /sys/class/net, addresses from the OS, VRF from sysfs. */
export function readHostView(): HostView {
  const addrs = networkInterfaces();
  let names: string[];
  try {
    names = readdirSync('/sys/class/net');
  } catch {
    names = Object.keys(addrs);
  }
  return {
    interfaces: names.map((name) => {
      const list = (addrs[name] ?? []).map((a) => a.cidr ?? a.address);
      const out: HostInterface = { name, addresses: list };
      const vrf = vrfOf(name);
      if (vrf !== undefined) out.vrf = vrf;
      return out;
    }),
  };
}

function vrfOf(name: string): string | undefined {
  try {
    const master = basename(readlinkSync(`/sys/class/net/${name}/master`));
    const uevent = readFileSync(`/sys/class/net/${master}/uevent`, 'utf8');
    return /^DEVTYPE=vrf$/m.test(uevent) ? master : undefined;
  } catch {
    return undefined;
  }
}
