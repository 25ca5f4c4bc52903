import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { pcapngBytes, type PcapngInterface, type SynthFrame } from '../../synth/capture-file.js';
import { openCapture, readerFromBytes } from './capture.js';
import { CaptureFormatError, Frame, type FrameReader } from './frame.js';
import { LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL2, LINKTYPE_RAW } from '../layers.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/real/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'tapwatch-pcapng-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Got { bytes: number[]; capLen: number; wireLen: number; ts: string; linkType: number; iface: number }

const tsString = (sec: number | bigint, nsec: number | bigint): string => `${sec}.${String(nsec).padStart(9, '0')}`;

function readAll(r: FrameReader): Got[] {
  const f = new Frame();
  const out: Got[] = [];
  while (r.next(f)) {
    out.push({
      bytes: Array.from(f.buf.subarray(f.off, f.off + f.capLen)),
      capLen: f.capLen, wireLen: f.wireLen, ts: tsString(f.tsSec, f.tsNsec), linkType: f.linkType, iface: f.iface,
    });
  }
  expect(r.next(f)).toBe(false);
  r.close();
  return out;
}

function tmpFile(name: string, bytes: Uint8Array): string {
  const path = join(tmp, name);
  writeFileSync(path, bytes);
  return path;
}

function frames(n: number, nIf = 1, size = (i: number) => 14 + ((i * 37) % 200)): SynthFrame[] {
  const out: SynthFrame[] = [];
  for (let i = 0; i < n; i++) {
    const data = new Uint8Array(size(i));
    for (let j = 0; j < data.length; j++) data[j] = (i * 31 + j) & 0xff;
    out.push({ data, tsSec: 1_700_000_000 + i, tsNsec: (i * 123_456_789) % 1_000_000_000, iface: i % nIf });
  }
  return out;
}

const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let p = 0;
  for (const part of parts) { out.set(part, p); p += part.length; }
  return out;
};

/** What the reader must produce for a raw timestamp: floor(raw·1e9 / units) ns, computed with BigInt. */
function expectedTs(raw: bigint, resol: number, offset: number): string {
  const n = BigInt(resol & 0x7f);
  const units = resol & 0x80 ? 1n << n : 10n ** n;
  const ns = (raw * 1_000_000_000n) / units;
  return tsString(ns / 1_000_000_000n + BigInt(offset), ns % 1_000_000_000n);
}

/** The raw 64-bit timestamp of the (little-endian) EPB at `epbOffset`. */
function rawTsOfFirstEpb(bytes: Uint8Array, epbOffset: number): bigint {
  const dv = new DataView(bytes.buffer, bytes.byteOffset);
  return (BigInt(dv.getUint32(epbOffset + 12, true)) << 32n) | BigInt(dv.getUint32(epbOffset + 16, true));
}

describe('real pcapng fixtures', () => {
  const names = readdirSync(FIXTURES).filter((n) => n.endsWith('.pcapng'));
  it('has both of them', () => expect(names.sort()).toEqual(['nDPI__dns-google-nsid.pcapng', 'nDPI__hls.pcapng']));

  for (const name of names) {
    it(name, () => {
      const ref = JSON.parse(readFileSync(join(FIXTURES, `${name}.ref.json`), 'utf8'));
      const path = join(FIXTURES, name);
      const r = openCapture(path);
      expect(r.format).toBe('pcapng');
      const got = readAll(r);
      expect(r.stats.error).toBeNull();
      expect(r.stats.bytes).toBe(ref.size_bytes);
      expect(got.length).toBe(ref.outer_packet_count);
      expect(got[0].ts).toBe(ref.first_frame_time_epoch);
      expect(got[got.length - 1].ts).toBe(ref.last_frame_time_epoch);
      ref.link_types.forEach((l: { linktype: number; packets: number }, i: number) => {
        const mine = got.filter((g) => g.iface === i);
        expect(mine.length).toBe(l.packets);
        for (const g of mine) expect(g.linkType).toBe(l.linktype);
      });
      expect(readAll(openCapture(path, { chunkSize: 64 }))).toEqual(got);
      expect(readAll(readerFromBytes(readFileSync(path), name))).toEqual(got);
    });
  }

  it('nDPI__dns-google-nsid.pcapng keeps nanoseconds on interface 0 and microseconds on 1-2', () => {
    const got = readAll(openCapture(join(FIXTURES, 'nDPI__dns-google-nsid.pcapng')));
    expect(got.filter((g) => g.iface === 0).some((g) => !g.ts.endsWith('000'))).toBe(true);
    for (const g of got.filter((x) => x.iface !== 0)) expect(g.ts.endsWith('000')).toBe(true);
  });
});

