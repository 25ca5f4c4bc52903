import { describe, expect, it } from 'vitest';
import { HostNames, NAME_SLOT, SOURCE_DNS, SOURCE_SNI } from './host-names.js';

const enc = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
// AddrTable key words of an IPv4 address (::ffff:a.b.c.d) and the address bytes as a frame has them.
const words = (a: string) => {
  const p = a.split('.').map(Number);
  return Uint32Array.of(0, 0, 0xffff, ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0);
};
const v4 = (a: string) => Uint8Array.from(a.split('.').map(Number));

describe('HostNames', () => {
  it('names (device, address) from DNS or SNI, the newest mapping winning, per device; an SNI never replaces a DNS answer', () => {
    const h = new HostNames(16);
    expect(h.empty).toBe(true);
    const name = enc('api.example.com');
    h.set(3, v4('192.0.2.1'), 0, 4, name, 0, name.length, SOURCE_DNS);
    expect(h.lookup(3, words('192.0.2.1'), 0)).toEqual({ name: 'api.example.com', source: 'dns' });
    expect(h.lookup(4, words('192.0.2.1'), 0)).toBeUndefined();
    const sni = enc('xxCDN.Example.NET');
    // The device resolved the address, then says hello to it: it stays resolved.
    h.set(3, v4('192.0.2.1'), 0, 4, sni, 2, sni.length - 2, SOURCE_SNI);
    expect(h.lookup(3, words('192.0.2.1'), 0)).toEqual({ name: 'api.example.com', source: 'dns' });
    h.set(3, v4('192.0.2.2'), 0, 4, sni, 2, sni.length - 2, SOURCE_SNI);
    expect(h.lookup(3, words('192.0.2.2'), 0)).toEqual({ name: 'cdn.example.net', source: 'sni' });
    // A DNS answer naming an address known by SNI only: now it is resolved.
    h.set(3, v4('192.0.2.2'), 0, 4, name, 0, name.length, SOURCE_DNS);
    expect(h.lookup(3, words('192.0.2.2'), 0)).toEqual({ name: 'api.example.com', source: 'dns' });
    const six = new Uint8Array(16);
    six[0] = 0x20;
    six[15] = 1;
    h.set(3, six, 0, 6, name, 0, name.length, SOURCE_DNS);
    expect(h.lookup(3, Uint32Array.of(0x20000000, 0, 0, 1), 0)?.name).toBe('api.example.com');
  });

  it('keeps two generations: a full one is kept for lookups, the one before it is forgotten', () => {
    const h = new HostNames(4);
    const n = (i: number) => enc(`n${i}.io`);
    for (let i = 0; i < 4; i++) h.set(0, v4(`10.0.0.${i}`), 0, 4, n(i), 0, 5, SOURCE_DNS);
    h.set(0, v4('10.0.0.4'), 0, 4, n(4), 0, 5, SOURCE_DNS); // current full: swap
    expect(h.swaps).toBe(1);
    expect(h.lookup(0, words('10.0.0.0'), 0)?.name).toBe('n0.io'); // previous generation
    expect(h.lookup(0, words('10.0.0.4'), 0)?.name).toBe('n4.io');
    // An old mapping renewed goes into the current generation: the newer name wins.
    h.set(0, v4('10.0.0.1'), 0, 4, enc('new.io'), 0, 6, SOURCE_DNS);
    expect(h.lookup(0, words('10.0.0.1'), 0)?.name).toBe('new.io');
    for (let i = 5; i < 8; i++) h.set(0, v4(`10.0.0.${i}`), 0, 4, n(i), 0, 5, SOURCE_DNS); // fills the second generation
    h.set(0, v4('10.0.0.9'), 0, 4, n(9), 0, 5, SOURCE_DNS); // swap again: the first generation is emptied
    expect(h.swaps).toBe(2);
    expect(h.lookup(0, words('10.0.0.0'), 0)).toBeUndefined();
    expect(h.lookup(0, words('10.0.0.5'), 0)?.name).toBe('n5.io');
    expect(h.lookup(0, words('10.0.0.9'), 0)?.name).toBe('n9.io');
  });

  it('a name longer than its slot is shown cut, with its binary bytes escaped', () => {
    const h = new HostNames(4);
    const long = enc(`${'a'.repeat(NAME_SLOT)}.example.com`);
    h.set(1, v4('192.0.2.9'), 0, 4, long, 0, long.length, SOURCE_DNS);
    expect(h.lookup(1, words('192.0.2.9'), 0)?.name).toBe(`${'a'.repeat(NAME_SLOT)}…`);
    const bin = enc('a\x00"\\.io');
    h.set(1, v4('192.0.2.8'), 0, 4, bin, 0, bin.length, SOURCE_DNS);
    expect(h.lookup(1, words('192.0.2.8'), 0)?.name).toBe('a\\x00"\\x5c.io');
  });
});
