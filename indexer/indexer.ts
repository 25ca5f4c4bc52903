// Kafka → Elasticsearch: consumes tapwatch's topics in its own consumer group and bulk-indexes
// each batch with deterministic document ids, so a replay or a redelivery overwrites instead of
// duplicating. Offsets are committed only after Elasticsearch accepted the batch: while a node is
// away, the partition is paused and the batch fetched again after a backoff, so nothing is lost. What cannot be indexed (malformed JSON, a document Elasticsearch rejects with a
// 4xx) is counted by reason and logged, then skipped: retrying it would stall the partition forever.

import type { Client } from '@elastic/elasticsearch';
import type { Logger } from 'pino';
import { backoffMs, sleep, Stopped } from '../net/backoff.js';
import { createKafka } from '../kafka/client.js';
import { ConsumerLoop, consumerStats, type ConsumedBatch } from '../kafka/consumer.js';
import { ensureTopics } from '../kafka/topics.js';

/** How the messages of one topic become documents. */
export interface DocumentRoute {
  index(value: unknown): string;
  id(value: unknown): string;
  document(value: unknown): Record<string, unknown>;
}

export interface IndexerOptions {
  brokers: string[];
  groupId: string;
  routes: Record<string, DocumentRoute>; // topic → route
  client: Client;
  log: Logger;
  partitions?: number;
  replicationFactor?: number;
  /** Longest wait before fetching a batch again after a failed bulk request. */
  maxBackoffMs?: number;
}

/** The consumer loop's counts and the indexer's: documents indexed, bulk requests, bulk retries (requests or items tried again), documents rejected (Elasticsearch refused them: 4xx other than 429). */
const indexerStats = () => consumerStats('indexed', 'bulkRequests', 'bulkRetries', 'rejected');
export type IndexerStats = ReturnType<typeof indexerStats>;

interface Operation {
  action: Record<string, unknown>;
  document: Record<string, unknown>;
}

export class Indexer {
  readonly stats = indexerStats();
  private readonly consumer: ConsumerLoop<Operation>;
  readonly kafka;
  private readonly stopping = new AbortController();

  constructor(private readonly o: IndexerOptions) {
    this.kafka = createKafka({ brokers: o.brokers, clientId: 'tapwatch-indexer', log: o.log });
    this.consumer = new ConsumerLoop<Operation>({
      kafka: this.kafka,
      groupId: o.groupId,
      topics: Object.keys(o.routes),
      log: o.log,
      what: 'record for its route',
      decode: (value, topic) => toOperation(o.routes[topic], value),
      handle: (b) => this.indexBatch(b),
      stats: this.stats,
    });
  }

  async start(): Promise<void> {
    // A topic nobody has written to yet (no anomalies so far) is created, not left to broker auto-creation.
    await ensureTopics(this.kafka, Object.keys(this.o.routes).map((topic) => ({ topic })), {
      partitions: this.o.partitions ?? 6,
      replicationFactor: this.o.replicationFactor,
      attempts: Infinity,
      signal: this.stopping.signal,
      log: this.o.log,
    });
    await this.consumer.start();
  }

  async stop(): Promise<void> {
    this.stopping.abort(new Stopped());
    await this.consumer.stop();
  }

  /** 'retry' while Elasticsearch is away: the consumer loop pauses the partition and fetches the batch again. */
  private async indexBatch(batch: ConsumedBatch<Operation>): Promise<'done' | 'retry'> {
    const operations: Record<string, unknown>[] = [];
    for (const m of batch.messages) operations.push(m.value.action, m.value.document);
    return (await this.bulk(operations)) ? 'done' : 'retry';
  }

  /**
   * One bulk request, then again for the items Elasticsearch answered 429/5xx to, while it keeps
   * answering; false when the request itself failed (the node is away): the caller backs off.
   */
  private async bulk(operations: Record<string, unknown>[]): Promise<boolean> {
    let pending = operations;
    for (let attempt = 0; ; attempt++) {
      let res;
      try {
        this.stats.bulkRequests++;
        res = await this.o.client.bulk({ operations: pending, refresh: false });
      } catch (err) {
        this.stats.bulkRetries++;
        this.o.log.warn({ err: (err as Error).message, documents: pending.length / 2 }, 'bulk request failed; retrying');
        return false;
      }
      const retry: Record<string, unknown>[] = [];
      res.items.forEach((item, i) => {
        const r = item.index ?? item.create;
        if (!r || (r.status >= 200 && r.status < 300)) {
          this.stats.indexed++;
        } else if (r.status === 429 || r.status >= 500) {
          retry.push(pending[2 * i], pending[2 * i + 1]);
        } else {
          this.stats.rejected++;
          this.o.log.error({ index: r._index, id: r._id, status: r.status, reason: r.error?.reason }, 'document rejected by Elasticsearch');
        }
      });
      if (retry.length === 0) return true;
      this.stats.bulkRetries++;
      pending = retry;
      await sleep(backoffMs(attempt, { baseMs: 200, maxMs: this.o.maxBackoffMs }));
    }
  }
}

/** The bulk action and document for a message; throws saying why a message cannot be one. */
function toOperation(route: DocumentRoute, value: Buffer | null): Operation {
  const parsed: unknown = JSON.parse(value?.toString('utf8') ?? '');
  if (parsed === null || typeof parsed !== 'object') throw new Error('not a JSON object');
  return { action: { index: { _index: route.index(parsed), _id: route.id(parsed) } }, document: route.document(parsed) };
}
