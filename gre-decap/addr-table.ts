// IP address → dense id (0, 1, 2, ...), open addressing over typed arrays, so callers keep their
// per-address counters as struct-of-arrays indexed by id and nothing is allocated per lookup.
// Keys are four 32-bit words; IPv4 a.b.c.d is stored as ::ffff:a.b.c.d (RFC 4291 §2.5.5.2),
// so an IPv4 address and its IPv4-mapped IPv6 form are one key.
//
// Capacity is bounded: past `maxEntries` an insert returns -1 and the caller counts the overflow.
// Below it the table grows by doubling, so memory follows the addresses seen, never the packets.

const EMPTY = -1;

export class AddrTable {
  size = 0;
  private slots: Int32Array; // hash slot → id, or EMPTY
  private mask: number;
  private keys: Uint32Array; // id * 4 .. id * 4 + 3

  constructor(readonly maxEntries: number, initialEntries = Math.min(maxEntries, 1024)) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError(`maxEntries must be a positive integer, got ${maxEntries}`);
    const initial = Math.max(1, Math.min(initialEntries, maxEntries));
    const slotCount = nextPow2(initial * 2);
    this.slots = new Int32Array(slotCount).fill(EMPTY);
    this.mask = slotCount - 1;
    this.keys = new Uint32Array(initial * 4);
  }

  /** Id of an IPv4 address given as an unsigned 32-bit number; inserts when `insert`; -1 if absent or full. */
  v4(addr: number, insert: boolean): number {
    return this.find(0, 0, 0xffff, addr >>> 0, insert);
  }

  /** Id of the IPv6 address in b[off, off + 16). */
  v6(b: Uint8Array, off: number, insert: boolean): number {
    return this.find(word(b, off), word(b, off + 4), word(b, off + 8), word(b, off + 12), insert);
  }

  /** Id of the address at b[off] of the given IP version (4 bytes or 16). */
  at(b: Uint8Array, off: number, version: number, insert: boolean): number {
    return version === 4 ? this.v4(word(b, off), insert) : this.v6(b, off, insert);
  }

  /** The four key words of an id, written into `out` (e.g. for formatting at report time). */
  keyOf(id: number, out: Uint32Array): Uint32Array {
    out.set(this.keys.subarray(id * 4, id * 4 + 4));
    return out;
  }

  clear(): void {
    this.slots.fill(EMPTY);
    this.size = 0;
  }

  private find(w0: number, w1: number, w2: number, w3: number, insert: boolean): number {
    let h = Math.imul(w3 ^ Math.imul(w2, 0x85ebca6b) ^ Math.imul(w1, 0xc2b2ae35) ^ Math.imul(w0, 0x27d4eb2f), 0x9e3779b1);
    h ^= h >>> 15;
    const keys = this.keys;
    const slots = this.slots;
    const mask = this.mask;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const id = slots[i];
      if (id === EMPTY) {
        if (!insert || this.size === this.maxEntries) return -1;
        return this.insertAt(i, w0, w1, w2, w3);
      }
      const k = id << 2;
      if (keys[k + 3] === w3 && keys[k + 2] === w2 && keys[k + 1] === w1 && keys[k] === w0) return id;
    }
  }

  private insertAt(slot: number, w0: number, w1: number, w2: number, w3: number): number {
    const id = this.size++;
    if (id * 4 === this.keys.length) {
      const keys = new Uint32Array(Math.min(this.keys.length * 2, this.maxEntries * 4));
      keys.set(this.keys);
      this.keys = keys;
    }
    const k = id << 2;
    this.keys[k] = w0;
    this.keys[k + 1] = w1;
    this.keys[k + 2] = w2;
    this.keys[k + 3] = w3;
    this.slots[slot] = id;
    if (this.size * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    return id;
  }

  private rehash(slotCount: number): void {
    const slots = new Int32Array(slotCount).fill(EMPTY);
    const mask = slotCount - 1;
    const keys = this.keys;
    for (let id = 0; id < this.size; id++) {
      const k = id << 2;
      let h = Math.imul(keys[k + 3] ^ Math.imul(keys[k + 2], 0x85ebca6b) ^ Math.imul(keys[k + 1], 0xc2b2ae35) ^ Math.imul(keys[k], 0x27d4eb2f), 0x9e3779b1);
      h ^= h >>> 15;
      let i = h & mask;
      while (slots[i] !== EMPTY) i = (i + 1) & mask;
      slots[i] = id;
    }
    this.slots = slots;
    this.mask = mask;
  }
}

function word(b: Uint8Array, off: number): number {
  return ((b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]) >>> 0;
}

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
