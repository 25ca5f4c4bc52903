// The decoder's fast path (gre-decap/fast-path.ts) gives exactly what the walker gives: every
// PacketMeta field (stale ones included, so it also writes nothing when it declines a frame) and the
// decapsulator's counters, over every frame of every fixture and the demo captures, and over 1M
// fuzzed frames built on the shapes it takes (GRE with and without key/sequence, GRE/TEB, VXLAN,
// inner TCP/UDP, IPv4 options) and their near misses; the fast decoder reads a copy followed by
// poison bytes, so reading past a frame's end would show too.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Decapsulator } from '../gre-decap/decap.js';
import { PacketMeta } from '../gre-decap/meta.js';
import { Frame } from '../gre-decap/readers/frame.js';
import { openCapture } from '../gre-decap/readers/capture.js';
import { LINKTYPE_ETHERNET } from '../gre-decap/layers.js';
import { ethernet, ipv4, gre, udp, tcp, vxlan, icmp, bytes } from '../synth/packets.js';
import { Prng } from '../net/prng.js';
import { fixtureFrames } from './helpers/fixture-frames.js';

const FIELDS = Object.keys(new PacketMeta()) as (keyof PacketMeta)[];

function differs(a: PacketMeta, b: PacketMeta): string | null {
  for (const k of FIELDS) {
    const x = a[k];
    const y = b[k];
    if (ArrayBuffer.isView(x)) {
      const xa = x as unknown as ArrayLike<number>;
      const ya = y as unknown as ArrayLike<number>;
      for (let i = 0; i < xa.length; i++) if (xa[i] !== ya[i]) return `${k}[${i}]: ${xa[i]} vs ${ya[i]}`;
    } else if (x !== y) return `${String(k)}: ${String(x)} vs ${String(y)}`;
  }
  return null;
}

function expectSameCounters(fast: Decapsulator, walker: Decapsulator): void {
  expect(fast.frames).toBe(walker.frames);
  expect(Array.from(fast.reasons)).toEqual(Array.from(walker.reasons));
  expect(Array.from(fast.notes)).toEqual(Array.from(walker.notes));
}

/** Frames of the shapes the fast path takes, and a few it must not (VLAN, fragments, Geneve, nested VXLAN, ICMP). */
function shapes(): Uint8Array[] {
  const out: Uint8Array[] = [];
  const dev = '10.128.0.9';
  const far = '203.0.113.5';
  const outer = (inner: Uint8Array, proto: number, o: { vlans?: number[]; options?: Uint8Array } = {}) =>
    ethernet(ipv4(inner, { src: '192.0.2.1', dst: '198.51.100.1', proto, options: o.options }), { vlans: o.vlans });
  const inners = [
    ipv4(tcp(bytes(100), { src: 40000, dst: 8883, flags: 0x18 }), { src: dev, dst: far, proto: 6 }),
    ipv4(tcp(bytes(0), { src: 40000, dst: 443, flags: 0x02, options: bytes(12, 1) }), { src: dev, dst: far, proto: 6 }),
    ipv4(udp(bytes(30), { src: 40000, dst: 5683 }), { src: far, dst: dev, proto: 17 }),
    ipv4(udp(bytes(30), { src: 40000, dst: 53 }), { src: dev, dst: far, proto: 17, options: bytes(8, 1) }),
    ipv4(udp(vxlan(ethernet(ipv4(udp(bytes(4), { src: 1, dst: 2 }), { src: dev, dst: far, proto: 17 })), { vni: 5 }), { src: 40000, dst: 4789 }), { src: dev, dst: far, proto: 17 }),
    ipv4(tcp(bytes(10), { src: 1, dst: 2 }), { src: dev, dst: far, proto: 6, moreFragments: true }),
    ipv4(icmp(bytes(8), { type: 3, code: 3 }), { src: far, dst: dev, proto: 1 }),
  ];
  for (const inner of inners) {
    out.push(outer(gre(inner, { protocol: 0x0800 }), 47));
    out.push(outer(gre(inner, { protocol: 0x0800, key: 0x01020304 }), 47));
    out.push(outer(gre(inner, { protocol: 0x0800, key: 7, seq: 9 }), 47));
    out.push(outer(gre(inner, { protocol: 0x0800, seq: 9 }), 47, { options: bytes(4, 1) }));
    out.push(outer(gre(ethernet(inner), { protocol: 0x6558, key: 3 }), 47));
    out.push(outer(gre(inner, { protocol: 0x0800, checksum: true }), 47));
    out.push(outer(udp(vxlan(ethernet(inner), { vni: 0xabcdef }), { src: 50000, dst: 4789 }), 17));
    out.push(outer(udp(vxlan(ethernet(inner), { vni: 1 }), { src: 4789, dst: 50000 }), 17));
    out.push(outer(udp(vxlan(ethernet(inner, { vlans: [10] }), { vni: 1 }), { src: 1, dst: 4789 }), 17));
    out.push(outer(udp(bytes(8).fill(0x08, 0, 1), { src: 1, dst: 6081 }), 17));
    out.push(outer(gre(inner, { protocol: 0x0800 }), 47, { vlans: [100] }));
  }
  return out;
}

