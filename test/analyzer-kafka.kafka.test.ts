// tapwatch analyze --kafka with a real broker: two analyzers share the consumer group; once both
// have learned their devices, one is killed (SIGKILL), and the other takes over its partitions,
// restores those devices' baselines from the compacted checkpoint topic, and catches the incidents
// that follow. Without the restore, the dead analyzer's devices would be back in warm-up and
// silent, and the incidents on them missed.

import { pino } from 'pino';
import { afterAll, expect, inject, it } from 'vitest';
import type { AnomalyEvent } from '../contracts/anomaly-event.js';
import { createKafka, endOffsets, withAdmin } from '../kafka/client.js';
import { Producer } from '../kafka/producer.js';
import { ensureTopics } from '../kafka/topics.js';
import { Scenario } from '../synth/scenario.js';
import { scoreRun } from '../bench/detect-score.js';
import { CliProcess } from './helpers/cli-process.js';
import { consumeAll } from './helpers/kafka-consume.js';
import { until } from './helpers/until.js';

const analyzers: CliProcess[] = [];
afterAll(() => {
  for (const a of analyzers) a.child.kill('SIGKILL');
});

function startAnalyzer(brokers: string, ...args: string[]): CliProcess {
  const a = new CliProcess(`analyzer ${analyzers.length}`, ['analyze', '--kafka', brokers, '--stats-interval', '1', ...args]);
  analyzers.push(a);
  return a;
}

/** What the analyzers said besides their periodic counters, for a failure message. */
const said = () => analyzers.map((a) => `${a.name}:\n${a.logs().filter((l) => l.msg !== 'counters').slice(-30).map((l) => JSON.stringify(l)).join('\n')}`).join('\n');
const silent = pino({ level: 'silent' });

it('an analyzer killed mid-run: the other restores exactly the devices it held, with their baselines, and goes on alarming', async () => {
  const brokers = inject('kafkaBrokers');
  const run = `failover-${Date.now()}`;
  const topics = { inspection: `${run}.inspection`, anomalies: `${run}.anomalies`, state: `${run}.state` };
  const topicArgs = ['--topic', topics.inspection, '--anomalies-topic', topics.anomalies, '--state-topic', topics.state, '--group', run];
  const kafka = createKafka({ brokers: [brokers], clientId: 'tapwatch-test', log: silent });
  await ensureTopics(kafka, [{ topic: topics.inspection, partitions: 6 }]);

  // The smallest fleet on which the detectors meet their targets in one process (smaller fleets give thin
  // fleet statistics and false alarms, failover or not).
  const sc = new Scenario({ devices: 250, days: 3, incidentsPerType: 2, seed: 9 });
  const batches = [...sc.batches()];
  const split = Math.min(...sc.incidents.map((i) => i.start)) - 2;
  expect(split).toBeGreaterThan(sc.warmupIntervals);
  const producer = new Producer(kafka, silent);
  const publish = async (from: number, to: number) => {
    for (const b of batches.slice(from, to)) await producer.send(topics.inspection, b.map((r) => ({ key: r.device.id, value: JSON.stringify(r) })));
  };
  const lagZero = async () => {
    const ends = await endOffsets(kafka, topics.inspection);
    const [group] = await withAdmin(kafka, (a) => a.fetchOffsets({ groupId: run, topics: [topics.inspection] }));
    return group.partitions.every((p) => BigInt(Math.max(0, Number(p.offset))) === (ends.get(p.partition) ?? 0n));
  };

  const a = startAnalyzer(brokers, ...topicArgs);
  const b = startAnalyzer(brokers, ...topicArgs);
  // What a member holds now: its last assignment, unless a revocation came after it (a rebalance under way).
  const assigned = (x: CliProcess): string[] => {
    const last = x.logs().filter((l) => l.msg === 'partitions assigned' || l.msg === 'partitions revoked').at(-1);
    return last?.msg === 'partitions assigned' ? (last.partitions as string[]) : [];
  };
  await until('the two analyzers to share the six partitions', () => assigned(a).length > 0 && assigned(b).length > 0 && assigned(a).length + assigned(b).length === 6, { context: said });
  await publish(0, split);
  await until('the first half to be analyzed', lagZero, { timeoutMs: 150_000, context: said });

  // The devices the killed analyzer held: those whose records are on its partitions.
  const held = new Set(assigned(a).map((p) => Number(p.split('/').at(-1))));
  const devicesOfA = new Set((await consumeAll(brokers, topics.inspection)).filter((m) => held.has(m.partition)).map((m) => m.key));
  expect(devicesOfA.size).toBeGreaterThan(0);

  a.child.kill('SIGKILL');
  await b.waitForLog(`a restore after the takeover of ${devicesOfA.size} devices`, (l) => l.msg === 'device state restored' && (l.restored as number) > 0, 150_000);
  expect(b.last('device state restored')?.restored, said()).toBe(devicesOfA.size);
  await publish(split, batches.length);
  await until('the second half to be analyzed by the survivor', lagZero, { timeoutMs: 150_000, context: said });
  expect(await b.stop()).toBe(0);
  await producer.close();
  expect((b.last('final counters') as { invalid: number }).invalid).toBe(0);

  const events = (await consumeAll(brokers, topics.anomalies)).map((m) => JSON.parse(m.value) as AnomalyEvent);
  const score = scoreRun(sc, events);
  // Every incident came after the failover, half of them on devices the killed analyzer had learned.
  for (const t of score.types) {
    expect(t.recall, t.type).toBeGreaterThanOrEqual(0.95);
    expect(t.medianTimeToDetect, t.type).toBeLessThanOrEqual(2);
  }
  expect(score.firmware.maxSeverity === null || score.firmware.maxSeverity === 'low').toBe(true);
  // Not asserted: false alarms. Two analyzers each see part of every group, and the groups' fleet state
  // is not checkpointed yet, so fleet-relative behaviors are noisier than in one process (measured:
  // 6 per 1,000 device-days here against 0 in one process); the offline benchmark holds that target.
}, 420_000);

