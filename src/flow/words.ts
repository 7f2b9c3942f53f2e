// Int32 views of byte arrays, so that keys and messages are copied, compared and hashed a word at
// a time where their bytes start on a 4-byte boundary.

/**
 * Int32 view of a byte array, for copying and comparing 4-aligned data a word at a time (4x
 * fewer bounds-checked accesses than bytes). One per call site: the last array's view is kept,
 * so a scratch buffer costs nothing and a received datagram one view for all its messages.
 */
export class Words {
  private last: Uint8Array | undefined;
  private view: Int32Array | undefined;

  /** The view, or undefined when b does not start on a 4-byte boundary. */
  of(b: Uint8Array): Int32Array | undefined {
    if (b === this.last) return this.view;
    this.last = b;
    this.view = (b.byteOffset & 3) === 0 ? new Int32Array(b.buffer, b.byteOffset, b.byteLength >>> 2) : undefined;
    return this.view;
  }
}

/** Whether an Int32Array reads bytes b0..b3 as b0 | b1 << 8 | b2 << 16 | b3 << 24. */
export const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
