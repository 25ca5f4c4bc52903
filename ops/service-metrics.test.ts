import { pino } from 'pino';
import { afterEach, expect, it } from 'vitest';
import type { Kafka } from '../kafka/client.js';
import { consumerStats } from '../kafka/consumer.js';
import { ServiceStatus } from './service-metrics.js';

const log = pino({ level: 'silent' });
let status: ServiceStatus | undefined;
afterEach(async () => status?.close());

/** A Kafka whose admin answers list-topics, or fails while `away` says so. */
function fakeKafka(away: () => string | null): Kafka {
  return {
    admin: () => ({
      connect: async () => undefined,
      disconnect: async () => undefined,
      listTopics: async () => {
        const why = away();
        if (why) throw new Error(why);
        return [];
      },
    }),
  } as unknown as Kafka;
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('healthz reasons: Kafka unreachable until a probe answers, then lag growing over three probes, then ok again', async () => {
  let away: string | null = 'connect ECONNREFUSED';
  const consumer = consumerStats();
  status = new ServiceStatus({ service: 'analyze', log, probeEveryMs: 20, lagSamples: 3 }).onKafka(fakeKafka(() => away), { consumer });
  expect(status.reasons()).toEqual(['kafka unreachable: not connected to Kafka yet']);
  await status.listen('127.0.0.1:0');
  await tick(60);
  expect(status.reasons()).toEqual(['kafka unreachable: connect ECONNREFUSED']);
  away = null;
  await tick(60);
  expect(status.reasons()).toEqual([]);

  await status.close(); // the probes by hand from here
  for (const lag of [10, 10, 20, 30]) {
    consumer.lag.set('t/0', lag);
    status.sample();
  }
  expect(status.reasons()).toEqual([]); // two rises are not three
  consumer.lag.set('t/1', 15);
  status.sample();
  expect(status.reasons()).toEqual(['consumer lag growing: 10 → 45 messages']);
  status.sample(); // flat
  expect(status.reasons()).toEqual([]);
});

it('healthz reasons: no traffic for N intervals, while the count stays the same', async () => {
  let packets = 0;
  status = new ServiceStatus({ service: 'collect', log, intervalSeconds: 0.02, idleIntervals: 3 }).trafficFrom(() => packets);
  expect(status.reasons()).toEqual([]);
  await tick(80);
  expect(status.reasons().join()).toMatch(/^no traffic for 3 intervals/);
  packets++;
  expect(status.reasons()).toEqual([]);
});
