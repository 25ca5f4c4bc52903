import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { PcapWriter, pcapBytes, type SynthFrame } from '../../synth/capture-file.js';
import { openCapture, readerFromBytes } from './capture.js';
import { CaptureFormatError, Frame, type FrameReader } from './frame.js';
import { LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_RAW } from '../layers.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/real/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'tapwatch-pcap-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Got { bytes: number[]; capLen: number; wireLen: number; ts: string; linkType: number; iface: number }

const tsString = (f: Frame): string => `${f.tsSec}.${String(f.tsNsec).padStart(9, '0')}`;

function readAll(r: FrameReader): Got[] {
  const f = new Frame();
  const out: Got[] = [];
  while (r.next(f)) {
    out.push({
      bytes: Array.from(f.buf.subarray(f.off, f.off + f.capLen)),
      capLen: f.capLen, wireLen: f.wireLen, ts: tsString(f), linkType: f.linkType, iface: f.iface,
    });
  }
  expect(r.next(f)).toBe(false); // stays at the end
  r.close();
  return out;
}

function tmpFile(name: string, bytes: Uint8Array): string {
  const path = join(tmp, name);
  writeFileSync(path, bytes);
  return path;
}

/** Deterministic frames of varied sizes so records land on every alignment against a small chunk. */
function frames(n: number, size = (i: number) => 14 + ((i * 37) % 200)): SynthFrame[] {
  const out: SynthFrame[] = [];
  for (let i = 0; i < n; i++) {
    const data = new Uint8Array(size(i));
    for (let j = 0; j < data.length; j++) data[j] = (i * 31 + j) & 0xff;
    out.push({ data, tsSec: 1_700_000_000 + i, tsNsec: (i * 123_456_789) % 1_000_000_000 });
  }
  return out;
}

describe('real classic pcap fixtures', () => {
  const names = readdirSync(FIXTURES).filter((n) => n.endsWith('.pcap'));
  it('has all of them', () => expect(names.length).toBe(26));

  for (const name of names) {
    it(name, () => {
      const ref = JSON.parse(readFileSync(join(FIXTURES, `${name}.ref.json`), 'utf8'));
      const path = join(FIXTURES, name);
      const r = openCapture(path);
      expect(r.format).toBe('pcap');
      const got = readAll(r);
      expect(r.stats.error).toBeNull();
      expect(r.stats.truncatedTailBytes).toBe(0);
      expect(r.stats.bytes).toBe(ref.size_bytes);
      expect(got.length).toBe(ref.outer_packet_count);
      expect(r.stats.frames).toBe(ref.outer_packet_count);
      expect(got[0].ts).toBe(ref.first_frame_time_epoch);
      expect(got[got.length - 1].ts).toBe(ref.last_frame_time_epoch);
      expect([...new Set(got.map((g) => g.linkType))]).toEqual(ref.link_types.map((l: { linktype: number }) => l.linktype));
      // Tiny chunks make most records straddle a refill; in-memory reading shares the parser.
      expect(readAll(openCapture(path, { chunkSize: 64 }))).toEqual(got);
      expect(readAll(readerFromBytes(readFileSync(path), name))).toEqual(got);
    });
  }
});

