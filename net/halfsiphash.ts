// HalfSipHash (Aumasson and Bernstein's 32-bit SipHash, from their reference implementation), for
// hash tables whose keys the traffic chooses: a device picks its DNS names, so a fixed hash would let
// it pick names that all land in one bucket. Under a secret per-process key the placement cannot be
// predicted. 32-bit words only, so it runs on V8's int32 fast path and allocates nothing.
//
// hash = HalfSipHash-c-d(key = k0 ‖ k1 little-endian, message), 32-bit output. Tables use c=1, d=3
// (the reduced rounds Rust's default hasher uses for SipHash); the tests check c=2, d=4 against the
// reference vectors, which exercises the same code.

import { randomFillSync } from 'node:crypto';

const rotl = (x: number, b: number): number => (x << b) | (x >>> (32 - b));

/** HalfSipHash-c-d of b[off, off + len) under the 64-bit key (k0, k1); an int32. */
export function halfSipHash(k0: number, k1: number, b: Uint8Array, off: number, len: number, c: number, d: number): number {
  let v0 = k0 | 0;
  let v1 = k1 | 0;
  let v2 = 0x6c796765 ^ k0;
  let v3 = 0x74656462 ^ k1;
  const end = off + len;
  const whole = off + (len & ~3);
  let p = off;
  for (;;) {
    let m: number;
    if (p < whole) {
      m = b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24);
      p += 4;
    } else {
      // The last block: the remaining 0-3 bytes, and the length's low byte on top.
      m = len << 24;
      for (let i = 0; p + i < end; i++) m |= b[p + i] << (8 * i);
      p = -1;
    }
    v3 ^= m;
    for (let r = 0; r < c; r++) {
      v0 = (v0 + v1) | 0; v1 = rotl(v1, 5); v1 ^= v0; v0 = rotl(v0, 16);
      v2 = (v2 + v3) | 0; v3 = rotl(v3, 8); v3 ^= v2;
      v0 = (v0 + v3) | 0; v3 = rotl(v3, 7); v3 ^= v0;
      v2 = (v2 + v1) | 0; v1 = rotl(v1, 13); v1 ^= v2; v2 = rotl(v2, 16);
    }
    v0 ^= m;
    if (p < 0) break;
  }
  v2 ^= 0xff;
  for (let r = 0; r < d; r++) {
    v0 = (v0 + v1) | 0; v1 = rotl(v1, 5); v1 ^= v0; v0 = rotl(v0, 16);
    v2 = (v2 + v3) | 0; v3 = rotl(v3, 8); v3 ^= v2;
    v0 = (v0 + v3) | 0; v3 = rotl(v3, 7); v3 ^= v0;
    v2 = (v2 + v1) | 0; v1 = rotl(v1, 13); v1 ^= v2; v2 = rotl(v2, 16);
  }
  return v1 ^ v3;
}

/** Two random words: a per-process key nobody outside can guess. */
export function randomHashKey(): Uint32Array {
  return randomFillSync(new Uint32Array(2));
}

/**
 * HalfSipHash-1-3 of the n 32-bit words k[p, p + n), each taken as one little-endian block: the same
 * value as halfSipHash(k0, k1, bytes, 0, 4n, 1, 3) over the words' little-endian bytes, with no byte
 * reads. For KeyTable, whose keys are words already (addresses, ports, ids).
 */
export function halfSipHashWords(k0: number, k1: number, k: Uint32Array, p: number, n: number): number {
  let v0 = k0 | 0;
  let v1 = k1 | 0;
  let v2 = 0x6c796765 ^ k0;
  let v3 = 0x74656462 ^ k1;
  for (let i = 0; i <= n; i++) {
    // n whole blocks, then the last one: no tail bytes, the length's low byte on top.
    const m = i < n ? k[p + i] | 0 : (n << 26);
    v3 ^= m;
    v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
    v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
    v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
    v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
    v0 ^= m;
  }
  v2 ^= 0xff;
  for (let r = 0; r < 3; r++) {
    v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
    v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
    v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
    v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
  }
  return v1 ^ v3;
}
