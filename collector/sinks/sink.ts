// Where InspectionRecords go. A sink takes one interval's records at a time, as NDJSON bytes
// (../record-batch.ts); send() resolves when they are delivered (written, acknowledged by the broker,
// handed to subscribers) and the sink no longer reads the batch's buffer, so a replay can wait for it,
// a live source can count what is still in flight, and the buffer can be written again.

import type { RecordBatch } from '../record-batch.js';

export interface SinkStats {
  delivered: number;
  failed: number;
  /** Times a send or the start had to wait for, or try again with, the sink's service. */
  retries: number;
}

export interface RecordSink {
  readonly name: string;
  readonly stats: SinkStats;
  /** Connects, creates what is missing; resolves when the sink can take records, rejects once `signal` aborts. */
  start?(signal?: AbortSignal): Promise<void>;
  send(batch: RecordBatch): Promise<void>;
  close(): Promise<void>;
}

export function newSinkStats(): SinkStats {
  return { delivered: 0, failed: 0, retries: 0 };
}
