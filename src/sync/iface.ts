// What a sync link needs to know about its network interface: link state and MTU from
// /sys/class/net/IF, addresses and subnets from os.networkInterfaces(), and subnet matching.
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { parseIpv4, parseIpv6 } from '../flow/addr.ts';

export type LinkStatus = 'RUNNING' | 'NO-CARRIER' | 'DOWN';

const IFF_UP = 0x1;

function readSys(ifname: string, attr: string): string | undefined {
  try {
    return readFileSync(`/sys/class/net/${ifname}/${attr}`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** RUNNING (up with carrier), NO-CARRIER (up, no carrier) or DOWN (down or gone). */
export function interfaceStatus(ifname: string): LinkStatus {
  const flags = readSys(ifname, 'flags');
  if (flags === undefined || !(parseInt(flags, 16) & IFF_UP)) return 'DOWN';
  const oper = readSys(ifname, 'operstate');
  if (oper === 'up') return 'RUNNING';
  // virtual devices without operstate support report "unknown"; their carrier file decides
  if (oper === 'unknown' && readSys(ifname, 'carrier') === '1') return 'RUNNING';
  return 'NO-CARRIER';
}

export function interfaceExists(ifname: string): boolean {
  return readSys(ifname, 'ifindex') !== undefined;
}

/** The interface MTU, or undefined when it cannot be read. */
export function interfaceMtu(ifname: string): number | undefined {
  const v = Number(readSys(ifname, 'mtu'));
  return Number.isInteger(v) && v > 0 ? v : undefined;
}

export interface IfAddr {
  family: 4 | 6;
  address: string;
  bytes: Uint8Array;
  prefix: number;
}

/** Addresses of an interface with their prefix lengths (IPv6 link-local included). */
export function interfaceAddresses(ifname: string): IfAddr[] {
  const list = networkInterfaces()[ifname] ?? [];
  const out: IfAddr[] = [];
  for (const a of list) {
    const fam = (a.family as string | number) === 'IPv4' || (a.family as string | number) === 4 ? 4 : 6;
    const address = a.address.split('%')[0];
    const bytes = fam === 4 ? parseIpv4(address) : parseIpv6(address);
    if (!bytes) continue;
    let prefix = a.cidr ? Number(a.cidr.split('/')[1]) : NaN;
    if (!Number.isInteger(prefix)) prefix = maskBits(a.netmask, fam);
    out.push({ family: fam, address, bytes, prefix });
  }
  return out;
}

function maskBits(mask: string, fam: 4 | 6): number {
  const b = fam === 4 ? parseIpv4(mask) : parseIpv6(mask);
  if (!b) return fam === 4 ? 32 : 128;
  let n = 0;
  for (const x of b) for (let i = 7; i >= 0 && x & (1 << i); i--) n++;
  return n;
}

/** Bytes of an address string (scope suffix ignored), or undefined. */
export function addressBytes(s: string): Uint8Array | undefined {
  const a = s.split('%')[0];
  if (a.startsWith('::ffff:') && a.includes('.')) return parseIpv4(a.slice(7));
  return parseIpv4(a) ?? parseIpv6(a);
}

export function prefixMatch(a: Uint8Array, b: Uint8Array, prefix: number): boolean {
  if (a.length !== b.length) return false;
  let bits = prefix;
  for (let i = 0; i < a.length && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((a[i] & mask) !== (b[i] & mask)) return false;
  }
  return true;
}

/** Whether `addr` lies in one of the subnets of `addrs`. */
export function inSubnets(addr: Uint8Array, addrs: readonly IfAddr[]): boolean {
  for (const a of addrs) if (prefixMatch(addr, a.bytes, a.prefix)) return true;
  return false;
}
