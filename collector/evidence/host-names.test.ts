import { describe, expect, it } from 'vitest';
import { HostNames, NAME_SLOT, SOURCE_DNS, SOURCE_SNI } from './host-names.js';

const enc = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
// AddrTable key words of an IPv4 address (::ffff:a.b.c.d) and the address bytes as a frame has them.
const words = (a: string) => {
  const p = a.split('.').map(Number);
  return Uint32Array.of(0, 0, 0xffff, ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0);
};
const v4 = (a: string) => Uint8Array.from(a.split('.').map(Number));
// Device n is 10.128.0.n; a packet holds the device's address, then the far one (both IPv4).
const devAddr = (n: number) => `10.128.0.${n}`;
const dev = (n: number) => words(devAddr(n));
const put = (h: HostNames, n: number, far: string, name: Uint8Array, off: number, len: number, source: number) =>
  h.set(Uint8Array.from([...v4(devAddr(n)), ...v4(far)]), 0, 4, 4, 4, name, off, len, source);

describe('HostNames', () => {
  it('names (device, address) from DNS or SNI, the newest mapping winning, per device; an SNI never replaces a DNS answer', () => {
    const h = new HostNames(16);
    expect(h.empty).toBe(true);
    const name = enc('api.example.com');
    put(h, 3, '192.0.2.1', name, 0, name.length, SOURCE_DNS);
    expect(h.lookup(dev(3), 0, words('192.0.2.1'), 0)).toEqual({ name: 'api.example.com', source: 'dns' });
    expect(h.lookup(dev(4), 0, words('192.0.2.1'), 0)).toBeUndefined();
    const sni = enc('xxCDN.Example.NET');
    // The device resolved the address, then says hello to it: it stays resolved.
    put(h, 3, '192.0.2.1', sni, 2, sni.length - 2, SOURCE_SNI);
    expect(h.lookup(dev(3), 0, words('192.0.2.1'), 0)).toEqual({ name: 'api.example.com', source: 'dns' });
    put(h, 3, '192.0.2.2', sni, 2, sni.length - 2, SOURCE_SNI);
    expect(h.lookup(dev(3), 0, words('192.0.2.2'), 0)).toEqual({ name: 'cdn.example.net', source: 'sni' });
    // A DNS answer naming an address known by SNI only: now it is resolved.
    put(h, 3, '192.0.2.2', name, 0, name.length, SOURCE_DNS);
    expect(h.lookup(dev(3), 0, words('192.0.2.2'), 0)).toEqual({ name: 'api.example.com', source: 'dns' });
    // An AAAA answer to an IPv4 device: the far address is IPv6.
    const packet = new Uint8Array(20);
    packet.set(v4(devAddr(3)), 0);
    packet[4] = 0x20;
    packet[19] = 1;
    h.set(packet, 0, 4, 4, 6, name, 0, name.length, SOURCE_DNS);
    expect(h.lookup(dev(3), 0, Uint32Array.of(0x20000000, 0, 0, 1), 0)?.name).toBe('api.example.com');
  });

  it('keeps two generations: the one before the current is kept for lookups, and a mapping looked up there moves to the current one', () => {
    const h = new HostNames(4);
    const n = (i: number) => enc(`n${i}.io`);
    for (let i = 0; i < 4; i++) put(h, 0, `10.0.0.${i}`, n(i), 0, 5, SOURCE_DNS);
    put(h, 0, '10.0.0.4', n(4), 0, 5, SOURCE_DNS); // current full: swap
    expect(h.swaps).toBe(1);
    expect(h.lookup(dev(0), 0, words('10.0.0.4'), 0)?.name).toBe('n4.io');
    // Found in the previous generation: a name in use, moved to the current one (n4, n0).
    expect(h.lookup(dev(0), 0, words('10.0.0.0'), 0)?.name).toBe('n0.io');
    // An old mapping renewed goes into the current generation: the newer name wins.
    put(h, 0, '10.0.0.1', enc('new.io'), 0, 6, SOURCE_DNS);
    expect(h.lookup(dev(0), 0, words('10.0.0.1'), 0)?.name).toBe('new.io');
    put(h, 0, '10.0.0.5', n(5), 0, 5, SOURCE_DNS); // current full: n4, n0, new, n5
    put(h, 0, '10.0.0.6', n(6), 0, 5, SOURCE_DNS); // swap again: the first generation is emptied
    expect(h.swaps).toBe(2);
    expect(h.lookup(dev(0), 0, words('10.0.0.2'), 0)).toBeUndefined(); // never used since its answer: forgotten
    expect(h.lookup(dev(0), 0, words('10.0.0.0'), 0)).toEqual({ name: 'n0.io', source: 'dns' }); // in use: kept
    expect(h.lookup(dev(0), 0, words('10.0.0.6'), 0)?.name).toBe('n6.io');
    expect(h.dropped).toBe(0);
  });

  it('is keyed by the device address, not a table slot: the same address finds its names again, another does not', () => {
    const h = new HostNames(16);
    const name = enc('ntp.example.org');
    put(h, 7, '192.0.2.123', name, 0, name.length, SOURCE_DNS);
    expect(h.lookup(dev(7), 0, words('192.0.2.123'), 0)?.name).toBe('ntp.example.org');
    expect(h.lookup(dev(8), 0, words('192.0.2.123'), 0)).toBeUndefined();
  });

  it('a name longer than its slot is shown cut, with its binary bytes escaped', () => {
    const h = new HostNames(4);
    const long = enc(`${'a'.repeat(NAME_SLOT)}.example.com`);
    put(h, 1, '192.0.2.9', long, 0, long.length, SOURCE_DNS);
    expect(h.lookup(dev(1), 0, words('192.0.2.9'), 0)?.name).toBe(`${'a'.repeat(NAME_SLOT)}…`);
    const bin = enc('a\x00"\\.io');
    put(h, 1, '192.0.2.8', bin, 0, bin.length, SOURCE_DNS);
    expect(h.lookup(dev(1), 0, words('192.0.2.8'), 0)?.name).toBe('a\\x00"\\x5c.io');
  });
});
