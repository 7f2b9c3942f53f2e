// Just enough of nf_tables over netlink for the commit guard: create a table with one base chain
// and its rules in one atomic batch, read the rules' counters, delete the table. Talking to the
// kernel directly takes well under a millisecond where starting `nft` takes some 15 ms, which
// matters here: the guard has to be in place within the first milliseconds of a failover.
import { NetlinkSocket, NETLINK_NETFILTER } from '../kernel/netlink.ts';
import { NlWriter, NLM_F, NLMSG, AttrTable, eachMessage } from '../kernel/nlmsg.ts';
import { E, errnoName } from '../kernel/libc.ts';
import { inNetns } from '../kernel/netns.ts';
import type { Expr, RuleSpec } from './guard-rules.ts';
import { GUARD_RULES } from './guard-rules.ts';

const SUBSYS = 10; // NFNL_SUBSYS_NFTABLES
const BATCH_BEGIN = 0x10, BATCH_END = 0x11;
const MSG = { NEWTABLE: 0, DELTABLE: 2, NEWCHAIN: 3, NEWRULE: 6, GETRULE: 7 } as const;
export const NFPROTO_INET = 1;
const NF_INET_PRE_ROUTING = 0;

const TABLE = { NAME: 1 } as const;
const CHAIN = { TABLE: 1, NAME: 3, HOOK: 4, POLICY: 5, TYPE: 7 } as const;
const HOOK = { NUM: 1, PRIORITY: 2 } as const;
const RULE = { TABLE: 1, CHAIN: 2, EXPRESSIONS: 4, USERDATA: 7 } as const;
const LIST_ELEM = 1;
const EXPR = { NAME: 1, DATA: 2 } as const;
const DATA_VALUE = 1, DATA_VERDICT = 2, VERDICT_CODE = 1;
const REG_VERDICT = 0, REG_1 = 1;
const COUNTER = { BYTES: 1, PACKETS: 2 } as const;
/** libnftnl's rule userdata: the comment is TLV type 0 */
const UDATA_RULE_COMMENT = 0;

export class NftError extends Error {
  override name = 'NftError';
  constructor(readonly op: string, readonly errno: number) {
    super(`${op}: ${errnoName(errno)}`);
  }
}

function data(w: NlWriter, type: number, bytes: Uint8Array): void {
  w.nest(type);
  w.bytes(DATA_VALUE, bytes);
  w.nestEnd();
}

/** One expression as NFTA_LIST_ELEM { NFTA_EXPR_NAME, NFTA_EXPR_DATA { ... } }. */
export function encodeExpr(w: NlWriter, e: Expr): void {
  w.nest(LIST_ELEM);
  const name = e.op === 'verdict' ? 'immediate' : e.op;
  w.cstr(EXPR.NAME, name);
  w.nest(EXPR.DATA);
  switch (e.op) {
    case 'meta': w.u32be(1 /* DREG */, REG_1); w.u32be(2 /* KEY */, e.key); break;
    case 'ct': w.u32be(1 /* DREG */, REG_1); w.u32be(2 /* KEY */, e.key); break;
    case 'fib': w.u32be(1 /* DREG */, REG_1); w.u32be(2 /* RESULT */, e.result); w.u32be(3 /* FLAGS */, e.flags); break;
    case 'payload':
      w.u32be(1 /* DREG */, REG_1); w.u32be(2 /* BASE */, e.base); w.u32be(3 /* OFFSET */, e.offset); w.u32be(4 /* LEN */, e.len);
      break;
    case 'bitwise':
      w.u32be(1 /* SREG */, REG_1); w.u32be(2 /* DREG */, REG_1); w.u32be(3 /* LEN */, e.mask.length);
      data(w, 4 /* MASK */, e.mask);
      data(w, 5 /* XOR */, new Uint8Array(e.mask.length));
      break;
    case 'cmp': w.u32be(1 /* SREG */, REG_1); w.u32be(2 /* OP */, e.cmp); data(w, 3 /* DATA */, e.data); break;
    case 'counter': w.u64be(COUNTER.BYTES, 0); w.u64be(COUNTER.PACKETS, 0); break;
    case 'verdict':
      w.u32be(1 /* DREG */, REG_VERDICT);
      w.nest(2 /* IMMEDIATE_DATA */);
      w.nest(DATA_VERDICT);
      w.u32be(VERDICT_CODE, e.code);
      w.nestEnd();
      w.nestEnd();
      break;
  }
  w.nestEnd();
  w.nestEnd();
}

