import { describe, expect, it } from 'vitest';
import { AddrTable } from './addr-table.js';

const v4 = (a: number, b: number, c: number, d: number) => Uint8Array.of(a, b, c, d);
const mapped = (a: number, b: number, c: number, d: number) => Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d);

describe('AddrTable', () => {
  it('gives an IPv4 address and its IPv4-mapped IPv6 form one id, whichever comes first', () => {
    const t = new AddrTable(1024);
    const a = t.findAddr(v4(10, 0, 0, 1), 0, 4, true);
    expect(t.findAddr(mapped(10, 0, 0, 1), 0, 6, false)).toBe(a);
    const b = t.findAddr(mapped(192, 0, 2, 7), 0, 6, true);
    expect(t.findAddr(v4(192, 0, 2, 7), 0, 4, false)).toBe(b);
    expect(t.findAddr(v4(192, 0, 2, 7), 0, 4, false)).toBe(b);
    expect(a).not.toBe(b);
  });

  it('never answers from its cache for an address removed, or for any after clear()', () => {
    const t = new AddrTable(4096, 4096);
    const ids: number[] = [];
    for (let i = 0; i < 3000; i++) ids.push(t.findAddr(v4(10, 128, i >> 8, i & 255), 0, 4, true));
    for (let i = 0; i < 3000; i++) expect(t.findAddr(v4(10, 128, i >> 8, i & 255), 0, 4, false)).toBe(ids[i]);
    for (let i = 0; i < 3000; i += 2) t.remove(ids[i]);
    for (let i = 0; i < 3000; i++) expect(t.findAddr(v4(10, 128, i >> 8, i & 255), 0, 4, false)).toBe(i % 2 ? ids[i] : -1);
    // The freed ids go to other addresses: a stale cache slot would hand the old address one of them.
    for (let i = 0; i < 1500; i++) t.findAddr(v4(172, 16, i >> 8, i & 255), 0, 4, true);
    for (let i = 0; i < 3000; i += 2) expect(t.findAddr(v4(10, 128, i >> 8, i & 255), 0, 4, false)).toBe(-1);
    t.clear();
    for (let i = 0; i < 3000; i++) expect(t.findAddr(v4(10, 128, i >> 8, i & 255), 0, 4, false)).toBe(-1);
    expect(t.findAddr(v4(10, 128, 0, 1), 0, 4, true)).toBe(0);
  });

  it('is bounded: past maxEntries a new address gets -1 however often it is looked up', () => {
    const t = new AddrTable(2);
    expect([1, 2, 3, 3].map((d) => t.findAddr(v4(10, 0, 0, d), 0, 4, true))).toEqual([0, 1, -1, -1]);
  });
});
