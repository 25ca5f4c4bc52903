// NDJSON sink: one record per line to a file or stdout ('-'), flushed when each batch is written.

import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import type { InspectionRecord } from '../../contracts/inspection-record.js';
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

  async send(records: InspectionRecord[]): Promise<void> {
    const text = records.map((r) => JSON.stringify(r)).join('\n') + '\n';
    if (!this.out.write(text)) await once(this.out, 'drain');
    this.stats.delivered += records.length;
  }

  async close(): Promise<void> {
    if (this.file) {
      this.file.end();
      await once(this.file, 'close');
    }
  }
}
