// Operations on the kernel's conntrack table over ctnetlink: dump, get, create, update, delete,
// flush, for conntracks and expectations. Requests go out in batches (many messages per sendto);
// the kernel handles a netlink request inside sendto, so replies are queued by the time it returns.
import type { Flow, Expectation, Family } from '../flow/flow.ts';
import { NetlinkSocket, NETLINK_OPT, SOL_NETLINK } from './netlink.ts';
import { NlWriter, NLMSG, NLM_F, eachMessage } from './nlmsg.ts';
import {
  SUBSYS_CT, SUBSYS_EXP, CT_MSG, EXP_MSG, familyToAf,
  decodeFlow, decodeExpectation, encodeFlow, encodeExpectation, type EncodeOptions,
} from './ctnetlink.ts';
import { E, errnoName } from './libc.ts';

const BATCH_BYTES = 192 * 1024;

export interface BatchResult {
  ok: number;
  /** index in the input -> errno */
  failed: Map<number, number>;
}

export class KernelError extends Error {
  constructor(readonly op: string, readonly errno: number) {
    super(`${op}: kernel answered ${errnoName(errno)}`);
    this.name = 'KernelError';
  }
}

/** A ctnetlink request socket. One per user; not for events (see events.ts). */
export class Conntrack {
  readonly sock: NetlinkSocket;
  private readonly w = new NlWriter(BATCH_BYTES + 4096);
  private seq = 1;

  constructor() {
    this.sock = new NetlinkSocket();
    try {
      this.sock.setInt(SOL_NETLINK, NETLINK_OPT.CAP_ACK, 1);
      this.sock.setReceiveBuffer(8 << 20);
      this.sock.setSendBuffer(2 * BATCH_BYTES);
    } catch (e) {
      void this.sock.close();
      throw e;
    }
  }

  get portid(): number { return this.sock.portid; }

  close(): Promise<void> { return this.sock.close(); }

  // ---- dumps ----

  /** Calls fn for every conntrack of the family (0: both). */
  dumpEach(fn: (f: Flow) => void, family: Family | 0 = 0, zone?: number): void {
    const af = family === 0 ? 0 : familyToAf(family);
    this.w.reset();
    this.w.begin((SUBSYS_CT << 8) | CT_MSG.GET, NLM_F.REQUEST | NLM_F.DUMP, this.seq++, af);
    if (zone !== undefined) this.w.u16be(18 /* CTA_ZONE */, zone);
    this.w.end();
    this.readDump('conntrack dump', (dv, payload, end) => fn(decodeFlow(dv, payload + 4, end, dv.getUint8(payload))));
  }

  /**
   * dumpEach() without decoding: `fn` gets each conntrack message of the dump as the receive
   * buffer holds it (payload: its nfgenmsg; end: where it ends), valid during the call only.
   */
  dumpRaw(fn: (dv: DataView, payload: number, end: number) => void): void {
    this.w.reset();
    this.w.begin((SUBSYS_CT << 8) | CT_MSG.GET, NLM_F.REQUEST | NLM_F.DUMP, this.seq++, 0);
    this.w.end();
    this.readDump('conntrack dump', fn);
  }

  dump(family: Family | 0 = 0): Flow[] {
    const out: Flow[] = [];
    this.dumpEach((f) => out.push(f), family);
    return out;
  }

  dumpExpectations(family: Family | 0 = 0): Expectation[] {
    const out: Expectation[] = [];
    const af = family === 0 ? 0 : familyToAf(family);
    this.w.reset();
    this.w.begin((SUBSYS_EXP << 8) | EXP_MSG.GET, NLM_F.REQUEST | NLM_F.DUMP, this.seq++, af);
    this.w.end();
    this.readDump('expectation dump', (dv, payload, end) => out.push(decodeExpectation(dv, payload + 4, end, dv.getUint8(payload))));
    return out;
  }

