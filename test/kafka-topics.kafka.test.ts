// Services starting together race to create the same topics: each must come out with every topic
// there and led, each topic created by exactly one of them, with its partitions and configuration.

import { pino } from 'pino';
import { expect, inject, it } from 'vitest';
import { createKafka, withAdmin } from '../kafka/client.js';
import { ensureTopics } from '../kafka/topics.js';
import { runCli } from './helpers/cli-process.js';

const kafka = () => createKafka({ brokers: [inject('kafkaBrokers')], clientId: 'tapwatch-test', log: pino({ level: 'silent' }) });

it('five concurrent ensureTopics on the same new topics all succeed; each topic is created once, with 6 led partitions', async () => {
  const names = [`race-a-${Date.now()}`, `race-b-${Date.now()}`];
  const created = await Promise.all(Array.from({ length: 5 }, () => ensureTopics(kafka(), names.map((topic) => ({ topic })), { partitions: 6 })));
  expect(created.flat().sort()).toEqual([...names].sort());
  const meta = await withAdmin(kafka(), (a) => a.fetchTopicMetadata({ topics: names }));
  for (const t of meta) {
    expect(t.partitions).toHaveLength(6);
    expect(t.partitions.every((p) => p.leader >= 0)).toBe(true);
  }
  // A second round finds them and creates nothing.
  expect(await ensureTopics(kafka(), names.map((topic) => ({ topic })))).toEqual([]);
});

it('a topic another service has not created yet is created with its partitions, not auto-created with one', async () => {
  const topic = `state-${Date.now()}`;
  expect(await ensureTopics(kafka(), [{ topic, partitions: 3, config: { 'cleanup.policy': 'compact' } }])).toEqual([topic]);
  const [t] = await withAdmin(kafka(), (a) => a.fetchTopicMetadata({ topics: [topic] }));
  expect(t.partitions).toHaveLength(3);
});

it('gives up, saying why, when told to stop while the broker is away', async () => {
  const away = createKafka({ brokers: ['127.0.0.1:9'], clientId: 'tapwatch-test', log: pino({ level: 'silent' }) });
  const stop = new AbortController();
  const retries: string[] = [];
  const trying = ensureTopics(away, [{ topic: 'never' }], { attempts: Infinity, signal: stop.signal, onRetry: (err) => retries.push(err.message) });
  const failed = expect(trying).rejects.toThrow(/stopped/);
  await new Promise((r) => setTimeout(r, 50));
  stop.abort(new Error('stopped'));
  await failed;
});

it('a refusal retrying cannot change (replication above the brokers there are) is said after a few attempts, not retried for ever as an outage; collect and analyze exit 1 with it', async () => {
  const topic = `refused-${Date.now()}`;
  const t0 = Date.now();
  await expect(ensureTopics(kafka(), [{ topic }], { replicationFactor: 3, attempts: Infinity })).rejects.toMatchObject({
    code: 'TWQ0002',
    message: expect.stringMatching(/refused to create a topic: .*replication factor of 3.*\(ERR_INVALID_REPLICATION_FACTOR\)/),
  });
  expect(Date.now() - t0).toBeLessThan(20_000); // after a few attempts: a cluster coming up registers its brokers within seconds
  for (const args of [['collect', '--listen-udp', '47998', '--kafka', inject('kafkaBrokers'), '--topic', topic], ['analyze', '--kafka', inject('kafkaBrokers'), '--topic', topic]]) {
    const r = await runCli([...args, '--replication-factor', '3']);
    expect(r.code, r.stderr).toBe(1);
    const plain = r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('{'));
    expect(plain, r.stderr).toEqual([expect.stringMatching(new RegExp(`^tapwatch ${args[0]}: \\[TWQ0002\\] the Kafka cluster refused to create a topic: .*ERR_INVALID_REPLICATION_FACTOR`))]);
  }
}, 90_000);