describe('pcapng variants made by the writer', () => {
  const interfaces: PcapngInterface[] = [
    { linkType: LINKTYPE_ETHERNET, tsresol: 9 },
    { linkType: LINKTYPE_RAW },
    { linkType: LINKTYPE_LINUX_SLL2, tsresol: 0x80 | 30 },
  ];
  const fr = frames(60, 3);

  for (const bigEndian of [false, true]) {
    it(`${bigEndian ? 'big' : 'little'}-endian, three interfaces with their own link type and resolution`, () => {
      const bytes = pcapngBytes(fr, { bigEndian, interfaces });
      const got = readAll(readerFromBytes(bytes));
      expect(got.length).toBe(fr.length);
      got.forEach((g, i) => {
        expect(g.iface).toBe(i % 3);
        expect(g.linkType).toBe(interfaces[i % 3].linkType);
        expect(g.bytes).toEqual(Array.from(fr[i].data));
        expect(g.wireLen).toBe(fr[i].data.length);
      });
      // ns exact; µs truncated; a 2^-30 s unit is not a whole number of ns, so write-then-read may floor 1 ns lower.
      expect(got[0].ts).toBe(tsString(fr[0].tsSec, fr[0].tsNsec));
      expect(got[3].ts).toBe(tsString(fr[3].tsSec, fr[3].tsNsec));
      expect(got[1].ts).toBe(tsString(fr[1].tsSec, Math.floor(fr[1].tsNsec / 1000) * 1000));
      expect(Number(got[2].ts.split('.')[1])).toBeGreaterThanOrEqual(fr[2].tsNsec - 1);
      expect(got[2].ts.split('.')[0]).toBe(String(fr[2].tsSec));
    });
  }

  it('nanosecond timestamps beyond 2^53 ns stay exact', () => {
    const one: SynthFrame[] = [
      { data: new Uint8Array(20), tsSec: 1_700_000_000, tsNsec: 123_456_789 },
      { data: new Uint8Array(20), tsSec: 4_294_967_295, tsNsec: 999_999_999 },
    ];
    const got = readAll(readerFromBytes(pcapngBytes(one, { interfaces: [{ tsresol: 9 }] })));
    expect(got.map((g) => g.ts)).toEqual(['1700000000.123456789', '4294967295.999999999']);
  });

  it('if_tsresol 2^-n and 10^-n of every supported size convert exactly (BigInt reference)', () => {
    const resols = [0, 1, 3, 6, 9, 10, 12, 15, 19, 0x80, 0x80 | 1, 0x80 | 10, 0x80 | 20, 0x80 | 24, 0x80 | 30, 0x80 | 32, 0x80 | 36];
    for (const tsresol of resols) {
      const n = BigInt(tsresol & 0x7f);
      const units = tsresol & 0x80 ? 1n << n : 10n ** n;
      // Keep the raw count inside 64 bits: fine resolutions need an if_tsoffset to reach today.
      const span = (1n << 64n) / units - 1n;
      const tsoffset = span < 4_000_000_000n ? 1_700_000_000 : 0;
      const maxSec = Number(span < 4_000_000_000n ? span : 4_000_000_000n);
      for (let k = 0; k < 20; k++) {
        const sec = tsoffset + Math.floor((maxSec * k) / 20);
        const fr1: SynthFrame[] = [{ data: new Uint8Array(8), tsSec: sec, tsNsec: (k * 987_654_321 + 1) % 1_000_000_000 }];
        const bytes = pcapngBytes(fr1, { interfaces: [{ tsresol, tsoffset }] });
        const idbLen = 20 + 8 + 12 + 4;
        const raw = rawTsOfFirstEpb(bytes, 28 + idbLen);
        expect(readAll(readerFromBytes(bytes))[0].ts, `tsresol 0x${tsresol.toString(16)} k=${k}`).toBe(expectedTs(raw, tsresol, tsoffset));
      }
    }
  });

  it('if_tsresol 2^-n: half a second is exact', () => {
    const got = readAll(readerFromBytes(pcapngBytes(
      [{ data: new Uint8Array(8), tsSec: 1_600_000_000, tsNsec: 500_000_000 }], { interfaces: [{ tsresol: 0x80 | 1 }] })));
    expect(got[0].ts).toBe('1600000000.500000000');
  });

  it('if_tsoffset is added, negative too', () => {
    for (const tsoffset of [1_600_000_000, -100]) {
      const got = readAll(readerFromBytes(pcapngBytes(
        [{ data: new Uint8Array(8), tsSec: 1_600_000_123, tsNsec: 456_000 }], { interfaces: [{ tsresol: 6, tsoffset }] })));
      expect(got[0].ts).toBe('1600000123.000456000');
    }
  });

  it('unsupported if_tsresol stops with the offset of the IDB', () => {
    const r = readerFromBytes(pcapngBytes(frames(1), { interfaces: [{ tsresol: 20 }] }));
    expect(readAll(r)).toEqual([]);
    expect(r.stats.error).toBe('interface block at offset 28: unsupported if_tsresol 0x14');
    expect(r.stats.errorOffset).toBe(28);
  });

  it('Simple Packet Blocks: no timestamp, length from the smallest of body, wire length, snaplen', () => {
    const spb: SynthFrame[] = [
      { data: new Uint8Array(61).fill(1), tsSec: 9, tsNsec: 9 }, // body padded to 64: wire length 61 wins
      { data: new Uint8Array(64).fill(2), tsSec: 9, tsNsec: 9, wireLen: 1514 }, // body wins
    ];
    const got = readAll(readerFromBytes(pcapngBytes(spb, { block: 'spb', interfaces: [{ linkType: LINKTYPE_RAW }] })));
    expect(got.map((g) => [g.capLen, g.wireLen, g.ts, g.linkType, g.iface])).toEqual([
      [61, 61, '0.000000000', LINKTYPE_RAW, 0], [64, 1514, '0.000000000', LINKTYPE_RAW, 0]]);
    expect(got[0].bytes).toEqual(new Array(61).fill(1));
    const snapped = readAll(readerFromBytes(pcapngBytes(
      [{ data: new Uint8Array(64), tsSec: 0, tsNsec: 0, wireLen: 1514 }], { block: 'spb', interfaces: [{ snaplen: 50 }] })));
    expect(snapped[0].capLen).toBe(50);
  });

  it('obsolete Packet Blocks read like EPBs', () => {
    const fr2 = frames(10, 2);
    const opts = { interfaces: [{ tsresol: 9 }, { linkType: LINKTYPE_RAW }] };
    expect(readAll(readerFromBytes(pcapngBytes(fr2, { ...opts, block: 'pb' }))))
      .toEqual(readAll(readerFromBytes(pcapngBytes(fr2, opts))));
  });

  it('unknown blocks are skipped and counted', () => {
    const r = readerFromBytes(pcapngBytes(frames(3), { unknownBlock: true }));
    expect(readAll(r).length).toBe(3);
    expect(r.stats.skippedBlocks).toBe(1);
    expect(r.stats.error).toBeNull();
  });

  it('a second section may switch byte order and redefines the interfaces', () => {
    const a = pcapngBytes(frames(3, 2), { interfaces: [{ linkType: LINKTYPE_ETHERNET }, { linkType: LINKTYPE_RAW }] });
    const b = pcapngBytes(frames(2), { bigEndian: true, interfaces: [{ linkType: LINKTYPE_LINUX_SLL2, tsresol: 9 }] });
    const r = readerFromBytes(concat(a, b));
    const got = readAll(r);
    expect(got.map((g) => [g.iface, g.linkType])).toEqual([
      [0, LINKTYPE_ETHERNET], [1, LINKTYPE_RAW], [0, LINKTYPE_ETHERNET], [0, LINKTYPE_LINUX_SLL2], [0, LINKTYPE_LINUX_SLL2]]);
    expect(got[4].ts).toBe(tsString(frames(2)[1].tsSec, frames(2)[1].tsNsec));
    expect(r.stats.error).toBeNull();
  });

  it('a packet on an interface the section has not described stops with an error', () => {
    const a = pcapngBytes(frames(2, 2), { interfaces: [{}, {}] });
    const b = pcapngBytes(frames(2, 2), { interfaces: [{}] }); // its second frame names interface 1
    const r = readerFromBytes(concat(a, b));
    expect(readAll(r).length).toBe(3);
    const off = a.length + 28 + 20 + 48; // SHB, option-less IDB, EPB of a 14-byte frame
    expect(r.stats.error).toBe(`packet block at offset ${off}: interface 1 has no Interface Description Block`);
    expect(r.stats.errorOffset).toBe(off);
  });

  it('captured length above snaplen or wire length is kept and counted', () => {
    const odd: SynthFrame[] = [
      { data: new Uint8Array(100), tsSec: 0, tsNsec: 0, wireLen: 60 },
      { data: new Uint8Array(300), tsSec: 0, tsNsec: 0 },
      { data: new Uint8Array(100), tsSec: 0, tsNsec: 0 },
    ];
    const r = readerFromBytes(pcapngBytes(odd, { interfaces: [{ snaplen: 200 }] }));
    expect(readAll(r).map((g) => g.capLen)).toEqual([100, 300, 100]);
    expect(r.stats.oddLengths).toBe(2);
  });
});

