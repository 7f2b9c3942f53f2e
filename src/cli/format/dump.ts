// conntrackd's cache dumps (`-i`, `-e`, `-i expect`, `-e expect`): libnetfilter_conntrack's plain
// text for each object (as conntrack -L prints it, without the layer-3 name and with the cached
// timeout removed), then ` [expires in Ns]` (ALARM) and ` [active since Ns]`.
import { type Expectation, type Flow, type Tuple, STATUS } from '../../flow/flow.ts';
import { dccpStateName, lnfctProtoName, sctpStateName, tcpStateName } from './names.ts';
import { left } from './printf.ts';

/** One cached flow and the cache's bookkeeping about it. */
export interface CacheEntryView {
  flow: Flow;
  /** seconds since the entry entered the cache */
  activeSince: number;
  /** ALARM mode: seconds until the entry expires; absent in the other modes or when no timer runs */
  expiresIn?: number;
}

/** One cached expectation and the cache's bookkeeping about it. */
export interface ExpectEntryView {
  exp: Expectation;
  activeSince: number;
  expiresIn?: number;
}

export interface FlowTextOptions {
  /** print the reply tuple (the internal cache has it; the external cache never receives it) */
  reply: boolean;
  /** print the timeout and use= as conntrack -L does (a live kernel dump); conntrackd's caches strip them */
  live?: boolean;
}

/** `sport=1 dport=2 `, `type=8 code=0 id=1 `, `srckey=0x1 dstkey=0x2 ` or nothing. */
export function protoFields(t: Tuple): string {
  switch (t.proto) {
    case 6: case 17: case 136: case 132: case 33:
      return `sport=${t.sport ?? 0} dport=${t.dport ?? 0} `;
    case 47:
      return `srckey=0x${(t.sport ?? 0).toString(16)} dstkey=0x${(t.dport ?? 0).toString(16)} `;
    case 1: case 58:
      return `type=${t.icmpType ?? 0} code=${t.icmpCode ?? 0} id=${t.icmpId ?? 0} `;
    default:
      return '';
  }
}

function tupleText(t: Tuple, srcTag = 'src', dstTag = 'dst'): string {
  return `${srcTag}=${t.src} ${dstTag}=${t.dst} ${protoFields(t)}`;
}

/** libnetfilter_conntrack's NFCT_O_PLAIN text for a flow, without the trailing space. */
export function formatFlowText(f: Flow, opts: FlowTextOptions): string {
  let s = `${left(lnfctProtoName(f.orig.proto), 8)} ${f.orig.proto} `;
  if (opts.live && f.timeout !== undefined) s += `${f.timeout} `;
  if (f.tcp) s += `${tcpStateName(f.tcp.state)} `;
  if (f.sctp) s += `${sctpStateName(f.sctp.state)} `;
  if (f.dccp) s += `${dccpStateName(f.dccp.state)} `;
  s += tupleText(f.orig);
  if (f.orig.zone !== undefined) s += `zone-orig=${f.orig.zone} `;
  if (f.countersOrig) s += `packets=${f.countersOrig.packets} bytes=${f.countersOrig.bytes} `;
  if (!(f.status & STATUS.SEEN_REPLY)) s += '[UNREPLIED] ';
  if (opts.reply) {
    s += tupleText(f.reply);
    if (f.reply.zone !== undefined) s += `zone-reply=${f.reply.zone} `;
    if (f.countersReply) s += `packets=${f.countersReply.packets} bytes=${f.countersReply.bytes} `;
  }
  if (f.status & STATUS.HW_OFFLOAD) s += '[HW_OFFLOAD] ';
  else if (f.status & STATUS.OFFLOAD) s += '[OFFLOAD] ';
  else if (f.status & STATUS.ASSURED) s += '[ASSURED] ';
  if (f.mark !== undefined) s += `mark=${f.mark} `;
  if (f.secmark !== undefined) s += `secmark=${f.secmark} `;
  if (f.zone !== undefined) s += `zone=${f.zone} `;
  if (f.helper !== undefined) s += `helper=${f.helper} `;
  if (opts.live && f.use !== undefined) s += `use=${f.use} `;
  return s.slice(0, -1);
}

function suffix(e: { activeSince: number; expiresIn?: number }): string {
  const exp = e.expiresIn !== undefined ? ` [expires in ${Math.trunc(e.expiresIn)}s]` : '';
  return `${exp} [active since ${Math.trunc(e.activeSince)}s]\n`;
}

/** One line of `conntrackd -i` (internal: with the reply tuple) or `-e` (external: without). */
export function formatCacheEntry(e: CacheEntryView, cache: 'internal' | 'external'): string {
  return formatFlowText(e.flow, { reply: cache === 'internal' }) + suffix(e);
}

/** `conntrackd -i` / `-e`: every entry, one per line. The caller leaves out FTFW's DEAD entries. */
export function formatCacheDump(entries: Iterable<CacheEntryView>, cache: 'internal' | 'external'): string {
  let out = '';
  for (const e of entries) out += formatCacheEntry(e, cache);
  return out;
}

const EXPECT_PERMANENT = 1, EXPECT_INACTIVE = 2, EXPECT_USERSPACE = 4;

/** libnetfilter_conntrack's plain text for an expectation (timeout removed unless `live`). */
export function formatExpectText(e: Expectation, opts: { live?: boolean } = {}): string {
  let s = '';
  if (opts.live && e.timeout !== undefined) s += `${e.timeout} `;
  s += `proto=${e.tuple.proto} `;
  s += tupleText(e.tuple);
  s += tupleText({ ...e.mask, proto: e.mask.proto || e.tuple.proto }, 'mask-src', 'mask-dst');
  s += tupleText(e.master, 'master-src', 'master-dst');
  if (e.zone !== undefined) s += `zone=${e.zone} `;
  const flags = e.flags ?? 0;
  const names: string[] = [];
  if (flags & EXPECT_PERMANENT) names.push('PERMANENT');
  if (flags & EXPECT_INACTIVE) names.push('INACTIVE');
  if (flags & EXPECT_USERSPACE) names.push('USERSPACE');
  s += names.join(',');
  if (flags) s += ' ';
  if (e.class !== undefined) s += `class=${e.class} `;
  if (e.helper !== undefined) s += `helper=${e.helper}`;
  return s.endsWith(' ') ? s.slice(0, -1) : s;
}

/** One line of `conntrackd -i expect` / `-e expect`. */
export function formatExpectEntry(e: ExpectEntryView): string {
  return formatExpectText(e.exp) + suffix(e);
}

export function formatExpectDump(entries: Iterable<ExpectEntryView>): string {
  let out = '';
  for (const e of entries) out += formatExpectEntry(e);
  return out;
}
