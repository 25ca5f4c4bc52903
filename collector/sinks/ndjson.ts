// NDJSON sink: one record per line to a file or stdout ('-'): each interval's bytes as the collector wrote
// them, flushed when each batch is written. The file is opened at construction, so an output that cannot be
// opened (a missing directory, a read-only file) is one clear error before anything runs, and a write that
// fails (a full disk, /dev/full) fails the send with the path in the message: never an 'error' event nobody
// listens to.

import { closeSync } from 'node:fs';
import { OutputError } from '../../contracts/output-error.js';
import type { RecordBatch } from '../record-batch.js';
import { newSinkStats, type RecordSink } from './sink.js';

export class NdjsonSink implements RecordSink {
  readonly name: string;
  readonly stats = newSinkStats();
  private fd: number;
  private closed = false;

  constructor(private readonly path: string) {
    this.name = `ndjson:${path}`;
    this.fd = path === '-' ? -1 : OutputError.open(path);
  }

  async send(batch: RecordBatch): Promise<void> {
    // After close the file's descriptor is gone; a late send must not land on stdout (fd -1 means stdout).
    if (this.closed) throw new OutputError(`cannot write ${this.path}: the output was already closed`);
    // The batch's buffer is written again once send() resolves: stdout must be done with it first.
    if (this.fd < 0) {
      await new Promise<void>((resolve, reject) => process.stdout.write(batch.bytes, (err) => (err ? reject(err) : resolve())));
    } else {
      OutputError.write(this.fd, this.path, batch.bytes);
    }
    this.stats.delivered += batch.count;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
    }
  }
}

