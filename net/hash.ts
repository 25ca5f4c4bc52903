// String and integer hashing for keys tapwatch chooses itself (destination and domain keys in the
// analyzer's state, nft set names, a quarantine group's mark and routing table, which a gateway holds and so must never change): FNV-1a, and murmur3's finalizer to spread a 32-bit key across
// the rows of a sketch. Not for tables whose keys a device chooses: those are keyed with a
// per-process secret (key-table.ts).

/** FNV-1a over a string's UTF-16 code units, continuing from `h` so parts can be chained without concatenation. */
export function fnv1a(text: string, h = 0x811c9dc5): number {
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** FNV-1a step over one 32-bit number (its four bytes). */
export function fnv1aInt(value: number, h: number): number {
  for (let s = 0; s < 32; s += 8) {
    h ^= (value >>> s) & 0xff;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** murmur3's finalizer: spreads a 32-bit key so that rows of a sketch see independent-looking hashes. */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