it('a restore that cannot finish in time is retried with a longer allowance, and then restores every checkpointed device', async () => {
  const brokers = inject('kafkaBrokers');
  const run = `restore-${Date.now()}`;
  const topicArgs = ['--topic', `${run}.inspection`, '--anomalies-topic', `${run}.anomalies`, '--state-topic', `${run}.state`];
  // A first analyzer learns a small fleet and checkpoints it.
  const sc = new Scenario({ devices: 20, days: 2, incidentsPerType: 0, seed: 5 });
  const records = [...sc.batches()].slice(0, 20).flat();
  const kafka = createKafka({ brokers: [brokers], clientId: 'tapwatch-test', log: silent });
  const producer = new Producer(kafka, silent);
  await ensureTopics(kafka, [{ topic: `${run}.inspection` }]);
  await producer.send(`${run}.inspection`, records.map((r) => ({ key: r.device.id, value: JSON.stringify(r) })));
  await producer.close();
  const first = startAnalyzer(brokers, ...topicArgs, '--group', `${run}-a`);
  await first.waitForLog('every record checkpointed', (l) => l.msg === 'counters' && l.records === records.length && l.checkpoints as number > 0, 120_000);
  expect(await first.stop()).toBe(0);

  // Another group's member holds every partition; 100 ms is too short to join a group and read the checkpoints.
  const c = startAnalyzer(brokers, ...topicArgs, '--group', `${run}-b`, '--restore-timeout-ms', '100');
  await c.waitForLog('a failed restore', (l) => l.msg === 'restoring device state failed; retrying' && /not read to its end/.test(String(l.err)), 60_000);
  const done = await c.waitForLog('the restore', (l) => l.msg === 'device state restored', 120_000);
  expect(done.checkpointed).toBe(20);
  expect(done.restored).toBe(20);
  expect(await c.stop()).toBe(0);
}, 300_000);
