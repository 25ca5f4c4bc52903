// The bytes under a capture reader: one buffer that is either a whole in-memory capture or a
// fixed-size window onto a file, refilled in place. Both readers parse through this, so file and
// in-memory input share every line of parsing code. Also the two small helpers both readers need.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { ReaderStats } from './frame.js';

/** With fs.readSync: eight times fewer of its calls, which allocate (see ReadInto), than a 1 MiB window. */
export const DEFAULT_CHUNK = 8 * 1024 * 1024;

/**
 * With a read that allocates nothing: the parser then meets the bytes just read while this machine's L2
 * (1 MiB a core) still holds them; from an 8 MiB window they came back from L3 (`decap --json` on the
 * 5M-packet bench capture, 8 alternating runs: median 2.02 -> 1.78 s; in two sweeps of 128 KiB to 8 MiB,
 * 1 MiB had the best median and 8 MiB the worst).
 */
export const NATIVE_CHUNK = 1024 * 1024;

/**
 * read(2) of up to `length` bytes into bytes[offset, ...): the bytes read (0 at the end) or -errno, and
 * nothing allocated on the JavaScript heap (the native addon's readInto). Without one, fs.readSync, which
 * allocates 310-400 bytes a call until V8 has optimised it (not yet after a thousand calls).
 */
export type ReadInto = (fd: number, bytes: Uint8Array, offset: number, length: number) => number;
/**
 * The same read done on another thread while the caller parses what the last one read: start() asks for
 * it, wait() blocks until it is done and gives what ReadInto would have (the pcap addon's ReadAhead).
 */
export interface ReadAhead {
  start(bytes: Uint8Array, offset: number, length: number): void;
  wait(): number;
  /** Waits for a read in flight; the descriptor stays open. */
  close(): void;
}

/**
 * Room in front of a window read ahead for the unread tail of the one before it (a record cut by the
 * window's end), copied there when the windows are swapped: any record of a 256 KiB snaplen fits.
 */
const AHEAD_HEAD = 256 * 1024 + 64;

/** Largest record a reader accepts; anything bigger is corruption, not a packet (and bounds the buffer). */
export const MAX_RECORD = 64 * 1024 * 1024;

export class ByteSource {
  /** The current window; valid bytes are buf[pos, end). Replaced only when a record outgrows it. */
  buf: Uint8Array;
  /**
   * The same bytes for header fields. DataView getters are compiled inline by TurboFan, whereas a
   * helper returning a uint32 above 2^30 boxes it into a heap number whenever it is not inlined.
   */
  view: DataView;
  pos = 0;
  end: number;
  /** File offset of buf[0]. */
  base = 0;
  /** Set when reading the file failed; the reader reports it through its stats. */
  readError: string | null = null;
  private fd: number;
  /**
   * Reading ahead: the next window is read on another thread into `spare` (from AHEAD_HEAD on, `chunk`
   * bytes) while this one is parsed, and the two are swapped when this one runs out. Stopped for good
   * (null) by a record too large for the scheme, the end of the file or a failed read: the plain reads
   * below then carry on from where it stopped.
   */
  private ahead: ReadAhead | null = null;
  private asked = false;
  private spare: Uint8Array;
  private spareView: DataView;
  private readonly chunk: number;

  private constructor(buf: Uint8Array, end: number, fd: number, readonly path: string, private readonly read: ReadInto | null = null, ahead: ReadAhead | null = null) {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.end = end;
    this.fd = fd;
    this.chunk = buf.length - (ahead ? AHEAD_HEAD : 0);
    this.ahead = ahead;
    this.spare = ahead ? new Uint8Array(buf.length) : buf;
    this.spareView = ahead ? new DataView(this.spare.buffer) : this.view;
  }

