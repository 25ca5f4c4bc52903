// In-process bus: the embedded pipeline's sink. Subscribers (the analyzer, a table printer) get
// each interval's records in order; send() resolves when every subscriber has taken them.

import type { InspectionRecord } from '../../contracts/inspection-record.js';
import { newSinkStats, type RecordSink } from './sink.js';

export type RecordSubscriber = (records: InspectionRecord[]) => void | Promise<void>;

export class RecordBus implements RecordSink {
  readonly name = 'bus';
  readonly stats = newSinkStats();
  private readonly subscribers: RecordSubscriber[] = [];

  subscribe(fn: RecordSubscriber): void {
    this.subscribers.push(fn);
  }

  async send(records: InspectionRecord[]): Promise<void> {
    for (const fn of this.subscribers) await fn(records);
    this.stats.delivered += records.length;
  }

  async close(): Promise<void> {}
}
