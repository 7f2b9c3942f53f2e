// Mutations for the fuzz harness: a seeded PRNG and byte-level and structure-aware operators.
// Each call of mutate() stacks 1-4 of them on a copy of the input:
//   bit flips, interesting byte values, byte insert / delete / duplicate, chunk duplication,
//   truncation, length-field edits at the positions a format declares (message and attribute
//   lengths), attribute splicing (a TLV taken from any seed, inserted or overwritten at a 4-byte
//   boundary), and concatenation with another seed.

/** Deterministic PRNG (mulberry32): the same seed replays the same inputs. */
export class Rng {
  private a: number;
  constructor(seed: number) { this.a = seed >>> 0; }
  next(): number {
    this.a = (this.a + 0x6d2b79f5) >>> 0;
    let t = this.a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number { return Math.floor(this.next() * n); }
  pick<T>(xs: readonly T[]): T { return xs[this.int(xs.length)]; }
  chance(p: number): boolean { return this.next() < p; }
}

/** Where a format keeps its lengths, so that mutations can aim at them. */
export interface LengthField { at: number; size: 2 | 4; little: boolean }

export interface Format {
  /** length fields of an input (message and attribute lengths) */
  lengths(b: Uint8Array): LengthField[];
  /** attribute chunks (whole TLVs) of an input, for splicing */
  chunks(b: Uint8Array): Uint8Array[];
  /** optional repair after mutating: e.g. make the outer length agree again, so decoding goes deeper */
  fix?(b: Uint8Array): void;
}

const INTERESTING8 = [0, 1, 0x7f, 0x80, 0xff, 0x10, 0x1a, 0x20, 0x40, 4, 8, 12];
const INTERESTING16 = [0, 1, 3, 4, 5, 7, 8, 12, 15, 16, 17, 36, 0x7fff, 0x8000, 0xffff];

function getLen(b: Uint8Array, f: LengthField): number {
  if (f.size === 2) return f.little ? b[f.at] | (b[f.at + 1] << 8) : (b[f.at] << 8) | b[f.at + 1];
  return f.little
    ? (b[f.at] | (b[f.at + 1] << 8) | (b[f.at + 2] << 16) | (b[f.at + 3] << 24)) >>> 0
    : ((b[f.at] << 24) | (b[f.at + 1] << 16) | (b[f.at + 2] << 8) | b[f.at + 3]) >>> 0;
}

function setLen(b: Uint8Array, f: LengthField, v: number): void {
  const bytes = f.size;
  for (let i = 0; i < bytes; i++) {
    const shift = 8 * (f.little ? i : bytes - 1 - i);
    b[f.at + i] = Math.floor(v / 2 ** shift) & 0xff;
  }
}

/** Counts of the operators applied, for the report. */
export const applied: Record<string, number> = {};

export class Mutator {
  private readonly dict: Uint8Array[] = [];

  constructor(readonly rng: Rng, readonly seeds: readonly Uint8Array[], readonly format?: Format, readonly maxLen = 4096) {
    if (format) for (const s of seeds) for (const c of format.chunks(s)) if (c.length <= 512) this.dict.push(c);
  }

  mutate(input?: Uint8Array): Uint8Array {
    const r = this.rng;
    let b: Uint8Array = Uint8Array.from(input ?? r.pick(this.seeds));
    const n = 1 + r.int(4);
    for (let k = 0; k < n; k++) b = this.once(b);
    if (this.format?.fix && r.chance(0.5)) this.format.fix(b);
    return b.length > this.maxLen ? b.subarray(0, this.maxLen) : b;
  }

