// Byte-level helpers of the wire codec: big/little-endian integers and IP addresses written
// straight from their string form into a buffer, without allocating on the common path.
import { ipv4ToString, ipv6ToString, parseIpv6 } from '../flow/addr.ts';

export function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}
export function put16le(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
}
export function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 0xff;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}
export function get16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}
export function get16le(b: Uint8Array, o: number): number {
  return b[o] | (b[o + 1] << 8);
}
export function get32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/** Writes a dotted-quad IPv4 address; false when the string is not one. */
export function putIpv4(b: Uint8Array, o: number, s: string): boolean {
  let part = 0, val = 0, digits = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || part === 3) return false;
      b[o + part++] = val;
      val = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      val = val * 10 + (c - 48);
      if (++digits > 3 || val > 255) return false;
    } else return false;
  }
  if (digits === 0 || part !== 3) return false;
  b[o + 3] = val;
  return true;
}

/** Writes an IPv6 address (any RFC 4291 text form); false when the string is not one. */
export function putIpv6(b: Uint8Array, o: number, s: string): boolean {
  // pure-hex forms (what ipv6ToString produces) are parsed here; embedded IPv4 takes the slow path
  const len = s.length;
  const groups = fastGroups;
  let i = 0, n = 0, gap = -1;
  if (len >= 2 && s.charCodeAt(0) === 58) {
    if (s.charCodeAt(1) !== 58) return false;
    gap = 0;
    i = 2;
  }
  while (i < len) {
    let val = 0, digits = 0;
    while (i < len) {
      const c = s.charCodeAt(i);
      let d: number;
      if (c >= 48 && c <= 57) d = c - 48;
      else if (c >= 97 && c <= 102) d = c - 87;
      else if (c >= 65 && c <= 70) d = c - 55;
      else if (c === 46) return slowIpv6(b, o, s);
      else break;
      val = (val << 4) | d;
      if (++digits > 4) return false;
      i++;
    }
    if (digits === 0 || n === 8) return false;
    groups[n++] = val;
    if (i === len) break;
    if (s.charCodeAt(i) !== 58) return false;
    i++;
    if (i < len && s.charCodeAt(i) === 58) {
      if (gap >= 0) return false;
      gap = n;
      i++;
    } else if (i === len) return false;
  }
  if (gap < 0 ? n !== 8 : n > 7) return false;
  const fill = gap < 0 ? 0 : 8 - n;
  let w = 0;
  for (let g = 0; g <= n; g++) {
    if (g === gap) for (let k = 0; k < fill; k++) put16(b, o + 2 * w++, 0);
    if (g < n) put16(b, o + 2 * w++, groups[g]);
  }
  return true;
}
const fastGroups = new Array<number>(8).fill(0);

function slowIpv6(b: Uint8Array, o: number, s: string): boolean {
  const v = parseIpv6(s);
  if (!v) return false;
  b.set(v, o);
  return true;
}

export function putAddr(b: Uint8Array, o: number, s: string, family: 4 | 6): boolean {
  return family === 4 ? putIpv4(b, o, s) : putIpv6(b, o, s);
}

export function getAddr(b: Uint8Array, o: number, family: 4 | 6): string {
  return family === 4 ? ipv4ToString(b, o) : ipv6ToString(b, o);
}
