// tapwatch index against a real Kafka broker and a real Elasticsearch node: records published by the
// collector end up indexed exactly once and as they were (every document read back and compared),
// even when the node is stopped mid-stream and comes back; a malformed message and a document the
// strict mapping refuses are counted and skipped instead of stalling the partition.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import type { InspectionRecord } from '../contracts/inspection-record.js';
import { inspectionDocument, inspectionDocumentId } from '../indexer/documents.js';
import { createKafka } from '../kafka/client.js';
import { Producer } from '../kafka/producer.js';
import { ensureTopics } from '../kafka/topics.js';
import { startElasticsearch, type EsNode } from '../scripts/es-node.js';
import { generateFleetMirror } from '../synth/fleet-mirror.js';
import { CLI, CliProcess } from './helpers/cli-process.js';
import { until } from './helpers/until.js';

let dir: string;
let es: EsNode;
const running: CliProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tapwatch-indexer-'));
  es = await startElasticsearch({ version: process.env.ELASTICSEARCH_VERSION || undefined });
}, 240_000);

afterAll(async () => {
  for (const p of running) p.child.kill('SIGKILL');
  await es?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function count(client: Client): Promise<number> {
  await client.indices.refresh({ index: 'tapwatch-inspection-*' });
  return (await client.count({ index: 'tapwatch-inspection-*' })).count;
}

it('Elasticsearch stopped mid-stream and restarted: every record indexed exactly once, as it was; bad messages counted and skipped', async () => {
  const brokers = inject('kafkaBrokers');
  const topic = `inspection-idx-${Date.now()}`;
  const capture = join(dir, 'fleet.pcap');
  generateFleetMirror({ out: capture, packets: 40_000, devices: 120, seed: 31 });
  const ndjson = join(dir, 'records.ndjson');
  execFileSync('node', [CLI, 'collect', '--pcap', capture, '--interval', '1', '--out', ndjson, '--log-level', 'silent']);
  const expected = readFileSync(ndjson, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as InspectionRecord);

  // First in the topic: a message that is not JSON, and a record the strict mapping refuses (a counter that is text).
  const silent = pino({ level: 'silent' });
  const kafka = createKafka({ brokers: [brokers], clientId: 'tapwatch-test', log: silent });
  await ensureTopics(kafka, [{ topic, partitions: 3 }]);
  const refused = structuredClone(expected[0]) as unknown as { device: { id: string }; uplink: { bytes: unknown } };
  refused.device.id = 'refused-by-mapping';
  refused.uplink.bytes = 'lots';
  const producer = new Producer(kafka, silent);
  await producer.send(topic, [{ key: 'x', value: '{"not": "a record"' }, { key: refused.device.id, value: JSON.stringify(refused) }]);
  await producer.close();

  const indexer = new CliProcess('index', ['index', '--kafka', brokers, '--elasticsearch', es.url, '--topic', topic, '--group', `idx-${topic}`, '--stats-interval', '1']);
  running.push(indexer);
  const client = new Client({ node: es.url });
  try {
    // The collector publishes at capture speed while the node goes away for a while.
    const collector = new CliProcess('collect', ['collect', '--pcap', capture, '--interval', '1', '--speed', '1', '--kafka', brokers, '--topic', topic, '--log-level', 'warn']);
    running.push(collector);
    await until('some records indexed', async () => (await count(client).catch(() => 0)) > 0, { context: () => indexer.tail() });
    await es.stop({ keepData: true });
    await indexer.waitForLog('a failed bulk request', (l) => l.msg === 'bulk request failed; retrying');
    await es.restart();
    expect(await collector.exited, collector.tail()).toBe(0);

    await until(`all ${expected.length} records indexed`, async () => (await count(client).catch(() => 0)) >= expected.length, { timeoutMs: 120_000, context: () => indexer.tail() });
    expect(await count(client)).toBe(expected.length); // nothing more: no duplicate, no stray
    // Exactly once, as it was: every expected document is there under its id, with the content the indexer makes of it.
    const hits = (await client.search<Record<string, unknown>>({ index: 'tapwatch-inspection-*', size: 10_000, query: { match_all: {} } })).hits.hits;
    const byId = new Map(hits.map((h) => [h._id, h._source]));
    for (const r of expected) {
      const { event, ...doc } = byId.get(inspectionDocumentId(r)) as { event: { ingested: string } };
      const { event: expectedEvent, ...expectedDoc } = JSON.parse(JSON.stringify(inspectionDocument(r, { ingested: new Date(event.ingested) })));
      expect(doc, inspectionDocumentId(r)).toEqual(expectedDoc);
      expect(event).toEqual(expectedEvent);
    }

    expect(await indexer.stop()).toBe(0);
    const final = indexer.last('final counters') as { malformed: number; rejected: number; retries: number };
    expect(final.malformed).toBe(1);
    expect(final.rejected).toBe(1);
    expect(final.retries).toBeGreaterThan(0);
    expect(indexer.logs().some((l) => l.msg === 'document rejected by Elasticsearch' && l.id === inspectionDocumentId(refused as unknown as InspectionRecord))).toBe(true);
  } finally {
    await client.close();
  }
}, 300_000);
