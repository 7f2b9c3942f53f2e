// The kernel table as the daemon reads it (the initial dump, `-R`, a new master's resync): every
// conntrack the filter lets through, as the stored message and key the cache keeps when the
// record path takes it (a dump message into the ring-buffer record layout, src/kernel/ct-record.ts,
// then record-message.ts: no Flow, no address string), else as a Flow.
import type { Flow } from '../flow/flow.ts';
import type { FlowFilter } from '../flow/filter.ts';
import type { Conntrack } from '../kernel/conntrack.ts';
import { decodeFlow, AF_INET6 } from '../kernel/ctnetlink.ts';
import { netlinkToRecord } from '../kernel/ct-record.ts';
import { LAYOUT, PRESENT as P, TUPLE_HAVE as T, RECORD_SIZE } from '../kernel/bpf/ctsync.gen.ts';
import { recordToMessage, recordKernelId } from './record-message.ts';
import { KEY_SIZE } from '../flow/key.ts';
import { MAX_MESSAGE_SIZE } from '../sync/wire.ts';

const R = LAYOUT.ct_record, TU = LAYOUT.ct_tuple;

export interface TableSink {
  /** every conntrack read, taken or filtered (progress) */
  step(): void;
  /**
   * one the record path took: key[0..40) and message msg[0..n), valid during the call, and the
   * kernel's id of the conntrack (0: the dump gave none)
   */
  stored(key: Uint8Array, msg: Uint8Array, n: number, kid: number): void;
  /** one it left alone (what the cache keeps as a Flow, or a message it does not know) */
  flow(f: Flow): void;
}

const rec = new Uint8Array(RECORD_SIZE);
const recView = new DataView(rec.buffer);
const msg = new Uint8Array(MAX_MESSAGE_SIZE);
const key = new Uint8Array(KEY_SIZE);

/** The record's tuples are of the message's family (else the Flow path sorts it out). */
function sameFamilies(): boolean {
  const v6 = rec[R.family] === AF_INET6;
  const reply = recView.getUint32(R.present, true) & P.P_REPLY;
  return ((rec[R.orig + TU.have] & T.T_V6) !== 0) === v6 && (!reply || ((rec[R.reply + TU.have] & T.T_V6) !== 0) === v6);
}

export function readTable(ct: Conntrack, filter: FlowFilter, sink: TableSink): void {
  let bytes: Uint8Array = new Uint8Array(0);
  let bytesOf: ArrayBufferLike | undefined;
  ct.dumpRaw((dv, payload, end) => {
    sink.step();
    if (dv.buffer !== bytesOf) {
      bytesOf = dv.buffer;
      bytes = new Uint8Array(dv.buffer, dv.byteOffset);
    }
    const af = bytes[payload];
    if (netlinkToRecord(bytes, payload + 4, end, af, rec, 0) && sameFamilies()) {
      const reply = recView.getUint32(R.present, true) & P.P_REPLY;
      const v6 = (rec[R.orig + TU.have] & T.T_V6) !== 0;
      if (!filter.matchesBytes(rec[R.orig + TU.proto], v6, rec, R.orig + TU.src, R.orig + TU.dst, reply ? R.reply + TU.src : R.orig + TU.dst)) return;
      const n = recordToMessage(recView, 0, msg, key);
      if (n >= 0) {
        sink.stored(key, msg, n, recordKernelId(recView, 0));
        return;
      }
    }
    const f = decodeFlow(dv, payload + 4, end, af);
    if (filter.matches(f)) sink.flow(f);
  });
}
