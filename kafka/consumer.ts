// The one consumer loop every service reads with (analyzer, responder, indexer): a member of a
// consumer group that
// - decodes each message (JSON, then the contract's validator); what is not valid is counted, logged
//   once with where it was, and skipped, never retried forever;
// - hands the valid ones of a partition's batch to the service and commits the batch's offsets only
//   after the service says the work is done (at least once: a batch redelivered after a crash is
//   processed again, which every service makes harmless by idempotent ids);
// - on 'retry' (the service's sink is away), pauses that partition, seeks back to the batch and
//   resumes after a backoff, so the other partitions go on and nothing is skipped;
// - waits, before the first batch after an assignment, for the service's onAssign (the analyzer
//   restores its devices' state there); librdkafka heartbeats from its own thread meanwhile;
// - keeps each partition's lag (high watermark - next offset) for /metrics;
// - stops within a bound: the current batch finishes, offsets are committed, the member leaves.

import type { Logger } from 'pino';
import { backoffMs } from '../net/backoff.js';
import { counts, type Counts } from '../net/counts.js';
import { rebalanceCodes, type Consumer as KafkaConsumer, type EachBatchPayload, type Kafka } from './client.js';

export interface Consumed<T> {
  partition: number;
  offset: string;
  key: string | null;
  value: T;
}

export interface ConsumedBatch<T> {
  topic: string;
  partition: number;
  messages: Consumed<T>[];
}

export type BatchResult = 'done' | 'retry';

export interface ConsumerLoopOptions<T> {
  kafka: Kafka;
  groupId: string;
  topics: readonly string[];
  log: Logger;
  /** Turns a message's value into T, or throws saying why it is not one (the message is then skipped). */
  decode: (value: Buffer | null, topic: string) => T;
  /** What a message is, for log lines ("inspection record"). */
  what: string;
  handle: (batch: ConsumedBatch<T>) => Promise<BatchResult>;
  /** Partitions newly assigned to this member; batches wait until it settles. */
  onAssign?: (partitions: readonly { topic: string; partition: number }[]) => Promise<void>;
  /** Messages per batch at most (default 500). */
  maxBatch?: number;
  /** How long a stop may take before the member is dropped regardless (default 10 s). */
  stopTimeoutMs?: number;
  /** Where the loop counts (the service's stats, made by consumerStats()); default a fresh one. */
  stats?: ConsumerStats;
}

/**
 * What a consumer loop counts: messages (consumed and committed), invalid (skipped), batches, retries
 * (batches handed back and fetched again later) and lag per "topic/partition" (messages in the partition
 * after this member's position); with the service's own counts `K` beside them on the same object, which
 * the service hands to its loop (`stats` option), so one object is its counters log line and its /metrics.
 */
export type ConsumerStats<K extends string = never> = Counts<'messages' | 'invalid' | 'batches' | 'retries' | K> & { readonly lag: Map<string, number> };

export function consumerStats<const K extends string = never>(...own: K[]): ConsumerStats<K> {
  return { ...counts<'messages' | 'invalid' | 'batches' | 'retries' | K>('messages', 'invalid', 'batches', 'retries', ...own), lag: new Map<string, number>() };
}

/** Fields for a counters log line: every count, and the lag per partition. */
export function statsLine(stats: ConsumerStats): Record<string, unknown> {
  return { ...stats, lag: Object.fromEntries(stats.lag) };
}

export class ConsumerLoop<T> {
  readonly stats: ConsumerStats;
  private consumer: KafkaConsumer | null = null;
  private settling: Promise<void> = Promise.resolve();
  private failures = 0; // consecutive 'retry' results, for the backoff
  private stopping = false;
  private readonly resumeTimers = new Set<NodeJS.Timeout>();

  constructor(private readonly o: ConsumerLoopOptions<T>) {
    this.stats = o.stats ?? consumerStats();
  }

