// Seeded randomness for the scenario generator. Every device, incident and noise event draws from
// its own stream, derived from the run's seed and a stable key, so that adding an incident or a
// device does not change what any other device sends (and the same options give the same bytes).
// Built on net/prng.ts (mulberry32); no Math.random anywhere.

import { Prng } from '../../net/prng.js';

/** murmur3's 32-bit finaliser: a cheap, well-mixed hash of one integer. */
export function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** FNV-1a over a string: stable keys for named streams ("incident", "noise", a host name). */
export function strHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** A seed for the stream named by `keys` under the run's seed. */
export function subSeed(seed: number, ...keys: number[]): number {
  let h = mix32(seed ^ 0x9e3779b9);
  for (const k of keys) h = mix32(h ^ mix32(k + 0x7f4a7c15));
  return h;
}

export class Rand extends Prng {
  /** Uniform in [a, b). */
  uniform(a: number, b: number): number {
    return a + (b - a) * this.float();
  }

  /** Log-uniform in [a, b): rates and sizes that span orders of magnitude. */
  logUniform(a: number, b: number): number {
    return Math.exp(this.uniform(Math.log(a), Math.log(b)));
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.float() * xs.length)];
  }

  /** Exponential with the given mean (Poisson arrivals). */
  exp(mean: number): number {
    return -mean * Math.log(1 - this.float());
  }

  /** Standard normal (Box-Muller; one of the pair is dropped: simplicity over speed, it is rare). */
  normal(): number {
    const u = 1 - this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.float());
  }

  /** x scaled by a uniform factor in [1 - frac, 1 + frac]. */
  jitter(x: number, frac: number): number {
    return x * (1 + frac * (2 * this.float() - 1));
  }

  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = Math.floor(this.float() * (i + 1));
      const t = xs[i];
      xs[i] = xs[j];
      xs[j] = t;
    }
    return xs;
  }

  /** Random bytes (payload contents that stand for ciphertext or tunnel data). */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}

/** The i-th of n strata of [a, b) on a log scale, drawn inside: spreads n incidents over a wide range. */
export function stratifiedLog(r: Rand, i: number, n: number, a: number, b: number): number {
  const la = Math.log(a), lb = Math.log(b);
  const w = (lb - la) / n;
  return Math.exp(la + w * (i + r.float()));
}
