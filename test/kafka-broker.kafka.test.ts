// The Kafka the integration tests use is a real broker (scripts/kafka-broker.ts), and tapwatch's one
// producer and one consumer loop (kafka/) do on it what the services rely on: keyed messages on
// partitioned topics, an idempotent gzip producer (checked on the broker's own log: librdkafka refuses
// idempotence without acks from all in-sync replicas, so a producer id there also means acks=all; a
// single broker cannot show acks otherwise: it accepted acks=all below a topic's min.insync.replicas),
// consumer groups whose commits hold, and data and offsets that survive a broker stop and restart. The kafka project runs
// against Kafka 3.9 and 4.x (vitest.config.ts).

import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createKafka, endOffsets, type Kafka } from '../kafka/client.js';
import { ConsumerLoop } from '../kafka/consumer.js';
import { MAX_MESSAGE_BYTES, Producer } from '../kafka/producer.js';
import { consumeAll } from './helpers/kafka-consume.js';
import { randomBytes } from 'node:crypto';
import { ensureTopics } from '../kafka/topics.js';
import { startKafka, waitForKafka, type KafkaBroker } from '../scripts/kafka-broker.js';
import { committedOffsets } from './helpers/kafka-consume.js';
import { until } from './helpers/until.js';

const silent = pino({ level: 'silent' });
const client = (brokers: string): Kafka => createKafka({ brokers: brokers.split(','), clientId: 'kafka-broker-test', log: silent });

interface Got {
  key: string;
  value: string;
  partition: number;
  offset: string;
}

async function produce(brokers: string, topic: string, messages: { key: string; value: string }[]): Promise<void> {
  const producer = new Producer(client(brokers), silent);
  try {
    await producer.send(topic, messages);
  } finally {
    await producer.close();
  }
}

/** Reads as consumer group `groupId` with the services' consumer loop (committing after each batch) until the group's position reaches the topic's end. */
async function consume(brokers: string, topic: string, groupId: string): Promise<Got[]> {
  const kafka = client(brokers);
  const got: Got[] = [];
  const loop = new ConsumerLoop<string>({
    kafka, groupId, topics: [topic], log: silent, what: 'message',
    decode: (v) => v?.toString() ?? '',
    handle: async (b) => {
      for (const m of b.messages) got.push({ key: m.key ?? '', value: m.value, partition: m.partition, offset: m.offset });
      return 'done';
    },
  });
  await loop.start();
  try {
    const ends = await endOffsets(kafka, topic);
    await until(`group ${groupId} to commit up to the end of ${topic}`, async () => {
      const committed = await committedOffsets(kafka, groupId, topic);
      return [...ends].every(([p, end]) => end === 0n || committed.get(p) === end);
    });
  } finally {
    await loop.stop();
  }
  return got;
}

const messages = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ key: `device-${i % 20}`, value: `${prefix}-${i}` }));

describe('the shared broker (globalSetup)', () => {
  it('takes a 6-partition topic, 100 keyed messages from the producer, and gives each back once to a consumer group, in order per key', async () => {
    const brokers = inject('kafkaBrokers');
    const topic = `kb-real-${Date.now()}`;
    expect(await ensureTopics(client(brokers), [{ topic, partitions: 6 }])).toEqual([topic]);
    const sent = messages('m', 100);
    await produce(brokers, topic, sent);
    let total = 0n;
    for (const end of (await endOffsets(client(brokers), topic)).values()) total += end;
    expect(total).toBe(100n);

    const got = await consume(brokers, topic, `${topic}-g`);
    expect(got.map((m) => `${m.key}=${m.value}`).sort()).toEqual(sent.map((m) => `${m.key}=${m.value}`).sort());
    expect(new Set(got.map((m) => `${m.partition}/${m.offset}`)).size).toBe(100);
    // One key, one partition, its messages in send order; 20 keys spread over several partitions.
    const byKey = new Map<string, Got[]>();
    for (const m of got) byKey.set(m.key, [...(byKey.get(m.key) ?? []), m]);
    for (const [key, ms] of byKey) {
      expect(new Set(ms.map((m) => m.partition)).size, key).toBe(1);
      expect(ms.map((m) => m.value), key).toEqual(sent.filter((s) => s.key === key).map((s) => s.value));
    }
    expect(new Set(got.map((m) => m.partition)).size).toBeGreaterThan(1);
  });
});

