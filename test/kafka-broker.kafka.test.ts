// Proves the Kafka the integration tests use is a real broker (scripts/kafka-broker.ts): partitioned topics,
// an idempotent gzip producer with acks=all, consumer groups with committed offsets, and data and offsets that
// survive a broker stop and restart. KAFKA_VERSION=4.3.1 runs the same checks against a 4.x broker.

import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CompressionTypes, Kafka, Partitioners, logLevel } from 'kafkajs';
import { startKafka, waitForKafka, type KafkaBroker } from '../scripts/kafka-broker.js';

interface Got {
  key: string;
  value: string;
  partition: number;
}

const client = (brokers: string) => new Kafka({ clientId: 'kafka-broker-test', brokers: brokers.split(','), logLevel: logLevel.NOTHING });

async function produce(brokers: string, topic: string, messages: { key: string; value: string }[]): Promise<void> {
  const producer = client(brokers).producer({ idempotent: true, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages });
  } finally {
    await producer.disconnect();
  }
}

/** Reads `count` messages as consumer group `groupId` (committing its offsets), then checks nothing more arrives. */
async function consume(brokers: string, topic: string, groupId: string, count: number): Promise<Got[]> {
  const consumer = client(brokers).consumer({ groupId, maxWaitTimeInMs: 200 });
  const got: Got[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message, partition }) => {
        got.push({ key: message.key!.toString(), value: message.value!.toString(), partition });
      },
    });
    for (const end = Date.now() + 60_000; got.length < count && Date.now() < end; ) await new Promise((ok) => setTimeout(ok, 100));
    // A grace period to catch duplicates or strays beyond the expected count.
    await new Promise((ok) => setTimeout(ok, 1_000));
  } finally {
    await consumer.disconnect();
  }
  return got;
}

const messages = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ key: `device-${i % 20}`, value: `${prefix}-${i}` }));

describe('the shared broker (globalSetup)', () => {
  it('takes a 6-partition topic, 100 keyed gzip messages from an idempotent producer, and gives them back to a consumer group', async () => {
    const brokers = inject('kafkaBrokers');
    const topic = `kb-real-${Date.now()}`;
    const admin = client(brokers).admin();
    await admin.connect();
    try {
      expect(await admin.createTopics({ topics: [{ topic, numPartitions: 6, replicationFactor: 1 }], waitForLeaders: true })).toBe(true);
      const meta = await admin.fetchTopicMetadata({ topics: [topic] });
      expect(meta.topics[0].partitions).toHaveLength(6);

      const sent = messages('m', 100);
      await produce(brokers, topic, sent);
      const offsets = await admin.fetchTopicOffsets(topic);
      expect(offsets.reduce((sum, p) => sum + Number(p.high), 0)).toBe(100);

      const got = await consume(brokers, topic, `${topic}-g`, 100);
      expect(got.map((m) => `${m.key}=${m.value}`).sort()).toEqual(sent.map((m) => `${m.key}=${m.value}`).sort());
      // One key, one partition, its messages in send order; 20 keys spread over several partitions.
      const byKey = new Map<string, Got[]>();
      for (const m of got) byKey.set(m.key, [...(byKey.get(m.key) ?? []), m]);
      for (const [key, ms] of byKey) {
        expect(new Set(ms.map((m) => m.partition)).size, key).toBe(1);
        expect(ms.map((m) => m.value), key).toEqual(sent.filter((s) => s.key === key).map((s) => s.value));
      }
      expect(new Set(got.map((m) => m.partition)).size).toBeGreaterThan(1);

      // The group committed every partition up to its end ('-1': nothing committed, on a partition no key hashed to).
      const [committed] = await admin.fetchOffsets({ groupId: `${topic}-g`, topics: [topic] });
      const end = new Map(offsets.map((p) => [p.partition, Number(p.high)]));
      for (const p of committed.partitions) expect(Math.max(0, Number(p.offset)), `partition ${p.partition}`).toBe(end.get(p.partition));
    } finally {
      await admin.disconnect();
    }
  });
});

describe('a broker of its own, stopped and restarted', () => {
  let broker: KafkaBroker;
  beforeAll(async () => {
    broker = await startKafka({ version: process.env.KAFKA_VERSION || undefined });
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it('keeps topics, messages and committed offsets across stop({ keepData: true }) and restart(), on the same port', async () => {
    const topic = 'kb-restart';
    const group = 'kb-restart-g';
    const before = messages('before', 30);
    const after = messages('after', 10);
    await produce(broker.brokers, topic, before); // auto-created topic
    expect(await consume(broker.brokers, topic, group, 30)).toHaveLength(30);

    const { brokers, pid } = broker;
    await broker.stop({ keepData: true });
    await expect(waitForKafka(brokers, { timeoutMs: 0 })).rejects.toThrow(/ECONNREFUSED/);
    await broker.restart();
    expect(broker.brokers).toBe(brokers);
    expect(broker.pid).not.toBe(pid);

    await produce(broker.brokers, topic, after);
    // The old group resumes at its committed offsets; a new group still finds everything.
    expect((await consume(broker.brokers, topic, group, 10)).map((m) => m.value).sort()).toEqual(after.map((m) => m.value).sort());
    const all = await consume(broker.brokers, topic, `${group}-new`, 40);
    expect(all.map((m) => m.value).sort()).toEqual([...before, ...after].map((m) => m.value).sort());
  });
});
