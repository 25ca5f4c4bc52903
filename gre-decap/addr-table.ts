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
  private readonly probe = new Uint32Array(4); // the key being looked up

  constructor(readonly maxEntries: number, initialEntries = Math.min(maxEntries, 1024)) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError(`maxEntries must be a positive integer, got ${maxEntries}`);
    const initial = Math.max(1, Math.min(initialEntries, maxEntries));
    const slotCount = nextPow2(initial * 2);
    this.slots = new Int32Array(slotCount).fill(EMPTY);
    this.mask = slotCount - 1;
    this.keys = new Uint32Array(initial * 4);
  }

  /**
   * Id of the address at b[off]: 4 bytes when `version` is 4, else 16. Inserts when `insert`;
   * -1 when absent (or full). Keys are read from the buffer into a typed array, never passed as
   * numbers: a uint32 above 2^30 crossing a call that V8 did not inline is boxed, an allocation.
   */
  find(b: Uint8Array, off: number, version: number, insert: boolean): number {
    const k = this.probe;
    if (version === 4) {
      k[0] = 0;
      k[1] = 0;
      k[2] = 0xffff;
      k[3] = (b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3];
    } else {
      for (let i = 0; i < 4; i++, off += 4) k[i] = (b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3];
    }
    const slots = this.slots;
    const mask = this.mask;
    const keys = this.keys;
    for (let i = hashKey(k, 0) & mask; ; i = (i + 1) & mask) {
      const id = slots[i];
      if (id === EMPTY) {
        if (!insert || this.size === this.maxEntries) return -1;
        return this.insertAt(i);
      }
      const p = id << 2;
      if (keys[p + 3] === k[3] && keys[p + 2] === k[2] && keys[p + 1] === k[1] && keys[p] === k[0]) return id;
    }
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

  private insertAt(slot: number): number {
    const id = this.size++;
    if (id * 4 === this.keys.length) {
      const keys = new Uint32Array(Math.min(this.keys.length * 2, this.maxEntries * 4));
      keys.set(this.keys);
      this.keys = keys;
    }
    this.keys.set(this.probe, id << 2);
    this.slots[slot] = id;
    if (this.size * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    return id;
  }

  private rehash(slotCount: number): void {
    const slots = new Int32Array(slotCount).fill(EMPTY);
    const mask = slotCount - 1;
    for (let id = 0; id < this.size; id++) {
      let i = hashKey(this.keys, id << 2) & mask;
      while (slots[i] !== EMPTY) i = (i + 1) & mask;
      slots[i] = id;
    }
    this.slots = slots;
    this.mask = mask;
  }
}

function hashKey(k: Uint32Array, p: number): number {
  const h = Math.imul(k[p + 3] ^ Math.imul(k[p + 2], 0x85ebca6b) ^ Math.imul(k[p + 1], 0xc2b2ae35) ^ Math.imul(k[p], 0x27d4eb2f), 0x9e3779b1);
  return h ^ (h >>> 15);
}

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