describe('large messages (an analyzer group checkpoint grows with the group)', () => {
  it('a 3 MB message, incompressible, goes through the producer to a topic created for it and comes back whole', async () => {
    const brokers = inject('kafkaBrokers');
    const topic = `kb-large-${Date.now()}`;
    await ensureTopics(client(brokers), [{ topic, partitions: 1, config: { 'max.message.bytes': String(MAX_MESSAGE_BYTES) } }]);
    const value = randomBytes(1536 * 1024).toString('hex'); // 3 MiB of text gzip cannot shrink below 1 MB
    await produce(brokers, topic, [{ key: 'group/meters', value }]);
    const [got] = await consumeAll(brokers, topic, { expected: 1 });
    expect(got.key).toBe('group/meters');
    expect(got.value.length).toBe(value.length);
    expect(got.value === value).toBe(true);
  }, 60_000);
});

describe('many messages in one send (a collector interval of a fleet past 100,000 devices)', () => {
  it('150,000 messages, more than librdkafka queues at once, are each written once', async () => {
    const brokers = inject('kafkaBrokers');
    const topic = `kb-many-${Date.now()}`;
    await ensureTopics(client(brokers), [{ topic, partitions: 3 }]);
    const n = 150_000;
    const messages = Array.from({ length: n }, (_, i) => ({ key: `dev-${i}`, value: `{"i":${i}}` }));
    const producer = new Producer(client(brokers), silent);
    try {
      await producer.send(topic, messages);
      expect(producer.stats.delivered).toBe(n);
      expect(producer.stats.resends).toBe(0);
    } finally {
      await producer.close();
    }
    const ends = await endOffsets(client(brokers), topic);
    expect([...ends.values()].reduce((a, b) => a + b, 0n)).toBe(BigInt(n));
  }, 120_000);
});

describe('a broker of its own', () => {
  let broker: KafkaBroker;
  beforeAll(async () => {
    broker = await startKafka({ version: inject('kafkaVersion') });
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it('the producer writes idempotent batches (a producer id and sequence numbers) compressed with gzip, as the broker stores them', async () => {
    const topic = 'kb-settings';
    await ensureTopics(client(broker.brokers), [{ topic, partitions: 1 }]);
    await produce(broker.brokers, topic, messages('s', 10));
    const dump = await broker.dumpLog(topic, 0);
    const batches = dump.split('\n').filter((l) => /baseOffset: \d+/.test(l));
    expect(batches.length, dump).toBeGreaterThan(0);
    for (const b of batches) {
      expect(b, dump).toMatch(/producerId: \d+/);
      expect(Number(/producerId: (-?\d+)/.exec(b)![1]), b).toBeGreaterThanOrEqual(0); // -1 = not idempotent
      expect(b).toMatch(/baseSequence: \d+/);
      expect(b).toMatch(/compresscodec: gzip/i);
    }
  });

  it('keeps topics, messages and committed offsets across stop({ keepData: true }) and restart(), on the same port', async () => {
    const topic = 'kb-restart';
    const group = 'kb-restart-g';
    const before = messages('before', 30);
    const after = messages('after', 10);
    await ensureTopics(client(broker.brokers), [{ topic, partitions: 3 }]);
    await produce(broker.brokers, topic, before);
    expect(await consume(broker.brokers, topic, group)).toHaveLength(30);

    const { brokers, pid } = broker;
    await broker.stop({ keepData: true });
    await expect(waitForKafka(brokers, { timeoutMs: 0 })).rejects.toThrow(/no answer/);
    await broker.restart();
    expect(broker.brokers).toBe(brokers);
    expect(broker.pid).not.toBe(pid);

    await produce(broker.brokers, topic, after);
    // The old group resumes at its committed offsets; a new group still finds everything.
    expect((await consume(broker.brokers, topic, group)).map((m) => m.value).sort()).toEqual(after.map((m) => m.value).sort());
    const all = await consume(broker.brokers, topic, `${group}-new`);
    expect(all.map((m) => m.value).sort()).toEqual([...before, ...after].map((m) => m.value).sort());
  });
});
