// A hash-flooding capture (issue 12): one device sends one UDP datagram to each of `count`
// (address, port) pairs, chosen so that their destination keys all land in one slot of the
// collector's destination table as it hashed before the table was keyed (unseeded, invertible end
// to end), or, for comparison, random pairs of the same count. The old hash lives here only: the
// generator inverts it, nothing else uses it.
//
// Destination key (collector/aggregate.ts): [device slot, far address as 4 words (IPv4 as
// ::ffff:a.b.c.d), l4 << 16 | far port] (l4: gre-decap/layers.ts's L_UDP). For a target hash F with the low TARGET_BITS fixed and a
// port, walking the hash backwards from F gives the one far address that produces it.

import { PcapWriter } from './capture-file.js';
import { patchIpv4Checksum } from './checksum.js';
import { ethernet, ipv4, gre, udp, bytes } from './packets.js';
import { Prng } from '../net/prng.js';
import { L_UDP } from '../gre-decap/layers.js';

const C1 = 0x9e3779b1;
const C2 = 0x85ebca6b;
/** Low bits every crafted key shares: one slot of any table up to 2^20 slots. */
export const TARGET_BITS = 20;

/** The destination table's hash before issue 12: kept for this generator only. */
export function oldKeyHash(k: Uint32Array, p: number, w: number): number {
  let h = w;
  for (let i = 0; i < w; i++) h = Math.imul(h ^ k[p + i], C1);
  h ^= h >>> 16;
  h = Math.imul(h, C2);
  return h ^ (h >>> 13);
}

function inverseOdd(c: number): number {
  let x = c; // Newton's iteration for the inverse mod 2^32: each step doubles the correct low bits
  for (let i = 0; i < 5; i++) x = Math.imul(x, (2 - Math.imul(c, x)) | 0);
  return x;
}
const INV_C1 = inverseOdd(C1);
const INV_C2 = inverseOdd(C2);

/** The last address word a3 such that oldKeyHash([slot, 0, 0, 0xffff, a3, k5]) === f. */
function addressFor(f: number, slot: number, k5: number): number {
  let h = f ^ (f >>> 13) ^ (f >>> 26); // undo h ^= h >>> 13
  h = Math.imul(h, INV_C2);
  h ^= h >>> 16; // undo h ^= h >>> 16
  const h4 = Math.imul(h, INV_C1) ^ k5;
  let h3 = 6;
  for (const word of [slot, 0, 0, 0xffff]) h3 = Math.imul(h3 ^ word, C1);
  return (Math.imul(h4, INV_C1) ^ h3) >>> 0;
}

export interface FloodPair {
  addr: number; // IPv4 as a uint32
  port: number;
}

/** `count` distinct (address, port) pairs whose destination keys collide under the old hash (device slot `slot`). */
export function collidingPairs(count: number, slot = 0, target = 0x5a5a5): FloodPair[] {
  const out: FloodPair[] = [];
  const highs = 1 << (32 - TARGET_BITS);
  for (let port = 1024; out.length < count; port++) {
    for (let hi = 0; hi < highs && out.length < count; hi++) {
      const f = ((hi << TARGET_BITS) | (target & ((1 << TARGET_BITS) - 1))) | 0;
      out.push({ addr: addressFor(f, slot, (L_UDP << 16) | port), port });
    }
  }
  return out;
}

export function randomPairs(count: number, seed = 12): FloodPair[] {
  const rnd = new Prng(seed);
  return Array.from({ length: count }, () => ({ addr: rnd.u32(), port: 1024 + (rnd.u32() % 60000) }));
}

/** The destination key the collector builds for a pair (for checking the generator). */
export function destKey(p: FloodPair, slot = 0): Uint32Array {
  return Uint32Array.of(slot, 0, 0, 0xffff, p.addr, (L_UDP << 16) | p.port);
}

/**
 * Writes the capture: GRE-mirrored IPv4/UDP from `device` to each pair in turn, 10 µs apart from
 * `startSec`, so that all of them fall in one interval.
 */
export function writeFloodCapture(path: string, pairs: FloodPair[], device = '10.128.0.1', startSec = 1_767_225_600): void {
  const frame = ethernet(ipv4(gre(ipv4(udp(bytes(16), { src: 40000, dst: 1 }), { src: device, dst: '0.0.0.0', proto: 17 }), { protocol: 0x0800 }), { src: '192.0.2.1', dst: '198.51.100.1', proto: 47 }));
  const inner = 14 + 20 + 4; // Ethernet, outer IPv4, GRE
  const w = new PcapWriter(path);
  pairs.forEach((p, i) => {
    frame[inner + 16] = p.addr >>> 24;
    frame[inner + 17] = p.addr >>> 16;
    frame[inner + 18] = p.addr >>> 8;
    frame[inner + 19] = p.addr;
    frame[inner + 20 + 2] = p.port >>> 8;
    frame[inner + 20 + 3] = p.port;
    patchIpv4Checksum(frame, inner);
    const t = i * 10_000; // ns
    w.write(frame, startSec + Math.floor(t / 1e9), t % 1e9);
  });
  w.close();
}
