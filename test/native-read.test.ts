// The pcap addon's readInto, which capture files are read through when the addon is built (collect,
// decap): the same bytes and frames as fs.readSync, errors as -errno, and no write outside the array.

import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nativeRead } from '../collector/sources/pcap-native/pcap.js';
import { openCapture } from '../gre-decap/readers/capture.js';
import { Frame, type FrameReader } from '../gre-decap/readers/frame.js';
import { fixtureFrames } from './helpers/fixture-frames.js';
import { PcapWriter } from '../synth/capture-file.js';

const dir = mkdtempSync(join(tmpdir(), 'tapwatch-native-read-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function frames(r: FrameReader): string[] {
  const out: string[] = [];
  const f = new Frame();
  while (r.next(f)) out.push(`${f.tsSec}.${f.tsNsec} ${f.wireLen} ${Buffer.from(f.buf.subarray(f.off, f.off + f.capLen)).toString('hex')}`);
  expect(r.stats.error).toBeNull();
  return out;
}

describe('readInto', () => {
  const read = nativeRead();

  it('is there: npm ci builds the addon (without it, capture files are read with fs.readSync)', () => {
    expect(read).toBeTypeOf('function');
  });

  it('reads what fs.readSync reads, 0 at the end, -errno on a directory; refuses a range outside the array', () => {
    const path = join(dir, 'bytes');
    const bytes = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 7) & 255));
    writeFileSync(path, bytes);
    const fd = openSync(path, 'r');
    try {
      const buf = new Uint8Array(70_000).fill(1);
      expect(read!(fd, buf, 5, 60_000)).toBe(60_000);
      expect(Buffer.from(buf.subarray(5, 60_005)).equals(bytes.subarray(0, 60_000))).toBe(true);
      expect(buf[4]).toBe(1);
      expect(buf[60_005]).toBe(1);
      expect(read!(fd, buf, 0, 70_000)).toBe(40_000);
      expect(read!(fd, buf, 0, 70_000)).toBe(0);
      expect(readSync(fd, buf, 0, 10, null)).toBe(0);
      expect(() => read!(fd, buf, 1, 70_000)).toThrow(/within a Uint8Array/);
      expect(() => read!(fd, buf, -1, 10)).toThrow(/within a Uint8Array/);
    } finally {
      closeSync(fd);
    }
    const d = openSync(dir, 'r');
    try {
      expect(read!(d, new Uint8Array(16), 0, 16)).toBe(-21); // EISDIR
    } finally {
      closeSync(d);
    }
    // A capture opened with it says what failed as Node says it (fs.readSync tries the failed read again).
    expect(() => openCapture(dir, { read })).toThrow(new RegExp(`^${dir}: read failed at offset 0: EISDIR: illegal operation on a directory, read`));
  });

  it('gives a capture the frames fs.readSync gives, whatever the window', () => {
    const path = join(dir, 'mirror.pcap');
    const fr = fixtureFrames().slice(0, 3000);
    const w = new PcapWriter(path);
    fr.forEach((f, i) => w.write(f.data, 1_767_225_600 + i, i * 1000));
    w.close();
    const want = frames(openCapture(path));
    expect(want.length).toBe(3000);
    for (const chunkSize of [64, 4096, undefined]) expect(frames(openCapture(path, { read, chunkSize })), String(chunkSize)).toEqual(want);
    expect(readFileSync(path).length).toBeGreaterThan(1 << 16);
  });
});
