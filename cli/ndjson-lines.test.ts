import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ndjsonLines } from './ndjson-lines.js';

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
});
