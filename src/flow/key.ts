// The identity of a conntrack in the caches: its original tuple and zone, as conntrackd hashes it.
// Two forms: a string (flowKey, for sets and logs) and a fixed 40-byte binary key that the caches
// index without building strings (layout below; writers in src/cache/key.ts and src/sync/codec.ts).
import type { Flow, Expectation, Tuple } from './flow.ts';
import { LITTLE_ENDIAN, Words } from './words.ts';

function tupleKey(t: Tuple): string {
  // icmp type/code/id and ports never both appear, so one layout serves every protocol
  return `${t.proto}|${t.src}|${t.dst}|${t.sport ?? t.icmpType ?? 0}|${t.dport ?? t.icmpCode ?? 0}|${t.icmpId ?? 0}`;
}

export function flowKey(f: Pick<Flow, 'orig' | 'zone'>): string {
  return `${f.zone ?? 0}|${tupleKey(f.orig)}`;
}

/** Expectations are found by their expected tuple (and zone), as the kernel finds them. */
export function expectationKey(e: Pick<Expectation, 'tuple' | 'zone' | 'master'>): string {
  return `${e.zone ?? 0}|${tupleKey(e.tuple)}`;
}

/**
 * Binary key of a conntrack, 40 bytes, the same information as flowKey:
 *   0 family (4|6)   1 protocol   2-3 zone (BE)   4-19 source   20-35 destination (IPv4: first 4
 *   bytes, the rest zero)   36-37 source port, or ICMP type<<8|code   38-39 destination port, or
 *   ICMP id (BE). Fields a tuple does not have are zero.
 */
export const KEY_SIZE = 40;
export const KEY = { FAMILY: 0, PROTO: 1, ZONE: 2, SRC: 4, DST: 20, A: 36, B: 38 } as const;

const hashWords = new Words();

/**
 * 32-bit hash of the key at b[o..o+40) (FNV-1a over its ten little-endian words, then mixed).
 * Read as words where the key is 4-aligned, byte by byte elsewhere: the same value either way.
 */
export function hashKey(b: Uint8Array, o: number): number {
  let h = 0x811c9dc5 | 0;
  const w = LITTLE_ENDIAN && (o & 3) === 0 ? hashWords.of(b) : undefined;
  if (w) {
    for (let i = o >> 2, end = i + (KEY_SIZE >> 2); i < end; i++) {
      h = Math.imul(h ^ w[i], 0x01000193);
      h ^= h >>> 15;
    }
  } else {
    for (let i = 0; i < KEY_SIZE; i += 4) {
      const x = b[o + i] | (b[o + i + 1] << 8) | (b[o + i + 2] << 16) | (b[o + i + 3] << 24);
      h = Math.imul(h ^ x, 0x01000193);
      h ^= h >>> 15;
    }
  }
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

export function keysEqual(a: Uint8Array, ao: number, b: Uint8Array, bo: number): boolean {
  for (let i = 0; i < KEY_SIZE; i++) if (a[ao + i] !== b[bo + i]) return false;
  return true;
}