  private once(b: Uint8Array): Uint8Array {
    const r = this.rng;
    const op = r.int(11);
    const name = ['flip', 'byte', 'insert', 'delete', 'duplicate', 'truncate', 'length', 'length', 'splice', 'splice', 'concat'][op];
    applied[name] = (applied[name] ?? 0) + 1;
    switch (op) {
      case 0: {
        if (!b.length) return b;
        for (let i = 1 + r.int(3); i > 0; i--) b[r.int(b.length)] ^= 1 << r.int(8);
        return b;
      }
      case 1: {
        if (!b.length) return b;
        b[r.int(b.length)] = r.chance(0.5) ? r.pick(INTERESTING8) : r.int(256);
        return b;
      }
      case 2: {
        const at = r.int(b.length + 1);
        const add = new Uint8Array(1 + r.int(8));
        for (let i = 0; i < add.length; i++) add[i] = r.chance(0.3) ? 0 : r.int(256);
        return concat(b.subarray(0, at), add, b.subarray(at));
      }
      case 3: {
        if (!b.length) return b;
        const at = r.int(b.length);
        const n = 1 + r.int(Math.min(8, b.length - at));
        return concat(b.subarray(0, at), b.subarray(at + n));
      }
      case 4: {
        if (!b.length) return b;
        const from = r.int(b.length);
        const n = 1 + r.int(Math.min(64, b.length - from));
        const at = r.int(b.length + 1);
        return concat(b.subarray(0, at), b.slice(from, from + n), b.subarray(at));
      }
      case 5:
        return b.subarray(0, r.int(b.length + 1));
      case 6:
      case 7: {
        const fields = this.format?.lengths(b) ?? [];
        if (!fields.length) {
          if (b.length >= 4) {
            const at = r.int(b.length - 1);
            b[at] = 0; b[at + 1] = r.pick(INTERESTING8);
          }
          return b;
        }
        const f = r.pick(fields);
        const cur = getLen(b, f);
        const choices = [...INTERESTING16, cur + 1, cur - 1, cur + 4, cur - 4, b.length, b.length - f.at, cur * 2];
        setLen(b, f, Math.max(0, r.pick(choices)) % (f.size === 2 ? 0x10000 : 0x100000000));
        return b;
      }
      case 8:
      case 9: {
        if (!this.dict.length) return b;
        const c = r.pick(this.dict);
        const at = Math.min(b.length, 4 * r.int(Math.floor(b.length / 4) + 1));
        if (r.chance(0.5)) return concat(b.subarray(0, at), c, b.subarray(at));
        const out = Uint8Array.from(b);
        const end = Math.min(out.length, at + c.length);
        out.set(c.subarray(0, end - at), at);
        return out;
      }
      default:
        return concat(b, r.pick(this.seeds));
    }
  }
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

// ---------------------------------------------------------------- formats

const be16 = (b: Uint8Array, o: number) => (b[o] << 8) | b[o + 1];
const le16 = (b: Uint8Array, o: number) => b[o] | (b[o + 1] << 8);
const le32 = (b: Uint8Array, o: number) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;

/** conntrackd datagrams: messages (u16 BE length at +2), attributes (u16 BE nta_len) after +8. */
export const WIRE: Format = {
  lengths(b) {
    const out: LengthField[] = [];
    for (let p = 0; p + 8 <= b.length && out.length < 64;) {
      const len = be16(b, p + 2);
      out.push({ at: p + 2, size: 2, little: false });
      const end = Math.min(b.length, p + Math.max(len, 8));
      const ctl = (b[p] & 0x0f) === 10;
      for (let a = p + (ctl ? 16 : 8); a + 4 <= end && out.length < 64;) {
        out.push({ at: a, size: 2, little: false });
        const n = be16(b, a);
        if (n < 4) break;
        a += (n + 3) & ~3;
      }
      if (len < 8) break;
      p += len;
    }
    return out;
  },
  chunks(b) {
    const out: Uint8Array[] = [];
    for (let p = 0; p + 8 <= b.length;) {
      const len = be16(b, p + 2);
      if (len < 8 || p + len > b.length) break;
      if ((b[p] & 0x0f) <= 5) {
        for (let a = p + 8; a + 4 <= p + len;) {
          const n = be16(b, a);
          if (n < 4 || a + n > p + len) break;
          out.push(b.slice(a, a + ((n + 3) & ~3)));
          a += (n + 3) & ~3;
        }
      }
      out.push(b.slice(p, p + len));
      p += len;
    }
    return out;
  },
  fix(b) {
    // a single message again, as long as the datagram
    if (b.length >= 8 && b.length <= 0xffff) { b[2] = b.length >> 8; b[3] = b.length & 0xff; }
  },
};

/** Netlink messages: nlmsg_len (u32 LE) at 0, nfgenmsg, then attributes (u16 LE nla_len), nested. */
export const NETLINK: Format = {
  lengths(b) {
    const out: LengthField[] = [];
    if (b.length >= 4) out.push({ at: 0, size: 4, little: true });
    const walk = (from: number, to: number, depth: number) => {
      for (let a = from; a + 4 <= to && out.length < 96;) {
        out.push({ at: a, size: 2, little: true });
        const n = le16(b, a);
        if (n < 4) return;
        if (depth < 4 && le16(b, a + 2) & 0x8000) walk(a + 4, Math.min(to, a + n), depth + 1);
        a += (n + 3) & ~3;
      }
    };
    if (b.length >= 20) walk(20, Math.min(b.length, le32(b, 0) || b.length), 0);
    return out;
  },
  chunks(b) {
    const out: Uint8Array[] = [];
    const walk = (from: number, to: number, depth: number) => {
      for (let a = from; a + 4 <= to;) {
        const n = le16(b, a);
        if (n < 4 || a + n > to) return;
        out.push(b.slice(a, a + ((n + 3) & ~3)));
        if (depth < 3 && le16(b, a + 2) & 0x8000) walk(a + 4, a + n, depth + 1);
        a += (n + 3) & ~3;
      }
    };
    if (b.length >= 20) walk(20, b.length, 0);
    return out;
  },
  fix(b) {
    if (b.length >= 4) { b[0] = b.length & 0xff; b[1] = (b.length >> 8) & 0xff; b[2] = (b.length >> 16) & 0xff; b[3] = 0; }
  },
};
