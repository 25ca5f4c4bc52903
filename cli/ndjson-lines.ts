// Lines of an NDJSON stream, split on the bytes: node:readline's async iterator costs about three times
// as much a line, which at tens of thousands of records a second is a tenth of `analyze --in`'s time;
// so does an await per line, hence the lines of each chunk read come at once. Lines stay bytes:
// `analyze` reads a line's group from them and hands them to a worker thread as they are.

import type { Readable } from 'node:stream';

/** The bytes of each line of `input` (without its "\n" or "\r\n"; a last line without "\n" too), the lines of each chunk read at once. */
export async function* ndjsonLines(input: Readable): AsyncGenerator<Buffer[]> {
  let rest: Buffer | null = null;
  for await (const chunk of input as AsyncIterable<Buffer>) {
    const buf: Buffer = rest ? Buffer.concat([rest, chunk]) : chunk;
    const lines: Buffer[] = [];
    let start = 0;
    for (let nl = buf.indexOf(10, start); nl >= 0; nl = buf.indexOf(10, start)) {
      lines.push(buf.subarray(start, nl > start && buf[nl - 1] === 13 ? nl - 1 : nl));
      start = nl + 1;
    }
    rest = start < buf.length ? buf.subarray(start) : null;
    if (lines.length) yield lines;
  }
  if (rest) yield [rest.subarray(0, rest[rest.length - 1] === 13 ? rest.length - 1 : rest.length)];
}
