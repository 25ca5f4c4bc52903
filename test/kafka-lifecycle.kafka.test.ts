// The Kafka services as they live beside a real broker: the analyzer started first creates its topics
// with six partitions (never the broker's one-partition auto-creation); SIGTERM stops it within 10 s with
// its offsets committed, also while it is still restoring; a checkpoint written under another
// configuration (or by an older tapwatch, or not JSON) is discarded with a warning and the partition
// goes on; the groups' fleet state is checkpointed and restored; and every service's /metrics and
// /healthz answer (analyze, respond and index here; collect in service-http.test.ts).

import { Client } from '@elastic/elasticsearch';
import { startElasticsearch, type EsNode } from '../scripts/es-node.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { createKafka, endOffsets, withAdmin } from '../kafka/client.js';
import { Producer } from '../kafka/producer.js';
import { ensureTopics } from '../kafka/topics.js';
import { scenarioRecords } from '../bench/detect-pipeline.js';
import { CliProcess } from './helpers/cli-process.js';
import { committedOffsets } from './helpers/kafka-consume.js';
import { until } from './helpers/until.js';

const silent = pino({ level: 'silent' });
const running: CliProcess[] = [];
const nodes: EsNode[] = [];
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tapwatch-lifecycle-'));
});
afterAll(async () => {
  for (const p of running) p.child.kill('SIGKILL');
  await Promise.all(nodes.map((n) => n.stop()));
  rmSync(dir, { recursive: true, force: true });
});

function start(name: string, args: string[]): CliProcess {
  const p = new CliProcess(name, args);
  running.push(p);
  return p;
}

/** SIGTERM, and how long until the exit. */
async function stopTimed(p: CliProcess): Promise<{ code: number | null; ms: number }> {
  const t0 = Date.now();
  const code = await p.stop();
  return { code, ms: Date.now() - t0 };
}

const metric = (text: string, name: string): number =>
  text.split('\n').filter((l) => l.startsWith(name + '{') || l.startsWith(name + ' ')).reduce((a, l) => a + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);

function topicsOf(run: string) {
  return { inspection: `${run}.inspection`, anomalies: `${run}.anomalies`, state: `${run}.state` };
}
/** An analyzer on the topics of `run`, in consumer group `group`; later options override earlier ones. */
const analyzerArgs = (brokers: string, run: string, group: string, ...more: string[]) => {
  const t = topicsOf(run);
  return ['analyze', '--kafka', brokers, '--stats-interval', '1', '--topic', t.inspection, '--anomalies-topic', t.anomalies, '--state-topic', t.state, '--group', group, ...more];
};

/** The records of the first `intervals` minutes of a generated fleet (through the collector), published keyed by device. */
async function publishRecords(brokers: string, topic: string, devices: number, intervals: number, seed: number): Promise<{ records: number; devices: number }> {
  const kafka = createKafka({ brokers: [brokers], clientId: 'tapwatch-test', log: silent });
  const producer = new Producer(kafka, silent);
  const out = join(dir, `fleet-${seed}`);
  const generated = scenarioRecords({ out, devices, days: ((intervals + 1) * 60) / 86_400, incidentsPerType: 0, seed }).records;
  rmSync(out, { recursive: true, force: true });
  const starts = [...new Set(generated.map((r) => r.interval.start))].sort().slice(0, intervals);
  const records = generated.filter((r) => starts.includes(r.interval.start));
  await producer.send(topic, records.map((r) => ({ key: r.device.id, value: JSON.stringify(r) })));
  await producer.close();
  return { records: records.length, devices: new Set(records.map((r) => r.device.id)).size };
}

