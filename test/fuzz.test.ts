// Seeded fuzzing of the readers and the decoder: real fixture frames and whole captures, bit-flipped,
// truncated and randomised. Nothing may throw or hang, every frame is accounted for (decoded, or
// stopped with a reason), and the decoder never reads past the bytes it was given.

import { describe, expect, it } from 'vitest';
import { Decapsulator } from '../gre-decap/decap.js';
import { PacketMeta } from '../gre-decap/meta.js';
import { Frame } from '../gre-decap/readers/frame.js';
import { readerFromBytes } from '../gre-decap/readers/capture.js';
import { CaptureFormatError } from '../gre-decap/readers/frame.js';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_NULL } from '../gre-decap/layers.js';
import { pcapBytes, pcapngBytes, type SynthFrame } from '../synth/capture-file.js';
import { Prng } from '../net/prng.js';
import { fixtureFrames } from './helpers/fixture-frames.js';

const frames = fixtureFrames();
const LINK_TYPES = [LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_NULL];

function mutate(rng: Prng, src: Uint8Array): Uint8Array {
  const kind = rng.int(0, 3);
  if (kind === 0) {
    const out = src.slice();
    for (let i = rng.int(1, 8); i > 0 && out.length > 0; i--) out[rng.int(0, out.length - 1)] ^= 1 << rng.int(0, 7);
    return out;
  }
  if (kind === 1) return src.slice(0, rng.int(0, src.length));
  if (kind === 2) {
    const out = src.slice(0, rng.int(0, src.length));
    for (let i = 0; i < out.length; i++) if (rng.float() < 0.05) out[i] = rng.u32() & 255;
    return out;
  }
  const out = new Uint8Array(rng.int(0, 200));
  for (let i = 0; i < out.length; i++) out[i] = rng.u32() & 255;
  return out;
}

describe('fuzz: decoder', () => {
  it('100k mutated frames: no throw, every frame accounted for, no read past the end', () => {
    const rng = new Prng(20261122);
    const d = new Decapsulator();
    const exact = new Decapsulator();
    const m = new PacketMeta();
    const ref = new PacketMeta();
    const N = 100_000;
    const poisoned = new Uint8Array(70_000);
    for (let i = 0; i < N; i++) {
      const base = frames[rng.int(0, frames.length - 1)];
      const data = mutate(rng, base.data);
      const linkType = rng.float() < 0.9 ? base.linkType : LINK_TYPES[rng.int(0, LINK_TYPES.length - 1)];
      // Decode once from an exact-size copy and once followed by poison bytes: the same result
      // proves no decoder looked beyond `capLen`.
      exact.decode(data, 0, data.length, linkType, ref);
      poisoned.fill(rng.u32() & 255, 0, data.length + 128);
      poisoned.set(data, 64);
      d.decode(poisoned, 64, data.length, linkType, m);
      const sameL4 = m.l4 === ref.l4 && (m.l4 === 0 || (m.dstPort === ref.dstPort && m.srcPort === ref.srcPort && m.payloadLen === ref.payloadLen));
      const sameIp = m.ipCount === ref.ipCount && (m.ipCount === 0 || (m.ipTotalLen === ref.ipTotalLen && m.ipProto === ref.ipProto));
      if (m.reason !== ref.reason || m.tunDepth !== ref.tunDepth || m.seen !== ref.seen || !sameL4 || !sameIp) {
        throw new Error(`frame ${i} (from ${base.file}) decoded differently with bytes after its end`);
      }
    }
    expect(d.frames).toBe(N);
    expect(d.reasons.reduce((a, b) => a + b, 0)).toBe(N);
    // The mutations must actually reach the malformed paths, or this test proves little.
    const reasonsHit = Array.from(d.reasons).filter((n, i) => i > 0 && n > 0).length;
    expect(reasonsHit).toBeGreaterThanOrEqual(12);
    expect(d.reasons[0]).toBeGreaterThan(N / 4);
  });
});

describe('fuzz: readers', () => {
  it('20k mutated pcap and pcapng files: no throw, no hang, every byte accounted for', () => {
    const rng = new Prng(7);
    const f = new Frame();
    let files = 0;
    let stoppedWithError = 0;
    let notCaptures = 0;
    let truncatedTails = 0;
    for (let i = 0; i < 20_000; i++) {
      const n = rng.int(1, 12);
      const start = rng.int(0, frames.length - n);
      const chosen: SynthFrame[] = frames.slice(start, start + n).map((fr, k) => ({ data: fr.data, tsSec: 1_700_000_000 + k, tsNsec: k * 1000 }));
      const clean = rng.float() < 0.5
        ? pcapBytes(chosen, { bigEndian: rng.float() < 0.3, nanos: rng.float() < 0.3 })
        : rng.float() < 0.2
          ? pcapngBytes(chosen, { bigEndian: rng.float() < 0.3, block: 'spb', unknownBlock: rng.float() < 0.3 })
          : // Two interfaces at 10^-9 and 2^-24 s, so timestamp conversion is fuzzed too.
            pcapngBytes(chosen.map((c, k) => ({ ...c, iface: k % 2 })), { bigEndian: rng.float() < 0.3, interfaces: [{ tsresol: 9 }, { tsresol: 0x80 | 24 }], unknownBlock: rng.float() < 0.3 });
      const bytes = mutate(rng, clean);
      files++;
      let reader;
      try {
        reader = readerFromBytes(bytes, `fuzz-${i}`);
      } catch (e) {
        // Only a clear "not a capture" error is acceptable at open time.
        expect(e).toBeInstanceOf(CaptureFormatError);
        expect((e as Error).message).toContain(`fuzz-${i}`);
        notCaptures++;
        continue;
      }
      let count = 0;
      // Every record is at least 16 bytes (pcap) or 12 (pcapng): more frames than that is a hang.
      const maxFrames = bytes.length / 12 + 1;
      while (reader.next(f)) {
        count++;
        if (count > maxFrames) throw new Error(`reader did not stop on fuzz-${i}`);
        expect(f.off + f.capLen).toBeLessThanOrEqual(f.buf.length);
        expect(f.tsNsec).toBeLessThan(1e9);
      }
      expect(reader.stats.frames).toBe(count);
      if (reader.stats.error) stoppedWithError++;
      if (reader.stats.truncatedTailBytes > 0) truncatedTails++;
      // Nothing vanishes silently: the reader either consumed the whole input or says why not.
      if (reader.stats.error === null) expect(reader.stats.bytes + reader.stats.truncatedTailBytes).toBe(bytes.length);
      reader.close();
    }
    expect(files).toBe(20_000);
    expect(stoppedWithError).toBeGreaterThan(100);
    expect(truncatedTails).toBeGreaterThan(100);
    expect(notCaptures).toBeGreaterThan(100);
  });

  it('a truncated final record is reported, not dropped silently', () => {
    const data = frames[0].data;
    const file = pcapBytes([{ data, tsSec: 1, tsNsec: 0 }, { data, tsSec: 2, tsNsec: 0 }]);
    const reader = readerFromBytes(file.subarray(0, file.length - 5), 'cut.pcap');
    const f = new Frame();
    let n = 0;
    while (reader.next(f)) n++;
    expect(n).toBe(1);
    expect(reader.stats.truncatedTailBytes).toBe(16 + data.length - 5);
    expect(reader.stats.error).toMatch(/truncated/);
  });
});
