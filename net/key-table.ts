// A set of fixed-width keys (W 32-bit words each) mapped to dense ids 0, 1, 2, ..., open addressing
// over typed arrays, so callers keep per-key counters as struct-of-arrays indexed by id and nothing
// is allocated per lookup. The key to look up is written into `probe` first: keys never cross a
// call as numbers (a uint32 above 2^30 passed to a call V8 did not inline is boxed: an allocation).
//
// Bounded: past `maxEntries` an insert returns -1 and the caller counts the overflow. Below it the
// table grows by doubling, so memory follows the keys seen, never the packets.
//
// The keys are chosen by the traffic (a device picks the addresses and ports it sends to), so the
// table must not be floodable. Slots come from HalfSipHash-1-3 over the key words under a random
// per-table key (net/halfsiphash.ts), and probing is bounded (MAX_PROBE). Measured against a seeded
// multiply-mix (bench/key-hash.ts): HalfSipHash costs ~10 ns more per lookup, lost in the collector's
// per-packet cost, while any mix of the form h = imul(h ^ word, odd) has collisions that hold under
// every seed (flip the top bit of two consecutive words: the multiply carries the flip through
// unchanged), which a device can precompute. The old unseeded hash (invertible end to end) let one
// device put 65k destinations in one probe run: 37× slower, quadratic (issue 12).
//
// Ids can be given back (remove): the device table evicts idle devices between intervals and the
// freed ids are handed out again before new ones.

import { halfSipHashWords, randomHashKey } from './halfsiphash.js';

const EMPTY = -1;
/**
 * Longest probe run looked at. With the table at most half full and a keyed hash, a run of 32 happens
 * with probability far below 2^-30 per insert; a run that long means a flood, and rather than searching
 * on, the table doubles (or, at its maximum, the key is dropped and counted by the caller).
 */
export const MAX_PROBE = 32;

export class KeyTable {
  /** Ids handed out so far are below `size` (removed ones included, until handed out again). */
  size = 0;
  /** Keys in the table now. */
  count = 0;
  /** Inserts refused because no slot was found within MAX_PROBE even at full size (a flood under a broken hash). */
  probeOverflow = 0;
  /** The key to find or insert: write its W words here, then call find(). */
  readonly probe: Uint32Array;
  private slots: Int32Array; // hash slot → id, or EMPTY
  private mask: number;
  private keys: Uint32Array; // id * W .. id * W + W - 1
  private hashes: Int32Array; // per id: its key's hash, so rehash and remove never recompute one
  private free: Int32Array | null = null; // ids given back, a stack
  private freeCount = 0;
  private readonly k0: number;
  private readonly k1: number;

  constructor(readonly words: number, readonly maxEntries: number, initialEntries = Math.min(maxEntries, 1024), key: Uint32Array = randomHashKey()) {
    if (!Number.isInteger(words) || words < 1 || words > 16) throw new RangeError(`words must be 1..16, got ${words}`);
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError(`maxEntries must be a positive integer, got ${maxEntries}`);
    const initial = Math.max(1, Math.min(initialEntries, maxEntries));
    this.probe = new Uint32Array(words);
    this.slots = new Int32Array(nextPow2(initial * 2)).fill(EMPTY);
    this.mask = this.slots.length - 1;
    this.keys = new Uint32Array(initial * words);
    this.hashes = new Int32Array(initial);
    this.k0 = key[0] | 0;
    this.k1 = key[1] | 0;
  }