  private readDump(op: string, onMsg: (dv: DataView, payload: number, end: number) => void): void {
    this.sock.send(this.w.data());
    const s = this.sock;
    let done = false;
    let error = 0;
    while (!done) {
      const n = s.recv();
      if (n === -E.ENOBUFS) throw new KernelError(op, E.ENOBUFS);
      if (n === 0) {
        if (!s.waitReadable(5000)) throw new KernelError(op, E.ETIME);
        continue;
      }
      const ok = eachMessage(s.rdv, n, (h, p) => {
        if (h.type === NLMSG.DONE) done = true;
        else if (h.type === NLMSG.ERROR) {
          const err = -s.rdv.getInt32(p, true);
          if (err) { error = err; done = true; }
        } else if (!done) onMsg(s.rdv, p, p - 16 + h.len);
      });
      if (!ok) throw new KernelError(op, E.EIO);
    }
    if (error) throw new KernelError(op, error);
  }

  /** One conntrack by its original tuple (and zone), or undefined. */
  get(f: Flow): Flow | undefined {
    this.w.reset();
    this.w.begin((SUBSYS_CT << 8) | CT_MSG.GET, NLM_F.REQUEST, this.seq++, familyToAf(f.family));
    encodeFlow(this.w, f, { keyOnly: true });
    this.w.end();
    this.sock.send(this.w.data());
    let found: Flow | undefined;
    let error = 0;
    const n = this.sock.recv();
    eachMessage(this.sock.rdv, Math.max(n, 0), (h, p) => {
      if (h.type === NLMSG.ERROR) error = -this.sock.rdv.getInt32(p, true);
      else found = decodeFlow(this.sock.rdv, p + 4, p - 16 + h.len, this.sock.rdv.getUint8(p));
    });
    if (error && error !== E.ENOENT) throw new KernelError('conntrack get', error);
    return found;
  }

  // ---- batched changes ----

  /**
   * Sends one message per item, many per sendto, without NLM_F_ACK: the kernel answers only
   * failures, which come back with the item's sequence number.
   */
  batch<T>(items: readonly T[], write: (w: NlWriter, item: T, seq: number) => void): BatchResult {
    const failed = new Map<number, number>();
    let i = 0;
    while (i < items.length) {
      this.w.reset();
      const base = this.seq;
      const first = i;
      while (i < items.length && this.w.len < BATCH_BYTES) {
        try {
          write(this.w, items[i], base + (i - first));
        } catch {
          // an item that cannot be encoded fails alone
          this.w.abort();
          failed.set(i, E.EINVAL);
        }
        i++;
      }
      this.seq = base + (i - first);
      if (this.w.len === 0) continue;
      this.sock.send(this.w.data());
      this.collectErrors(base, first, i, failed);
    }
    return { ok: items.length - failed.size, failed };
  }

  private collectErrors(base: number, first: number, end: number, failed: Map<number, number>): void {
    for (;;) {
      const n = this.sock.recv();
      if (n === 0) return;
      if (n < 0) throw new KernelError('conntrack batch', -n);
      eachMessage(this.sock.rdv, n, (h, p) => {
        if (h.type !== NLMSG.ERROR) return;
        const err = -this.sock.rdv.getInt32(p, true);
        const idx = first + ((h.seq - base) >>> 0);
        if (err && idx < end) failed.set(idx, err);
      });
    }
  }

  /** Reserves `n` sequence numbers for requests the caller builds itself; returns the first. */
  reserveSeq(n: number): number {
    const base = this.seq;
    this.seq = (this.seq + n) >>> 0;
    return base;
  }

  /**
   * Sends requests the caller built (count messages, sequence numbers base..base+count-1, no
   * NLM_F_ACK) in one sendto from a worker thread, so that the kernel's work overlaps the caller's;
   * `data` stays untouched until it settles. Returns the failures (message index -> errno).
   */
  async sendBatchAsync(data: Uint8Array, base: number, count: number): Promise<Map<number, number>> {
    await this.sock.sendAsync(data);
    const failed = new Map<number, number>();
    this.collectErrors(base, 0, count, failed);
    return failed;
  }

