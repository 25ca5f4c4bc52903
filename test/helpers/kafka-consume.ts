// What really reached the broker, for tests: every message of a topic, read to the end offsets the
// topic has once `expected` messages are there (waited for by polling the end offsets, not by a quiet spell),
// and what a consumer group has committed.

import { pino } from 'pino';
import { createKafka, endOffsets, withAdmin, type Kafka } from '../../kafka/client.js';
import { readTopic } from '../../kafka/topic-reader.js';
import { until } from './until.js';

export interface Consumed {
  key: string;
  value: string;
  partition: number;
}

const silent = pino({ level: 'silent' });

/** Messages in `topic` now (sum over partitions of the end offsets; what retention or compaction removed counts too). */
export async function topicSize(brokers: string, topic: string): Promise<number> {
  const kafka = createKafka({ brokers: brokers.split(','), clientId: 'tapwatch-test-offsets', log: silent });
  let n = 0n;
  for (const end of (await endOffsets(kafka, topic)).values()) n += end;
  return Number(n);
}

/** Every message of `topic`: once it holds at least `expected` (default: whatever it holds now), read to its end. */
export async function consumeAll(brokers: string, topic: string, opts: { expected?: number; timeoutMs?: number } = {}): Promise<Consumed[]> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  if (opts.expected !== undefined) {
    const expected = opts.expected;
    await until(`${expected} messages in ${topic}`, async () => (await topicSize(brokers, topic)) >= expected, { timeoutMs, everyMs: 500 });
  }
  const kafka = createKafka({ brokers: brokers.split(','), clientId: 'tapwatch-test-reader', log: silent });
  const out: Consumed[] = [];
  const reader = await readTopic(kafka, topic, (m, partition) => out.push({ key: m.key?.toString() ?? '', value: m.value?.toString() ?? '', partition }), {
    group: `tapwatch-test-${topic}-${process.pid}-${Date.now()}`,
    timeoutMs,
  });
  try {
    await reader.caughtUp;
  } finally {
    await reader.stop();
  }
  return out;
}

// A broker that has just (re)started answers offset fetches with these until it has read the
// group's log back (Kafka's COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR).
const COORDINATOR_NOT_READY = new Set([14, 15, 16]);

/** Group `groupId`'s committed offset per partition of `topic` (a partition it never committed reads 0), waiting while the group's coordinator loads. */
export async function committedOffsets(kafka: Kafka, groupId: string, topic: string): Promise<Map<number, bigint>> {
  const [group] = await until(`the coordinator of group ${groupId} to answer`, async () => {
    try {
      return await withAdmin(kafka, (a) => a.fetchOffsets({ groupId, topics: [topic] }));
    } catch (err) {
      if (COORDINATOR_NOT_READY.has((err as { code?: number }).code ?? -1)) return undefined;
      throw err;
    }
  });
  return new Map((group?.partitions ?? []).map((p) => [p.partition, BigInt(Math.max(0, Number(p.offset)))]));
}
