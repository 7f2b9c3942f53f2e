// Which flows ctsync synchronises: the `accept-protocol` and `ignore-address` settings, written
// once. The same FlowFilter decides for dumps and resyncs (matches) and fills the BPF maps that
// the kernel-side programs consult (bpfMaps), so the two cannot disagree.
//
// The rule:
//   A flow is synchronised unless
//     (a) accept-protocol lists at least one protocol and the flow's protocol (the original
//         tuple's IP protocol: tcp 6, udp 17, icmp 1, icmp6 58, sctp 132, dccp 33) is not among
//         them; or
//     (b) its original source, original destination or reply source address lies in one of the
//         ignore-address entries (an IPv4 or IPv6 address, or a prefix such as 192.0.2.0/24 or
//         2001:db8::/32; an address without a length is a /32 or /128). The reply source is
//         the address the reply really comes from, so a destination NAT to an ignored server is
//         ignored too. IPv4 entries apply to IPv4 flows, IPv6 entries to IPv6 flows.
//   With neither setting, every flow is synchronised.
import type { Flow } from './flow.ts';
import { parseIpv4, parseIpv6, ipv4ToString, ipv6ToString } from './addr.ts';

export const PROTOCOL_NUMBERS = { tcp: 6, udp: 17, icmp: 1, icmp6: 58, sctp: 132, dccp: 33 } as const;
export type ProtocolName = keyof typeof PROTOCOL_NUMBERS;

export interface FilterConfig {
  /** accept-protocol values; empty or absent: every protocol */
  acceptProtocols?: readonly string[];
  /** ignore-address values: addresses or prefixes, IPv4 or IPv6 */
  ignoreAddresses?: readonly string[];
}

export class FilterError extends Error { override name = 'FilterError'; }

export interface Prefix {
  family: 4 | 6;
  /** network address bytes, host bits cleared */
  bytes: Uint8Array;
  length: number;
  /** canonical text, e.g. 192.0.2.0/24 */
  text: string;
}

/** Contents of the kernel-side filter maps (see bpf/maps.h). */
export interface FilterMaps {
  /** consult acceptProto at all (CFG_PROTO_FILTER) */
  protoFilter: boolean;
  /** index: IP protocol, value 1 = accepted */
  acceptProto: Uint8Array;
  /** LPM entries: prefix length and the address bytes (4 or 16) */
  ignoreV4: { prefixLen: number; addr: Uint8Array }[];
  ignoreV6: { prefixLen: number; addr: Uint8Array }[];
}

/** Parses an ignore-address value; throws FilterError naming the value. */
export function parsePrefix(value: string): Prefix {
  const s = value.trim();
  const slash = s.indexOf('/');
  const addr = slash < 0 ? s : s.slice(0, slash);
  const v4 = parseIpv4(addr);
  const v6 = v4 ? undefined : parseIpv6(addr);
  const bytes = v4 ?? v6;
  if (!bytes) throw new FilterError(`ignore-address "${value}": not an IPv4 or IPv6 address or prefix`);
  const max = bytes.length * 8;
  let length = max;
  if (slash >= 0) {
    const lenText = s.slice(slash + 1);
    length = /^\d{1,3}$/.test(lenText) ? Number(lenText) : -1;
    if (length < 0 || length > max) {
      throw new FilterError(`ignore-address "${value}": prefix length must be 0 to ${max}`);
    }
  }
  for (let bit = length; bit < max; bit++) bytes[bit >> 3] &= ~(0x80 >> (bit & 7));
  const family: 4 | 6 = v4 ? 4 : 6;
  const text = `${family === 4 ? ipv4ToString(bytes) : ipv6ToString(bytes)}/${length}`;
  return { family, bytes, length, text };
}

function prefixContains(p: Prefix, b: Uint8Array, o = 0): boolean {
  const full = p.length >> 3;
  for (let i = 0; i < full; i++) if (p.bytes[i] !== b[o + i]) return false;
  const rest = p.length & 7;
  if (rest === 0) return true;
  const mask = (0xff00 >> rest) & 0xff;
  return (b[o + full] & mask) === p.bytes[full];
}

export class FlowFilter {
  /** accepted IP protocols; null: all */
  readonly protocols: ReadonlySet<number> | null;
  readonly ignored: readonly Prefix[];
  private readonly v4: readonly Prefix[];
  private readonly v6: readonly Prefix[];
  private readonly scratch4 = new Uint8Array(4);
  private readonly scratch6 = new Uint8Array(16);

