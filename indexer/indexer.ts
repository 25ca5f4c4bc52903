// Kafka → Elasticsearch: consumes tapwatch's topics in its own consumer group and bulk-indexes
// each batch with deterministic document ids, so a replay or a redelivery overwrites instead of
// duplicating. Offsets are committed only after Elasticsearch accepted the batch: while a node is
// away, the partition is paused and the batch fetched again after a backoff, so nothing is lost. What cannot be indexed (malformed JSON, a document Elasticsearch rejects with a
// 4xx) is counted by reason and logged, then skipped: retrying it would stall the partition forever.

import type { Client } from '@elastic/elasticsearch';
import { Kafka, logLevel, type Consumer, type EachBatchPayload } from 'kafkajs';
import type { Logger } from 'pino';
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
  /** Longest wait before fetching a batch again after a failed bulk request. */
  maxBackoffMs?: number;
}

export class IndexerStats {
  messages = 0;
  indexed = 0;
  bulkRequests = 0;
  retries = 0;
  malformed = 0; // not JSON, or not an object the route can map
  rejected = 0; // Elasticsearch refused the document (4xx other than 429)
}

export class Indexer {
  readonly stats = new IndexerStats();
  private consumer: Consumer | null = null;
  private failures = 0; // consecutive failed bulk requests, for the backoff

  constructor(private readonly o: IndexerOptions) {}

  async start(): Promise<void> {
    const kafka = new Kafka({ clientId: 'tapwatch-indexer', brokers: this.o.brokers, logLevel: logLevel.NOTHING, retry: { retries: 10 } });
    this.consumer = kafka.consumer({ groupId: this.o.groupId, sessionTimeout: 30_000, heartbeatInterval: 3000 });
    const { CRASH, GROUP_JOIN, REBALANCING } = this.consumer.events;
    this.consumer.on(GROUP_JOIN, (e) => this.o.log.info({ memberId: e.payload.memberId, assignment: e.payload.memberAssignment }, 'joined consumer group'));
    this.consumer.on(REBALANCING, () => this.o.log.info('consumer group rebalancing'));
    this.consumer.on(CRASH, (e) => this.o.log.error({ err: e.payload.error.message, restart: e.payload.restart }, 'consumer crashed'));
    await this.consumer.connect();
    // A topic nobody has written to yet (no anomalies so far) is created, not left to broker auto-creation.
    await ensureTopics(kafka, Object.keys(this.o.routes).map((topic) => ({ topic, numPartitions: 6 })), {
      onRetry: (err, attempt) => this.o.log.warn({ err: err.message, attempt }, 'creating topics failed; retrying'),
    });
    await this.consumer.subscribe({ topics: Object.keys(this.o.routes), fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.indexBatch(payload),
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }

  private async indexBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const route = this.o.routes[batch.topic];
    const operations: Record<string, unknown>[] = [];
    const malformed: { offset: string; err: string }[] = [];
    for (const m of batch.messages) {
      const doc = toOperation(route, m.value);
      if (typeof doc === 'string') malformed.push({ offset: m.offset, err: doc });
      else operations.push(doc.action, doc.document);
    }
    if (operations.length > 0 && !(await this.bulk(operations, heartbeat))) {
      // Elasticsearch is away: pause this partition and fetch the same batch again after a backoff,
      // rather than retrying inside eachBatch (kafkajs stops fetching after long-running batches).
      const tp = { topic: batch.topic, partitions: [batch.partition] };
      const delay = Math.min(this.o.maxBackoffMs ?? 5000, 200 * 2 ** Math.min(this.failures++, 6));
      this.consumer!.pause([tp]);
      this.consumer!.seek({ topic: batch.topic, partition: batch.partition, offset: batch.firstOffset()! });
      setTimeout(() => this.consumer?.resume([tp]), delay);
      return;
    }
    this.failures = 0;
    this.stats.messages += batch.messages.length;
    // Counted once the batch is through, so a batch fetched again does not count them twice.
    for (const m of malformed) {
      this.stats.malformed++;
      this.o.log.warn({ topic: batch.topic, partition: batch.partition, ...m }, 'skipped a message that is not a valid record');
    }
    if (!isRunning() || isStale()) return; // rebalanced meanwhile: the new owner re-indexes, ids keep it idempotent
    resolveOffset(batch.lastOffset());
    await this.consumer!.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(batch.lastOffset()) + 1n).toString() }]);
  }

  /**
   * One bulk request, then again for the items Elasticsearch answered 429/5xx to, while it keeps
   * answering; false when the request itself failed (the node is away): the caller backs off.
   */
  private async bulk(operations: Record<string, unknown>[], heartbeat: () => Promise<void>): Promise<boolean> {
    let pending = operations;
    for (let attempt = 0; ; attempt++) {
      // A request to a node that is starting can hang for its whole timeout: heartbeat meanwhile.
      const beat = setInterval(() => heartbeat().catch(() => undefined), 3000);
      let res;
      try {
        this.stats.bulkRequests++;
        res = await this.o.client.bulk({ operations: pending, refresh: false });
      } catch (err) {
        this.stats.retries++;
        this.o.log.warn({ err: (err as Error).message, documents: pending.length / 2 }, 'bulk request failed; retrying');
        return false;
      } finally {
        clearInterval(beat);
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
      this.stats.retries++;
      pending = retry;
      await new Promise((r) => setTimeout(r, Math.min(this.o.maxBackoffMs ?? 5000, 200 * 2 ** Math.min(attempt, 6))));
    }
  }
}

/** The bulk action and document for a message, or why it cannot be one. */
function toOperation(route: DocumentRoute, value: Buffer | null): { action: Record<string, unknown>; document: Record<string, unknown> } | string {
  try {
    const parsed: unknown = JSON.parse(value?.toString('utf8') ?? '');
    if (parsed === null || typeof parsed !== 'object') return 'not a JSON object';
    return { action: { index: { _index: route.index(parsed), _id: route.id(parsed) } }, document: route.document(parsed) };
  } catch (err) {
    return (err as Error).message;
  }
}