describe('chunk boundaries', () => {
  const bytes = concat(
    pcapngBytes(frames(200, 3), { interfaces: [{ tsresol: 9 }, { tsresol: 0x80 | 20 }, {}], unknownBlock: true }),
    pcapngBytes(frames(100), { bigEndian: true, block: 'spb' }),
  );
  const path = tmpFile('straddle.pcapng', bytes);
  const whole = readAll(openCapture(path));

  for (const chunkSize of [1, 12, 64, 100, 4096]) {
    it(`chunkSize ${chunkSize} gives the same frames as the default window`, () => {
      const r = openCapture(path, { chunkSize });
      expect(readAll(r)).toEqual(whole);
      expect(r.stats).toMatchObject({ frames: 300, skippedBlocks: 1, bytes: bytes.length, error: null });
    });
  }

  it('a block larger than the chunk grows the buffer', () => {
    const big = frames(5, 1, (i) => (i === 2 ? 5000 : 60));
    const p = tmpFile('big-block.pcapng', pcapngBytes(big));
    const got = readAll(openCapture(p, { chunkSize: 64 }));
    expect(got.map((g) => g.capLen)).toEqual([60, 60, 5000, 60, 60]);
    expect(got).toEqual(readAll(readerFromBytes(pcapngBytes(big))));
  });
});

