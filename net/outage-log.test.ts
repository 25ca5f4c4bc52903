import { expect, it } from 'vitest';
import type { Kafka } from '../kafka/client.js';
import { ensureTopics } from '../kafka/topics.js';
import { OutageLog } from './outage-log.js';

/** A logger that keeps its lines: [level, message, fields]. */
function recorder() {
  const lines: [string, string, Record<string, unknown>][] = [];
  const at = (level: string) => (fields: Record<string, unknown>, msg: string) => void lines.push([level, msg, fields]);
  return { lines, log: { warn: at('warn'), info: at('info') } as never };
}

it('an outage is one line, a reminder a minute with the failed attempts, and one line when the peer is back', () => {
  let now = 1_000_000;
  const { lines, log } = recorder();
  const outage = new OutageLog(log, 'kafka', { now: () => now, fields: { sink: 'kafka:t' } });
  outage.ok(); // reachable all along: nothing to say
  expect(lines).toEqual([]);
  // A failed attempt every 5 s (the backoff's cap) for 2 min 30 s: 31 attempts.
  for (let i = 0; i <= 30; i++, now += 5000) outage.failed(new Error('connect ECONNREFUSED'));
  expect(lines.map(([level, msg]) => `${level} ${msg}`)).toEqual([
    'warn kafka unreachable; retrying',
    'warn kafka still unreachable; retrying',
    'warn kafka still unreachable; retrying',
  ]);
  expect(lines[0][2]).toEqual({ sink: 'kafka:t', err: 'connect ECONNREFUSED' });
  expect(lines[1][2]).toMatchObject({ failedAttempts: 13, downForS: 60 });
  expect(lines[2][2]).toMatchObject({ failedAttempts: 25, downForS: 120 });
  expect(outage.attempts).toBe(31);
  outage.ok();
  expect(lines.at(-1)).toEqual(['info', 'kafka reachable again', { sink: 'kafka:t', failedAttempts: 31, downForS: 155 }]);
  outage.ok();
  expect(lines).toHaveLength(4);
  // The next outage starts with its own first line and count.
  outage.failed(new Error('timed out'));
  expect(lines.at(-1)).toEqual(['warn', 'kafka unreachable; retrying', { sink: 'kafka:t', err: 'timed out' }]);
  expect(outage.attempts).toBe(1);
});

it('ensureTopics says a broker that is away once, and once that it answers again', async () => {
  let failures = 2;
  const kafka = {
    admin: () => ({
      connect: async () => {
        if (failures-- > 0) throw new Error('connect ECONNREFUSED');
      },
      disconnect: async () => undefined,
      listTopics: async () => ['t'],
      createTopics: async () => false,
      fetchTopicMetadata: async () => [{ name: 't', partitions: [{ partitionId: 0, leader: 1 }] }],
    }),
  } as unknown as Kafka;
  const { lines, log } = recorder();
  const retries: number[] = [];
  await ensureTopics(kafka, [{ topic: 't' }], { attempts: Infinity, log, onRetry: (_, attempt) => retries.push(attempt) });
  expect(retries).toEqual([1, 2]);
  expect(lines.map(([level, msg]) => `${level} ${msg}`)).toEqual(['warn kafka unreachable; retrying', 'info kafka reachable again']);
  expect(lines[1][2]).toMatchObject({ failedAttempts: 2 });
});
