// Address-in-prefix tests for ignore-address coverage checks.
import { parseIpv4, parseIpv6 } from '../flow/addr.ts';

function bytesOf(addr: string): Uint8Array | undefined {
  return parseIpv4(addr) ?? parseIpv6(addr);
}

/** Whether `addr` (a plain address) lies in `entry` (an address or a prefix). */
export function prefixContains(entry: string, addr: string): boolean {
  const slash = entry.indexOf('/');
  const net = bytesOf(slash < 0 ? entry : entry.slice(0, slash));
  const a = bytesOf(addr);
  if (!net || !a || net.length !== a.length) return false;
  const bits = slash < 0 ? net.length * 8 : Number(entry.slice(slash + 1));
  for (let i = 0; i < net.length; i++) {
    const take = Math.max(0, Math.min(8, bits - i * 8));
    if (take === 0) break;
    const mask = (0xff << (8 - take)) & 0xff;
    if ((net[i] & mask) !== (a[i] & mask)) return false;
  }
  return true;
}

export function coveredBy(addr: string, entries: readonly string[]): boolean {
  return entries.some((e) => prefixContains(e, addr));
}

export function isIpv6(addr: string): boolean {
  return addr.includes(':');
}

export function isLinkLocal6(addr: string): boolean {
  const b = parseIpv6(addr);
  return b !== undefined && b[0] === 0xfe && (b[1] & 0xc0) === 0x80;
}