function comment(text: string): Uint8Array {
  const b = new Uint8Array(text.length + 3);
  b[0] = UDATA_RULE_COMMENT;
  b[1] = text.length + 1;
  for (let i = 0; i < text.length; i++) b[2 + i] = text.charCodeAt(i) & 0x7f;
  return b;
}

export interface ChainSpec { table: string; chain: string; priority: number; rules: readonly RuleSpec[] }

/**
 * The batch that (re)creates the table: declare it, delete it (a leftover goes, whatever it held),
 * create it again with the base chain and the rules. All or nothing, as `nft -f` does it.
 * Returns the number of messages that expect an acknowledgement.
 */
export function encodeTableBatch(w: NlWriter, s: ChainSpec, seq: number): number {
  const t = (msg: number) => (SUBSYS << 8) | msg;
  let n = 0;
  w.begin(BATCH_BEGIN, NLM_F.REQUEST, seq++, 0, SUBSYS);
  w.end();
  w.begin(t(MSG.NEWTABLE), NLM_F.REQUEST | NLM_F.CREATE | NLM_F.ACK, seq++, NFPROTO_INET);
  w.cstr(TABLE.NAME, s.table);
  w.end(); n++;
  w.begin(t(MSG.DELTABLE), NLM_F.REQUEST | NLM_F.ACK, seq++, NFPROTO_INET);
  w.cstr(TABLE.NAME, s.table);
  w.end(); n++;
  w.begin(t(MSG.NEWTABLE), NLM_F.REQUEST | NLM_F.CREATE | NLM_F.ACK, seq++, NFPROTO_INET);
  w.cstr(TABLE.NAME, s.table);
  w.end(); n++;
  w.begin(t(MSG.NEWCHAIN), NLM_F.REQUEST | NLM_F.CREATE | NLM_F.ACK, seq++, NFPROTO_INET);
  w.cstr(CHAIN.TABLE, s.table);
  w.cstr(CHAIN.NAME, s.chain);
  w.nest(CHAIN.HOOK);
  w.u32be(HOOK.NUM, NF_INET_PRE_ROUTING);
  w.u32be(HOOK.PRIORITY, s.priority >>> 0);
  w.nestEnd();
  w.u32be(CHAIN.POLICY, 1 /* NF_ACCEPT */);
  w.cstr(CHAIN.TYPE, 'filter');
  w.end(); n++;
  for (const r of s.rules) {
    w.begin(t(MSG.NEWRULE), NLM_F.REQUEST | NLM_F.CREATE | NLM_F.APPEND | NLM_F.ACK, seq++, NFPROTO_INET);
    w.cstr(RULE.TABLE, s.table);
    w.cstr(RULE.CHAIN, s.chain);
    w.nest(RULE.EXPRESSIONS);
    for (const e of r.exprs) encodeExpr(w, e);
    w.nestEnd();
    if (r.comment) w.bytes(RULE.USERDATA, comment(GUARD_RULES[r.comment]));
    w.end(); n++;
  }
  w.begin(BATCH_END, NLM_F.REQUEST, seq, 0, SUBSYS);
  w.end();
  return n;
}

export interface RuleCounter { comment?: string; packets: number; bytes: number }

/** A private nf_tables socket, in the given network namespace (default: this process's). */
export class NfTables {
  private readonly sock: NetlinkSocket;
  private readonly w = new NlWriter(1 << 14);
  private seq = 1;

  constructor(netns?: string) {
    this.sock = netns ? inNetns(netns, () => new NetlinkSocket(NETLINK_NETFILTER, 1 << 16)) : new NetlinkSocket(NETLINK_NETFILTER, 1 << 16);
  }

  /** Sends the batch in `w`; waits for `acks` acknowledgements or the first error. */
  private commitBatch(op: string, acks: number, first: number): void {
    this.sock.send(this.w.data());
    let got = 0;
    while (got < acks) {
      const n = this.sock.recv();
      if (n < 0) throw new NftError(op, -n);
      if (n === 0) {
        if (!this.sock.waitReadable(2000)) throw new NftError(op, E.ETIME);
        continue;
      }
      let error = 0;
      eachMessage(this.sock.rdv, n, (h, p) => {
        if (h.type !== NLMSG.ERROR || h.seq < first) return;
        const err = -this.sock.rdv.getInt32(p, true);
        if (err) error ||= err; else got++;
      });
      if (error) throw new NftError(op, error);
    }
  }

