// Opening a capture: sniff the magic and hand the bytes to the pcap or pcapng reader.

import { ByteSource, DEFAULT_CHUNK, NATIVE_CHUNK, leadingHex, type ReadAhead, type ReadInto } from './byte-source.js';
import { CaptureFormatError, type FrameReader } from './frame.js';
import { PcapReader, isPcapMagic } from './pcap.js';
import { PcapngReader, isPcapngMagic } from './pcapng.js';

export interface OpenCaptureOptions {
  /** Size of the one read buffer (default NATIVE_CHUNK with `read`, else DEFAULT_CHUNK); it grows only for a record larger than itself. */
  chunkSize?: number;
  /** A read that allocates nothing (the pcap addon's: collector/sources/pcap-native); fs.readSync without it. */
  read?: ReadInto | null;
  /** Reads each window on another thread while the one before it is parsed (the pcap addon's ReadAhead). */
  readAhead?: ((fd: number) => ReadAhead) | null;
}

/**
 * Streams a pcap or pcapng file through one fixed buffer. Throws the fs error for an unreadable file
 * and CaptureFormatError for one that is empty, too short, or not a capture.
 */
export function openCapture(path: string, opts: OpenCaptureOptions = {}): FrameReader {
  const read = opts.read ?? null;
  const src = ByteSource.fromFile(path, opts.chunkSize ?? (read ? NATIVE_CHUNK : DEFAULT_CHUNK), read, opts.readAhead ?? null);
  try {
    return readerFor(src);
  } catch (e) {
    src.close();
    throw e;
  }
}

/** The same readers over a capture already in memory; frames point into `bytes`. */
export function readerFromBytes(bytes: Uint8Array, name = '<memory>'): FrameReader {
  return readerFor(ByteSource.fromBytes(bytes, name));
}

function readerFor(src: ByteSource): FrameReader {
  src.ensure(4);
  // readSync errors do not name the file (EISDIR, EIO): prefix the path as openSync's errors do.
  if (src.readError !== null) throw new Error(`${src.path}: ${src.readError}`);
  if (src.end === 0) throw new CaptureFormatError(src.path, '(none)', 'file is empty');
  if (isPcapMagic(src)) return new PcapReader(src);
  if (isPcapngMagic(src)) return new PcapngReader(src);
  throw new CaptureFormatError(src.path, leadingHex(src.buf, src.end), src.end < 4
    ? `file is only ${src.end} bytes`
    : 'magic is neither pcap (a1b2c3d4, a1b23c4d, either byte order) nor pcapng (0a0d0d0a)');
}