  private constructor(protocols: ReadonlySet<number> | null, ignored: Prefix[]) {
    this.protocols = protocols;
    this.ignored = ignored;
    this.v4 = ignored.filter((p) => p.family === 4);
    this.v6 = ignored.filter((p) => p.family === 6);
  }

  /** Builds the filter from config values; throws FilterError on a bad value. */
  static from(cfg: FilterConfig = {}): FlowFilter {
    const protos = new Set<number>();
    for (const raw of cfg.acceptProtocols ?? []) {
      const name = raw.trim().toLowerCase();
      const n = (PROTOCOL_NUMBERS as Record<string, number>)[name];
      if (n === undefined) {
        throw new FilterError(`accept-protocol "${raw}": unknown protocol; use tcp, udp, icmp, icmp6, sctp or dccp`);
      }
      protos.add(n);
    }
    const ignored: Prefix[] = [];
    const seen = new Set<string>();
    for (const raw of cfg.ignoreAddresses ?? []) {
      const p = parsePrefix(raw);
      if (!seen.has(p.text)) { seen.add(p.text); ignored.push(p); }
    }
    return new FlowFilter(protos.size ? protos : null, ignored);
  }

  /** A filter that lets every flow through. */
  static all(): FlowFilter { return FlowFilter.from({}); }

  /** True when the filter can drop anything at all. */
  get active(): boolean { return this.protocols !== null || this.ignored.length > 0; }

  acceptsProtocol(proto: number): boolean {
    return this.protocols === null || this.protocols.has(proto);
  }

  /** True when the address (IPv4 or IPv6 text) lies in an ignore-address entry. */
  isIgnored(addr: string): boolean {
    const b4 = parseIpv4(addr, this.scratch4);
    if (b4) return this.v4.some((p) => prefixContains(p, b4));
    const b6 = parseIpv6(addr, this.scratch6);
    if (b6) return this.v6.some((p) => prefixContains(p, b6));
    return false;
  }

  /** True: synchronise this flow. False: the filter drops it (see the rule at the top). */
  matches(flow: Pick<Flow, 'orig' | 'reply'>): boolean {
    if (!this.acceptsProtocol(flow.orig.proto)) return false;
    if (this.ignored.length === 0) return true;
    return !(this.isIgnored(flow.orig.src) || this.isIgnored(flow.orig.dst) || this.isIgnored(flow.reply.src));
  }

  /**
   * matches() for addresses given as bytes (4 or 16 each) at b[origSrc..], b[origDst..] and
   * b[replySrc..]: no address strings (a dump taking the record path, src/kernel/ct-record.ts).
   */
  matchesBytes(proto: number, v6: boolean, b: Uint8Array, origSrc: number, origDst: number, replySrc: number): boolean {
    if (!this.acceptsProtocol(proto)) return false;
    const list = v6 ? this.v6 : this.v4;
    for (let i = 0; i < list.length; i++) {
      const p = list[i];
      if (prefixContains(p, b, origSrc) || prefixContains(p, b, origDst) || prefixContains(p, b, replySrc)) return false;
    }
    return true;
  }

  /** The BPF map contents that make the kernel programs apply this same rule. */
  bpfMaps(): FilterMaps {
    const acceptProto = new Uint8Array(256);
    if (this.protocols) for (const p of this.protocols) acceptProto[p] = 1;
    else acceptProto.fill(1);
    const lpm = (ps: readonly Prefix[]) => ps.map((p) => ({ prefixLen: p.length, addr: p.bytes.slice() }));
    return { protoFilter: this.protocols !== null, acceptProto, ignoreV4: lpm(this.v4), ignoreV6: lpm(this.v6) };
  }

  /** One line for status output. */
  describe(): string {
    const names = Object.entries(PROTOCOL_NUMBERS);
    const protos = this.protocols === null ? 'all protocols'
      : `protocols ${[...this.protocols].map((n) => names.find(([, v]) => v === n)?.[0] ?? String(n)).join(' ')}`;
    const addrs = this.ignored.length ? `; ignoring ${this.ignored.map((p) => p.text).join(' ')}` : '';
    return protos + addrs;
  }
}
