// IP addresses as canonical strings (what users read and JSON carries) and their byte forms.

export function ipv4ToString(b: Uint8Array, off = 0): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

export function ipv6ToString(b: Uint8Array, off = 0): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((b[off + 2 * i] << 8) | b[off + 2 * i + 1]);
  // RFC 5952: compress the longest run (>= 2) of zero groups, the first one on a tie.
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(w);
  return `${hex(w.slice(0, best))}::${hex(w.slice(best + bestLen))}`;
}

export function parseIpv4(s: string, out?: Uint8Array, off = 0): Uint8Array | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const b = out ?? new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const v = Number(m[i + 1]);
    if (v > 255 || (m[i + 1].length > 1 && m[i + 1][0] === '0')) return undefined;
    b[off + i] = v;
  }
  return b;
}

export function parseIpv6(s: string, out?: Uint8Array, off = 0): Uint8Array | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || s.length < 2) return undefined;
  let head = s, tail = '';
  const dbl = s.indexOf('::');
  if (dbl >= 0) {
    if (s.indexOf('::', dbl + 1) >= 0) return undefined;
    head = s.slice(0, dbl);
    tail = s.slice(dbl + 2);
  }
  const groups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const res: number[] = [];
    const items = part.split(':');
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      if (it.includes('.')) {
        if (i !== items.length - 1) return undefined;
        const v4 = parseIpv4(it);
        if (!v4) return undefined;
        res.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(it)) return undefined;
        res.push(parseInt(it, 16));
      }
    }
    return res;
  };
  const h = groups(head), t = groups(tail);
  if (!h || !t) return undefined;
  if (dbl < 0 ? h.length !== 8 : h.length + t.length > 7) return undefined;
  const all = [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
  const b = out ?? new Uint8Array(16);
  for (let i = 0; i < 8; i++) { b[off + 2 * i] = all[i] >> 8; b[off + 2 * i + 1] = all[i] & 0xff; }
  return b;
}

/** Family of an address string, or 0 when it is neither IPv4 nor IPv6. */
export function familyOf(s: string): 4 | 6 | 0 {
  if (parseIpv4(s)) return 4;
  if (parseIpv6(s)) return 6;
  return 0;
}

/** Bytes of an address string; throws on a malformed address (a programming error by then). */
export function addrBytes(s: string): Uint8Array {
  const b = parseIpv4(s) ?? parseIpv6(s);
  if (!b) throw new Error(`not an IP address: ${s}`);
  return b;
}

/** Canonical form of an address string (e.g. 2001:DB8:0::1 -> 2001:db8::1). */
export function canonicalAddr(s: string): string | undefined {
  const v4 = parseIpv4(s);
  if (v4) return ipv4ToString(v4);
  const v6 = parseIpv6(s);
  return v6 ? ipv6ToString(v6) : undefined;
}

/** Whether the n address bytes at b[x..] and b[y..] are equal (two addresses of one message). */
export function sameAddr(b: Uint8Array, x: number, y: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (b[x + i] !== b[y + i]) return false;
  return true;
}
