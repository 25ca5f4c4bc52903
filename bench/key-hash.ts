// The candidates for KeyTable's keyed hash, measured (node dist/bench/key-hash.js): ns per hash of a
// destination key (6 words) and a flow key (2 words) for HalfSipHash-1-3 over the words, a seeded
// multiply-mix with a murmur3 finalizer, and the old unseeded hash; then the multiply-mix's weakness:
// pairs of keys that collide under every seed (no need to know it).

import { halfSipHashWords, randomHashKey } from '../net/halfsiphash.js';

function multiplyMix(seed: number, k: Uint32Array, p: number, w: number): number {
  let h = seed ^ w;
  for (let i = 0; i < w; i++) h = Math.imul(h ^ k[p + i], 0x9e3779b1);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

function oldHash(k: Uint32Array, p: number, w: number): number {
  let h = w;
  for (let i = 0; i < w; i++) h = Math.imul(h ^ k[p + i], 0x9e3779b1);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  return h ^ (h >>> 13);
}

const N = 1 << 16;
const ROUNDS = 60;
const key = randomHashKey();
const [k0, k1] = [key[0] | 0, key[1] | 0];

function time(name: string, w: number, f: (k: Uint32Array, p: number) => number): void {
  const keys = new Uint32Array(N * w);
  for (let i = 0; i < keys.length; i++) keys[i] = (Math.random() * 2 ** 32) >>> 0;
  let sink = 0;
  for (let r = 0; r < 5; r++) for (let i = 0; i < N; i++) sink ^= f(keys, i * w);
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < ROUNDS; r++) for (let i = 0; i < N; i++) sink ^= f(keys, i * w);
  const ns = Number(process.hrtime.bigint() - t0) / (ROUNDS * N);
  console.log(`${name.padEnd(28)} ${w} words  ${ns.toFixed(1)} ns/hash  (${sink & 1})`);
}

for (const w of [6, 2, 4]) {
  time('halfsiphash-1-3', w, (k, p) => halfSipHashWords(k0, k1, k, p, w));
  time('seeded multiply-mix', w, (k, p) => multiplyMix(k0, k, p, w));
  time('old (unseeded)', w, (k, p) => oldHash(k, p, w));
}

// Seed-independent collisions of the multiply-mix: flipping bit 31 of word i and word i+1 leaves the
// state unchanged (odd × 2^31 ≡ 2^31 mod 2^32), whatever the seed.
let same = 0;
const a = Uint32Array.from([7, 0x0a800001, 0, 0xffff, 0xc6336401, (17 << 16) | 5683]);
const b = a.slice();
b[3] ^= 0x80000000;
b[4] ^= 0x80000000;
for (let t = 0; t < 1000; t++) {
  const s = (Math.random() * 2 ** 32) | 0;
  if (multiplyMix(s, a, 0, 6) === multiplyMix(s, b, 0, 6)) same++;
}
let sipSame = 0;
for (let t = 0; t < 1000; t++) {
  const r = randomHashKey();
  if (halfSipHashWords(r[0], r[1], a, 0, 6) === halfSipHashWords(r[0], r[1], b, 0, 6)) sipSame++;
}
console.log(`crafted pair collides under ${same}/1000 random seeds (multiply-mix), ${sipSame}/1000 keys (halfsiphash)`);
