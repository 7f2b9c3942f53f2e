// The contract between the sync modes and the caches / daemon.
//
// ── SyncObject: what an internal-cache entry is to a sync mode ──────────────────────────────────
// The internal cache (src/cache/) makes one object per kernel conntrack (kind 'ct') or expectation
// (kind 'exp') and keeps `flow` / `exp` and `state` current:
//
//   state NEW   just added (first event or dump)       -> sent as CT_NEW / EXP_NEW
//         ALIVE updated since it was added             -> sent as CT_UPD / EXP_UPD
//         DEAD  destroyed; kept until the mode says    -> sent as CT_DEL / EXP_DEL
//               release(obj)
//
// `sync` belongs to the sync mode: create the object with `sync: undefined` and never touch it.
// The mode hangs its queue node there on first use, so queue moves are O(1) and allocation-free.
// Messages are built from the object's state *at transmission time*: a NEW quickly followed by an
// update leaves as one CT_UPD, exactly as in conntrackd.
//
// What the cache calls:
//   mode.enqueue(obj)  after every change of obj (new, update, destroy -> state DEAD first).
//                      An object is never queued twice; a queued object just goes out once with
//                      its latest state.
//   mode.forget(obj)   when the cache drops obj for its own reasons (flush, purge) while it may
//                      still be queued; the mode lets go of it without calling release().
//
// ── SyncHost: what the daemon gives the sync mode ───────────────────────────────────────────────
//   applyCt / applyExp  a data message from the peer, to apply to the external cache (or inject
//                       into the kernel): NEW (replace if the key exists), UPD (create if absent),
//                       DEL (remove). Exceptions are caught and counted (stats.applyFailed).
//   forEachObject       every live (non-DEAD) internal object, conntracks first, for a bulk send
//                       or the answer to the peer's RESYNC.
//   release(obj)        obj is DEAD and the mode holds no reference any more (FTFW: its DEL was
//                       acknowledged; NOTRACK/ALARM: its DEL was sent; or it was dropped). Called
//                       exactly once per DEAD object that was enqueued.
//   idle(obj)           optional: obj is not DEAD and the mode holds no reference any more (FTFW:
//                       acknowledged; NOTRACK: sent). The cache may let the object go; the next
//                       change brings a new one to enqueue.
//   superseded(obj)     optional, FTFW: obj is DEAD and the cache now holds a newer object with
//                       the same key. Its DEL is then not (re)sent: arriving after the newer
//                       object's NEW (a NACK or timeout resend), it would delete the peer's copy.
//   expireCt/expireExp  ALARM only: an external entry had no message for CacheTimeout seconds.
//                       When absent, the mode applies a DEL instead.
//   log                 notices conntrackd would log ("resync requested by other node", ...).
//   peerRestarted       optional, FTFW: the peer restarted (a HELLO after we had heard it). Return
//                       true to have its table sent again and be told by reconciled() when all of
//                       it has arrived: entries not refreshed since then are stale.
//   reconciled          optional, FTFW: the resync asked for after peerRestarted() is complete.
import type { Expectation, Flow } from '../flow/flow.ts';
import type { ObjNode } from './queue.ts';
import type { CtMsgType, ExpMsgType } from './wire.ts';
import type { EncodeOptions } from './codec.ts';

export const OBJ_STATE = { NEW: 0, ALIVE: 1, DEAD: 2 } as const;
export type ObjState = 0 | 1 | 2;
export type ObjKind = 'ct' | 'exp';

/** Bookkeeping a sync mode keeps on an object; opaque to the cache. */
export type SyncSlot = ObjNode;

export interface SyncObject {
  readonly kind: ObjKind;
  /** kind 'ct': the conntrack as last reported by the kernel */
  flow?: Flow;
  /** kind 'exp': the expectation as last reported by the kernel */
  exp?: Expectation;
  state: ObjState;
  /** owned by the sync mode; initialise to undefined */
  sync: SyncSlot | undefined;
  /**
   * Optional, conntracks: writes the object's current message at b[o..] as the mode sends it with
   * `opt` (everything but the header, which the mode fills) and returns its length, or -1 when the
   * object has no stored message; the mode then encodes `flow`. A cache that keeps messages
   * (src/cache) saves the Flow round trip this way.
   */
  writeMessage?(b: Uint8Array, o: number, opt: EncodeOptions): number;
}

export type LogLevel = 'notice' | 'warning' | 'error';

export interface SyncHost {
  applyCt(type: CtMsgType, flow: Flow): void;
  /**
   * Optional: a received conntrack message as bytes (b[off..off+len), header included, framing
   * already checked). Return 1 when applied, 0 to have the mode decode it and call applyCt, or
   * DECODE_MALFORMED / DECODE_NO_ADDRESS when the payload is bad (counted as decodeCt's would be).
   * Not used by modes that need Flows (ALARM).
   */
  applyCtRaw?(type: CtMsgType, b: Uint8Array, off: number, len: number): number;
  applyExp(type: ExpMsgType, exp: Expectation): void;
  forEachObject(fn: (obj: SyncObject) => void): void;
  release(obj: SyncObject): void;
  idle?(obj: SyncObject): void;
  superseded?(obj: SyncObject): boolean;
  expireCt?(flow: Flow): void;
  expireExp?(exp: Expectation): void;
  log?(level: LogLevel, message: string): void;
  peerRestarted?(): boolean;
  reconciled?(): void;
}

/** The wire type of an object's current state (conntrackd's object_status_to_network_type). */
export function messageTypeOf(obj: SyncObject): 0 | 1 | 2 | 3 | 4 | 5 {
  return ((obj.kind === 'ct' ? 0 : 3) + obj.state) as 0 | 1 | 2 | 3 | 4 | 5;
}
