import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { internetChecksum } from './checksum.js';
import { generateFleetMirror, FLEET_EPOCH } from './fleet-mirror.js';

const dir = mkdtempSync(join(tmpdir(), 'fleet-mirror-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const u16 = (b: Uint8Array, p: number): number => (b[p] << 8) | b[p + 1];

/** Walks a little-endian classic pcap written by PcapWriter, calling fn per frame. */
function frames(path: string, fn: (f: Uint8Array, tsSec: number) => void): void {
  const file = readFileSync(path);
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  for (let p = 24; p < file.length;) {
    const capLen = dv.getUint32(p + 8, true);
    fn(file.subarray(p + 16, p + 16 + capLen), dv.getUint32(p, true));
    p += 16 + capLen;
  }
}

describe('generateFleetMirror', () => {
  it('is byte-identical for the same options and differs for another seed', () => {
    const a = join(dir, 'a.pcap'), b = join(dir, 'b.pcap'), c = join(dir, 'c.pcap');
    generateFleetMirror({ out: a, packets: 20_000, devices: 300, seed: 7 });
    generateFleetMirror({ out: b, packets: 20_000, devices: 300, seed: 7 });
    generateFleetMirror({ out: c, packets: 20_000, devices: 300, seed: 8 });
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
    expect(readFileSync(a).equals(readFileSync(c))).toBe(false);
  });

  it('writes consistent headers and a truth that adds up, for every tunnel kind', () => {
    const out = join(dir, 'mix.pcap'), truthPath = join(dir, 'mix.json');
    const res = generateFleetMirror({
      out, truth: truthPath, packets: 30_000, devices: 200, seed: 3, mix: 'gre=1,vxlan=1,erspan2=1,erspan3=1,geneve=1',
    });
    const truth = JSON.parse(readFileSync(truthPath, 'utf8')) as typeof res.truth;
    expect(truth).toEqual(JSON.parse(JSON.stringify(res.truth)));
    expect(readFileSync(out).length).toBe(truth.fileBytes);
    for (const kind of ['gre', 'vxlan', 'erspan2', 'erspan3', 'geneve']) expect(truth.tunnels[kind]).toBeGreaterThan(4000);
    const devices = Object.values(truth.devices);
    const sum = (f: (d: (typeof devices)[number]) => number): number => devices.reduce((s, d) => s + f(d), 0);
    expect(sum((d) => d.upPackets + d.downPackets)).toBe(30_000);
    expect(sum((d) => d.upBytes + d.downBytes)).toBe(truth.innerIpBytes);
    expect(Object.values(truth.services).reduce((s, n) => s + n, 0)).toBe(30_000);

    let n = 0, innerBytes = 0;
    frames(out, (f, tsSec) => {
      n++;
      expect(tsSec).toBeGreaterThanOrEqual(FLEET_EPOCH);
      expect(u16(f, 12)).toBe(0x0800);
      expect(u16(f, 16)).toBe(f.length - 14); // outer IPv4 total length
      expect(internetChecksum(f, 14, 34)).toBe(0);
      // The inner IPv4 header: right after GRE (IP payload) or after the inner Ethernet header.
      const greProto = f[23] === 47 ? u16(f, 36) : 0;
      const inner = greProto === 0x0800 ? 34 + (f[34] & 0x20 ? 8 : 4)
        : greProto === 0x88be ? 34 + 8 + 8 + 14
        : greProto === 0x22eb ? 34 + 8 + 12 + 14
        : 34 + 8 + 8 + 14;
      if (f[23] === 17) expect(u16(f, 38)).toBe(f.length - 34); // VXLAN/Geneve outer UDP length
      expect(f[inner] >> 4).toBe(4);
      expect(u16(f, inner + 2)).toBe(f.length - inner);
      expect(internetChecksum(f, inner, inner + 20)).toBe(0);
      innerBytes += f.length - inner;
    });
    expect(n).toBe(30_000);
    expect(innerBytes).toBe(truth.innerIpBytes);
  });

  it('repeats a shorter capture as the prefix of a longer one with the same seed', () => {
    const short = join(dir, 's.pcap'), long = join(dir, 'l.pcap');
    generateFleetMirror({ out: short, packets: 1000, devices: 50, seed: 1 });
    generateFleetMirror({ out: long, packets: 5000, devices: 50, seed: 1 });
    const s = readFileSync(short);
    expect(readFileSync(long).subarray(0, s.length).equals(s)).toBe(true);
  });
});
