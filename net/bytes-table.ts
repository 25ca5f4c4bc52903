// (tag, byte string) → dense id, for keys the traffic chooses: DNS names per device, and addresses
// from DNS answers. Ids are given in first-seen order; each key's bytes are copied into a
// preallocated arena when it is inserted. Nothing allocates after construction, so the packet loop
// may call find() for every packet it cares about. Callers keep per-key values in typed arrays
// indexed by id, as with KeyTable.
//
// The keys are chosen by whoever sends the packets, so the table must not be floodable: slots come
// from HalfSipHash under a per-process random key (net/halfsiphash.ts), and probing is bounded: a key
// that finds no free slot within MAX_PROBE steps, or no room in the table or the arena, is dropped
// (the caller counts it), never searched for longer. Placement is random, but which keys get ids is
// not: with the table at most half full, MAX_PROBE occupied slots in a row does not happen short of a
// flood that overflows the table anyway, so the same input gives the same ids.

import { halfSipHash, randomHashKey } from './halfsiphash.js';

const EMPTY = -1;
const MAX_PROBE = 32;
/** find(): the key is not in the table (lookup only). */
export const KEY_ABSENT = -1;
/** find(): the key is new and there was no room for it. */
export const KEY_DROPPED = -2;

export class BytesTable {
  size = 0;
  readonly tag: Int32Array;
  readonly off: Uint32Array; // into arena
  readonly len: Uint16Array;
  readonly arena: Uint8Array;
  arenaUsed = 0;
  private readonly hash: Int32Array;
  private readonly slots: Int32Array;
  private readonly mask: number;
  private readonly k0: number;
  private readonly k1: number;

  constructor(readonly maxEntries: number, arenaBytes: number, key: Uint32Array = randomHashKey()) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError(`maxEntries must be a positive integer, got ${maxEntries}`);
    this.tag = new Int32Array(maxEntries);
    this.hash = new Int32Array(maxEntries);
    this.off = new Uint32Array(maxEntries);
    this.len = new Uint16Array(maxEntries);
    this.arena = new Uint8Array(arenaBytes);
    let slots = 2;
    while (slots < maxEntries * 2) slots *= 2;
    this.slots = new Int32Array(slots).fill(EMPTY);
    this.mask = slots - 1;
    this.k0 = key[0] | 0;
    this.k1 = key[1] | 0;
  }

  /** Id of (tag, src[off, off + len)); inserted when absent and `insert`. KEY_ABSENT or KEY_DROPPED otherwise. */
  find(tag: number, src: Uint8Array, off: number, len: number, insert: boolean): number {
    // The tag is folded into the key: the same bytes under two tags land in unrelated slots.
    const h = halfSipHash(this.k0 ^ tag, this.k1, src, off, len, 1, 3);
    const mask = this.mask;
    let i = h & mask;
    for (let probe = 0; probe < MAX_PROBE; probe++, i = (i + 1) & mask) {
      const id = this.slots[i];
      if (id === EMPTY) {
        if (!insert) return KEY_ABSENT;
        if (this.size === this.maxEntries || this.arenaUsed + len > this.arena.length) return KEY_DROPPED;
        return this.insertAt(i, tag, h, src, off, len);
      }
      if (this.hash[id] === h && this.tag[id] === tag && this.len[id] === len && this.sameBytes(id, src, off, len)) return id;
    }
    return insert ? KEY_DROPPED : KEY_ABSENT;
  }

  /** Forget every key; ids start from 0 again. */
  clear(): void {
    if (this.size === 0) return;
    this.slots.fill(EMPTY);
    this.size = 0;
    this.arenaUsed = 0;
  }

  private sameBytes(id: number, src: Uint8Array, off: number, len: number): boolean {
    const a = this.arena;
    const o = this.off[id];
    for (let j = 0; j < len; j++) if (a[o + j] !== src[off + j]) return false;
    return true;
  }

  private insertAt(slot: number, tag: number, h: number, src: Uint8Array, off: number, len: number): number {
    const id = this.size++;
    this.slots[slot] = id;
    this.tag[id] = tag;
    this.hash[id] = h;
    this.off[id] = this.arenaUsed;
    this.len[id] = len;
    const a = this.arena;
    const o = this.arenaUsed;
    for (let j = 0; j < len; j++) a[o + j] = src[off + j];
    this.arenaUsed += len;
    return id;
  }
}
