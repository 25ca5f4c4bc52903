// Names for far addresses, per device, kept across intervals: (device address, far address) → the question name of
// a DNS answer the device received with that address in it, or the server name (SNI) of a TLS
// ClientHello the device sent to it. A record names its destinations from here at record time.
//
// Bounded and allocation-free: two generations of fixed-capacity tables. New mappings go into the
// current one (an existing key is overwritten: the newest mapping wins); when it is full, the older
// generation is emptied and becomes the current one. One exception: an SNI never replaces a DNS answer's
// name for the address (the device resolved that address: the fact the beacon behavior rests on; a
// ClientHello right after the answer would otherwise turn every resolved session into an SNI-only one).
// A lookup tries the current generation, then the
// previous, and moves a mapping it finds there into the current one: a mapping lives at least one
// generation's worth of new mappings, and one still in use (looked up as its records are built) lives
// on. Name bytes sit in fixed-size slots (NAME_SLOT); a longer name
// keeps its first NAME_SLOT bytes and its length, and is shown cut. Keyed by the device's address, not
// its slot in the device table: a device quiet for a few intervals gives its slot back, and its names
// (an NTP server resolved once at boot and polled for days) must outlive that.

import { BytesTable, KEY_DROPPED } from '../../net/bytes-table.js';
import { escapeName, latin1 } from './name-text.js';
import { writeAddrKey } from '../../net/addr-table.js';

export const SOURCE_DNS = 1;
export const SOURCE_SNI = 2;
const SOURCE_NAMES = ['', 'dns', 'sni'] as const;
export const NAME_SLOT = 64;
const KEY_BYTES = 32;

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
  private readonly words = new Uint32Array(8);

  constructor(capacityPerGeneration = 1 << 16, hashKey?: Uint32Array) {
    this.cur = new Generation(capacityPerGeneration, hashKey);
    this.prev = new Generation(capacityPerGeneration, hashKey);
  }

  /** No mapping yet (lookups can be skipped). */
  get empty(): boolean {
    return this.cur.keys.size === 0 && this.prev.keys.size === 0;
  }

  /**
   * Names the far address at b[addrOff] (IP version addrVersion) for the device whose address is at
   * b[devOff] (devVersion): name[nameOff, nameOff + nameLen), lower-cased.
   */
  set(b: Uint8Array, devOff: number, devVersion: number, addrOff: number, addrVersion: number, name: Uint8Array, nameOff: number, nameLen: number, source: number): void {
    if (nameLen === 0) return;
    // The AddrTable convention (IPv4 as ::ffff:a.b.c.d), so lookups can start from AddrTable keys.
    writeAddrKey(b, devOff, devVersion, this.words, 0);
    writeAddrKey(b, addrOff, addrVersion, this.words, 4);
    const k = this.keyFromWords(this.words, 0, this.words, 4);
    if (source === SOURCE_SNI && this.sourceOf(k) === SOURCE_DNS) return;
    this.store(k, name, nameOff, nameLen, source);
  }

  /** Writes the mapping of key k into the current generation, emptying the older one when it is full. */
  private store(k: Uint8Array, name: Uint8Array, nameOff: number, nameLen: number, source: number): void {
    let g = this.cur;
    let id = g.keys.find(0, k, 0, KEY_BYTES, true);
    if (id === KEY_DROPPED) {
      this.swaps++;
      g = this.prev;
      g.keys.clear();
      this.prev = this.cur;
      this.cur = g;
      id = g.keys.find(0, k, 0, KEY_BYTES, true);
      if (id < 0) {
        this.dropped++;
        return;
      }
    }
    const n = nameLen < NAME_SLOT ? nameLen : NAME_SLOT;
    const out = g.name;
    const at = id * NAME_SLOT;
    // Forward copy: when a promotion's emptied generation hands out the very slot it reads from, each
    // byte is read before it is written.
    for (let i = 0; i < n; i++) {
      const x = name[nameOff + i];
      out[at + i] = x >= 0x41 && x <= 0x5a ? x | 0x20 : x;
    }
    g.nameLen[id] = nameLen;
    g.source[id] = source;
  }

  /** At record time: the name of the far address for the device, both given as AddrTable keys (4 words), if known. */
  lookup(dev: Uint32Array, devAt: number, far: Uint32Array, farAt: number): { name: string; source: 'dns' | 'sni' } | undefined {
    const k = this.keyFromWords(dev, devAt, far, farAt);
    let g = this.cur;
    let id = g.keys.find(0, k, 0, KEY_BYTES, false);
    if (id < 0) {
      g = this.prev;
      id = g.keys.find(0, k, 0, KEY_BYTES, false);
      if (id < 0) return undefined;
    }
    const len = g.nameLen[id];
    const source = g.source[id];
    const kept = len < NAME_SLOT ? len : NAME_SLOT;
    const text = escapeName(latin1(g.name, id * NAME_SLOT, kept), 255);
    // A name in use moves to the current generation: a session resolved once (ntpd's servers, an MQTT
    // broker's address kept for days) keeps its name however many answers other devices receive.
    if (g === this.prev) this.store(k, g.name, id * NAME_SLOT, len, source);
    return { name: kept < len && !text.endsWith('…') ? `${text}…` : text, source: SOURCE_NAMES[source] as 'dns' | 'sni' };
  }

  /** Where the mapping of key k came from (SOURCE_*), 0 when there is none. */
  private sourceOf(k: Uint8Array): number {
    let id = this.cur.keys.find(0, k, 0, KEY_BYTES, false);
    if (id >= 0) return this.cur.source[id];
    id = this.prev.keys.find(0, k, 0, KEY_BYTES, false);
    return id >= 0 ? this.prev.source[id] : 0;
  }

  /** The table key of (device, far address), each 4 words: their 32 bytes, big-endian. */
  private keyFromWords(dev: Uint32Array, devAt: number, far: Uint32Array, farAt: number): Uint8Array {
    const k = this.key;
    for (let i = 0; i < 8; i++) {
      const w = i < 4 ? dev[devAt + i] : far[farAt + i - 4];
      k[4 * i] = w >>> 24;
      k[4 * i + 1] = (w >>> 16) & 255;
      k[4 * i + 2] = (w >>> 8) & 255;
      k[4 * i + 3] = w & 255;
    }
    return k;
  }
}
