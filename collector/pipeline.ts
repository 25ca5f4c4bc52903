// Between the collector (synchronous, per frame) and a sink (asynchronous, per interval): a queue
// of closed intervals and one drainer. A replay waits for the queue to drain before reading on, so
// nothing is lost however long the sink is away; a live capture cannot wait, so it keeps at most
// `maxQueued` intervals and `maxQueuedBytes` of records (a large fleet's intervals are tens of MB each:
// a count alone would let the queue outgrow the machine before the first counted drop) and counts what
// it had to drop. The newest interval is always kept.

import type { Logger } from 'pino';
import type { RecordBatch } from './record-batch.js';
import type { RecordSink } from './sinks/sink.js';

export class Pipeline {
  readonly queue: RecordBatch[] = [];
  droppedBatches = 0;
  droppedRecords = 0;
  private draining: Promise<void> | null = null;
  private inFlight: RecordBatch | null = null;
  /** Bytes of the records in `queue`. */
  private queuedBytes = 0;

  constructor(readonly sink: RecordSink, private readonly log: Logger, private readonly maxQueued = 1000, private readonly maxQueuedBytes = 256 * 1024 * 1024) {}

  /** Takes the batch: it is released (its buffer reused) once delivered or dropped. */
  enqueue(batch: RecordBatch): void {
    this.queue.push(batch);
    this.queuedBytes += batch.w.pos;
    while (this.queue.length > 1 && (this.queue.length > this.maxQueued || this.queuedBytes > this.maxQueuedBytes)) {
      const lost = this.queue.shift()!;
      this.queuedBytes -= lost.w.pos;
      this.droppedBatches++;
      this.droppedRecords += lost.count;
      lost.release();
      this.log.error({ records: lost.count, queued: this.queue.length, queuedBytes: this.queuedBytes }, 'sink is too far behind: dropped the oldest interval');
    }
  }

  /** Intervals not delivered yet: queued, and the one being sent. */
  get pending(): number {
    return this.queue.length + (this.inFlight ? 1 : 0);
  }

  /** Records not delivered yet, in those intervals. */
  get pendingRecords(): number {
    let n = this.inFlight?.count ?? 0;
    for (const b of this.queue) n += b.count;
    return n;
  }

  /** Sends everything queued, in order; concurrent callers share one drainer. */
  drain(): Promise<void> {
    this.draining ??= this.run().finally(() => {
      this.draining = null;
    });
    return this.draining;
  }

  // The interval being sent leaves the queue first: an overflow while the sink waits drops queued
  // intervals only, never the one in flight (whose delivery would then shift out one never sent).
  private async run(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.shift()!;
      this.queuedBytes -= batch.w.pos;
      this.inFlight = batch;
      try {
        await this.sink.send(batch);
      } catch (err) {
        this.queue.unshift(batch); // not delivered: first in line for the next drain
        this.queuedBytes += batch.w.pos;
        throw err;
      } finally {
        this.inFlight = null;
      }
      batch.release();
    }
  }
}