  /**
   * Opens the file (fs errors propagate, naming the path); the first ensure() reads the first window.
   * With `readAhead`, every later window is read while the one before it is parsed.
   */
  static fromFile(path: string, chunkSize = DEFAULT_CHUNK, read: ReadInto | null = null, readAhead: ((fd: number) => ReadAhead) | null = null): ByteSource {
    if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > MAX_RECORD) {
      throw new RangeError(`chunkSize must be an integer in [1, ${MAX_RECORD}], got ${chunkSize}`);
    }
    const fd = openSync(path, 'r');
    let ahead: ReadAhead | null = null;
    try {
      // Only a regular file: it reads a whole window at once (a pipe gives what its writer has written, and
      // its reader would wait for a whole window before the frames already there were seen).
      if (readAhead && fstatSync(fd).isFile()) ahead = readAhead(fd);
      return new ByteSource(new Uint8Array(chunkSize + (ahead ? AHEAD_HEAD : 0)), 0, fd, path, read, ahead);
    } catch (e) {
      ahead?.close();
      closeSync(fd);
      throw e;
    }
  }

  /** Reads straight from `bytes`, which frames will then point into. */
  static fromBytes(bytes: Uint8Array, name: string): ByteSource {
    return new ByteSource(bytes, bytes.length, -1, name);
  }

  /** File offset of the next unread byte. */
  get offset(): number {
    return this.base + this.pos;
  }

  /**
   * True when buf[pos, pos + n) holds n bytes (n <= MAX_RECORD). False at the end of the input, with
   * every byte left in buf[pos, end). May move the unread bytes, so re-read buf and pos after a call.
   */
  ensure(n: number): boolean {
    return this.end - this.pos >= n || this.refill(n);
  }

  close(): void {
    // The thread reads from the descriptor: it is done with it before the descriptor is closed.
    this.ahead?.close();
    this.ahead = null;
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
    }
  }

  private refill(n: number): boolean {
    if (this.fd < 0) return false;
    if (this.asked && this.swap(n)) return true;
    this.compact();
    while (this.end < n) {
      // Grow only once the window is full and the file still has more: a truncated tail never grows it.
      if (this.end === this.buf.length) this.grow(n);
      // A failed native read (-errno) is tried again by fs.readSync, whose error says what went wrong as
      // Node says it (and the rare transient failure then costs nothing).
      let got = this.read ? this.read(this.fd, this.buf, this.end, this.buf.length - this.end) : -1;
      if (got < 0) {
        try {
          got = readSync(this.fd, this.buf, this.end, this.buf.length - this.end, null);
        } catch (e) {
          this.readError = `read failed at offset ${this.base + this.end}: ${(e as Error).message}`;
          got = 0;
        }
      }
      if (got === 0) {
        this.close();
        return false;
      }
      this.end += got;
    }
    // Not before the file header is parsed: the readers find it at the window's start, which a swap moves.
    if (this.ahead !== null && !this.asked && this.base + this.pos > 0) {
      this.ahead.start(this.spare, AHEAD_HEAD, this.chunk);
      this.asked = true;
    }
    return true;
  }

  /** Moves on to the window read ahead (and asks for the next) until n bytes are in hand; false when reading ahead stopped. */
  private swap(n: number): boolean {
    const ahead = this.ahead!;
    for (;;) {
      const left = this.end - this.pos;
      if (left > AHEAD_HEAD || n > this.chunk) return this.stopAhead();
      const got = ahead.wait();
      this.asked = false;
      // The end of the file, or a failure the plain read meets again and words as Node does.
      if (got <= 0) return this.stopAhead();
      const next = this.spare;
      next.set(this.buf.subarray(this.pos, this.end), AHEAD_HEAD - left);
      this.base += this.pos - (AHEAD_HEAD - left);
      this.spare = this.buf;
      this.buf = next;
      const view = this.spareView;
      this.spareView = this.view;
      this.view = view;
      this.pos = AHEAD_HEAD - left;
      this.end = AHEAD_HEAD + got;
      ahead.start(this.spare, AHEAD_HEAD, this.chunk);
      this.asked = true;
      if (this.end - this.pos >= n) return true;
    }
  }

  /** Reading ahead stops for good; what a read in flight brought is appended to this window. */
  private stopAhead(): false {
    const got = this.asked ? this.ahead!.wait() : 0;
    this.asked = false;
    this.ahead!.close();
    this.ahead = null;
    if (got > 0) {
      this.compact();
      if (this.end + got > this.buf.length) this.grow(this.end + got);
      this.buf.set(this.spare.subarray(AHEAD_HEAD, AHEAD_HEAD + got), this.end);
      this.end += got;
    }
    this.spare = this.buf;
    this.spareView = this.view;
    return false;
  }

  /** Moves the unread bytes to the window's start. */
  private compact(): void {
    if (this.pos === 0) return;
    this.buf.copyWithin(0, this.pos, this.end);
    this.base += this.pos;
    this.end -= this.pos;
    this.pos = 0;
  }

  private grow(n: number): void {
    // Next power of two: one or two growths cover any later record of similar size.
    let size = this.buf.length;
    while (size < n) size *= 2;
    // Above MAX_RECORD only when a window read ahead is appended whole (stopAhead).
    const next = new Uint8Array(Math.max(n, Math.min(size, MAX_RECORD)));
    next.set(this.buf.subarray(0, this.end));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
}

/** Hex of the first bytes (up to 8), for error messages about what a file starts with. */
export function leadingHex(b: Uint8Array, end: number): string {
  let s = '';
  for (let i = 0; i < end && i < 8; i++) s += b[i].toString(16).padStart(2, '0');
  return s;
}

export function newStats(): ReaderStats {
  return { frames: 0, bytes: 0, truncatedTailBytes: 0, error: null, errorOffset: 0, skippedBlocks: 0, oddLengths: 0 };
}
