// The contract between capture readers (pcap, pcapng, live) and the decoder: one Frame object,
// reused for every frame, pointing into the reader's own buffer. Valid until the next call.

import type { ErrorCode } from '../../contracts/errors.js';

const EMPTY = new Uint8Array(0);

export class Frame {
  buf: Uint8Array = EMPTY; // the reader's buffer; the frame is buf[off, off + capLen)
  off = 0;
  capLen = 0; // bytes captured
  wireLen = 0; // bytes on the wire
  tsSec = 0; // seconds since the epoch
  tsNsec = 0; // nanoseconds within the second, whatever the file's resolution
  linkType = 0; // LINKTYPE_* of the interface the frame came from
  iface = 0; // pcapng interface index (0 for classic pcap)
}

/** What a reader counted while reading; everything it could not turn into a frame is here. */
export interface ReaderStats {
  frames: number;
  bytes: number; // file bytes consumed
  /** Bytes at the end of the file that did not form a whole record (a truncated final record). */
  truncatedTailBytes: number;
  /** Set when reading stopped before the end of the file: what was wrong, and at which byte offset. */
  error: string | null;
  errorOffset: number;
  /** pcapng blocks skipped because their type is not one we read (NRB, ISB, custom, ...). */
  skippedBlocks: number;
  /** Frames whose captured length exceeded the interface snaplen or the wire length (kept, but counted). */
  oddLengths: number;
}

/** A source of frames read one at a time (pull), so replay can pace and the caller owns the loop. */
export interface FrameReader {
  readonly path: string;
  readonly format: 'pcap' | 'pcapng';
  /** Fill `f` with the next frame; false at the end of the input or when reading had to stop (see stats.error). */
  next(f: Frame): boolean;
  readonly stats: ReaderStats;
  close(): void;
}

/** Thrown when a file is not a capture at all: names the file and the magic seen. */
export class CaptureFormatError extends Error {
  readonly code: ErrorCode = 'TWC0001';
  constructor(readonly path: string, readonly magic: string, detail: string) {
    super(`${path}: not a pcap or pcapng capture (first bytes ${magic}): ${detail}`);
    this.name = 'CaptureFormatError';
  }
}
