// Seeds of the fuzz targets: real messages captured in the lab (seeds/*.json, made by capture.ts)
// and messages encoded from flows of every kind, control messages, records and configurations.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Expectation, type Flow, STATUS } from '../../src/flow/flow.ts';
import { encodeControl, encodeCt, encodeExp } from '../../src/sync/codec.ts';
import { FLAG, MSG } from '../../src/sync/wire.ts';
import { NlWriter } from '../../src/kernel/nlmsg.ts';
import { encodeExpectation, encodeFlow } from '../../src/kernel/ctnetlink.ts';
import { LAYOUT, RECORD_SIZE } from '../../src/kernel/bpf/ctsync.gen.ts';
import { parseConfig, configToJson, configToSetLines } from '../../src/config/index.ts';
import { concat } from './mutate.ts';

const DIR = new URL('./seeds/', import.meta.url).pathname;
const fromHex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

function captured(file: string): Uint8Array[] {
  return (JSON.parse(readFileSync(join(DIR, file), 'utf8')) as { hex: string }[]).map((x) => fromHex(x.hex));
}

/** Flows of every kind the codecs know. */
export const FLOWS: Flow[] = [
  {
    family: 4, orig: { src: '192.0.2.1', dst: '198.51.100.2', proto: 6, sport: 40000, dport: 80 },
    reply: { src: '198.51.100.2', dst: '192.0.2.1', proto: 6, sport: 80, dport: 40000 },
    status: STATUS.SEEN_REPLY | STATUS.ASSURED | STATUS.CONFIRMED, timeout: 600, mark: 7, tcp: { state: 3, wscaleOrig: 7, wscaleReply: 8 },
  },
  {
    family: 4, orig: { src: '192.0.2.1', dst: '198.51.100.2', proto: 6, sport: 1111, dport: 21 },
    reply: { src: '203.0.113.7', dst: '203.0.113.1', proto: 6, sport: 2121, dport: 60000 },
    status: STATUS.SRC_NAT_DONE | STATUS.DST_NAT_DONE | STATUS.SEEN_REPLY | STATUS.HELPER,
    timeout: 100, mark: 9, zone: 3, tcp: { state: 3 }, helper: 'ftp', labels: [1, 0, 0x80000000],
    master: { src: '192.0.2.1', dst: '198.51.100.2', proto: 6, sport: 5000, dport: 21 },
    seqAdjOrig: { correctionPos: 1, offsetBefore: 2, offsetAfter: 3 }, seqAdjReply: { correctionPos: 4, offsetBefore: 5, offsetAfter: 6 },
    synproxy: { isn: 1, its: 2, tsoff: 3 },
  },
  {
    family: 4, orig: { src: '192.0.2.1', dst: '198.51.100.2', proto: 17, sport: 1000, dport: 53 },
    reply: { src: '198.51.100.9', dst: '192.0.2.1', proto: 17, sport: 5353, dport: 1000 },
    status: STATUS.DST_NAT | STATUS.DST_NAT_DONE, timeout: 60, zone: 5,
  },
  {
    family: 4, orig: { src: '192.0.2.3', dst: '198.51.100.2', proto: 1, icmpType: 8, icmpCode: 0, icmpId: 4661 },
    reply: { src: '198.51.100.2', dst: '198.51.100.78', proto: 1, icmpType: 0, icmpCode: 0, icmpId: 4661 },
    status: STATUS.SRC_NAT | STATUS.SRC_NAT_DONE, timeout: 30,
  },
  {
    family: 6, orig: { src: '2001:db8::1', dst: '2001:db8:2::9', proto: 6, sport: 1, dport: 2 },
    reply: { src: '2001:db8:2::9', dst: '2001:db8::77', proto: 6, sport: 2, dport: 9999 },
    status: STATUS.SRC_NAT | STATUS.SRC_NAT_DONE | STATUS.SEEN_REPLY, timeout: 100, mark: 65261, tcp: { state: 1 },
  },
  {
    family: 6, orig: { src: '2001:db8::5', dst: '2001:db8::6', proto: 58, icmpType: 128, icmpCode: 0, icmpId: 77 },
    reply: { src: '2001:db8::6', dst: '2001:db8::5', proto: 58, icmpType: 129, icmpCode: 0, icmpId: 77 },
    status: 0, timeout: 30,
  },
  {
    family: 4, orig: { src: '192.0.2.7', dst: '198.51.100.7', proto: 132, sport: 3868, dport: 3868 },
    reply: { src: '198.51.100.7', dst: '192.0.2.7', proto: 132, sport: 3868, dport: 3868 },
    status: STATUS.SEEN_REPLY, timeout: 200, sctp: { state: 3, vtagOrig: 1, vtagReply: 2 },
  },
  {
    family: 4, orig: { src: '192.0.2.8', dst: '198.51.100.8', proto: 33, sport: 5004, dport: 5005 },
    reply: { src: '198.51.100.8', dst: '192.0.2.8', proto: 33, sport: 5005, dport: 5004 },
    status: STATUS.SEEN_REPLY, timeout: 200, dccp: { state: 4, role: 1 },
  },
  {
    family: 4, orig: { src: '192.0.2.9', dst: '198.51.100.9', proto: 47 },
    reply: { src: '198.51.100.9', dst: '192.0.2.9', proto: 47 }, status: STATUS.CONFIRMED, timeout: 100,
  },
];