it('an analyzer first on a fresh broker creates its topics with 6 partitions, serves /metrics, and stops on SIGTERM with offsets committed', async () => {
  const brokers = inject('kafkaBrokers');
  const run = `first-${Date.now()}`;
  const t = topicsOf(run);
  const a = start('analyzer', analyzerArgs(brokers, run, run, '--http', '127.0.0.1:0'));
  const http = (await a.waitForLog('where it serves', (l) => l.msg === 'serving /healthz and /metrics')).http as string;
  await a.waitForLog('that it runs', (l) => l.msg === 'analyzing', 60_000);
  const kafka = createKafka({ brokers: [brokers], clientId: 'tapwatch-test', log: silent });
  const meta = await withAdmin(kafka, (ad) => ad.fetchTopicMetadata({ topics: [t.inspection, t.anomalies, t.state] }));
  expect(meta.map((m) => m.partitions.length)).toEqual([6, 6, 6]);

  const { records: n } = await publishRecords(brokers, t.inspection, 12, 6, 3);
  await a.waitForLog('every record analyzed', (l) => l.msg === 'counters' && l.records === n, 60_000);
  const text = await until('the records in /metrics', async () => {
    const body = await (await fetch(`http://${http}/metrics`)).text();
    return metric(body, 'tapwatch_analyzer_records_total') === n ? body : undefined;
  });
  expect(metric(text, 'tapwatch_consumer_messages_total')).toBe(n);
  expect(text).toMatch(/^tapwatch_consumer_lag_messages\{topic="[^"]+",partition="\d",service="analyze"\} 0$/m);
  expect(metric(text, 'tapwatch_analyzer_checkpoints_total')).toBeGreaterThan(0);
  const health = await until('/healthz ok once the Kafka probe answered', async () => {
    const res = await fetch(`http://${http}/healthz`);
    return res.status === 200 ? res.json() : undefined;
  });
  expect(health).toEqual({ status: 'ok' });

  const stopped = await stopTimed(a);
  expect(stopped.code).toBe(0);
  expect(stopped.ms).toBeLessThan(10_000);
  const ends = await endOffsets(kafka, t.inspection);
  const committed = await committedOffsets(kafka, run, t.inspection);
  for (const [p, offset] of committed) expect([p, offset]).toEqual([p, ends.get(p)]);
  expect(a.last('group state checkpointed')).toBeDefined();
}, 180_000);

it('checkpoints from another configuration are discarded with a warning and the partition goes on; group state comes back', async () => {
  const brokers = inject('kafkaBrokers');
  const run = `fit-${Date.now()}`;
  const t = topicsOf(run);
  // A first analyzer (default rules) learns a fleet and checkpoints devices and groups.
  const first = start('analyzer A', analyzerArgs(brokers, run, run));
  await first.waitForLog('that it runs', (l) => l.msg === 'analyzing', 60_000);
  const { records: n, devices } = await publishRecords(brokers, t.inspection, 10, 8, 4);
  expect(devices).toBeGreaterThanOrEqual(8); // most of the fleet talks within 8 minutes
  await first.waitForLog('every record analyzed', (l) => l.msg === 'counters' && l.records === n, 60_000);
  expect((await stopTimed(first)).code).toBe(0);

  // The same configuration restores the devices and the groups.
  const same = start('analyzer B', analyzerArgs(brokers, run, `${run}-b`, '--topic', `${run}.more`));
  const restoredSame = await same.waitForLog('the restore', (l) => l.msg === 'device state restored', 60_000);
  expect(restoredSame).toMatchObject({ restored: devices, checkpointed: devices, discarded: 0 });
  expect(restoredSame.groupsRestored).toBeGreaterThan(0);
  expect(restoredSame.groupsRestored).toBe(restoredSame.groupsCheckpointed);
  expect((await stopTimed(same)).code).toBe(0);

  // Junk among them: not JSON, and the layout of an older tapwatch (no envelope).
  const kafka = createKafka({ brokers: [brokers], clientId: 'tapwatch-test', log: silent });
  const producer = new Producer(kafka, silent);
  await producer.send(t.state, [{ key: 'device:junk', value: '{not json' }, { key: 'old-device', value: JSON.stringify({ layout: 'x', id: 'old-device', records: 3 }) }]);
  await producer.close();

  // Another warm-up: every checkpoint is discarded with one warning, and the analyzer analyzes.
  const rules = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'analyzer', 'rules.default.json'), 'utf8')) as { warmupSamples: number };
  rules.warmupSamples += 12;
  const rulesFile = join(dir, 'rules.json');
  writeFileSync(rulesFile, JSON.stringify(rules));
  const other = start('analyzer C', analyzerArgs(brokers, run, `${run}-c`, '--topic', `${run}.other`, '--rules', rulesFile));
  const warned = await other.waitForLog('the discard warning', (l) => String(l.msg).startsWith('checkpoints that do not fit this analyzer were discarded'), 60_000);
  expect(warned.discarded).toBeGreaterThanOrEqual(devices + 2);
  expect(Object.keys(warned.reasons as object).sort()).toEqual([
    'not JSON',
    'written by an older tapwatch (no checkpoint version)',
    'written under another configuration (buckets, warm-up, capacities or behaviors changed)',
  ]);
  // Logged right after the warning: wait for it rather than read what has arrived so far.
  expect(await other.waitForLog('the restore', (l) => l.msg === 'device state restored', 30_000)).toMatchObject({ restored: 0, groupsRestored: 0 });
  const { records: m } = await publishRecords(brokers, `${run}.other`, 5, 3, 6);
  await other.waitForLog('its records analyzed all the same', (l) => l.msg === 'counters' && l.records === m, 60_000);
  const stopped = await stopTimed(other);
  expect(stopped).toMatchObject({ code: 0 });
  expect(stopped.ms).toBeLessThan(10_000);
}, 240_000);

