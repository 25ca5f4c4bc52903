// Lines of an NDJSON stream, split on the bytes: node:readline's async iterator costs about three times
// as much a line, which at tens of thousands of records a second is a tenth of `analyze --in`'s time;
// so does an await per line, hence the lines of each chunk read come at once. Lines stay bytes:
// `analyze` reads a line's group from them and hands them to a worker thread as they are.

import { read } from 'node:fs';
import { promisify } from 'node:util';

const readInto = promisify(read);

/**
 * The bytes of `fd` a chunk at a time, every chunk read into the same buffer: a chunk (and every line
 * of it) is good until the next one is asked for. A file read as a stream gets a new buffer a chunk,
 * whose memory V8 counts against the main thread's heap: on a 570 MB input that was 26 full
 * collections of it, most of the main thread's time.
 */
export async function* fileChunks(fd: number, size = 1 << 20): AsyncGenerator<Buffer> {
  const buffer = Buffer.allocUnsafeSlow(size);
  for (;;) {
    const { bytesRead } = await readInto(fd, buffer, 0, size, null);
    if (bytesRead === 0) return;
    yield buffer.subarray(0, bytesRead);
  }
}

/**
 * The bytes of each line of `input` (without its "\n" or "\r\n"; a last line without "\n" too), the
 * lines of each chunk read at once. The lines may share the chunk's memory: they are good until the
 * next chunk's lines are asked for, as the chunks themselves may be (fileChunks).
 */
export async function* ndjsonLines(input: AsyncIterable<Buffer>): AsyncGenerator<Buffer[]> {
  let rest: Buffer | null = null;
  for await (const chunk of input) {
    const lines: Buffer[] = [];
    let start = 0;
    let nl = chunk.indexOf(10);
    if (rest) {
      // Only the line that straddles two chunks is copied, not the chunk.
      if (nl < 0) {
        rest = Buffer.concat([rest, chunk]);
        continue;
      }
      lines.push(withoutCr(Buffer.concat([rest, chunk.subarray(0, nl)])));
      start = nl + 1;
      nl = chunk.indexOf(10, start);
    }
    for (; nl >= 0; nl = chunk.indexOf(10, start)) {
      lines.push(withoutCr(chunk.subarray(start, nl)));
      start = nl + 1;
    }
    // A copy: the chunk's memory may be read into again before the line's end comes.
    rest = start < chunk.length ? Buffer.from(chunk.subarray(start)) : null;
    if (lines.length) yield lines;
  }
  if (rest) yield [withoutCr(rest)];
}

const withoutCr = (line: Buffer): Buffer => (line.length > 0 && line[line.length - 1] === 13 ? line.subarray(0, line.length - 1) : line);
