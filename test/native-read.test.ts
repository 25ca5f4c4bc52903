// The pcap addon's readInto and ReadAhead, which capture files are read through when the addon is built
// (collect, decap): the same bytes and frames as fs.readSync, errors as -errno, no write outside the array,
// and, read ahead, the same frames and the same truncated tail whatever the window and the records' sizes.

import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nativeRead, nativeReadAhead } from '../collector/sources/pcap-native/pcap.js';
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
    for (const chunkSize of [64, 4096, undefined]) {
      expect(frames(openCapture(path, { read, chunkSize })), String(chunkSize)).toEqual(want);
      // Read ahead to the end of the file: the last window read ahead comes back empty.
      expect(frames(openCapture(path, { read, readAhead: nativeReadAhead(), chunkSize })), `ahead ${chunkSize}`).toEqual(want);
    }
    expect(readFileSync(path).length).toBeGreaterThan(1 << 16);
    // Cut inside its last record, read ahead: the window that holds the cut record's start may be followed
    // by one too short for it, then by none; the record is reported as the tail it is, not read past the end.
    // Reading ahead starts after the first two windows (the first holds the file header), so the file is
    // larger here, and the windows' sizes are swept for one whose last boundary falls inside the cut record.
    const cutPath = join(dir, 'cut.pcap');
    const cw = new PcapWriter(cutPath);
    const small = fixtureFrames().slice(0, 3000);
    for (let i = 0; i < 20_000; i++) cw.write(small[i % small.length].data, 1_767_225_600 + i, 0);
    cw.close();
    truncateSync(cutPath, readFileSync(cutPath).length - 20);
    const plain = openCapture(cutPath);
    const cut = framesOf(plain);
    expect(cut.length).toBe(19_999);
    for (const chunkSize of [...Array.from({ length: 60 }, (_, k) => 2048 + 13 * k), 65_536, undefined]) {
      const ahead = openCapture(cutPath, { read, readAhead: nativeReadAhead(), chunkSize });
      expect(framesOf(ahead), `cut, ahead ${chunkSize}`).toEqual(cut);
      expect(ahead.stats, `cut, ahead ${chunkSize}`).toEqual(plain.stats);
    }
  });
});

