// IP address → dense id: a KeyTable of four words read straight from the frame buffer.
// IPv4 a.b.c.d is stored as ::ffff:a.b.c.d (RFC 4291 §2.5.5.2), so an IPv4 address and its
// IPv4-mapped IPv6 form are one key.

import { KeyTable } from './key-table.js';

export class AddrTable extends KeyTable {
  constructor(maxEntries: number, initialEntries?: number) {
    super(4, maxEntries, initialEntries);
  }

  /** Id of the address at b[off] (4 bytes when `version` is 4, else 16); -1 when absent or full. */
  findAddr(b: Uint8Array, off: number, version: number, insert: boolean): number {
    writeAddrKey(b, off, version, this.probe, 0);
    return this.find(insert);
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
