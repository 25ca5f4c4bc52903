// NDJSON sink: one record per line to a file or stdout ('-'): each interval's bytes as the collector wrote them.

import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import type { RecordBatch } from '../record-batch.js';
import { newSinkStats, type RecordSink } from './sink.js';

export class NdjsonSink implements RecordSink {
  readonly name: string;
  readonly stats = newSinkStats();
  private readonly out: NodeJS.WritableStream;
  private readonly file: WriteStream | null;

  constructor(path: string) {
    this.name = `ndjson:${path}`;
    this.file = path === '-' ? null : createWriteStream(path, { flags: 'w' });
    this.out = this.file ?? process.stdout;
  }

  async send(batch: RecordBatch): Promise<void> {
    // The batch's buffer is written again once send() resolves: wait until the stream is done with it.
    await new Promise<void>((resolve, reject) => this.out.write(batch.bytes, (err) => (err ? reject(err) : resolve())));
    this.stats.delivered += batch.count;
  }

  async close(): Promise<void> {
    if (this.file) {
      this.file.end();
      await once(this.file, 'close');
    }
  }
}