export const EXPECTATIONS: Expectation[] = [
  {
    family: 4, master: { src: '127.0.0.1', dst: '127.0.0.1', proto: 6, sport: 47496, dport: 21 },
    tuple: { src: '127.0.0.1', dst: '127.0.0.1', proto: 6, sport: 0, dport: 50002 },
    mask: { src: '255.255.255.255', dst: '255.255.255.255', proto: 6, sport: 0, dport: 65535 },
    timeout: 300, flags: 0, class: 0, helper: 'ftp',
  },
  {
    family: 4, master: { src: '192.0.2.1', dst: '198.51.100.2', proto: 17, sport: 5060, dport: 5060 },
    tuple: { src: '198.51.100.2', dst: '192.0.2.1', proto: 17, sport: 0, dport: 20000 },
    mask: { src: '255.255.255.255', dst: '255.255.255.255', proto: 17, sport: 0, dport: 65535 },
    timeout: 60, flags: 1, class: 1, helper: 'sip', fn: 'nat-sip-expect',
    nat: { dir: 1, tuple: { src: '0.0.0.0', dst: '203.0.113.5', proto: 17, sport: 0, dport: 20000 } },
  },
  {
    family: 6, master: { src: '2001:db8::1', dst: '2001:db8::2', proto: 6, sport: 40000, dport: 21 },
    tuple: { src: '2001:db8::2', dst: '2001:db8::1', proto: 6, sport: 0, dport: 50000 },
    mask: { src: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', dst: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', proto: 6, sport: 0, dport: 65535 },
    timeout: 300, helper: 'ftp',
  },
];

/** conntrackd datagrams: captured from conntrackd 1.4.7, and ctsync-encoded messages of every kind. */
export function wireSeeds(): Uint8Array[] {
  const out = captured('wire-conntrackd.json');
  // the annotated capture of the reference (§1.7) and the ICMP SNAT bulk message
  out.push(fromHex('10200054 6b025fa8 000c0000 c0a8010a c0a80214 00080005 0000000e 00050002 06000000 00080003 9c400050 00050004 03000000 00080006 00000258 00080007 00000007 0010001f 000000000000000000000000'));
  out.push(fromHex(`10200074 6b026e8f 000c0000 c0000203 c6336402 00080005 00000198 00050002 01000000 00050016 08000000
    00050017 00000000 00060018 35120000 00080006 0000001e 00080007 00000000 0008000c c633644e 0006000e 00000000
    0006000f 00000000 0010001f 000000000000000000000000`));
  const b = new Uint8Array(4096);
  let seq = 0x10000000;
  const one = (n: number) => Uint8Array.from(b.subarray(0, n));
  for (const f of FLOWS) {
    for (const type of [MSG.CT_NEW, MSG.CT_UPD, MSG.CT_DEL] as const) {
      const n = encodeCt(b, 0, type, type === MSG.CT_NEW ? FLAG.HELLO : 0, seq++, f, { tcpWindowTracking: true });
      if (n > 0) out.push(one(n));
    }
  }
  for (const e of EXPECTATIONS) {
    for (const type of [MSG.EXP_NEW, MSG.EXP_UPD, MSG.EXP_DEL] as const) {
      const n = encodeExp(b, 0, type, 0, seq++, e);
      if (n > 0) out.push(one(n));
    }
  }
  for (const [flags, from, to] of [[FLAG.ALIVE, 0, 0], [FLAG.ALIVE | FLAG.HELLO, 0, 0], [FLAG.ACK, 5020, 5316], [FLAG.NACK, 5004, 5007],
    [FLAG.RESYNC, 0, 0], [FLAG.ACK | FLAG.HELLO_BACK, 1, 2]] as const) {
    out.push(one(encodeControl(b, 0, flags, seq++, from, to)));
  }
  // datagrams of several messages, as the senders pack them
  out.push(concat(...out.slice(-12, -6)), concat(out[0], out[out.length - 1]));
  return out;
}

/** ctnetlink messages: captured from the kernel, and requests encoded by ctsync. */
export function netlinkSeeds(): Uint8Array[] {
  const out = captured('ctnetlink-kernel.json');
  const w = new NlWriter(8192);
  for (const f of FLOWS) {
    for (const create of [true, false]) {
      w.reset();
      w.begin(0x100, 0x400 | 0x200, 1, f.family === 4 ? 2 : 10);
      encodeFlow(w, f, { create });
      w.end();
      out.push(Uint8Array.from(w.data()));
    }
  }
  for (const e of EXPECTATIONS) {
    w.reset();
    w.begin(0x200, 0x400 | 0x200, 1, e.family === 4 ? 2 : 10);
    encodeExpectation(w, e);
    w.end();
    out.push(Uint8Array.from(w.data()));
  }
  return out;
}

