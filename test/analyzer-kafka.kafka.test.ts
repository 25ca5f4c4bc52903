// tapwatch analyze --kafka with a real broker: two analyzers share the consumer group; once both
// have learned their devices, one is killed (SIGKILL), and the other takes over its partitions,
// restores those devices' baselines from the compacted checkpoint topic, and catches the incidents
// that follow. Without the restore, the dead analyzer's devices would be back in warm-up and
// silent, and the incidents on them missed.

import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, expect, inject, it } from 'vitest';
import type { AnomalyEvent } from '../contracts/anomaly-event.js';
import { Scenario } from '../synth/scenario.js';
import { scoreRun } from '../bench/detect-score.js';
import { consumeAll } from './helpers/kafka-consume.js';

const cli = join(import.meta.dirname, '..', 'dist', 'cli', 'tapwatch.js');
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

interface Analyzer {
  child: ChildProcess;
  logs: () => Record<string, unknown>[];
}

function startAnalyzer(brokers: string): Analyzer {
  const child = spawn('node', [cli, 'analyze', '--kafka', brokers], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  analyzers.push({ child, logs: () => stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)) });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  return analyzers[analyzers.length - 1];
}

const analyzers: Analyzer[] = [];
/** What the analyzers said besides their periodic counters, for a failure message. */
const said = () => analyzers.map((x, i) => `analyzer ${i}:\n${x.logs().filter((l) => l.msg !== 'counters').slice(-30).map((l) => JSON.stringify(l)).join('\n')}`).join('\n');

async function until(what: string, ok: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!(await ok())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}\n${said()}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

it('an analyzer killed mid-run: the other takes over its devices with their baselines and goes on alarming', async () => {
  const brokers = inject('kafkaBrokers');
  const kafka = new Kafka({ clientId: 'tapwatch-test', brokers: [brokers], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'tapwatch.inspection', numPartitions: 6 }], waitForLeaders: true });

  // The smallest fleet on which the detectors meet their targets in one process (smaller fleets give thin
  // fleet statistics and false alarms, failover or not).
  const sc = new Scenario({ devices: 250, days: 3, incidentsPerType: 2, seed: 9 });
  const batches = [...sc.batches()];
  const split = Math.min(...sc.incidents.map((i) => i.start)) - 2;
  expect(split).toBeGreaterThan(sc.warmupIntervals);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const publish = async (from: number, to: number) => {
    for (const b of batches.slice(from, to)) {
      await producer.send({ topic: 'tapwatch.inspection', acks: -1, messages: b.map((r) => ({ key: r.device.id, value: JSON.stringify(r) })) });
    }
  };
  const lagZero = async () => {
    const ends = await admin.fetchTopicOffsets('tapwatch.inspection');
    const [group] = await admin.fetchOffsets({ groupId: 'tapwatch-analyzer', topics: ['tapwatch.inspection'] });
    const committed = new Map(group.partitions.map((p) => [p.partition, p.offset]));
    return ends.every((e) => committed.get(e.partition) === e.high);
  };

  const a = startAnalyzer(brokers);
  const b = startAnalyzer(brokers);
  await until('both analyzers to be assigned partitions', () => [a, b].every((x) => x.logs().some((l) => l.msg === 'partitions assigned; restoring device state')));
  await publish(0, split);
  await until('the first half to be analyzed', lagZero, 150_000);

  a.child.kill('SIGKILL');
  await publish(split, batches.length);
  await until('the second half to be analyzed by the survivor', lagZero, 150_000);
  b.child.kill('SIGTERM');
  await new Promise((r) => b.child.on('close', r));
  await producer.disconnect();
  await admin.disconnect();

  const restored = b.logs().filter((l) => l.msg === 'device state restored').map((l) => l.restored as number);
  expect(Math.max(0, ...restored), JSON.stringify(b.logs().filter((l) => l.msg !== 'counters'))).toBeGreaterThan(0);
  const final = b.logs().find((l) => l.msg === 'final counters') as { records: number; invalid: number };
  expect(final.invalid).toBe(0);

  const events = (await consumeAll(brokers, 'tapwatch.anomalies', { idleMs: 3000 })).map((m) => JSON.parse(m.value) as AnomalyEvent);
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
