// The collector against a real Kafka broker: what it publishes is, record for record, what it
// writes as NDJSON; a broker that goes away mid-replay and comes back loses and duplicates nothing;
// SIGTERM mid-run flushes the open interval and what the collector reports as delivered is in Kafka.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startKafka, type KafkaBroker } from '../scripts/kafka-broker.js';
import { generateFleetMirror } from '../synth/fleet-mirror.js';
import { CLI, CliProcess, type LogLine } from './helpers/cli-process.js';
import { consumeAll } from './helpers/kafka-consume.js';

let dir: string;
let capture: string;
let reference: string[]; // the NDJSON lines of the same replay

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tapwatch-ckafka-'));
  capture = join(dir, 'fleet.pcap');
  // 40k packets over ~10 s of capture time: ten 1-second intervals, ~100 devices each.
  generateFleetMirror({ out: capture, packets: 40_000, devices: 120, seed: 21 });
  const out = join(dir, 'reference.ndjson');
  execFileSync('node', [CLI, 'collect', '--pcap', capture, '--interval', '1', '--out', out, '--log-level', 'silent']);
  reference = readFileSync(out, 'utf8').trim().split('\n');
  expect(reference.length).toBeGreaterThan(500);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sorted = (lines: string[]) => [...lines].sort();

interface Counters {
  sink: { delivered: number; retries: number };
  records: number;
  intervals: number;
}
const counters = (l: LogLine) => l as unknown as Counters;
const collect = (args: string[]) => new CliProcess('collect', ['collect', '--stats-interval', '1', ...args]);

describe('collector → Kafka (shared broker)', () => {
  it('replay → Kafka → consume back equals the NDJSON output, record for record, keyed by device', async () => {
    const brokers = inject('kafkaBrokers');
    const topic = `inspection-a-${Date.now()}`;
    const run = collect(['--pcap', capture, '--interval', '1', '--kafka', brokers, '--topic', topic]);
    expect(await run.exited, run.tail()).toBe(0);
    const got = await consumeAll(brokers, topic, { expected: reference.length });
    expect(got.length).toBe(reference.length);
    expect(sorted(got.map((m) => m.value))).toEqual(sorted(reference));
    for (const m of got) expect(m.key).toBe(JSON.parse(m.value).device.id);
    const partitionsOf = new Map<string, Set<number>>();
    for (const m of got) partitionsOf.set(m.key, (partitionsOf.get(m.key) ?? new Set()).add(m.partition));
    expect([...partitionsOf.values()].every((p) => p.size === 1)).toBe(true);
    expect(new Set(got.map((m) => m.partition)).size).toBeGreaterThan(1);
    expect(counters(run.last('final counters')!).sink.delivered).toBe(reference.length);
  });
});

describe('collector → Kafka (its own broker, stopped and restarted)', () => {
  let broker: KafkaBroker;
  beforeAll(async () => {
    broker = await startKafka({ version: inject('kafkaVersion') });
  }, 180_000);
  afterAll(async () => {
    await broker?.stop();
  });

  it('broker stopped mid-replay and restarted: every record in Kafka exactly once, the collector never crashed', async () => {
    const topic = `inspection-b-${Date.now()}`;
    const run = collect(['--pcap', capture, '--interval', '1', '--speed', '1', '--kafka', broker.brokers, '--topic', topic]);
    await run.waitForLog('records delivered', (l) => l.msg === 'counters' && counters(l).sink.delivered > 0);
    await broker.stop({ keepData: true });
    await run.waitForLog('that it waits for the broker', (l) => /kafka send (waiting for the broker|failed; retrying)/.test(String(l.msg)));
    await broker.restart();
    expect(await run.exited, run.tail()).toBe(0);
    expect(counters(run.last('final counters')!).sink.retries).toBeGreaterThan(0);
    const got = await consumeAll(broker.brokers, topic, { expected: reference.length });
    expect(got.length).toBe(reference.length);
    expect(sorted(got.map((m) => m.value))).toEqual(sorted(reference));
  }, 180_000);

  it('SIGTERM while the broker is away: gives up within seconds, says how many records it did not deliver, exits 1', async () => {
    const topic = `inspection-d-${Date.now()}`;
    const run = collect(['--pcap', capture, '--interval', '1', '--speed', '1', '--kafka', broker.brokers, '--topic', topic]);
    await run.waitForLog('records delivered', (l) => l.msg === 'counters' && counters(l).sink.delivered > 0);
    await broker.stop({ keepData: true });
    try {
      await run.waitForLog('that it waits for the broker', (l) => /kafka send (waiting for the broker|failed; retrying)/.test(String(l.msg)));
      const t0 = Date.now();
      expect(await run.stop(), run.tail()).toBe(1);
      expect(Date.now() - t0).toBeLessThan(12_000);
      const plain = run.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('{'));
      expect(plain, run.tail()).toEqual([expect.stringMatching(new RegExp(`^tapwatch collect: \\[TWU0004\\] cannot write kafka:${topic}: \\d+ record\\(s\\) of \\d+ interval\\(s\\) not delivered when it stopped`))]);
      const final = run.last('final counters') as unknown as Counters & { sink: { queuedIntervals: number } };
      expect(final.sink.queuedIntervals).toBeGreaterThan(0);
      expect(final.sink.delivered).toBeLessThan(final.records);
    } finally {
      await broker.restart();
    }
  }, 120_000);

  it('SIGTERM mid-run: the open interval is flushed, the exit is clean, and what it reports delivered is in Kafka', async () => {
    const topic = `inspection-c-${Date.now()}`;
    const run = collect(['--pcap', capture, '--interval', '1', '--speed', '1', '--kafka', broker.brokers, '--topic', topic]);
    await run.waitForLog('some intervals delivered', (l) => l.msg === 'counters' && counters(l).sink.delivered > 0);
    expect(await run.stop(), run.tail()).toBe(0);
    const final = counters(run.last('final counters')!);
    expect(final.sink.delivered).toBe(final.records);
    expect(final.records).toBeGreaterThan(0);
    expect(final.records).toBeLessThan(reference.length);
    const got = await consumeAll(broker.brokers, topic, { expected: final.records });
    expect(got.length).toBe(final.records);
    const values = got.map((m) => JSON.parse(m.value));
    // The interval open at SIGTERM was flushed, marked incomplete.
    expect(values.some((r) => r.interval.complete === false)).toBe(true);
    // Everything before it is exactly what an uninterrupted replay produced.
    const complete = new Set(reference);
    for (const m of got) if (JSON.parse(m.value).interval.complete) expect(complete.has(m.value)).toBe(true);
  }, 120_000);
});
