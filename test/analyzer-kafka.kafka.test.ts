// tapwatch analyze --kafka with a real broker: two analyzers share the consumer group; once both
// have learned their devices, one is killed (SIGKILL), and the other takes over its partitions,
// restores those devices' baselines from the compacted checkpoint topic, and catches the incidents
// that follow as one analyzer in one process does. The records are the collector's, from a small
// capture of the packet-level scenario generator (bench/detect-pipeline.ts).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, expect, inject, it } from 'vitest';
import { createAnalyzer } from '../analyzer/analyzer.js';
import { defaultConfig } from '../analyzer/rules.js';
import type { AnomalyEvent } from '../contracts/anomaly-event.js';
import type { InspectionRecord } from '../contracts/inspection-record.js';
import { createKafka, endOffsets } from '../kafka/client.js';
import { Producer } from '../kafka/producer.js';
import { ensureTopics } from '../kafka/topics.js';
import { scenarioRecords } from '../bench/detect-pipeline.js';
import { scoreRun } from '../bench/detect-score.js';
import { CliProcess } from './helpers/cli-process.js';
import { committedOffsets, consumeAll } from './helpers/kafka-consume.js';
import { until } from './helpers/until.js';

const analyzers: CliProcess[] = [];
const dir = mkdtempSync(join(tmpdir(), 'tapwatch-kafka-scenario-'));
afterAll(() => {
  for (const a of analyzers) a.child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** The collector's records of a generated capture, one batch per interval, in time order. */
function intervalBatches(records: readonly InspectionRecord[]): InspectionRecord[][] {
  const by = new Map<string, InspectionRecord[]>();
  for (const r of records) by.set(r.interval.start, [...(by.get(r.interval.start) ?? []), r]);
  return [...by.values()];
}

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

  // A small fleet through packets: 12 hours, incidents only after the 6 hours both analyzers learn
  // (but for devices compromised as they join, which may come before; those are not scored).
  const { labels, records } = scenarioRecords({ out: join(dir, 'failover'), devices: 60, days: 0.5, learningHours: 6, incidentsPerType: 2, seed: 9 });
  const batches = intervalBatches(records);
  const splitAt = Date.parse(labels.learning_end);
  const split = batches.findIndex((b) => Date.parse(b[0].interval.start) >= splitAt);
  const after = labels.incidents.filter((i) => Date.parse(i.start) >= splitAt);
  expect(after.length).toBeGreaterThanOrEqual(5);
  const producer = new Producer(kafka, silent);
  const publish = async (from: number, to: number) => {
    for (const b of batches.slice(from, to)) await producer.send(topics.inspection, b.map((r) => ({ key: r.device.id, value: JSON.stringify(r) })));
  };
  const lagZero = async () => {
    const ends = await endOffsets(kafka, topics.inspection);
    const committed = await committedOffsets(kafka, run, topics.inspection);
    return [...committed].every(([p, offset]) => offset === (ends.get(p) ?? 0n));
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
  // Every scored incident came after the failover, on devices of both analyzers. The survivor catches
  // the same ones as one analyzer that saw every record in one process.
  const scored = { ...labels, incidents: after };
  const oneProcess = createAnalyzer(defaultConfig());
  const want = scoreRun(scored, records.flatMap((r) => oneProcess.process(r)));
  const got = scoreRun(scored, events);
  const detected = (x: typeof got) => x.types.flatMap((t) => after.filter((i) => i.type === t.type && !t.missed.includes(i.id)).map((i) => i.id));
  expect(detected(want).length).toBeGreaterThan(0);
  expect(detected(got)).toEqual(detected(want));
  // Not asserted: false alarms. Two analyzers each see part of every group, and the groups' fleet state
  // is not checkpointed yet, so fleet-relative behaviors are noisier than in one process.
}, 420_000);

it('a restore that cannot finish in time is retried with a longer allowance, and then restores every checkpointed device', async () => {
  const brokers = inject('kafkaBrokers');
  const run = `restore-${Date.now()}`;
  const topicArgs = ['--topic', `${run}.inspection`, '--anomalies-topic', `${run}.anomalies`, '--state-topic', `${run}.state`];
  // A first analyzer learns a small fleet (20 minutes of it) and checkpoints it.
  const fleet = scenarioRecords({ out: join(dir, 'restore'), devices: 20, days: 0.05, incidentsPerType: 0, joiners: 0, seed: 5 });
  const records = intervalBatches(fleet.records).slice(0, 20).flat();
  const devices = new Set(records.map((r) => r.device.id)).size;
  expect(devices).toBeGreaterThan(10);
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
  expect(done.checkpointed).toBe(devices);
  expect(done.restored).toBe(devices);
  expect(await c.stop()).toBe(0);
}, 300_000);
