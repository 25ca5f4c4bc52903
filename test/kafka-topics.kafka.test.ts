// Services starting together race to create the same topics: each must come out with every topic there and led.

import { Kafka, logLevel } from 'kafkajs';
import { expect, inject, it } from 'vitest';
import { ensureTopics } from '../kafka/topics.js';

it('five concurrent ensureTopics on the same new topics all succeed, and the topics exist once with leaders', async () => {
  const kafka = new Kafka({ clientId: 'tapwatch-test', brokers: [inject('kafkaBrokers')], logLevel: logLevel.NOTHING });
  const names = [`race-a-${Date.now()}`, `race-b-${Date.now()}`];
  const retries: string[] = [];
  const created = await Promise.all(
    Array.from({ length: 5 }, () => ensureTopics(kafka, names.map((topic) => ({ topic, numPartitions: 6 })), { onRetry: (err) => retries.push(err.message) })),
  );
  // Every topic created by exactly one of them (or by a loser that saw "already exists" and retried).
  expect(created.flat().filter((t) => names.includes(t)).length).toBeGreaterThanOrEqual(1);
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: names });
    for (const t of topics) {
      expect(t.partitions).toHaveLength(6);
      expect(t.partitions.every((p) => p.leader >= 0)).toBe(true);
    }
  } finally {
    await admin.disconnect();
  }
  // A second round finds them and creates nothing.
  expect(await ensureTopics(kafka, names.map((topic) => ({ topic, numPartitions: 6 })))).toEqual([]);
});
