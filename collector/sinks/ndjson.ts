// NDJSON sink: one record per line to a file or stdout ('-'), flushed when each batch is written.
// The file is opened at construction, so an output that cannot be opened (a missing directory, a
// read-only file) is one clear error before anything runs, and a write that fails (a full disk,
// /dev/full) fails the send with the path in the message: never an 'error' event nobody listens to.

import { closeSync } from 'node:fs';
import { once } from 'node:events';
import type { InspectionRecord } from '../../contracts/inspection-record.js';
import { OutputError } from '../../contracts/output-error.js';
import { newSinkStats, type RecordSink } from './sink.js';

export class NdjsonSink implements RecordSink {
  readonly name: string;
  readonly stats = newSinkStats();
  private fd: number;

  constructor(private readonly path: string) {
    this.name = `ndjson:${path}`;
    this.fd = path === '-' ? -1 : OutputError.open(path);
  }

  async send(records: InspectionRecord[]): Promise<void> {
    const text = records.map((r) => JSON.stringify(r)).join('\n') + '\n';
    if (this.fd < 0) {
      if (!process.stdout.write(text)) await once(process.stdout, 'drain');
    } else {
      OutputError.write(this.fd, this.path, text);
    }
    this.stats.delivered += records.length;
  }

  async close(): Promise<void> {
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
    }
  }
}