describe('bad input: next() never throws, stats say what happened', () => {
  const good = pcapngBytes(frames(4, 1, (i) => (i === 3 ? 1514 : 100)));
  const lastBlock = good.length - 32 - 1516;
  const withLength = (at: number, len: number, trailing = false): Uint8Array => {
    const b = good.slice();
    const dv = new DataView(b.buffer);
    if (trailing) dv.setUint32(at + dv.getUint32(at + 4, true) - 4, len, true);
    else dv.setUint32(at + 4, len, true);
    return b;
  };

  it('truncated final block', () => {
    for (const r of [readerFromBytes(good.subarray(0, good.length - 1000)),
      openCapture(tmpFile('trunc.pcapng', good.subarray(0, good.length - 1000)), { chunkSize: 64 })]) {
      expect(readAll(r).length).toBe(3);
      expect(r.stats.truncatedTailBytes).toBe(1548 - 1000);
      expect(r.stats.error).toBe(`truncated block at offset ${lastBlock}: header says 1548 bytes, 548 remain`);
      expect(r.stats.errorOffset).toBe(lastBlock);
    }
  });

  for (const [what, len] of [['not a multiple of 4', 1550], ['below 12', 8], ['above the cap', 0x7ffffff0]] as const) {
    it(`block length ${what} stops with the offset`, () => {
      const r = readerFromBytes(withLength(lastBlock, len));
      expect(readAll(r).length).toBe(3);
      expect(r.stats.error).toBe(`impossible block at offset ${lastBlock}: type 6, length ${len} (must be a multiple of 4 from 12 to 67108864)`);
      expect(r.stats.errorOffset).toBe(lastBlock);
    });
  }

  it('trailing length different from the leading one', () => {
    const r = readerFromBytes(withLength(lastBlock, 1544, true));
    expect(readAll(r).length).toBe(3);
    expect(r.stats.error).toBe(`corrupt block at offset ${lastBlock}: trailing length 1544 differs from leading length 1548`);
  });

  it('captured length overrunning its block', () => {
    const b = good.slice();
    new DataView(b.buffer).setUint32(lastBlock + 20, 1520, true);
    const r = readerFromBytes(b);
    expect(readAll(r).length).toBe(3);
    expect(r.stats.error).toBe(`packet block at offset ${lastBlock}: captured length 1520 overruns the 1548-byte block`);
  });
});

describe('opening', () => {
  it('bad byte-order magic in the first section header', () => {
    const b = pcapngBytes([]);
    b.set([1, 2, 3, 4], 8);
    const path = tmpFile('bad-bom.pcapng', b);
    expect(() => openCapture(path)).toThrow(CaptureFormatError);
    expect(() => openCapture(path)).toThrow(/bad-bom\.pcapng: .*0a0d0d0a.*bad byte-order magic 04030201/);
  });

  it('shorter than a section header', () => {
    const path = tmpFile('short.pcapng', pcapngBytes([]).subarray(0, 20));
    expect(() => openCapture(path)).toThrow(/short\.pcapng: .*20 bytes, shorter than the 28-byte pcapng section header/);
  });

  it('a section header alone is a valid empty capture', () => {
    const r = readerFromBytes(pcapngBytes([], { interfaces: [] }));
    expect(readAll(r)).toEqual([]);
    expect(r.stats).toMatchObject({ frames: 0, bytes: 28, error: null });
  });
});