it('SIGTERM while the restore is still being retried stops the analyzer within 10 s', async () => {
  const brokers = inject('kafkaBrokers');
  const run = `stop-restore-${Date.now()}`;
  const t = topicsOf(run);
  const kafka = createKafka({ brokers: [brokers], clientId: 'tapwatch-test', log: silent });
  await ensureTopics(kafka, [{ topic: t.state, config: { 'cleanup.policy': 'compact' } }]);
  const producer = new Producer(kafka, silent);
  await producer.send(t.state, [{ key: 'device:x', value: '{}' }]);
  await producer.close();
  // 100 ms is too short to join a group and read the checkpoint topic: the restore fails and is retried.
  const a = start('analyzer', analyzerArgs(brokers, run, run, '--restore-timeout-ms', '100'));
  await a.waitForLog('a failed restore', (l) => l.msg === 'restoring device state failed; retrying', 60_000);
  const stopped = await stopTimed(a);
  expect(stopped.code, a.tail()).toBe(0);
  expect(stopped.ms).toBeLessThan(10_000);
}, 120_000);

it('respond and index serve /metrics and /healthz with their consumer counters', async () => {
  const brokers = inject('kafkaBrokers');
  const run = `scrape-${Date.now()}`;
  // A real Elasticsearch node (from Maven Central, as the es project's), started for this test only.
  const es = await startElasticsearch({});
  nodes.push(es);
  const esUrl = es.url;

  const respond = start('respond', ['respond', '--kafka', brokers, '--group', `${run}-r`, '--control-url', 'http://127.0.0.1:9/v1', '--control-key-id', 'k', '--control-key', 's', '--http', '127.0.0.1:0']);
  const index = start('index', ['index', '--kafka', brokers, '--group', `${run}-i`, '--elasticsearch', esUrl, '--retention-days', '0', '--topic', `${run}.inspection`, '--http', '127.0.0.1:0']);
  const rHttp = (await respond.waitForLog('where it serves', (l) => l.msg === 'serving /healthz and /metrics')).http as string;
  const iHttp = (await index.waitForLog('where it serves', (l) => l.msg === 'serving /healthz and /metrics')).http as string;
  await respond.waitForLog('that it runs', (l) => l.msg === 'responding', 60_000);
  await index.waitForLog('that it runs', (l) => l.msg === 'indexing', 60_000);

  const { records: n } = await publishRecords(brokers, `${run}.inspection`, 4, 2, 8);
  const iText = await until('the indexed records in /metrics', async () => {
    const body = await (await fetch(`http://${iHttp}/metrics`)).text();
    return metric(body, 'tapwatch_indexer_documents_indexed_total') >= n ? body : undefined;
  }, { timeoutMs: 60_000 });
  const client = new Client({ node: esUrl });
  try {
    await client.indices.refresh({ index: 'tapwatch-inspection-*' });
    expect((await client.count({ index: 'tapwatch-inspection-*' })).count).toBe(n);
  } finally {
    await client.close();
  }
  expect(metric(iText, 'tapwatch_consumer_messages_total')).toBeGreaterThanOrEqual(n);
  expect(iText).toMatch(/^# TYPE tapwatch_consumer_invalid_messages_total counter$/m);
  const rText = await (await fetch(`http://${rHttp}/metrics`)).text();
  for (const name of ['tapwatch_responder_actions_total', 'tapwatch_responder_anomalies_total', 'tapwatch_consumer_lag_messages', 'tapwatch_kafka_send_retries_total']) {
    expect(rText).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
  }
  for (const h of [rHttp, iHttp]) {
    const body = await until(`/healthz ok at ${h}`, async () => {
      const res = await fetch(`http://${h}/healthz`);
      return res.status === 200 ? res.json() : undefined;
    });
    expect(body).toEqual({ status: 'ok' });
  }
  for (const p of [respond, index]) {
    const stopped = await stopTimed(p);
    expect(stopped.code, p.tail()).toBe(0);
    expect(stopped.ms).toBeLessThan(10_000);
  }
}, 300_000); // an Elasticsearch node's start included
