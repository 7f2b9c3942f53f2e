// libnetfilter_conntrack's XML (NFCT_O_XML), one `<flow>` document per line, as `conntrackd -i -x`,
// `-e -x` and `conntrack -L -o xml` print it. VyOS parses these lines for its cache tables.
import { type Expectation, type Flow, type Tuple, STATUS } from '../../flow/flow.ts';
import { l3Num, lnfctL3Name, lnfctProtoName, TCP_STATE_NAMES } from './names.ts';

export interface FlowXmlOptions {
  /** the reply tuple is known (internal cache); without it the reply meta is empty, as in conntrackd's external cache */
  reply: boolean;
  /** keep timeout and use (a live kernel dump); conntrackd's caches strip them */
  live?: boolean;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function portsXml(t: Pick<Tuple, 'proto' | 'sport' | 'dport'>): string {
  switch (t.proto) {
    case 6: case 17: case 136: case 132: case 33:
      return `<sport>${t.sport ?? 0}</sport><dport>${t.dport ?? 0}</dport>`;
    case 47:
      return `<srckey>0x${(t.sport ?? 0).toString(16)}</srckey><dstkey>0x${(t.dport ?? 0).toString(16)}</dstkey>`;
    default:
      return '';
  }
}

function tupleMeta(dir: 'original' | 'reply', family: 4 | 6, t: Tuple | undefined, counters: { packets: number; bytes: number } | undefined): string {
  // An unset tuple prints with layer-3 and layer-4 numbers 0, as the library does for it.
  const l3 = t ? l3Num(family) : 0;
  const l3name = t ? lnfctL3Name(family) : 'unknown';
  const proto = t?.proto ?? 0;
  let s = `<meta direction="${dir}"><layer3 protonum="${l3}" protoname="${l3name}">` +
    `<src>${t ? t.src : ''}</src><dst>${t ? t.dst : ''}</dst></layer3>` +
    `<layer4 protonum="${proto}" protoname="${proto ? lnfctProtoName(proto) : 'unknown'}">${t ? portsXml(t) : ''}</layer4>`;
  if (t?.zone !== undefined) s += `<zone>${t.zone}</zone>`;
  if (counters) s += `<counters><packets>${counters.packets}</packets><bytes>${counters.bytes}</bytes></counters>`;
  return `${s}</meta>`;
}

/** One `<flow>…</flow>` line (no newline). */
export function formatFlowXml(f: Flow, opts: FlowXmlOptions): string {
  // The library prints both directions' counters when the original direction has them.
  const co = f.countersOrig;
  let s = '<flow>' +
    tupleMeta('original', f.family, f.orig, co) +
    tupleMeta('reply', f.family, opts.reply ? f.reply : undefined, co ? (f.countersReply ?? { packets: 0, bytes: 0 }) : undefined);
  s += '<meta direction="independent">';
  // libnetfilter_conntrack looks SCTP and DCCP states up in its TCP name table; kept for byte compatibility.
  const state = f.tcp?.state ?? f.sctp?.state ?? f.dccp?.state;
  if (state !== undefined) s += `<state>${TCP_STATE_NAMES[state] ?? 'NONE'}</state>`;
  if (opts.live && f.timeout !== undefined) s += `<timeout>${f.timeout}</timeout>`;
  if (f.mark !== undefined) s += `<mark>${f.mark}</mark>`;
  if (f.secmark !== undefined) s += `<secmark>${f.secmark}</secmark>`;
  if (f.zone !== undefined) s += `<zone>${f.zone}</zone>`;
  if (opts.live && f.use !== undefined) s += `<use>${f.use}</use>`;
  if (f.id !== undefined) s += `<id>${f.id >>> 0}</id>`;
  if (f.status & STATUS.ASSURED) s += '<assured/>';
  if (!(f.status & STATUS.SEEN_REPLY)) s += '<unreplied/>';
  s += '</meta>';
  if (f.helper !== undefined) s += `<helper>${esc(f.helper)}</helper>`;
  return `${s}</flow>`;
}

/** `conntrackd -i -x` / `-e -x`: one line per flow. */
export function formatFlowXmlDump(flows: Iterable<Flow>, cache: 'internal' | 'external'): string {
  let out = '';
  for (const f of flows) out += `${formatFlowXml(f, { reply: cache === 'internal' })}\n`;
  return out;
}

const EXPECT_PERMANENT = 1, EXPECT_INACTIVE = 2, EXPECT_USERSPACE = 4;

/** One expectation `<flow>…</flow>` line (no newline). */
export function formatExpectXml(e: Expectation, opts: { live?: boolean } = {}): string {
  const addr = (t: Tuple) => `<src>${t.src}</src><dst>${t.dst}</dst>`;
  const mask = { ...e.mask, proto: e.mask.proto || e.tuple.proto };
  let s = '<flow>' +
    `<layer3 protonum="${l3Num(e.family)}" protoname="${lnfctL3Name(e.family)}">` +
    `<expected>${addr(e.tuple)}</expected><mask>${addr(mask)}</mask><master>${addr(e.master)}</master></layer3>` +
    `<layer4 protonum="${e.tuple.proto}" protoname="${lnfctProtoName(e.tuple.proto)}">` +
    `<expected>${portsXml(e.tuple)}</expected><mask>${portsXml(mask)}</mask><master>${portsXml(e.master)}</master></layer4>` +
    '<meta>';
  if (e.helper !== undefined) s += `<helper-name>${esc(e.helper)}</helper-name>`;
  if (opts.live && e.timeout !== undefined) s += `<timeout>${e.timeout}</timeout>`;
  if (e.class !== undefined) s += `<class>${e.class}</class>`;
  if (e.zone !== undefined) s += `<zone>${e.zone}</zone>`;
  const flags = e.flags ?? 0;
  if (flags & EXPECT_PERMANENT) s += '<permanent/>';
  if (flags & EXPECT_INACTIVE) s += '<inactive/>';
  if (flags & EXPECT_USERSPACE) s += '<userspace/>';
  return `${s}</meta></flow>`;
}

/** `conntrackd -i expect -x` / `-e expect -x`. */
export function formatExpectXmlDump(exps: Iterable<Expectation>): string {
  let out = '';
  for (const e of exps) out += `${formatExpectXml(e)}\n`;
  return out;
}
