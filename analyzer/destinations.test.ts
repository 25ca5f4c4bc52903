import { typedArrayBytes } from '../test/helpers/typed-bytes.js';
import { describe, expect, it } from 'vitest';
import { CountMin } from './count-min.js';
import { ADDED, KNOWN_SINCE_WARMUP, SeenDestinations } from './destinations.js';
import { hostKey } from './detectors/detector.js';

const key = (i: number): number => hostKey(undefined, `203.0.113.${i}`);

describe('seen destinations', () => {
  it('tells a first sighting from a known destination and counts distinct intervals', () => {
    const s = new SeenDestinations(8);
    const a = s.touch(key(1), 100, false);
    expect(a & ADDED).toBe(ADDED);
    expect(s.touch(key(1), 100, false)).toBe(a & (ADDED - 1));
    s.touch(key(1), 105, false);
    const slot = s.find(key(1));
    expect(s.first[slot]).toBe(100);
    expect(s.last[slot]).toBe(105);
    expect(s.intervals[slot]).toBe(2);
    s.touch(key(2), 105, true);
    expect(s.first[s.find(key(2))]).toBe(KNOWN_SINCE_WARMUP);
  });

  it('knows a host by name when it has one, so a new address behind the same name is the same host', () => {
    expect(hostKey('api.vendor.example', '203.0.113.1')).toBe(hostKey('api.vendor.example', '203.0.113.99'));
    expect(hostKey(undefined, '203.0.113.1')).not.toBe(hostKey(undefined, '203.0.113.99'));
    // A name that reads like an address is not the address.
    expect(hostKey('203.0.113.1', '198.51.100.1')).not.toBe(hostKey(undefined, '203.0.113.1'));
  });

  it('stays within its capacity, and a scan evicts one-off destinations before the device\'s servers', () => {
    const s = new SeenDestinations(8);
    for (let t = 0; t < 2; t++) for (let i = 0; i < 5; i++) s.touch(key(i), t * 5, false); // five servers, seen in two intervals
    for (let i = 100; i < 1100; i++) s.touch(key(i), 10 + Math.floor(i / 20) * 5, false); // a sweep of 1,000 hosts
    expect(s.size).toBe(8);
    for (let i = 0; i < 5; i++) expect(s.find(key(i))).toBeGreaterThanOrEqual(0);
  });

  it('evicts the least recently seen when every entry is protected', () => {
    const s = new SeenDestinations(4);
    for (let t = 0; t < 2; t++) for (let i = 0; i < 4; i++) s.touch(key(i), t * 5 + (i === 2 ? 0 : 100), false);
    s.touch(key(9), 200, false);
    expect(s.find(key(2))).toBe(-1);
    expect(s.find(key(9))).toBeGreaterThanOrEqual(0);
  });

  it('round-trips through JSON', () => {
    const s = new SeenDestinations(16);
    for (let i = 0; i < 10; i++) s.touch(key(i), i * 5, i < 3);
    const back = SeenDestinations.fromJSON(JSON.parse(JSON.stringify(s)));
    expect(back.size).toBe(10);
    expect(Array.from(back.keys)).toEqual(Array.from(s.keys));
    expect(Array.from(back.first)).toEqual(Array.from(s.first));
    expect(typedArrayBytes(new SeenDestinations(64))).toBe(SeenDestinations.bytesPerDevice(64));
  });
});

describe('count-min sketch', () => {
  it('never under-counts, and counts exactly when there is room', () => {
    const c = new CountMin(8192, 4); // the analyzer's size
    for (let i = 0; i < 200; i++) for (let k = 0; k <= i % 7; k++) c.add(key(i));
    for (let i = 0; i < 200; i++) expect(c.estimate(key(i))).toBe((i % 7) + 1);
    const small = new CountMin(16, 2);
    for (let i = 0; i < 500; i++) small.add(key(i));
    for (let i = 0; i < 500; i++) expect(small.estimate(key(i))).toBeGreaterThanOrEqual(1);
  });

  it('round-trips through JSON and refuses a width that is not a power of two', () => {
    const c = new CountMin(64, 3);
    c.add(42);
    c.add(42);
    expect(CountMin.fromJSON(JSON.parse(JSON.stringify(c))).estimate(42)).toBe(2);
    expect(() => new CountMin(100, 3)).toThrow(/power of two/);
  });
});
