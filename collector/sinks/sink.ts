// Where InspectionRecords go. A sink takes one interval's records at a time; send() resolves when
// they are delivered (written, acknowledged by the broker, handed to subscribers), so a replay can
// wait for it and a live source can count what is still in flight.

import type { InspectionRecord } from '../../contracts/inspection-record.js';

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
  send(records: InspectionRecord[]): Promise<void>;
  close(): Promise<void>;
}

export function newSinkStats(): SinkStats {
  return { delivered: 0, failed: 0, retries: 0 };
}
