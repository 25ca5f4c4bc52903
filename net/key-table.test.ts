import { describe, expect, it } from 'vitest';
import { KeyTable } from './key-table.js';
import { halfSipHash, halfSipHashWords } from './halfsiphash.js';

const put = (t: KeyTable, ...w: number[]) => {
  w.forEach((x, i) => (t.probe[i] = x));
  return t;
};

describe('KeyTable', () => {
  it('hashes words as HalfSipHash-1-3 of their little-endian bytes', () => {
    const words = Uint32Array.from([0x03020100, 0x07060504, 0xdeadbeef, 0x80000001, 5, 0xffffffff]);
    const bytes = new Uint8Array(words.buffer);
    for (let n = 0; n <= 6; n++) expect(halfSipHashWords(11, 22, words, 0, n)).toBe(halfSipHash(11, 22, bytes, 0, 4 * n, 1, 3));
  });

  it('gives dense ids, finds them again, grows, and counts', () => {
    const t = new KeyTable(3, 10_000, 4);
    for (let i = 0; i < 5000; i++) expect(put(t, i, i * 7, 0x80000000 + i).find(true)).toBe(i);
    for (let i = 0; i < 5000; i++) expect(put(t, i, i * 7, 0x80000000 + i).find(false)).toBe(i);
    expect(put(t, 1, 2, 3).find(false)).toBe(-1);
    expect(t.size).toBe(5000);
    expect(t.count).toBe(5000);
  });

  it('is bounded by maxEntries', () => {
    const t = new KeyTable(1, 3);
    expect([1, 2, 3, 4].map((x) => put(t, x).find(true))).toEqual([0, 1, 2, -1]);
  });

  it('removes keys, keeps every other key findable, and hands freed ids out again', () => {
    const t = new KeyTable(2, 4096, 4096);
    for (let i = 0; i < 3000; i++) put(t, i, 1).find(true);
    for (let i = 0; i < 3000; i += 3) t.remove(i);
    expect(t.count).toBe(2000);
    for (let i = 0; i < 3000; i++) expect(put(t, i, 1).find(false)).toBe(i % 3 === 0 ? -1 : i);
    const reused = new Set<number>();
    for (let i = 0; i < 1000; i++) reused.add(put(t, i, 2).find(true));
    expect(Math.max(...reused)).toBeLessThan(3000); // every freed id went out again before any new one
    expect(reused.size).toBe(1000);
    expect(t.size).toBe(3000);
    for (let i = 0; i < 3000; i++) if (i % 3 !== 0) expect(put(t, i, 1).find(false)).toBe(i);
    for (let i = 0; i < 1000; i++) expect(reused.has(put(t, i, 2).find(false))).toBe(true);
  });

  it('places the same keys differently under different hash keys', () => {
    const a = new KeyTable(1, 1024, 1024, Uint32Array.from([1, 2]));
    const b = new KeyTable(1, 1024, 1024, Uint32Array.from([3, 4]));
    const h = (k: number[]) => k.map((x) => halfSipHashWords(1, 2, Uint32Array.of(x), 0, 1) & 2047).join();
    const g = (k: number[]) => k.map((x) => halfSipHashWords(3, 4, Uint32Array.of(x), 0, 1) & 2047).join();
    const keys = [1, 2, 3, 4, 5, 6, 7, 8];
    expect(h(keys)).not.toBe(g(keys));
    for (const x of keys) expect(put(a, x).find(true)).toBe(put(b, x).find(true));
  });
});
