// tapwatch index against a real Kafka broker and a real Elasticsearch node: records published by
// the collector end up indexed exactly once, even when the node is stopped mid-stream and comes
// back, and a malformed message is counted and skipped instead of stalling the partition.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { startElasticsearch, type EsNode } from '../scripts/es-node.js';
import { generateFleetMirror } from '../synth/fleet-mirror.js';

const cli = join(import.meta.dirname, '..', 'dist', 'cli', 'tapwatch.js');
let dir: string;
let es: EsNode;
let indexer: ChildProcess | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tapwatch-indexer-'));
  es = await startElasticsearch({ version: process.env.ELASTICSEARCH_VERSION || undefined });
}, 240_000);

afterAll(async () => {
  indexer?.kill('SIGKILL');
  await es?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function count(client: Client): Promise<number> {
  await client.indices.refresh({ index: 'tapwatch-inspection-*' });
  return (await client.count({ index: 'tapwatch-inspection-*' })).count;
}

it('Elasticsearch stopped mid-stream and restarted: every record indexed exactly once', async () => {
  const brokers = inject('kafkaBrokers');
  const topic = `inspection-idx-${Date.now()}`;
  const capture = join(dir, 'fleet.pcap');
  generateFleetMirror({ out: capture, packets: 40_000, devices: 120, seed: 31 });
  const ndjson = join(dir, 'records.ndjson');
  execFileSync('node', [cli, 'collect', '--pcap', capture, '--interval', '1', '--out', ndjson, '--log-level', 'silent']);
  const expected = readFileSync(ndjson, 'utf8').trim().split('\n');

  // A malformed message first: it must be counted and skipped, not block what follows it.
  const kafka = new Kafka({ clientId: 'tapwatch-test', brokers: [brokers], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages: [{ key: 'x', value: '{"not": "a record"' }] });
  await producer.disconnect();

  let stderr = '';
  indexer = spawn('node', [cli, 'index', '--kafka', brokers, '--elasticsearch', es.url, '--topic', topic, '--group', `idx-${topic}`, '--stats-interval', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
  indexer.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => indexer!.on('close', r));

  // The collector publishes at capture speed while the node goes away for a while.
  const collector = spawn('node', [cli, 'collect', '--pcap', capture, '--interval', '1', '--speed', '1', '--kafka', brokers, '--topic', topic, '--log-level', 'warn'], { stdio: 'ignore' });
  const collected = new Promise<number | null>((r) => collector.on('close', r));
  await new Promise((r) => setTimeout(r, 3000));
  await es.stop({ keepData: true });
  await new Promise((r) => setTimeout(r, 5000));
  await es.restart();
  expect(await collected).toBe(0);

  const client = new Client({ node: es.url });
  let n = 0;
  for (let i = 0; i < 120 && n < expected.length; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    n = await count(client).catch(() => 0);
  }
  expect(n, stderr.split("\n").slice(-25).join("\n")).toBe(expected.length);
  // Exactly once: the ids are device + interval start, so every expected pair is there once.
  const ids = new Set(expected.map((l) => {
    const r = JSON.parse(l);
    return `${r.device.id}@${r.interval.start}`;
  }));
  expect(ids.size).toBe(expected.length);

  indexer.kill('SIGTERM');
  expect(await exited).toBe(0);
  const logs = stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  const final = logs.find((l) => l.msg === 'final counters');
  expect(final.malformed).toBe(1);
  expect(final.rejected).toBe(0);
  expect(final.retries).toBeGreaterThan(0);
  expect(logs.some((l) => l.msg === 'bulk request failed; retrying')).toBe(true);
  await client.close();
}, 300_000);
