import { describe, expect, it } from 'vitest';
import { BytesTable, KEY_ABSENT, KEY_DROPPED } from './bytes-table.js';
import { halfSipHash } from './halfsiphash.js';

const enc = (s: string) => new TextEncoder().encode(s);

describe('BytesTable', () => {
  it('gives ids in first-seen order per (tag, bytes), copies the bytes, and forgets on clear', () => {
    const t = new BytesTable(8, 64);
    const a = enc('xxa.example.com');
    expect(t.find(1, a, 2, 13, true)).toBe(0);
    expect(t.find(2, a, 2, 13, true)).toBe(1); // same bytes, other tag
    expect(t.find(1, enc('a.example.com'), 0, 13, false)).toBe(0);
    expect(t.find(1, enc('a.example.co'), 0, 12, false)).toBe(KEY_ABSENT);
    expect(new TextDecoder().decode(t.arena.subarray(t.off[1], t.off[1] + t.len[1]))).toBe('a.example.com');
    expect([t.size, t.arenaUsed, t.tag[1]]).toEqual([2, 26, 2]);
    t.clear();
    expect(t.find(1, a, 2, 13, false)).toBe(KEY_ABSENT);
    expect(t.find(2, a, 2, 13, true)).toBe(0);
  });

  it('drops what does not fit, in entries or in arena bytes, and keeps what did', () => {
    const t = new BytesTable(3, 10);
    expect(t.find(0, enc('aaaa'), 0, 4, true)).toBe(0);
    expect(t.find(0, enc('bbbb'), 0, 4, true)).toBe(1);
    expect(t.find(0, enc('cccc'), 0, 4, true)).toBe(KEY_DROPPED); // arena: 8 of 10 used
    expect(t.find(0, enc('cc'), 0, 2, true)).toBe(2);
    expect(t.find(0, enc('d'), 0, 1, true)).toBe(KEY_DROPPED); // entries
    expect(t.find(0, enc('bbbb'), 0, 4, true)).toBe(1);
  });

  it('bounds the probing: the 33rd key with one home slot is dropped, though the table has room', () => {
    const key = Uint32Array.of(1, 2);
    const t = new BytesTable(100, 1000, key); // 256 slots
    const home = (b: Uint8Array) => halfSipHash(key[0] ^ 7, key[1], b, 0, b.length, 1, 3) & 255;
    const same: Uint8Array[] = [];
    for (let i = 0; same.length < 33; i++) {
      const b = enc(`n${i}`);
      if (home(b) === 0) same.push(b);
    }
    for (const b of same.slice(0, 32)) expect(t.find(7, b, 0, b.length, true)).toBeGreaterThanOrEqual(0);
    expect(t.find(7, same[32], 0, same[32].length, true)).toBe(KEY_DROPPED);
    expect(t.find(7, same[32], 0, same[32].length, false)).toBe(KEY_ABSENT);
    expect(t.find(7, same[31], 0, same[31].length, false)).toBe(31);
    expect(t.size).toBe(32);
  });
});