describe('pcap variants made by the writers', () => {
  const fr = frames(50);
  for (const bigEndian of [false, true]) {
    for (const nanos of [false, true]) {
      it(`${bigEndian ? 'big' : 'little'}-endian, ${nanos ? 'ns' : 'µs'}`, () => {
        const got = readAll(readerFromBytes(pcapBytes(fr, { bigEndian, nanos, linkType: LINKTYPE_RAW })));
        expect(got.length).toBe(fr.length);
        got.forEach((g, i) => {
          const ns = nanos ? fr[i].tsNsec : Math.floor(fr[i].tsNsec / 1000) * 1000;
          expect(g.ts).toBe(`${fr[i].tsSec}.${String(ns).padStart(9, '0')}`);
          expect(g.bytes).toEqual(Array.from(fr[i].data));
          expect(g.capLen).toBe(fr[i].data.length);
          expect(g.wireLen).toBe(fr[i].data.length);
          expect(g.linkType).toBe(LINKTYPE_RAW);
        });
      });
    }
  }

  it('masks the FCS bits above the low 16 of the link type', () => {
    const linkType = LINKTYPE_LINUX_SLL | 0x04000000 | (4 << 28);
    expect(readAll(readerFromBytes(pcapBytes(fr.slice(0, 1), { linkType })))[0].linkType).toBe(LINKTYPE_LINUX_SLL);
  });

  it('PcapWriter streams a file the reader reads back, with frameLen writing a prefix', () => {
    const path = join(tmp, 'writer.pcap');
    const w = new PcapWriter(path, { nanos: true, linkType: LINKTYPE_ETHERNET, snaplen: 65535 });
    const scratch = new Uint8Array(2048).fill(0xab);
    for (const f of fr) w.write(f.data, f.tsSec, f.tsNsec);
    w.write(scratch, 1, 2, 1500, 100);
    w.write(scratch, 3, 4, 2048, 20); // below the byte-loop threshold
    w.close();
    w.close();
    const got = readAll(openCapture(path));
    expect(got.slice(0, fr.length)).toEqual(readAll(readerFromBytes(pcapBytes(fr, { nanos: true }))));
    expect(got[fr.length]).toMatchObject({ capLen: 100, wireLen: 1500, ts: '1.000000002' });
    expect(got[fr.length].bytes).toEqual(new Array(100).fill(0xab));
    expect(got[fr.length + 1]).toMatchObject({ capLen: 20, wireLen: 2048, ts: '3.000000004' });
    expect(() => w.write(scratch, 0, 0)).toThrow(/after close/);
  });

  it('PcapWriter in microseconds truncates the nanoseconds', () => {
    const path = join(tmp, 'writer-us.pcap');
    const w = new PcapWriter(path);
    w.write(fr[0].data, 5, 999_999_999);
    w.close();
    expect(readAll(openCapture(path))[0].ts).toBe('5.999999000');
  });

  it('PcapWriter and the reader handle a record bigger than both of their buffers', () => {
    const path = join(tmp, 'huge.pcap');
    const big = new Uint8Array(9 * 1024 * 1024 + 3);
    for (let i = 0; i < big.length; i += 4096) big[i] = i >>> 12;
    const w = new PcapWriter(path, { nanos: true });
    w.write(fr[0].data, 1, 0);
    w.write(big, 2, 0);
    w.write(fr[1].data, 3, 0);
    w.close();
    const r = openCapture(path);
    const f = new Frame();
    const caps: number[] = [];
    while (r.next(f)) {
      caps.push(f.capLen);
      if (f.capLen === big.length) expect(Buffer.compare(f.buf.subarray(f.off, f.off + f.capLen), big)).toBe(0);
    }
    expect(caps).toEqual([fr[0].data.length, big.length, fr[1].data.length]);
    expect(r.stats.error).toBeNull();
  });
});

describe('chunk boundaries', () => {
  const fr = frames(300);
  const path = tmpFile('straddle.pcap', pcapBytes(fr, { nanos: true }));
  const whole = readAll(openCapture(path));

  for (const chunkSize of [1, 7, 64, 100, 4096]) {
    it(`chunkSize ${chunkSize} gives the same frames as the default window`, () => {
      expect(readAll(openCapture(path, { chunkSize }))).toEqual(whole);
    });
  }

  it('a record larger than the chunk grows the buffer', () => {
    const big = frames(5, (i) => (i === 2 ? 5000 : 60));
    const p = tmpFile('big-record.pcap', pcapBytes(big));
    const got = readAll(openCapture(p, { chunkSize: 64 }));
    expect(got.map((g) => g.capLen)).toEqual([60, 60, 5000, 60, 60]);
    expect(got).toEqual(readAll(readerFromBytes(pcapBytes(big))));
  });

  it('rejects a silly chunk size', () => {
    expect(() => openCapture(path, { chunkSize: 0 })).toThrow(RangeError);
  });
});

