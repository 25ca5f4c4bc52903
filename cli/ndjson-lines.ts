// Lines of an NDJSON stream, split on the bytes: node:readline's async iterator costs about three times
// as much a line, which at tens of thousands of records a second is a tenth of `analyze --in`'s time;
// so does an await per line, hence the lines of each chunk read come at once. Lines stay bytes:
// `analyze` reads a line's group from them and hands them to a worker thread as they are.

import type { Readable } from 'node:stream';

/** The bytes of each line of `input` (without its "\n" or "\r\n"; a last line without "\n" too), the lines of each chunk read at once. */
export async function* ndjsonLines(input: Readable): AsyncGenerator<Buffer[]> {
  let rest: Buffer | null = null;
  for await (const chunk of input as AsyncIterable<Buffer>) {
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
    rest = start < chunk.length ? chunk.subarray(start) : null;
    if (lines.length) yield lines;
  }
  if (rest) yield [withoutCr(rest)];
}

const withoutCr = (line: Buffer): Buffer => (line.length > 0 && line[line.length - 1] === 13 ? line.subarray(0, line.length - 1) : line);
