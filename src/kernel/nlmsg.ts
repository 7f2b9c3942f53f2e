// Netlink message framing: a writer that builds many messages into one reused buffer, and an
// attribute walker. Headers are host-endian (little-endian here); ctnetlink payloads are big-endian.

export const NLMSG = { NOOP: 1, ERROR: 2, DONE: 3, OVERRUN: 4 } as const;
export const NLM_F = {
  REQUEST: 0x1, MULTI: 0x2, ACK: 0x4, ECHO: 0x8, DUMP_INTR: 0x10,
  ROOT: 0x100, MATCH: 0x200, DUMP: 0x300, REPLACE: 0x100, EXCL: 0x200, CREATE: 0x400, APPEND: 0x800,
} as const;
export const NLA_F_NESTED = 0x8000;
export const NLA_TYPE_MASK = 0x3fff;
export const NLMSG_HDRLEN = 16;

const align4 = (n: number) => (n + 3) & ~3;

/** Builds netlink messages back to back in one buffer, for one sendto(). */
export class NlWriter {
  buf: Uint8Array;
  dv: DataView;
  len = 0;
  private msgStart = -1;
  private readonly nests: number[] = [];

  constructor(size = 1 << 16) {
    this.buf = new Uint8Array(size);
    this.dv = new DataView(this.buf.buffer);
  }

  reset(): void { this.len = 0; this.msgStart = -1; this.nests.length = 0; }

  /** Bytes in use, or free room; room() is what a further message may take. */
  room(): number { return this.buf.length - this.len; }

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
    this.dv = new DataView(b.buffer);
  }

  /** Starts a message with an nfgenmsg header (family, version 0, res_id). */
  begin(type: number, flags: number, seq: number, family: number, resId = 0): void {
    this.ensure(20);
    const o = this.len;
    this.msgStart = o;
    this.dv.setUint32(o, 0, true);
    this.dv.setUint16(o + 4, type, true);
    this.dv.setUint16(o + 6, flags, true);
    this.dv.setUint32(o + 8, seq >>> 0, true);
    this.dv.setUint32(o + 12, 0, true);
    this.buf[o + 16] = family;
    this.buf[o + 17] = 0;
    this.dv.setUint16(o + 18, resId, false);
    this.len = o + 20;
  }

  /** Ends the current message; returns its length. */
  end(): number {
    const n = this.len - this.msgStart;
    this.dv.setUint32(this.msgStart, n, true);
    this.msgStart = -1;
    return n;
  }

  /** Drops the current, unfinished message (e.g. an encoding error half way through). */
  abort(): void {
    if (this.msgStart >= 0) this.len = this.msgStart;
    this.msgStart = -1;
    this.nests.length = 0;
  }

  private hdr(type: number, payload: number): number {
    this.ensure(4 + align4(payload));
    const o = this.len;
    this.dv.setUint16(o, 4 + payload, true);
    this.dv.setUint16(o + 2, type, true);
    // zero the padding so messages are deterministic
    for (let i = payload; i < align4(payload); i++) this.buf[o + 4 + i] = 0;
    this.len = o + 4 + align4(payload);
    return o + 4;
  }

  // hdr() may grow (replace) the buffer: take its offset before touching this.buf / this.dv
  u8(type: number, v: number): void { const o = this.hdr(type, 1); this.buf[o] = v; }
  u16be(type: number, v: number): void { const o = this.hdr(type, 2); this.dv.setUint16(o, v, false); }
  u32be(type: number, v: number): void { const o = this.hdr(type, 4); this.dv.setUint32(o, v >>> 0, false); }
  u64be(type: number, v: bigint | number): void { const o = this.hdr(type, 8); this.dv.setBigUint64(o, BigInt(v), false); }
  bytes(type: number, b: Uint8Array): void { const o = this.hdr(type, b.length); this.buf.set(b, o); }
  /** An attribute whose payload is src[so..so+n) (no subarray to allocate). */
  copy(type: number, src: Uint8Array, so: number, n: number): void {
    const o = this.hdr(type, n);
    const b = this.buf;
    for (let i = 0; i < n; i++) b[o + i] = src[so + i];
  }
  cstr(type: number, s: string): void {
    const o = this.hdr(type, s.length + 1);
    for (let i = 0; i < s.length; i++) this.buf[o + i] = s.charCodeAt(i) & 0xff;
    this.buf[o + s.length] = 0;
  }
  nest(type: number): void {
    this.ensure(4);
    this.nests.push(this.len);
    this.dv.setUint16(this.len + 2, type | NLA_F_NESTED, true);
    this.len += 4;
  }
  nestEnd(): void {
    const o = this.nests.pop()!;
    this.dv.setUint16(o, this.len - o, true);
  }

  data(): Uint8Array { return this.buf.subarray(0, this.len); }
}

/**
 * Attribute index of one nesting level: `at[type]` is the payload offset (or -1) and `len[type]`
 * the payload length. Reused across messages so that walking allocates nothing.
 */
export class AttrTable {
  readonly at: Int32Array;
  readonly len: Int32Array;
  constructor(max: number) {
    this.at = new Int32Array(max + 1).fill(-1);
    this.len = new Int32Array(max + 1);
  }
  /** Indexes the attributes in [start, end); returns false when they are malformed. */
  parse(dv: DataView, start: number, end: number): boolean {
    this.at.fill(-1);
    let o = start;
    while (o + 4 <= end) {
      const l = dv.getUint16(o, true);
      const t = dv.getUint16(o + 2, true) & NLA_TYPE_MASK;
      if (l < 4 || o + l > end) return false;
      if (t < this.at.length) { this.at[t] = o + 4; this.len[t] = l - 4; }
      o += align4(l);
    }
    // 1-3 bytes left over: a truncated attribute header
    return o >= end;
  }
  has(t: number): boolean { return this.at[t] >= 0; }
}

export interface NlHeader { len: number; type: number; flags: number; seq: number; pid: number }

/** Walks the netlink messages in buf[0, n), calling fn with each header and the payload offset. */
export function eachMessage(dv: DataView, n: number, fn: (h: NlHeader, payload: number) => void): boolean {
  const h: NlHeader = { len: 0, type: 0, flags: 0, seq: 0, pid: 0 };
  let o = 0;
  while (o + NLMSG_HDRLEN <= n) {
    h.len = dv.getUint32(o, true);
    if (h.len < NLMSG_HDRLEN || o + h.len > n) return false;
    h.type = dv.getUint16(o + 4, true);
    h.flags = dv.getUint16(o + 6, true);
    h.seq = dv.getUint32(o + 8, true);
    h.pid = dv.getUint32(o + 12, true);
    fn(h, o + NLMSG_HDRLEN);
    o += align4(h.len);
  }
  return true;
}