/** Ring-buffer records (synthetic, on the layout generated from the C struct). */
export function recordSeeds(): Uint8Array[] {
  const L = LAYOUT.ct_record, T = LAYOUT.ct_tuple;
  const out: Uint8Array[] = [];
  for (let k = 0; k < FLOWS.length; k++) {
    const f = FLOWS[k];
    const b = new Uint8Array(RECORD_SIZE);
    const dv = new DataView(b.buffer);
    dv.setBigUint64(L.ktime_ns, 123456789n * BigInt(k + 1), true);
    dv.setUint32(L.flags, 1, true);
    dv.setUint32(L.present, 0xffffffff >>> (k % 5), true);
    dv.setUint16(L.nl_type, 0x100, true);
    dv.setUint8(L.family, f.family === 4 ? 2 : 10);
    dv.setUint8(L.event, k % 3);
    dv.setUint8(L.tcp_state, f.tcp?.state ?? 0);
    dv.setUint16(L.zone, f.zone ?? 0);
    dv.setUint32(L.status, f.status);
    dv.setUint32(L.timeout, f.timeout ?? 0);
    dv.setUint32(L.mark, f.mark ?? 0);
    for (const [o, t] of [[L.orig, f.orig], [L.reply, f.reply]] as const) {
      const v6 = f.family === 6;
      const put = (at: number, a: string) => {
        if (v6) { const x = a.split(':'); for (let i = 0; i < Math.min(8, x.length); i++) dv.setUint16(at + 2 * i, parseInt(x[i] || '0', 16)); }
        else a.split('.').forEach((x, i) => dv.setUint8(at + i, Number(x)));
      };
      put(o + T.src, t.src);
      put(o + T.dst, t.dst);
      dv.setUint16(o + T.sport, t.sport ?? 0);
      dv.setUint16(o + T.dport, t.dport ?? 0);
      dv.setUint8(o + T.proto, t.proto);
      dv.setUint8(o + T.have, 0x1f | (t.icmpType !== undefined ? 32 : 0) | (v6 ? 128 : 0));
    }
    new TextEncoder().encodeInto(f.helper ?? 'ftp', b.subarray(L.helper, L.helper + 16));
    out.push(b);
  }
  return out;
}

/** Configurations: every example of the repository, set lines and their JSON form. */
export function configSeeds(): string[] {
  const texts: string[] = [
    `set service conntrack-sync interface eth1
set service conntrack-sync failover-mechanism vrrp sync-group SG1
set service conntrack-sync accept-protocol tcp
set service conntrack-sync accept-protocol udp
set service conntrack-sync ignore-address 203.0.113.0/24
set service conntrack-sync expect-sync ftp
set service conntrack-sync mode ftfw`,
    `set service conntrack-sync interface eth1 peer 192.0.2.2
set service conntrack-sync interface eth1 port 3781
set service conntrack-sync interface eth2 peer 2001:db8::2
set service conntrack-sync listen-address 192.0.2.1
set service conntrack-sync failover-mechanism vrrp sync-group SG2
set service conntrack-sync disable-external-cache
set service conntrack-sync sync-queue-size 8
set service conntrack-sync event-listen-queue-size 16
set service conntrack-sync hash-limit 524288
set service conntrack-sync auth-key-file /config/auth/ctsync.key
set service conntrack-sync commit-timeout 180
set service conntrack-sync purge-timeout 30
set service conntrack-sync startup-resync
set service conntrack-sync disable-syslog
set service conntrack-sync metrics-address [::1]:9934
set high-availability vrrp sync-group SG2 member WAN`,
    `set service conntrack-sync interface 'eth3'
set service conntrack-sync mode "alarm"
set service conntrack-sync refresh-time 5
set service conntrack-sync cache-timeout 15
set service conntrack-sync mcast-group 225.0.0.51
set service conntrack-sync failover-mechanism vrrp sync-group SG3
# a comment
set service conntrack-sync keepalived notify-fifo /run/ctsync/keepalived.fifo`,
  ];
  try {
    const dir = new URL('../../examples/', import.meta.url).pathname;
    for (const f of readdirSync(dir)) if (f.endsWith('.conf') && f.startsWith('ctsync')) texts.push(readFileSync(join(dir, f), 'utf8'));
  } catch { /* no examples directory */ }
  const out = [...texts];
  for (const t of texts) {
    const r = parseConfig(t);
    if (r.config) {
      out.push(JSON.stringify(configToJson(r.config), null, 2));
      out.push(configToSetLines(r.config).join('\n'));
    }
  }
  return out;
}
