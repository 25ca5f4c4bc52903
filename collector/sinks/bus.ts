// In-process bus: the embedded pipeline's sink. Subscribers (the analyzer, a table printer) get
// each interval's records in order, as objects parsed from the batch's bytes (the one builder writes
// the bytes); send() resolves when every subscriber has taken them.

import type { InspectionRecord } from '../../contracts/inspection-record.js';
import { newSinkStats, type RecordSink } from './sink.js';
import type { RecordBatch } from '../record-batch.js';

export type RecordSubscriber = (records: InspectionRecord[]) => void | Promise<void>;

export class RecordBus implements RecordSink {
  readonly name = 'bus';
  readonly stats = newSinkStats();
  private readonly subscribers: RecordSubscriber[] = [];

  subscribe(fn: RecordSubscriber): void {
    this.subscribers.push(fn);
  }

  async send(batch: RecordBatch): Promise<void> {
    const records = batch.records();
    for (const fn of this.subscribers) await fn(records);
    this.stats.delivered += records.length;
  }

  async close(): Promise<void> {}
}