  /** Id of the key in `probe`; inserts it when `insert`. -1 when absent, or when full. */
  find(insert: boolean): number {
    const k = this.probe;
    const w = this.words;
    const h = halfSipHashWords(this.k0, this.k1, k, 0, w);
    for (;;) {
      const keys = this.keys;
      const hashes = this.hashes;
      const slots = this.slots;
      const mask = this.mask;
      let i = h & mask;
      for (let n = 0; n < MAX_PROBE; n++, i = (i + 1) & mask) {
        const id = slots[i];
        if (id === EMPTY) {
          if (!insert || this.count === this.maxEntries) return -1;
          return this.insertAt(i, h);
        }
        if (hashes[id] !== h) continue;
        let p = id * w;
        let j = 0;
        while (j < w && keys[p] === k[j]) {
          p++;
          j++;
        }
        if (j === w) return id;
      }
      // MAX_PROBE occupied slots in a row: only a flood does that. Spread the keys over twice the
      // slots and look again, as long as the table may grow; past that, give up on this key.
      if (!insert || this.count === this.maxEntries || this.slots.length >= nextPow2(this.maxEntries * 2) * 4) {
        if (insert) this.probeOverflow++;
        return -1;
      }
      this.rehash(this.slots.length * 2);
    }
  }

  /** Ids inserted from now on will be new ones; used to forget an interval's keys. */
  clear(): void {
    if (this.size === 0) return;
    this.slots.fill(EMPTY);
    this.size = 0;
    this.count = 0;
    this.freeCount = 0;
  }

  /**
   * Forgets the key of `id` (which must be in the table); the id is handed out again by a later insert.
   * Backward-shift deletion, so lookups never meet tombstones. Not for the packet path: it may scan a run.
   */
  remove(id: number): void {
    const mask = this.mask;
    const slots = this.slots;
    let i = this.hashes[id] & mask;
    while (slots[i] !== id) i = (i + 1) & mask;
    // Pull later entries of the run back into the hole when their home slot is at or before it.
    for (let j = (i + 1) & mask; slots[j] !== EMPTY; j = (j + 1) & mask) {
      const home = this.hashes[slots[j]] & mask;
      if (((j - home) & mask) >= ((j - i) & mask)) {
        slots[i] = slots[j];
        i = j;
      }
    }
    slots[i] = EMPTY;
    this.count--;
    if (this.free === null) this.free = new Int32Array(this.maxEntries);
    this.free[this.freeCount++] = id;
  }

  /** The key words of an id, copied into `out` (for reports: allocation is fine there). */
  keyOf(id: number, out: Uint32Array): Uint32Array {
    // A loop, not set(subarray()): records read every key once per interval, and a view per key was garbage.
    const keys = this.keys;
    for (let j = 0, p = id * this.words; j < this.words; j++) out[j] = keys[p + j];
    return out;
  }

  private insertAt(slot: number, h: number): number {
    const w = this.words;
    let id: number;
    if (this.freeCount > 0) id = this.free![--this.freeCount];
    else {
      id = this.size++;
      if (id === this.hashes.length) {
        const n = Math.min(this.hashes.length * 2, this.maxEntries);
        const keys = new Uint32Array(n * w);
        keys.set(this.keys);
        this.keys = keys;
        const hashes = new Int32Array(n);
        hashes.set(this.hashes);
        this.hashes = hashes;
      }
    }
    this.count++;
    this.keys.set(this.probe, id * w);
    this.hashes[id] = h;
    this.slots[slot] = id;
    if (this.count * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    return id;
  }

  private rehash(slotCount: number): void {
    let dead: Uint8Array | null = null; // ids given back and not handed out again
    if (this.freeCount > 0) {
      dead = new Uint8Array(this.size);
      for (let f = 0; f < this.freeCount; f++) dead[this.free![f]] = 1;
    }
    for (;;) {
      const slots = new Int32Array(slotCount).fill(EMPTY);
      const mask = slotCount - 1;
      let longest = 0;
      for (let id = 0; id < this.size; id++) {
        if (dead !== null && dead[id] === 1) continue;
        let i = this.hashes[id] & mask;
        let n = 0;
        while (slots[i] !== EMPTY) {
          i = (i + 1) & mask;
          n++;
        }
        if (n > longest) longest = n;
        slots[i] = id;
      }
      // Every key must stay within MAX_PROBE of its home, or find() would not see it.
      if (longest < MAX_PROBE || slotCount >= nextPow2(this.maxEntries * 2) * 4) {
        this.slots = slots;
        this.mask = mask;
        return;
      }
      slotCount *= 2;
    }
  }
}

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
