// Intrusive FIFO queues of the sync modes (conntrackd's queue.c): a node knows which queue holds
// it, so "is it queued", "move it to the other queue" and "remove it" are O(1), and an object's
// node is allocated once for its lifetime. Control messages (ACK, NACK, RESYNC, ALIVE) are nodes
// of their own.
import type { SyncObject } from './object.ts';

/** the low 30 bits: always a small integer for V8, pointer compression or not */
export const LOW30 = 0x3fffffff;
/** A clock reading as a node keeps it (sentAt): whole ms, low 30 bits; compare with `& LOW30`. */
export const nodeMs = (now: number): number => Math.floor(now) & LOW30;

export type QItem = ObjNode | CtlNode;

abstract class QNodeBase {
  prev: QItem | null = null;
  next: QItem | null = null;
  owner: Queue | null = null;
  /** sequence number of the last transmission */
  seq = 0;
  /**
   * clock ms of the last transmission, whole, their low 30 bits (LOW30): V8 keeps a small integer
   * in the object, a fraction (performance.now()) in a box of its own, one more object per flow
   */
  sentAt = 0;
}

/**
 * The node of a cache object (Q_ELEM_OBJ). A cache may make its objects nodes themselves
 * (src/cache Entry extends ObjNode, with `obj` and `sync` the object itself): one allocation per
 * flow instead of two.
 */
export class ObjNode extends QNodeBase {
  /** on the prototype: one field less per flow (internal-cache entries are ObjNodes) */
  declare readonly ctl: false;
  /** ALARM: refresh wheel slot, -1 when not armed */
  slot = -1;
  readonly obj: SyncObject;
  /** obj: the object this node queues; none: the node is the object (a subclass) */
  constructor(obj?: SyncObject) {
    super();
    this.obj = obj ?? (this as unknown as SyncObject);
  }
}

/** A control message waiting to be sent or acknowledged (Q_ELEM_CTL). */
export class CtlNode extends QNodeBase {
  declare readonly ctl: true;
  /** flags as sent the last time (with HELLO bits), for `-s rsqueue` */
  sentFlags = 0;
  constructor(public flags: number, public from = 0, public to = 0) { super(); }
}

Object.defineProperty(ObjNode.prototype, 'ctl', { value: false });
Object.defineProperty(CtlNode.prototype, 'ctl', { value: true });

export class Queue {
  head: QItem | null = null;
  tail: QItem | null = null;
  len = 0;
  /** additions refused because the queue was full ("not enough space errors") */
  enospc = 0;

  constructor(readonly name: string, readonly max: number) {}

  has(n: QItem): boolean {
    return n.owner === this;
  }

  /** 1 added, 0 already in a queue, -1 full (counted). */
  add(n: QItem): 1 | 0 | -1 {
    if (n.owner) return 0;
    if (this.len >= this.max) {
      this.enospc++;
      return -1;
    }
    n.owner = this;
    n.prev = this.tail;
    n.next = null;
    if (this.tail) this.tail.next = n; else this.head = n;
    this.tail = n;
    this.len++;
    return 1;
  }

  /** Removes n if this queue holds it. */
  del(n: QItem): boolean {
    if (n.owner !== this) return false;
    if (n.prev) n.prev.next = n.next; else this.head = n.next;
    if (n.next) n.next.prev = n.prev; else this.tail = n.prev;
    n.prev = n.next = null;
    n.owner = null;
    this.len--;
    return true;
  }

  shift(): QItem | null {
    const n = this.head;
    if (n) this.del(n);
    return n;
  }
}

/** Removes a node from whatever queue holds it. */
export function unqueue(n: QItem): void {
  n.owner?.del(n);
}
