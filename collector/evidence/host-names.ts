// Names for far addresses, per device, kept across intervals: (device, address) → the question name of
// a DNS answer the device received with that address in it, or the server name (SNI) of a TLS
// ClientHello the device sent to it. A record names its destinations from here at record time.
//
// Bounded and allocation-free: two generations of fixed-capacity tables. New mappings go into the
// current one (an existing key is overwritten: the newest mapping wins); when it is full, the older
// generation is emptied and becomes the current one. One exception: an SNI never replaces a DNS answer's
// name for the address (the device resolved that address: the fact the beacon behavior rests on; a
// ClientHello right after the answer would otherwise turn every resolved session into an SNI-only one).
// A lookup tries the current generation, then the
// previous: a mapping lives at least one generation's worth of new mappings, and a name still in use
// keeps coming back with every answer. Name bytes sit in fixed-size slots (NAME_SLOT); a longer name
// keeps its first NAME_SLOT bytes and its length, and is shown cut.

import { BytesTable, KEY_DROPPED } from '../../net/bytes-table.js';
import { escapeName, latin1 } from './name-text.js';
import { writeAddrKey } from '../../net/addr-table.js';

export const SOURCE_DNS = 1;
export const SOURCE_SNI = 2;
const SOURCE_NAMES = ['', 'dns', 'sni'] as const;
export const NAME_SLOT = 64;
const KEY_BYTES = 16;

class Generation {
  readonly keys: BytesTable;
  readonly name: Uint8Array;
  readonly nameLen: Uint8Array;
  readonly source: Uint8Array;
  constructor(capacity: number, hashKey?: Uint32Array) {
    this.keys = new BytesTable(capacity, capacity * KEY_BYTES, hashKey);
    this.name = new Uint8Array(capacity * NAME_SLOT);
    this.nameLen = new Uint8Array(capacity);
    this.source = new Uint8Array(capacity);
  }
}

export class HostNames {
  /** Mappings that found no room even in a freshly emptied generation (only a probe run can cause it). */
  dropped = 0;
  /** Times the current generation filled and the older one was emptied. */
  swaps = 0;
  private cur: Generation;
  private prev: Generation;
  private readonly key = new Uint8Array(KEY_BYTES);
  private readonly words = new Uint32Array(4);

  constructor(capacityPerGeneration = 1 << 16, hashKey?: Uint32Array) {
    this.cur = new Generation(capacityPerGeneration, hashKey);
    this.prev = new Generation(capacityPerGeneration, hashKey);
  }

  /** No mapping yet (lookups can be skipped). */
  get empty(): boolean {
    return this.cur.keys.size === 0 && this.prev.keys.size === 0;
  }

  /** Names the address at b[addrOff] (IPv4 when version is 4) for `device`: name[nameOff, nameOff + nameLen), lower-cased. */
  set(device: number, b: Uint8Array, addrOff: number, version: number, name: Uint8Array, nameOff: number, nameLen: number, source: number): void {
    if (nameLen === 0) return;
    // The AddrTable convention (IPv4 as ::ffff:a.b.c.d), so lookups can start from an AddrTable key.
    writeAddrKey(b, addrOff, version, this.words, 0);
    const k = this.keyFromWords(this.words, 0);
    if (source === SOURCE_SNI && this.sourceOf(device, k) === SOURCE_DNS) return;
    let g = this.cur;
    let id = g.keys.find(device, k, 0, KEY_BYTES, true);
    if (id === KEY_DROPPED) {
      this.swaps++;
      g = this.prev;
      g.keys.clear();
      this.prev = this.cur;
      this.cur = g;
      id = g.keys.find(device, k, 0, KEY_BYTES, true);
      if (id < 0) {
        this.dropped++;
        return;
      }
    }
    const n = nameLen < NAME_SLOT ? nameLen : NAME_SLOT;
    const out = g.name;
    const at = id * NAME_SLOT;
    for (let i = 0; i < n; i++) {
      const x = name[nameOff + i];
      out[at + i] = x >= 0x41 && x <= 0x5a ? x | 0x20 : x;
    }
    g.nameLen[id] = nameLen;
    g.source[id] = source;
  }

  /** At record time: the name of the far address given as an AddrTable key at words[at, at + 4), if known. */
  lookup(device: number, words: Uint32Array, at: number): { name: string; source: 'dns' | 'sni' } | undefined {
    const k = this.keyFromWords(words, at);
    for (const g of [this.cur, this.prev]) {
      const id = g.keys.find(device, k, 0, KEY_BYTES, false);
      if (id < 0) continue;
      const len = g.nameLen[id];
      const kept = len < NAME_SLOT ? len : NAME_SLOT;
      const text = escapeName(latin1(g.name, id * NAME_SLOT, kept), 255);
      return { name: kept < len && !text.endsWith('…') ? `${text}…` : text, source: SOURCE_NAMES[g.source[id]] as 'dns' | 'sni' };
    }
    return undefined;
  }

  /** Where the mapping of key k for `device` came from (SOURCE_*), 0 when there is none. */
  private sourceOf(device: number, k: Uint8Array): number {
    let id = this.cur.keys.find(device, k, 0, KEY_BYTES, false);
    if (id >= 0) return this.cur.source[id];
    id = this.prev.keys.find(device, k, 0, KEY_BYTES, false);
    return id >= 0 ? this.prev.source[id] : 0;
  }

  /** The table key of the address words[at, at + 4): its 16 bytes, big-endian. */
  private keyFromWords(words: Uint32Array, at: number): Uint8Array {
    const k = this.key;
    for (let i = 0; i < 4; i++) {
      const w = words[at + i];
      k[4 * i] = w >>> 24;
      k[4 * i + 1] = (w >>> 16) & 255;
      k[4 * i + 2] = (w >>> 8) & 255;
      k[4 * i + 3] = w & 255;
    }
    return k;
  }
}
