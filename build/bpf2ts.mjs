// bpf2ts: writes the TypeScript side of the BPF object (src/kernel/bpf/ctsync.gen.ts), in the
// manner of cilium/ebpf's bpf2go: the object bytes, the program and map names, the record layout
// and the enums read from the object's own BTF (`bpftool -j btf dump file OBJ`), and a decoder
// that reads one record in place from a DataView into a FlowEvent, with the offsets as literals.
// Called by build/bpf.mjs; deterministic: the same object gives the same text.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';

const ENUMS = {
  rec_event: 'REC_EVENT', rec_flag: 'REC_FLAG', rec_present: 'PRESENT', tuple_have: 'TUPLE_HAVE',
  ctr_index: 'CTR', cfg_flag: 'CFG',
};
const STRUCTS = ['ct_record', 'ct_tuple', 'ct_seqadj', 'ct_counters', 'ct_settings', 'lpm_v4_key', 'lpm_v6_key'];

/** Reads the BTF of an object file into { structs, enums, funcs, maps }. */
export function readBtf(objectPath) {
  const json = JSON.parse(execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', objectPath], { maxBuffer: 64 << 20 }).toString());
  const byId = new Map(json.types.map((t) => [t.id, t]));
  const sizeOf = (id) => {
    const t = byId.get(id);
    switch (t.kind) {
      case 'INT': case 'STRUCT': case 'UNION': case 'ENUM': case 'ENUM64': return t.size;
      case 'TYPEDEF': case 'CONST': case 'VOLATILE': return sizeOf(t.type_id);
      case 'ARRAY': return t.nr_elems * sizeOf(t.type_id);
      case 'PTR': return 8;
      default: throw new Error(`bpf2ts: no size for BTF kind ${t.kind}`);
    }
  };
  const structs = {};
  const enums = {};
  for (const t of json.types) {
    if (t.kind === 'STRUCT' && STRUCTS.includes(t.name)) {
      const fields = {};
      for (const m of t.members) {
        if (m.bits_offset % 8) throw new Error(`bpf2ts: ${t.name}.${m.name} is a bit field`);
        fields[m.name] = { offset: m.bits_offset / 8, size: sizeOf(m.type_id) };
      }
      structs[t.name] = { size: t.size, fields };
    }
    if (t.kind === 'ENUM' && ENUMS[t.name]) {
      enums[t.name] = Object.fromEntries(t.values.map((v) => [v.name, v.val >>> 0]));
    }
  }
  const funcs = json.types.filter((t) => t.kind === 'FUNC' && t.linkage === 'global').map((t) => t.name).sort();
  const mapsSec = json.types.find((t) => t.kind === 'DATASEC' && t.name === '.maps');
  const maps = (mapsSec?.vars ?? []).map((v) => byId.get(v.type_id).name).sort();
  for (const s of STRUCTS) if (!structs[s]) throw new Error(`bpf2ts: struct ${s} missing from the object's BTF`);
  for (const e of Object.keys(ENUMS)) if (!enums[e]) throw new Error(`bpf2ts: enum ${e} missing from the object's BTF`);
  return { structs, enums, funcs, maps };
}

function offsets(struct) {
  return Object.fromEntries(Object.entries(struct.fields).map(([k, v]) => [k, v.offset]));
}

/** The generated module's text. */
export function generate({ object, bytes, sourceSha256, vmlinuxSha256, objectPath }) {
  const btf = readBtf(object);
  const R = btf.structs.ct_record.fields;
  const T = btf.structs.ct_tuple.fields;
  const S = btf.structs.ct_seqadj.fields;
  const C = btf.structs.ct_counters.fields;
  const P = btf.enums.rec_present;
  const H = btf.enums.tuple_have;
  const need = (set, name, what) => {
    if (!(name in set)) throw new Error(`bpf2ts: ${what}.${name} missing`);
    return set[name];
  };
  const r = (name) => need(R, name, 'ct_record').offset;
  const t = (name) => need(T, name, 'ct_tuple').offset;
  const p = (name) => need(P, name, 'rec_present');
  const h = (name) => need(H, name, 'tuple_have');
  const expectSize = (name, size) => {
    if (R[name].size !== size) throw new Error(`bpf2ts: ct_record.${name} is ${R[name].size} bytes, the decoder reads ${size}`);
  };
  for (const [f, n] of [['status', 4], ['timeout', 4], ['mark', 4], ['id', 4], ['use', 4], ['secmark', 4], ['zone', 2],
    ['labels', 16], ['helper', 16], ['ktime_ns', 8], ['present', 4], ['portid', 4]]) expectSize(f, n);

  const deflated = deflateRawSync(bytes, { level: 9 }).toString('base64');
  const b64 = deflated.match(/.{1,120}/g).join('\n');
  const objectSha256 = createHash('sha256').update(bytes).digest('hex');
  const enumBlock = Object.entries(ENUMS)
    .map(([c, ts]) => `export const ${ts} = ${JSON.stringify(btf.enums[c], null, 2).replace(/"(\w+)":/g, '$1:')} as const;`)
    .join('\n\n');
  const layout = Object.fromEntries(STRUCTS.map((s) => [s, { size: btf.structs[s].size, ...offsets(btf.structs[s]) }]));

  const seqadj = (field, bit) => `  if (p & ${p(bit)}) {
    f.${field === 'seqadj_orig' ? 'seqAdjOrig' : 'seqAdjReply'} = {
      correctionPos: dv.getUint32(o + ${r(field) + S.correction_pos.offset}),
      offsetBefore: dv.getUint32(o + ${r(field) + S.offset_before.offset}),
      offsetAfter: dv.getUint32(o + ${r(field) + S.offset_after.offset}),
    };
  }`;
  const counters = (field, bit, name) => `  if (p & ${p(bit)}) {
    f.${name} = {
      packets: Number(dv.getBigUint64(o + ${r(field) + C.packets.offset})),
      bytes: Number(dv.getBigUint64(o + ${r(field) + C.bytes.offset})),
    };
  }`;

  return `// Generated by build/bpf2ts.mjs from the object built out of bpf/*.c and bpf/*.h.
// Do not edit: change the C sources and run \`npm run build:bpf\`.
import { inflateRawSync } from 'node:zlib';
import type { Flow, Tuple } from '../../flow/flow.ts';
import type { FlowEvent, EventType } from '../../flow/event.ts';
import { ipv6ToString } from '../../flow/addr.ts';

/** SHA-256 over the C sources, headers and build scripts the object was built from. */
export const SOURCE_SHA256 = '${sourceSha256}';
/** SHA-256 of the vmlinux.h (kernel BTF dump) the object was compiled against. */
export const VMLINUX_SHA256 = '${vmlinuxSha256}';
/** SHA-256 and size of the object (${objectPath}). */
export const OBJECT_SHA256 = '${objectSha256}';
export const OBJECT_SIZE = ${bytes.length};

const OBJECT_DEFLATED = \`
${b64}
\`;

/** The BPF object, for bpf_object__open_mem. */
export function objectBytes(): Uint8Array {
  const packed = Uint8Array.from(atob(OBJECT_DEFLATED.replace(/\\s/g, '')), (c) => c.charCodeAt(0));
  const raw = inflateRawSync(packed);
  return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
}

/** Programs in the object (BTF function names). */
export const PROGRAMS = ${JSON.stringify(btf.funcs)} as const;
export type ProgramName = typeof PROGRAMS[number];
/** Maps in the object. */
export const MAPS = ${JSON.stringify(btf.maps)} as const;
export type MapName = typeof MAPS[number];

export const RECORD_SIZE = ${btf.structs.ct_record.size};

/** Byte offsets of every struct member shared with the C side. */
export const LAYOUT = {
${Object.entries(layout).map(([k, v]) => `  ${k}: ${JSON.stringify(v).replace(/"(\w+)":/g, '$1: ').replace(/,/g, ', ')},`).join('\n')}
} as const;

${enumBlock}

const AF_INET6 = 10;
let lastBuffer: ArrayBufferLike | undefined;
let bytes: Uint8Array = new Uint8Array(0);

function address(dv: DataView, o: number, v6: boolean): string {
  if (!v6) return \`\${dv.getUint8(o)}.\${dv.getUint8(o + 1)}.\${dv.getUint8(o + 2)}.\${dv.getUint8(o + 3)}\`;
  if (dv.buffer !== lastBuffer) {
    lastBuffer = dv.buffer;
    bytes = new Uint8Array(dv.buffer);
  }
  return ipv6ToString(bytes, dv.byteOffset + o);
}

function tuple(dv: DataView, o: number): Tuple {
  const have = dv.getUint8(o + ${t('have')});
  const v6 = (have & ${h('T_V6')}) !== 0;
  const t: Tuple = { src: address(dv, o + ${t('src')}, v6), dst: address(dv, o + ${t('dst')}, v6), proto: dv.getUint8(o + ${t('proto')}) };
  if (have & ${h('T_SPORT')}) t.sport = dv.getUint16(o + ${t('sport')});
  if (have & ${h('T_DPORT')}) t.dport = dv.getUint16(o + ${t('dport')});
  if (have & ${h('T_ICMP')}) {
    t.icmpType = dv.getUint8(o + ${t('icmp_type')});
    t.icmpCode = dv.getUint8(o + ${t('icmp_code')});
    t.icmpId = dv.getUint16(o + ${t('icmp_id')});
  }
  if (have & ${h('T_ZONE')}) t.zone = dv.getUint16(o + ${t('zone')});
  return t;
}

function cstring(dv: DataView, o: number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) {
    const c = dv.getUint8(o + i);
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

/** Record flags (REC_FLAG bits) of the record at o. */
export function recordFlags(dv: DataView, o: number): number {
  return dv.getUint32(o + ${r('flags')}, true);
}

/** nlmsg_type of the message a record stands for (e.g. a passed-up expectation event). */
export function recordNlType(dv: DataView, o: number): number {
  return dv.getUint16(o + ${r('nl_type')}, true);
}

/**
 * Decodes the conntrack record at o into the FlowEvent the netlink codec would make of the same
 * message: optional fields are set exactly when the message carried them.
 */
export function decodeRecord(dv: DataView, o: number): FlowEvent {
  const p = dv.getUint32(o + ${r('present')}, true);
  const orig = tuple(dv, o + ${r('orig')});
  const f: Flow = {
    family: dv.getUint8(o + ${r('family')}) === AF_INET6 ? 6 : 4,
    orig,
    reply: p & ${p('P_REPLY')} ? tuple(dv, o + ${r('reply')}) : { src: orig.dst, dst: orig.src, proto: orig.proto },
    status: p & ${p('P_STATUS')} ? dv.getUint32(o + ${r('status')}) : 0,
  };
  if (p & ${p('P_TIMEOUT')}) f.timeout = dv.getUint32(o + ${r('timeout')});
  if (p & ${p('P_MARK')}) f.mark = dv.getUint32(o + ${r('mark')});
  if (p & ${p('P_ZONE')}) f.zone = dv.getUint16(o + ${r('zone')});
  if (p & ${p('P_ID')}) f.id = dv.getUint32(o + ${r('id')});
  if (p & ${p('P_USE')}) f.use = dv.getUint32(o + ${r('use')});
  if (p & ${p('P_SECMARK')}) f.secmark = dv.getUint32(o + ${r('secmark')});
  if (p & ${p('P_TCP')}) {
    f.tcp = { state: dv.getUint8(o + ${r('tcp_state')}) };
    if (p & ${p('P_TCP_WSCALE_ORIG')}) f.tcp.wscaleOrig = dv.getUint8(o + ${r('tcp_wscale_orig')});
    if (p & ${p('P_TCP_WSCALE_REPLY')}) f.tcp.wscaleReply = dv.getUint8(o + ${r('tcp_wscale_reply')});
    if (p & ${p('P_TCP_FLAGS_ORIG')}) f.tcp.flagsOrig = dv.getUint8(o + ${r('tcp_flags_orig')});
    if (p & ${p('P_TCP_FLAGS_REPLY')}) f.tcp.flagsReply = dv.getUint8(o + ${r('tcp_flags_reply')});
  } else if (p & ${p('P_SCTP')}) {
    f.sctp = { state: dv.getUint8(o + ${r('sctp_state')}) };
    if (p & ${p('P_SCTP_VTAG_ORIG')}) f.sctp.vtagOrig = dv.getUint32(o + ${r('sctp_vtag_orig')});
    if (p & ${p('P_SCTP_VTAG_REPLY')}) f.sctp.vtagReply = dv.getUint32(o + ${r('sctp_vtag_reply')});
  } else if (p & ${p('P_DCCP')}) {
    f.dccp = { state: dv.getUint8(o + ${r('dccp_state')}) };
    if (p & ${p('P_DCCP_ROLE')}) f.dccp.role = dv.getUint8(o + ${r('dccp_role')});
    if (p & ${p('P_DCCP_HSEQ')}) f.dccp.handshakeSeq = dv.getBigUint64(o + ${r('dccp_handshake_seq')});
  }
  if (p & ${p('P_HELPER_NAME')}) f.helper = cstring(dv, o + ${r('helper')}, ${R.helper.size});
${seqadj('seqadj_orig', 'P_SEQADJ_ORIG')}
${seqadj('seqadj_reply', 'P_SEQADJ_REPLY')}
${counters('counters_orig', 'P_COUNTERS_ORIG', 'countersOrig')}
${counters('counters_reply', 'P_COUNTERS_REPLY', 'countersReply')}
  if (p & ${p('P_MASTER')}) f.master = tuple(dv, o + ${r('master')});
  if (p & ${p('P_LABELS')}) {
    const words: number[] = [];
    for (let i = 0; i < ${R.labels.size / 4}; i++) words.push(dv.getUint32(o + ${r('labels')} + 4 * i, true));
    let n = words.length;
    while (n > 0 && words[n - 1] === 0) n--;
    if (n > 0) f.labels = words.slice(0, n);
  }
  if (p & ${p('P_SYNPROXY')}) {
    f.synproxy = {
      isn: dv.getUint32(o + ${r('synproxy_isn')}),
      its: dv.getUint32(o + ${r('synproxy_its')}),
      tsoff: dv.getUint32(o + ${r('synproxy_tsoff')}),
    };
  }
  if (p & ${p('P_TS_START')}) f.timestampStart = dv.getBigUint64(o + ${r('ts_start')});
  if (p & ${p('P_TS_STOP')}) f.timestampStop = dv.getBigUint64(o + ${r('ts_stop')});
  return {
    type: dv.getUint8(o + ${r('event')}) as EventType,
    flow: f,
    origin: dv.getUint32(o + ${r('portid')}, true),
    kernelNs: dv.getBigUint64(o + ${r('ktime_ns')}, true),
  };
}
`;
}
