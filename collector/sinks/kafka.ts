// Kafka sink: each interval's records to a topic keyed by device id, through the one producer
// (kafka/producer.ts: idempotent, acks from all in-sync replicas, gzip). The topic is ensured at start
// with the configured partitions, waiting as long as it takes for a broker that is not up yet. A send
// resolves only once the brokers acknowledged every record: a broker that goes away mid-run slows the
// collector down (a replay waits) but loses nothing, and the idempotent producer lets the broker drop
// a resend of what it already has.

import type { Logger } from 'pino';
import { createKafka } from '../../kafka/client.js';
import { Producer } from '../../kafka/producer.js';
import { ensureTopics } from '../../kafka/topics.js';
import type { RecordBatch } from '../record-batch.js';
import type { OutMessage } from '../../kafka/producer.js';
import { newSinkStats, type RecordSink } from './sink.js';

export interface KafkaSinkOptions {
  brokers: string[];
  topic: string;
  partitions: number;
  replicationFactor?: number;
  clientId?: string;
}

export class KafkaSink implements RecordSink {
  readonly name: string;
  readonly stats = newSinkStats();
  private readonly producer: Producer;
  /** The client, for the service's Kafka health probe. */
  readonly kafka;

  constructor(private readonly opts: KafkaSinkOptions, private readonly log: Logger) {
    this.name = `kafka:${opts.topic}`;
    this.kafka = createKafka({ brokers: opts.brokers, clientId: opts.clientId ?? 'tapwatch-collector', log });
    this.producer = new Producer(this.kafka, log, this.name);
  }

  async start(signal?: AbortSignal): Promise<void> {
    const created = await ensureTopics(this.kafka, [{ topic: this.opts.topic, partitions: this.opts.partitions }], {
      replicationFactor: this.opts.replicationFactor,
      attempts: Infinity,
      signal,
      log: this.log,
      logFields: { sink: this.name },
      onRetry: () => this.stats.retries++,
    });
    if (created.length) this.log.info({ topic: this.opts.topic, partitions: this.opts.partitions }, 'created topic');
  }

  async send(batch: RecordBatch): Promise<void> {
    // No message timestamp of our own: the broker's default (when it was produced). The interval's time is in the
    // record; as the message time, a replayed capture's months-old intervals rolled and expired the partitions'
    // segments at once (retention.ms is 7 days), deleting records before anyone consumed them.
    const before = this.producer.stats.resends + this.producer.stats.waits;
    try {
      // Each record's line of the batch, keyed by device id (views of the buffer, read until send resolves).
      const messages: OutMessage[] = new Array(batch.count);
      for (let i = 0; i < batch.count; i++) messages[i] = { key: batch.keys[i], value: batch.line(i) };
      await this.producer.send(this.opts.topic, messages);
    } finally {
      this.stats.retries += this.producer.stats.resends + this.producer.stats.waits - before;
    }
    this.stats.delivered += batch.count;
  }

  async close(): Promise<void> {
    await this.producer.close();
  }
}
