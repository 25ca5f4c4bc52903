// What really reached the broker, for tests: every message of a topic, read to the end offsets the
// topic has once `expected` messages are there (waited for by polling the end offsets, not by a quiet spell).

import { pino } from 'pino';
import { createKafka, endOffsets } from '../../kafka/client.js';
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
