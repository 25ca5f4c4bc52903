import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { closeSync, mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileChunks, LINE_TOO_LONG, ndjsonLines } from './ndjson-lines.js';

async function lines(chunks: (string | Buffer)[]): Promise<string[]> {
  const out: string[] = [];
  for await (const ls of ndjsonLines(Readable.from(chunks.map((c) => Buffer.from(c))))) out.push(...ls.map((l) => l.toString('utf8')));
  return out;
}

describe('ndjsonLines', () => {
  it('splits on \\n and \\r\\n, across chunk boundaries, keeping empty lines and a last line without a newline', async () => {
    expect(await lines(['{"a":1}\n{"b"', ':2}\r\n\n{"c":3}'])).toEqual(['{"a":1}', '{"b":2}', '', '{"c":3}']);
    expect(await lines(['x\r', '\ny\n'])).toEqual(['x', 'y']);
    expect(await lines(['{"a"', ':', '1}\n{', '"b":2}'])).toEqual(['{"a":1}', '{"b":2}']); // a line over three chunks
    expect(await lines([])).toEqual([]);
  });

  it('decodes UTF-8 split between chunks whole', async () => {
    const b = Buffer.from('{"name":"ü日本"}\n');
    expect(await lines([b.subarray(0, 12), b.subarray(12)])).toEqual(['{"name":"ü日本"}']); // byte 12 is inside 日
  });

  it('reads a file through one reused buffer: lines that straddle its reads come whole', async () => {
    const records = Array.from({ length: 200 }, (_, i) => JSON.stringify({ n: i, pad: 'x'.repeat(i % 37) }));
    const path = join(mkdtempSync(join(tmpdir(), 'ndjson-')), 'r.ndjson');
    writeFileSync(path, records.join('\n') + '\n');
    const fd = openSync(path, 'r');
    const out: string[] = [];
    try {
      // 13 bytes a read: nearly every line straddles reads, and each read overwrites the last one's bytes.
      for await (const ls of ndjsonLines(fileChunks(fd, path, 13))) out.push(...ls.map((l) => l.toString('utf8')));
    } finally {
      closeSync(fd);
    }
    expect(out).toEqual(records);
  });

  it('lets a line over the limit go as it comes, whether inside one chunk or over many, and keeps the lines around it', async () => {
    const got: (string | null)[] = [];
    const chunks = ['ok1\n' + 'x'.repeat(20) + '\nok2\nyy', 'y'.repeat(30), 'yyy\nok3\nzz', 'zzzzzzzzzzzzzzzzzzzz'];
    for await (const ls of ndjsonLines(Readable.from(chunks.map((c) => Buffer.from(c))), 10)) {
      got.push(...ls.map((l) => (l === LINE_TOO_LONG ? null : l.toString('utf8'))));
    }
    expect(got).toEqual(['ok1', null, 'ok2', null, 'ok3', null]);
    // At the limit a line is kept, whole, also when it straddles chunks.
    const edge: string[] = [];
    for await (const ls of ndjsonLines(Readable.from([Buffer.from('abcde'), Buffer.from('fghij\nk')]), 10)) edge.push(...ls.map((l) => l.toString('utf8')));
    expect(edge).toEqual(['abcdefghij', 'k']);
  });
});
