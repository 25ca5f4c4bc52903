// A set of fixed-width keys (W 32-bit words each) mapped to dense ids 0, 1, 2, ..., open addressing
// over typed arrays, so callers keep per-key counters as struct-of-arrays indexed by id and nothing
// is allocated per lookup. The key to look up is written into `probe` first: keys never cross a
// call as numbers (a uint32 above 2^30 passed to a call V8 did not inline is boxed: an allocation).
//
// Bounded: past `maxEntries` an insert returns -1 and the caller counts the overflow. Below it the
// table grows by doubling, so memory follows the keys seen, never the packets.

const EMPTY = -1;

export class KeyTable {
  size = 0;
  /** The key to find or insert: write its W words here, then call find(). */
  readonly probe: Uint32Array;
  private slots: Int32Array; // hash slot → id, or EMPTY
  private mask: number;
  private keys: Uint32Array; // id * W .. id * W + W - 1

  constructor(readonly words: number, readonly maxEntries: number, initialEntries = Math.min(maxEntries, 1024)) {
    if (!Number.isInteger(words) || words < 1 || words > 16) throw new RangeError(`words must be 1..16, got ${words}`);
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError(`maxEntries must be a positive integer, got ${maxEntries}`);
    const initial = Math.max(1, Math.min(initialEntries, maxEntries));
    this.probe = new Uint32Array(words);
    this.slots = new Int32Array(nextPow2(initial * 2)).fill(EMPTY);
    this.mask = this.slots.length - 1;
    this.keys = new Uint32Array(initial * words);
  }

  /** Id of the key in `probe`; inserts it when `insert`. -1 when absent, or when full. */
  find(insert: boolean): number {
    const k = this.probe;
    const w = this.words;
    const keys = this.keys;
    const slots = this.slots;
    const mask = this.mask;
    for (let i = hashKey(k, 0, w) & mask; ; i = (i + 1) & mask) {
      const id = slots[i];
      if (id === EMPTY) {
        if (!insert || this.size === this.maxEntries) return -1;
        return this.insertAt(i);
      }
      let p = id * w;
      let j = 0;
      while (j < w && keys[p] === k[j]) {
        p++;
        j++;
      }
      if (j === w) return id;
    }
  }

  /** Ids inserted from now on will be new ones; used to forget an interval's keys. */
  clear(): void {
    if (this.size === 0) return;
    this.slots.fill(EMPTY);
    this.size = 0;
  }

  /** The key words of an id, copied into `out` (for reports: allocation is fine there). */
  keyOf(id: number, out: Uint32Array): Uint32Array {
    // A loop, not set(subarray()): records read every key once per interval, and a view per key was garbage.
    const keys = this.keys;
    for (let j = 0, p = id * this.words; j < this.words; j++) out[j] = keys[p + j];
    return out;
  }

  private insertAt(slot: number): number {
    const id = this.size++;
    const w = this.words;
    if (id * w === this.keys.length) {
      const keys = new Uint32Array(Math.min(this.keys.length * 2, this.maxEntries * w));
      keys.set(this.keys);
      this.keys = keys;
    }
    this.keys.set(this.probe, id * w);
    this.slots[slot] = id;
    if (this.size * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    return id;
  }

  private rehash(slotCount: number): void {
    const slots = new Int32Array(slotCount).fill(EMPTY);
    const mask = slotCount - 1;
    for (let id = 0; id < this.size; id++) {
      let i = hashKey(this.keys, id * this.words, this.words) & mask;
      while (slots[i] !== EMPTY) i = (i + 1) & mask;
      slots[i] = id;
    }
    this.slots = slots;
    this.mask = mask;
  }
}

/** One multiply per word, then a final avalanche: enough spread for addresses differing in low bits. */
function hashKey(k: Uint32Array, p: number, w: number): number {
  let h = w;
  for (let i = 0; i < w; i++) h = Math.imul(h ^ k[p + i], 0x9e3779b1);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  return h ^ (h >>> 13);
}

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