describe('ReadAhead', () => {
  const read = nativeRead();
  const readAhead = nativeReadAhead();

  it('reads on its own thread what readInto reads, in order, 0 at the end, -errno on a directory; says what is misused', () => {
    expect(readAhead).toBeTypeOf('function');
    const path = join(dir, 'ahead-bytes');
    const bytes = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 13) & 255));
    writeFileSync(path, bytes);
    const fd = openSync(path, 'r');
    const ra = readAhead!(fd);
    try {
      expect(() => ra.wait()).toThrow(/no read in flight/);
      const a = new Uint8Array(70_000).fill(1);
      const b = new Uint8Array(70_000).fill(1);
      ra.start(a, 5, 60_000);
      expect(() => ra.start(b, 0, 10)).toThrow(/already in flight/);
      expect(ra.wait()).toBe(60_000);
      ra.start(b, 0, 70_000);
      expect(Buffer.from(a.subarray(5, 60_005)).equals(bytes.subarray(0, 60_000))).toBe(true);
      expect([a[4], a[60_005]]).toEqual([1, 1]);
      expect(ra.wait()).toBe(40_000);
      expect(Buffer.from(b.subarray(0, 40_000)).equals(bytes.subarray(60_000))).toBe(true);
      ra.start(b, 0, 10);
      expect(ra.wait()).toBe(0);
      expect(() => ra.start(b, 1, 70_000)).toThrow(/within a Uint8Array/);
      ra.start(b, 0, 10);
      ra.close(); // waits for the read in flight
      ra.close();
      expect(() => ra.start(b, 0, 10)).toThrow(/closed/);
    } finally {
      closeSync(fd);
    }
    const d = openSync(dir, 'r');
    const rd = readAhead!(d);
    try {
      rd.start(new Uint8Array(16), 0, 16);
      expect(rd.wait()).toBe(-21); // EISDIR
    } finally {
      rd.close();
      closeSync(d);
    }
    // A capture read ahead says what failed as Node says it (the plain read meets the failure again).
    expect(() => openCapture(dir, { read, readAhead })).toThrow(/read failed at offset 0: EISDIR/);
  });

  it('gives a capture the frames and the truncated tail fs.readSync gives, whatever the window, records larger than it included', () => {
    const path = join(dir, 'ahead.pcap');
    const fr = fixtureFrames();
    const w = new PcapWriter(path, { snaplen: 0 });
    // Records of every size against the windows below: small ones, and among them one over the 256 KiB room
    // kept in front of a window read ahead, one that may or may not be, and one over the default window.
    const big = new Map([[8000, 300_000], [12_000, 600_000], [16_000, 1_500_000]]);
    let offset = 24; // the file header; then each record's 16-byte header and its bytes
    let firstBig = 0;
    for (let i = 0; i < 20_000; i++) {
      const data = fr[i % fr.length].data;
      w.write(data, 1_767_225_600 + i, i * 1000);
      offset += 16 + data.length;
      const n = big.get(i);
      if (n) {
        firstBig ||= offset;
        w.write(Uint8Array.from({ length: n }, (_, k) => (k * i) & 255), 1_767_230_000 + i, 0);
        offset += 16 + n;
      }
    }
    w.close();
    const size = readFileSync(path).length;
    for (const cut of [0, 20]) {
      if (cut) truncateSync(path, size - cut);
      const plain = openCapture(path);
      const want = framesOf(plain);
      expect(want.length, JSON.stringify(plain.stats)).toBe(20_003 - (cut ? 1 : 0));
      // With windows of firstBig + 10,000 bytes (read ahead from the third on), the window holding the start of
      // the 600 kB record, which is smaller than a window, ends about 384 kB into it: more than the 256 KiB
      // room in front of the next window holds, so reading ahead stops there (the one path the other sizes miss).
      for (const chunkSize of [64, 4096, 65_536, firstBig + 10_000, undefined]) {
        const ahead = openCapture(path, { read, readAhead, chunkSize });
        expect(framesOf(ahead), `${chunkSize} cut ${cut}`).toEqual(want);
        expect(ahead.stats, `${chunkSize} cut ${cut}`).toEqual(plain.stats);
      }
    }
  });
});

describe('a capture through a pipe', () => {
  it('whose writer sends the file header in pieces gives the frames of the file, read ahead or not', async () => {
    const path = join(dir, 'piped.pcap');
    const w = new PcapWriter(path);
    fixtureFrames().slice(0, 2000).forEach((f, i) => w.write(f.data, 1_767_225_600 + i, i * 1000));
    w.close();
    const want = framesOf(openCapture(path));
    for (const readAhead of [undefined, nativeReadAhead()]) {
      const fifo = join(dir, `fifo-${readAhead ? 'ahead' : 'plain'}`);
      execFileSync('mkfifo', [fifo]);
      // 4 bytes, a pause, the rest: the reader's first read ends inside the 24-byte header.
      const writer = spawn('sh', ['-c', '(head -c 4 "$0"; sleep 0.3; tail -c +5 "$0") > "$1"', path, fifo], { stdio: 'ignore' });
      const exited = once(writer, 'exit');
      const r = openCapture(fifo, { read: nativeRead(), readAhead });
      expect(framesOf(r), readAhead ? 'ahead' : 'plain').toEqual(want);
      expect(r.stats.error).toBeNull();
      expect(await exited).toEqual([0, null]);
    }
  });
});

function framesOf(r: FrameReader): string[] {
  const out: string[] = [];
  const f = new Frame();
  while (r.next(f)) out.push(`${f.tsSec}.${f.tsNsec} ${f.wireLen} ${Buffer.from(f.buf.subarray(f.off, f.off + f.capLen)).toString('hex')}`);
  return out;
}