  /** Creates conntracks; existing ones fail with EEXIST unless `replace` (then: delete, create). */
  create(flows: readonly Flow[], opt: { replace?: boolean; liberal?: boolean } = {}): BatchResult {
    const enc: EncodeOptions = { create: true, liberal: opt.liberal };
    const r = this.batch(flows, (w, f, seq) => {
      w.begin((SUBSYS_CT << 8) | CT_MSG.NEW, NLM_F.REQUEST | NLM_F.CREATE | NLM_F.EXCL, seq, familyToAf(f.family));
      encodeFlow(w, f, enc);
      w.end();
    });
    if (!opt.replace) return r;
    const clash = [...r.failed].filter(([, e]) => e === E.EEXIST).map(([i]) => i);
    if (clash.length === 0) return r;
    const again = clash.map((i) => flows[i]);
    this.delete(again);
    const r2 = this.batch(again, (w, f, seq) => {
      w.begin((SUBSYS_CT << 8) | CT_MSG.NEW, NLM_F.REQUEST | NLM_F.CREATE | NLM_F.EXCL, seq, familyToAf(f.family));
      encodeFlow(w, f, enc);
      w.end();
    });
    for (let k = 0; k < clash.length; k++) {
      const e = r2.failed.get(k);
      if (e === undefined) r.failed.delete(clash[k]);
      else r.failed.set(clash[k], e);
    }
    r.ok = flows.length - r.failed.size;
    return r;
  }

  /** Updates existing conntracks (status, timeout, mark, protocol state, labels). */
  update(flows: readonly Flow[]): BatchResult {
    return this.batch(flows, (w, f, seq) => {
      w.begin((SUBSYS_CT << 8) | CT_MSG.NEW, NLM_F.REQUEST, seq, familyToAf(f.family));
      encodeFlow(w, f, {});
      w.end();
    });
  }

  delete(flows: readonly Flow[]): BatchResult {
    return this.batch(flows, (w, f, seq) => {
      w.begin((SUBSYS_CT << 8) | CT_MSG.DELETE, NLM_F.REQUEST, seq, familyToAf(f.family));
      encodeFlow(w, f, { keyOnly: true });
      w.end();
    });
  }

  /** Deletes every conntrack of the family (0: all). */
  flush(family: Family | 0 = 0): void {
    this.w.reset();
    this.w.begin((SUBSYS_CT << 8) | CT_MSG.DELETE, NLM_F.REQUEST | NLM_F.ACK, this.seq++, family === 0 ? 0 : familyToAf(family));
    this.w.end();
    this.sendAndCheck('conntrack flush');
  }

  /** Deletes the conntracks for which keep() is false; returns how many were deleted. */
  flushWhere(remove: (f: Flow) => boolean): number {
    const victims: Flow[] = [];
    this.dumpEach((f) => { if (remove(f)) victims.push(f); });
    const r = this.delete(victims);
    // ENOENT: gone meanwhile, which is what was wanted
    let gone = r.ok;
    for (const e of r.failed.values()) if (e === E.ENOENT) gone++;
    return gone;
  }

  createExpectations(exps: readonly Expectation[]): BatchResult {
    return this.batch(exps, (w, e, seq) => {
      w.begin((SUBSYS_EXP << 8) | EXP_MSG.NEW, NLM_F.REQUEST | NLM_F.CREATE | NLM_F.EXCL, seq, familyToAf(e.family));
      encodeExpectation(w, e);
      w.end();
    });
  }

  deleteExpectations(exps: readonly Expectation[]): BatchResult {
    return this.batch(exps, (w, e, seq) => {
      w.begin((SUBSYS_EXP << 8) | EXP_MSG.DELETE, NLM_F.REQUEST, seq, familyToAf(e.family));
      encodeExpectation(w, e, { keyOnly: true });
      w.end();
    });
  }

  flushExpectations(family: Family | 0 = 0): void {
    this.w.reset();
    this.w.begin((SUBSYS_EXP << 8) | EXP_MSG.DELETE, NLM_F.REQUEST | NLM_F.ACK, this.seq++, family === 0 ? 0 : familyToAf(family));
    this.w.end();
    this.sendAndCheck('expectation flush');
  }

  private sendAndCheck(op: string): void {
    this.sock.send(this.w.data());
    let error = 0;
    for (;;) {
      const n = this.sock.recv();
      if (n <= 0) break;
      eachMessage(this.sock.rdv, n, (h, p) => {
        if (h.type === NLMSG.ERROR) error = -this.sock.rdv.getInt32(p, true);
      });
    }
    if (error) throw new KernelError(op, error);
  }
}