describe('bad input: next() never throws, stats say what happened', () => {
  const fr = frames(4, (i) => (i === 3 ? 1514 : 100));
  const good = pcapBytes(fr);
  const lastRecord = good.length - 16 - 1514;

  it('truncated final record', () => {
    for (const r of [readerFromBytes(good.subarray(0, good.length - 1314)),
      openCapture(tmpFile('trunc.pcap', good.subarray(0, good.length - 1314)), { chunkSize: 64 })]) {
      expect(readAll(r).length).toBe(3);
      expect(r.stats.truncatedTailBytes).toBe(16 + 200);
      expect(r.stats.error).toBe(`truncated record at offset ${lastRecord}: header says 1514 bytes, 200 remain`);
      expect(r.stats.errorOffset).toBe(lastRecord);
      expect(r.stats.bytes).toBe(lastRecord);
    }
  });

  it('truncated final record header', () => {
    const r = readerFromBytes(good.subarray(0, lastRecord + 5));
    expect(readAll(r).length).toBe(3);
    expect(r.stats.truncatedTailBytes).toBe(5);
    expect(r.stats.error).toBe(`truncated record header at offset ${lastRecord}: 5 of 16 bytes remain`);
  });

  it('impossible captured length stops with the offset', () => {
    const bad = good.slice();
    new DataView(bad.buffer).setUint32(lastRecord + 8, 0x7fffffff, true);
    const r = readerFromBytes(bad);
    expect(readAll(r).length).toBe(3);
    expect(r.stats.error).toMatch(new RegExp(`^impossible record at offset ${lastRecord}: captured length 2147483647`));
    expect(r.stats.errorOffset).toBe(lastRecord);
    expect(r.stats.truncatedTailBytes).toBe(0);
  });

  it('captured length above snaplen or wire length is kept and counted', () => {
    const odd: SynthFrame[] = [
      { data: new Uint8Array(100), tsSec: 0, tsNsec: 0, wireLen: 60 },
      { data: new Uint8Array(100), tsSec: 0, tsNsec: 0 },
      { data: new Uint8Array(300), tsSec: 0, tsNsec: 0 },
    ];
    const r = readerFromBytes(pcapBytes(odd, { snaplen: 200 }));
    expect(readAll(r).map((g) => [g.capLen, g.wireLen])).toEqual([[100, 60], [100, 100], [300, 300]]);
    expect(r.stats.oddLengths).toBe(2);
    expect(r.stats.error).toBeNull();
  });

  it('carries an out-of-range fraction into the seconds', () => {
    const bad = pcapBytes(fr.slice(0, 1), { nanos: true });
    new DataView(bad.buffer).setUint32(24 + 4, 2_500_000_000, true);
    expect(readAll(readerFromBytes(bad))[0].ts).toBe(`${fr[0].tsSec + 2}.500000000`);
  });
});

describe('opening', () => {
  it('not a capture: names the file and the bytes seen', () => {
    const path = tmpFile('notes.txt', new TextEncoder().encode('hello, world\n'));
    expect(() => openCapture(path)).toThrow(CaptureFormatError);
    expect(() => openCapture(path)).toThrow(path);
    expect(() => openCapture(path)).toThrow('68656c6c6f2c2077');
    try {
      openCapture(path);
    } catch (e) {
      expect((e as CaptureFormatError).code).toBe('TWC0001');
      expect((e as CaptureFormatError).magic).toBe('68656c6c6f2c2077');
    }
  });

  it('empty file', () => {
    const path = tmpFile('empty.pcap', new Uint8Array(0));
    expect(() => openCapture(path)).toThrow(/empty\.pcap: .*file is empty/);
  });

  it('shorter than the header', () => {
    const path = tmpFile('short.pcap', pcapBytes([]).subarray(0, 10));
    expect(() => openCapture(path)).toThrow(/short\.pcap: .*d4c3b2a1.*10 bytes, shorter than the 24-byte pcap header/);
    expect(() => openCapture(tmpFile('tiny', new Uint8Array([1, 2])))).toThrow(/first bytes 0102.*only 2 bytes/);
  });

  it('a header alone is a valid empty capture', () => {
    const r = openCapture(tmpFile('header-only.pcap', pcapBytes([])));
    expect(readAll(r)).toEqual([]);
    expect(r.stats).toMatchObject({ frames: 0, bytes: 24, error: null });
  });

  it('a missing file throws the fs error with the path', () => {
    const path = join(tmp, 'no-such.pcap');
    expect(() => openCapture(path)).toThrow(/ENOENT.*no-such\.pcap/);
  });

  it('an unreadable file (a directory) throws the read error with the path', () => {
    expect(() => openCapture(tmp)).toThrow(new RegExp(`^${tmp}: read failed at offset 0: EISDIR`));
  });
});