  /** Creates (or replaces) the table with its base chain and rules, atomically. */
  installTable(s: ChainSpec): void {
    this.w.reset();
    const first = this.seq;
    const acks = encodeTableBatch(this.w, s, first);
    this.seq += acks + 2;
    this.commitBatch(`install table inet ${s.table}`, acks, first);
  }

  /** Deletes the table; false when there was none (a failed batch costs the kernel ~10 ms). */
  deleteTable(table: string): boolean {
    this.w.reset();
    const first = this.seq;
    this.w.begin(BATCH_BEGIN, NLM_F.REQUEST, this.seq++, 0, SUBSYS);
    this.w.end();
    this.w.begin((SUBSYS << 8) | MSG.DELTABLE, NLM_F.REQUEST | NLM_F.ACK, this.seq++, NFPROTO_INET);
    this.w.cstr(TABLE.NAME, table);
    this.w.end();
    this.w.begin(BATCH_END, NLM_F.REQUEST, this.seq++, 0, SUBSYS);
    this.w.end();
    try {
      this.commitBatch(`delete table inet ${table}`, 1, first);
      return true;
    } catch (e) {
      if (e instanceof NftError && e.errno === E.ENOENT) return false;
      throw e;
    }
  }

  /** The counters of every rule of the table, with the rules' comments. */
  counters(table: string): RuleCounter[] {
    this.w.reset();
    this.w.begin((SUBSYS << 8) | MSG.GETRULE, NLM_F.REQUEST | NLM_F.DUMP, this.seq++, NFPROTO_INET);
    this.w.cstr(RULE.TABLE, table);
    this.w.end();
    this.sock.send(this.w.data());
    const out: RuleCounter[] = [];
    const top = new AttrTable(8), elem = new AttrTable(2), cnt = new AttrTable(3);
    const dv = this.sock.rdv;
    let done = false;
    while (!done) {
      const n = this.sock.recv();
      if (n < 0) throw new NftError('list rules', -n);
      if (n === 0) {
        if (!this.sock.waitReadable(2000)) throw new NftError('list rules', E.ETIME);
        continue;
      }
      let error = 0;
      eachMessage(dv, n, (h, p) => {
        if (h.type === NLMSG.DONE) { done = true; return; }
        if (h.type === NLMSG.ERROR) {
          const err = -dv.getInt32(p, true);
          if (err) { error = err; done = true; }
          return;
        }
        const end = p - 16 + h.len;
        if (!top.parse(dv, p + 4, end)) return;
        if (top.has(RULE.TABLE) && readStr(dv, top.at[RULE.TABLE], top.len[RULE.TABLE]) !== table) return;
        const rc: RuleCounter = { packets: 0, bytes: 0 };
        if (top.has(RULE.USERDATA)) rc.comment = readComment(dv, top.at[RULE.USERDATA], top.len[RULE.USERDATA]);
        if (top.has(RULE.EXPRESSIONS)) {
          let o = top.at[RULE.EXPRESSIONS];
          const stop = o + top.len[RULE.EXPRESSIONS];
          while (o + 4 <= stop) {
            const l = dv.getUint16(o, true);
            if (l < 4) break;
            if (elem.parse(dv, o + 4, o + l) && elem.has(EXPR.NAME) && readStr(dv, elem.at[EXPR.NAME], elem.len[EXPR.NAME]) === 'counter' &&
              elem.has(EXPR.DATA) && cnt.parse(dv, elem.at[EXPR.DATA], elem.at[EXPR.DATA] + elem.len[EXPR.DATA])) {
              if (cnt.has(COUNTER.PACKETS)) rc.packets += Number(dv.getBigUint64(cnt.at[COUNTER.PACKETS], false));
              if (cnt.has(COUNTER.BYTES)) rc.bytes += Number(dv.getBigUint64(cnt.at[COUNTER.BYTES], false));
            }
            o += (l + 3) & ~3;
          }
        }
        out.push(rc);
      });
      if (error) throw new NftError('list rules', error);
    }
    return out;
  }

  close(): void {
    void this.sock.close();
  }
}

function readStr(dv: DataView, at: number, len: number): string {
  let s = '';
  for (let i = 0; i < len; i++) {
    const c = dv.getUint8(at + i);
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

function readComment(dv: DataView, at: number, len: number): string | undefined {
  let o = at;
  while (o + 2 <= at + len) {
    const type = dv.getUint8(o), l = dv.getUint8(o + 1);
    if (type === UDATA_RULE_COMMENT) return readStr(dv, o + 2, Math.min(l, at + len - o - 2));
    o += 2 + l;
  }
  return undefined;
}