function mutate(rng: Prng, src: Uint8Array): Uint8Array {
  switch (rng.int(0, 5)) {
    case 0:
      return src; // as is: most frames of a real mirror
    case 1: {
      // A few bits flipped in the headers (the first 90 bytes), where the fast path decides.
      const out = src.slice();
      for (let i = rng.int(1, 3); i > 0; i--) out[rng.int(0, Math.min(out.length, 90) - 1)] ^= 1 << rng.int(0, 7);
      return out;
    }
    case 2:
      return src.slice(0, rng.int(0, src.length)); // cut short
    case 3: {
      // A 16-bit word (a length, a port, a type, flags) set to a random value.
      const out = src.slice();
      const at = rng.int(0, Math.min(out.length, 90) - 2);
      out[at] = rng.u32() & 255;
      out[at + 1] = rng.u32() & 255;
      return out;
    }
    case 4: {
      const out = src.slice();
      for (let i = 0; i < out.length; i++) if (rng.float() < 0.03) out[i] = rng.u32() & 255;
      return out;
    }
    default: {
      // Longer than its IP datagram (Ethernet padding) or with trailing garbage.
      const out = new Uint8Array(src.length + rng.int(1, 40));
      out.set(src);
      return out;
    }
  }
}

describe('decoder fast path = walker', () => {
  it('every fixture frame and every frame of the demo captures', () => {
    const fast = new Decapsulator();
    const walker = new Decapsulator({ fastPath: false });
    const a = new PacketMeta();
    const b = new PacketMeta();
    let n = 0;
    const check = (data: Uint8Array, off: number, len: number, linkType: number, what: string) => {
      fast.decode(data, off, len, linkType, a);
      walker.decode(data, off, len, linkType, b);
      const d = differs(a, b);
      if (d) throw new Error(`${what}: ${d}`);
      n++;
    };
    for (const f of fixtureFrames()) check(f.data, 0, f.data.length, f.linkType, f.file);
    for (const name of ['fleet-mirror.pcap', 'incident-mirror.pcap']) {
      const reader = openCapture(join(import.meta.dirname, '..', 'fixtures', 'demo', name));
      const f = new Frame();
      while (reader.next(f)) check(f.buf, f.off, f.capLen, f.linkType, name);
      reader.close();
    }
    expect(n).toBeGreaterThan(10_000);
    expectSameCounters(fast, walker);
  });

  it('1M fuzzed frames of the fast shapes and their near misses, fast path reading before poison bytes', () => {
    const rng = new Prng(1414);
    const shaped = shapes();
    const real = fixtureFrames().filter((f) => f.linkType === LINKTYPE_ETHERNET).map((f) => f.data);
    const fast = new Decapsulator();
    const walker = new Decapsulator({ fastPath: false });
    const a = new PacketMeta();
    const b = new PacketMeta();
    const poisoned = new Uint8Array(70_000);
    let fastShaped = 0; // decoded to a tunnelled IPv4 transport: the shapes the fast path is for (some still declined)
    for (let i = 0; i < 1_000_000; i++) {
      const seeds = rng.float() < 0.7 ? shaped : real;
      const data = mutate(rng, seeds[rng.int(0, seeds.length - 1)]);
      poisoned.fill(rng.u32() & 255, 0, data.length + 64);
      poisoned.set(data, 0);
      const before = fast.reasons[0];
      fast.decode(poisoned, 0, data.length, LINKTYPE_ETHERNET, a);
      walker.decode(data, 0, data.length, LINKTYPE_ETHERNET, b);
      const d = differs(a, b);
      if (d) throw new Error(`fuzzed frame ${i}: ${d}`);
      if (fast.reasons[0] !== before && a.tunDepth === 1 && a.ipCount === 2) fastShaped++;
    }
    expectSameCounters(fast, walker);
    // Both sides of the fast path's checks are exercised.
    expect(fastShaped).toBeGreaterThan(200_000);
    expect(fast.frames - fastShaped).toBeGreaterThan(200_000);
  });
});
