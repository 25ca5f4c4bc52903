// tapwatch's topics, created by whichever service comes first. Every service ensures each topic it
// reads or writes, with the configured partitions (default 6) and replication, before it produces or
// subscribes: a consumer that subscribed to a missing topic would otherwise get a one-partition topic
// from the broker's auto-creation (no second analyzer could share the load) or wait on nothing. In a
// fresh deployment several services race to create the same topics; losing the race ("already
// exists", or partitions without a leader yet) is not a failure: the step is tried again until every
// topic is there with leaders, and only a broker that stays away is an error.

import type { ErrorCode } from '../contracts/errors.js';
import type { Logger } from 'pino';
import { backoffMs, sleep } from '../net/backoff.js';
import { OutageLog } from '../net/outage-log.js';
import { withAdmin, type Kafka } from './client.js';

export const TOPICS = {
  inspection: 'tapwatch.inspection',
  anomalies: 'tapwatch.anomalies',
  actions: 'tapwatch.actions',
  analyzerState: 'tapwatch.analyzer-state',
} as const;

export interface TopicSpec {
  topic: string;
  partitions?: number;
  /** Topic-level configuration, e.g. cleanup.policy=compact for a checkpoint topic. */
  config?: Record<string, string>;
}

export interface EnsureTopicsOptions {
  /** Default for specs without their own (6). */
  partitions?: number;
  /** -1: the broker's default.replication.factor. */
  replicationFactor?: number;
  attempts?: number;
  /** Told about each failed attempt before the next one. */
  onRetry?: (err: Error, attempt: number) => void;
  /** Where a broker that is away is said: once, then a reminder a minute, then once when it answers (net/outage-log.ts). */
  log?: Pick<Logger, 'warn' | 'info'>;
  /** Fields added to those lines. */
  logFields?: Record<string, unknown>;
  /** Gives up (throwing its reason) when aborted: a service told to stop while its broker is away. */
  signal?: AbortSignal;
}

/** Creates the missing topics and waits until each has a leader for every partition; returns the ones it created. */
export async function ensureTopics(kafka: Kafka, specs: readonly TopicSpec[], o: EnsureTopicsOptions = {}): Promise<string[]> {
  const attempts = o.attempts ?? 20;
  const created: string[] = [];
  const outage = o.log ? new OutageLog(o.log, 'kafka', { fields: o.logFields }) : null;
  for (let attempt = 1; ; attempt++) {
    o.signal?.throwIfAborted();
    try {
      await withAdmin(kafka, async (admin) => {
        const have = new Set(await admin.listTopics());
        // One at a time: createTopics answers false when another service created the topic first, so
        // exactly one of the racing services counts each topic as its own.
        for (const s of specs.filter((t) => !have.has(t.topic))) {
          const fresh = await admin.createTopics({
            topics: [{
              topic: s.topic,
              numPartitions: s.partitions ?? o.partitions ?? 6,
              replicationFactor: o.replicationFactor ?? -1,
              configEntries: Object.entries(s.config ?? {}).map(([name, value]) => ({ name, value })),
            }],
          });
          if (fresh) created.push(s.topic);
        }
        const meta = await admin.fetchTopicMetadata({ topics: specs.map((s) => s.topic) });
        const leaderless = meta.filter((t) => t.partitions.length === 0 || t.partitions.some((p) => p.leader < 0)).map((t) => t.name);
        if (leaderless.length) throw new Error(`no leader yet for ${leaderless.join(', ')}`);
      });
      outage?.ok();
      return created;
    } catch (err) {
      o.signal?.throwIfAborted();
      // A refusal that asking again cannot change (a replication factor above the brokers there are, a
      // topic setting the broker rejects) is the operator's to fix: said once, not retried as an outage.
      const refused = TopicRefused.from(err, attempt);
      if (refused) throw refused;
      if (attempt >= attempts) throw err;
      outage?.failed(err as Error);
      o.onRetry?.(err as Error, attempt);
      await sleep(backoffMs(attempt));
    }
  }
}

/**
 * Refusals asking again cannot change. (The client's `retriable` is false for every error it reports from
 * createTopics, timeouts included, so the type decides.)
 */
const FINAL_REFUSALS = new Set(['ERR_INVALID_CONFIG', 'ERR_POLICY_VIOLATION', 'ERR_TOPIC_AUTHORIZATION_FAILED', 'ERR_CLUSTER_AUTHORIZATION_FAILED', 'ERR_INVALID_TOPIC_EXCEPTION', 'ERR_INVALID_PARTITIONS']);
/** A replication factor above the brokers registered is final once it held this many attempts (~7 s): a cluster coming up registers its brokers within seconds. */
const REPLICATION_ATTEMPTS = 5;

/** The broker refused to create a topic for a reason retrying cannot change. */
export class TopicRefused extends Error {
  readonly code: ErrorCode = 'TWQ0002';

  /** The refusal in `err` (createTopics' aggregate of per-topic errors), when every one of them is final by the `attempt`th try. */
  static from(err: unknown, attempt: number): TopicRefused | null {
    const inner = (err as { errors?: unknown[] })?.errors;
    if (!Array.isArray(inner) || inner.length === 0) return null;
    const all = inner as { type?: string; message?: string }[];
    const final = (t: string | undefined) => t !== undefined && (FINAL_REFUSALS.has(t) || (t === 'ERR_INVALID_REPLICATION_FACTOR' && attempt >= REPLICATION_ATTEMPTS));
    if (!all.every((e) => final(e?.type))) return null;
    return new TopicRefused(`the Kafka cluster refused to create a topic: ${all.map((e) => `${e.message ?? 'no reason given'}${e.type ? ` (${e.type})` : ''}`).join('; ')}`);
  }
}
