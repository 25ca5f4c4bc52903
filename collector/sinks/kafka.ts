// Kafka sink: records to a topic keyed by device id, with an idempotent producer (acks = all,
// gzip). kafkajs is in maintenance mode (deps notes), so this file is the only one that knows it:
// swapping in @confluentinc/kafka-javascript means rewriting this file alone.
//
// A batch that fails is retried, with backoff, until it is delivered or the sink is closed: the
// broker going away mid-run slows the collector down (a replay waits) but loses nothing. Retrying
// through the same idempotent producer lets the broker discard a resend of what it already has.

import { CompressionTypes, Kafka, logLevel, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { ensureTopics } from '../../kafka/topics.js';
import type { InspectionRecord } from '../../contracts/inspection-record.js';
import { newSinkStats, type RecordSink } from './sink.js';

export interface KafkaSinkOptions {
  brokers: string[];
  topic: string;
  partitions: number;
  clientId?: string;
}

export class KafkaSink implements RecordSink {
  readonly name: string;
  readonly stats = newSinkStats();
  private readonly kafka: Kafka;
  private producer: Producer | null = null;
  private closing = false;

  constructor(private readonly opts: KafkaSinkOptions, private readonly log: Logger) {
    this.name = `kafka:${opts.topic}`;
    this.kafka = new Kafka({
      clientId: opts.clientId ?? 'tapwatch-collector',
      brokers: opts.brokers,
      // kafkajs retries a request a few times itself; longer outages are this sink's loop's job.
      retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2000 },
      logLevel: logLevel.NOTHING,
    });
  }

  /** Connects and creates the topic when missing; retried like a send. */
  async start(): Promise<void> {
    await this.withRetry('connect', async () => {
      const created = await ensureTopics(this.kafka, [{ topic: this.opts.topic, numPartitions: this.opts.partitions }], { attempts: 1 });
      if (created.length) this.log.info({ topic: this.opts.topic, partitions: this.opts.partitions }, 'created topic');
      this.producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await this.producer.connect();
    });
  }

  async send(records: InspectionRecord[]): Promise<void> {
    if (this.producer === null) await this.start();
    // No message timestamp of our own: the broker's default (when it was produced). The interval's time is in the
    // record; as the message time, a replayed capture's months-old intervals rolled and expired the partitions'
    // segments at once (retention.ms is 7 days), deleting records before anyone consumed them.
    const messages = records.map((r) => ({ key: r.device.id, value: JSON.stringify(r) }));
    await this.withRetry('send', () => this.producer!.send({ topic: this.opts.topic, acks: -1, compression: CompressionTypes.GZIP, messages }));
    this.stats.delivered += records.length;
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.producer?.disconnect().catch(() => undefined);
  }

  private async withRetry<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (this.closing) throw err;
        this.stats.retries++;
        const delay = Math.min(5000, 250 * 2 ** Math.min(attempt, 5));
        this.log.warn({ err: (err as Error).message, attempt, retryInMs: delay, sink: this.name }, `kafka ${what} failed; retrying`);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }
}