  async start(): Promise<void> {
    const o = this.o;
    const REBALANCE = rebalanceCodes();
    this.consumer = o.kafka.consumer({
      'js.consumer.max.batch.size': o.maxBatch ?? 500,
      rebalance_cb: (err: { code: number }, assignment: { topic: string; partition: number }[]) => {
        if (err.code === REBALANCE.assign) {
          o.log.info({ partitions: assignment.map((p) => `${p.topic}/${p.partition}`) }, 'partitions assigned');
          if (o.onAssign) this.settling = o.onAssign(assignment);
        } else if (err.code === REBALANCE.revoke) {
          o.log.info({ partitions: assignment.map((p) => `${p.topic}/${p.partition}`) }, 'partitions revoked');
          for (const p of assignment) this.stats.lag.delete(`${p.topic}/${p.partition}`);
        }
      },
      kafkaJS: { groupId: o.groupId, fromBeginning: true, autoCommit: false, allowAutoTopicCreation: false },
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [...o.topics] });
    // run() resolves once the loop is set up; the loop itself goes on until disconnect.
    await this.consumer.run({ eachBatchAutoResolve: false, eachBatch: (p) => this.onBatch(p) });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.resumeTimers) clearTimeout(t);
    const c = this.consumer;
    if (!c) return;
    const timeout = this.o.stopTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      c.disconnect().catch((err: Error) => this.o.log.warn({ err: err.message }, 'leaving the consumer group failed')),
      new Promise<void>((resolve) => (timer = setTimeout(() => {
        this.o.log.warn({ timeoutMs: timeout }, 'consumer did not stop in time; leaving anyway');
        resolve();
      }, timeout))),
    ]);
    clearTimeout(timer);
  }

  private async onBatch({ batch, resolveOffset, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const o = this.o;
    await this.settling;
    if (this.stopping || !isRunning() || isStale() || batch.messages.length === 0) return;
    const messages: Consumed<T>[] = [];
    const invalid: { offset: string; err: string }[] = [];
    for (const m of batch.messages) {
      try {
        messages.push({ partition: batch.partition, offset: m.offset, key: m.key?.toString('utf8') ?? null, value: o.decode(m.value, batch.topic) });
      } catch (err) {
        invalid.push({ offset: m.offset, err: (err as Error).message });
      }
    }
    const result = messages.length > 0 ? await o.handle({ topic: batch.topic, partition: batch.partition, messages }) : 'done';
    if (result === 'retry') {
      this.retryLater(batch.topic, batch.partition, batch.firstOffset()!);
      return;
    }
    // Counted once the batch is through, so a batch fetched again does not count them twice.
    for (const i of invalid) o.log.warn({ topic: batch.topic, partition: batch.partition, ...i }, `skipping a message that is not a valid ${o.what}`);
    this.stats.invalid += invalid.length;
    this.failures = 0;
    this.stats.batches++;
    this.stats.messages += batch.messages.length;
    resolveOffset(batch.lastOffset());
    if (!isRunning() || isStale()) return; // rebalanced meanwhile: the partition's new owner takes it from the last commit
    const next = BigInt(batch.lastOffset()) + 1n;
    try {
      await this.consumer!.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next.toString() }]);
    } catch (err) {
      // The coordinator moving, this member fenced: the offset is stored, the next commit carries it (or
      // the partition's next owner starts from the last commit). A warning, not the library's stack trace.
      this.o.log.warn({ topic: batch.topic, partition: batch.partition, offset: next.toString(), err: (err as Error).message }, 'committing offsets failed; the next commit covers them');
      return;
    }
    this.stats.lag.set(`${batch.topic}/${batch.partition}`, Math.max(0, Number(BigInt(batch.highWatermark) - next)));
  }

  /** The sink is away: fetch this batch again after a backoff, without holding up the other partitions. */
  private retryLater(topic: string, partition: number, firstOffset: string): void {
    this.stats.retries++;
    const c = this.consumer!;
    const tp = [{ topic, partitions: [partition] }];
    c.pause(tp);
    c.seek({ topic, partition, offset: firstOffset });
    const t = setTimeout(() => {
      this.resumeTimers.delete(t);
      if (!this.stopping) c.resume(tp);
    }, backoffMs(this.failures++, { baseMs: 200 }));
    this.resumeTimers.add(t);
  }
}

/** decode() for JSON messages checked by a contract's validator. */
export function jsonDecoder<T>(check: (value: unknown) => string | null): (value: Buffer | null) => T {
  return (value) => {
    const parsed: unknown = JSON.parse(value?.toString('utf8') ?? '');
    const problem = check(parsed);
    if (problem) throw new Error(problem);
    return parsed as T;
  };
}
