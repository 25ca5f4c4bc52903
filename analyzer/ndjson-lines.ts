// Lines of an NDJSON stream, split on the bytes: node:readline's async iterator costs about three times
// as much a line, which at tens of thousands of records a second is a tenth of `analyze --in`'s time;
// so does an await per line, hence the lines of each chunk read come at once. Lines stay bytes:
// `analyze` reads a line's group from them and hands them to a worker thread as they are.

import { read } from 'node:fs';
import { promisify } from 'node:util';
import { OutputError } from '../contracts/output-error.js';

const readInto = promisify(read);

/**
 * The bytes of `fd` a chunk at a time, every chunk read into the same buffer: a chunk (and every line
 * of it) is good until the next one is asked for. A file read as a stream gets a new buffer a chunk,
 * whose memory V8 counts against the main thread's heap: on a 570 MB input that was 26 full
 * collections of it, most of the main thread's time. A read that fails (a directory opens but does not
 * read; a disk error) is an OutputError naming `path`.
 */
export async function* fileChunks(fd: number, path: string, size = 1 << 20): AsyncGenerator<Buffer> {
  const buffer = Buffer.allocUnsafeSlow(size);
  for (;;) {
    let bytesRead: number;
    try {
      ({ bytesRead } = await readInto(fd, buffer, 0, size, null));
    } catch (err) {
      throw OutputError.from('read', path, err);
    }
    if (bytesRead === 0) return;
    yield buffer.subarray(0, bytesRead);
  }
}

/** A line longer than this is no record (a record is a few kB): it is not held, only counted. */
export const MAX_LINE_BYTES = 64 << 20;

/** Stands for a line longer than the limit, which is not kept: compare by identity. */
export const LINE_TOO_LONG: Buffer = Buffer.alloc(0);

/**
 * The bytes of each line of `input` (without its "\n" or "\r\n"; a last line without "\n" too), the
 * lines of each chunk read at once; a line over `maxLine` bytes comes as LINE_TOO_LONG, its bytes let go
 * as they come. The lines may share the chunk's memory: they are good until the next chunk's lines are
 * asked for, as the chunks themselves may be (fileChunks).
 */
export async function* ndjsonLines(input: AsyncIterable<Buffer>, maxLine = MAX_LINE_BYTES): AsyncGenerator<Buffer[]> {
  // The start of a line that straddles chunks, in copies (the chunk's memory may be read into again),
  // joined once at its end: joining at every chunk made a 200 MB line take 23 s.
  let pieces: Buffer[] = [];
  let held = 0;
  let tooLong = false;
  const hold = (b: Buffer) => {
    held += b.length;
    if (held > maxLine) {
      tooLong = true;
      pieces = [];
    } else if (!tooLong && b.length > 0) pieces.push(Buffer.from(b));
  };
  const take = (last: Buffer): Buffer => {
    hold(last);
    const line = tooLong ? LINE_TOO_LONG : pieces.length === 1 ? pieces[0] : Buffer.concat(pieces);
    pieces = [];
    held = 0;
    tooLong = false;
    return line;
  };
  for await (const chunk of input) {
    const lines: Buffer[] = [];
    let start = 0;
    let nl = chunk.indexOf(10);
    if (held > 0 || tooLong) {
      if (nl < 0) {
        hold(chunk);
        continue;
      }
      lines.push(withoutCr(take(chunk.subarray(0, nl))));
      start = nl + 1;
      nl = chunk.indexOf(10, start);
    }
    for (; nl >= 0; nl = chunk.indexOf(10, start)) {
      lines.push(nl - start > maxLine ? LINE_TOO_LONG : withoutCr(chunk.subarray(start, nl)));
      start = nl + 1;
    }
    if (start < chunk.length) hold(chunk.subarray(start));
    if (lines.length) yield lines;
  }
  if (held > 0 || tooLong) yield [withoutCr(take(Buffer.alloc(0)))];
}

const withoutCr = (line: Buffer): Buffer => (line.length > 0 && line[line.length - 1] === 13 ? line.subarray(0, line.length - 1) : line);
