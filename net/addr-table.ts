// IP address → dense id: a KeyTable of four words read straight from the frame buffer.
// IPv4 a.b.c.d is stored as ::ffff:a.b.c.d (RFC 4291 §2.5.5.2), so an IPv4 address and its
// IPv4-mapped IPv6 form are one key.
//
// IPv4 lookups go through a small direct-mapped cache first (address → id, one slot per address): a
// table lookup costs a HalfSipHash of four words and a probe (~35 ns), two per packet in `decap`; a
// hit costs a multiply and two loads. The cache's slot comes from a multiply under a per-table
// secret, which a device can defeat (issue 12: such a mix has collisions that hold under every seed),
// but a cache cannot be flooded: a collision only replaces the slot, and every miss is one ordinary
// lookup in the keyed table, so the worst a device can force is a miss per packet.

import { randomHashKey } from './halfsiphash.js';
import { KeyTable } from './key-table.js';

/** Cache slots: 16k, above the bench capture's 10,376 addresses; 128 KiB per table. */
const CACHE_BITS = 14;
const EMPTY = -1;

export class AddrTable extends KeyTable {
  private readonly cacheAddr = new Int32Array(1 << CACHE_BITS);
  private readonly cacheId = new Int32Array(1 << CACHE_BITS).fill(EMPTY);
  private readonly salt: number;
  private readonly mul: number;
  /** remove()'s copy of the key it forgets. */
  private readonly removedKey = new Uint32Array(4);

  constructor(maxEntries: number, initialEntries?: number) {
    super(4, maxEntries, initialEntries);
    const k = randomHashKey();
    this.salt = k[0] | 0;
    this.mul = k[1] | 1;
  }

  /** Id of the address at b[off] (4 bytes when `version` is 4, else 16); -1 when absent or full. */
  findAddr(b: Uint8Array, off: number, version: number, insert: boolean): number {
    if (version !== 4) {
      writeAddrKey(b, off, version, this.probe, 0);
      return this.find(insert);
    }
    // `a` stays in this function: an int32 beyond the small-integer range passed to a call V8 has not
    // inlined is boxed (key-table.ts), hence the slot's multiply and the key's words written here.
    const a = (b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3];
    const slot = Math.imul(a ^ this.salt, this.mul) >>> (32 - CACHE_BITS);
    const cached = this.cacheId[slot];
    if (cached !== EMPTY && this.cacheAddr[slot] === a) return cached;
    const k = this.probe;
    k[0] = 0;
    k[1] = 0;
    k[2] = 0xffff;
    k[3] = a;
    const id = this.find(insert);
    if (id !== EMPTY) {
      this.cacheAddr[slot] = a;
      this.cacheId[slot] = id;
    }
    return id;
  }

  override clear(): void {
    super.clear();
    this.cacheId.fill(EMPTY);
  }

  override remove(id: number): void {
    const k = this.keyOf(id, this.removedKey);
    if (k[0] === 0 && k[1] === 0 && k[2] === 0xffff) {
      // The slot findAddr gives this address (written out there, see its comment).
      const slot = Math.imul((k[3] | 0) ^ this.salt, this.mul) >>> (32 - CACHE_BITS);
      if (this.cacheId[slot] === id) this.cacheId[slot] = EMPTY;
    }
    super.remove(id);
  }
}

/** Writes the 4-word key of the address at b[off] into k[at, at + 4). */
export function writeAddrKey(b: Uint8Array, off: number, version: number, k: Uint32Array, at: number): void {
  if (version === 4) {
    k[at] = 0;
    k[at + 1] = 0;
    k[at + 2] = 0xffff;
    k[at + 3] = (b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3];
  } else {
    for (let i = 0; i < 4; i++, off += 4) k[at + i] = (b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3];
  }
}
