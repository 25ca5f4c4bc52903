// Real AnomalyEvents from the analyzer, mapped by anomalyDocument(), are accepted by the strict
// tapwatch-anomalies template on the real node, once each however often they are sent, and keep the time of the
// traffic they are about apart from when they were decided and indexed.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { expect, inject, it } from 'vitest';
import { createAnalyzer } from '../analyzer/analyzer.js';
import type { AnomalyEvent } from '../contracts/anomaly-event.js';
import { defaultConfig } from '../analyzer/rules.js';
import { scenarioRecords } from '../bench/detect-pipeline.js';
import { installTemplates } from '../indexer/templates.js';
import { anomalyDocument, anomalyDocumentId, anomalyIndex } from '../indexer/documents.js';

it('analyzer events index into tapwatch-anomalies under the strict mapping, idempotently', async () => {
  // The collector's records of a small labelled capture with incidents (bench/detect-pipeline.ts).
  const dir = mkdtempSync(join(tmpdir(), 'tapwatch-es-scenario-'));
  const analyzer = createAnalyzer(defaultConfig());
  const events: AnomalyEvent[] = [];
  try {
    for (const r of scenarioRecords({ out: dir, devices: 40, days: 0.5, incidentsPerType: 2, seed: 13 }).records) events.push(...analyzer.process(r));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  expect(events.length).toBeGreaterThan(10);
  expect(new Set(events.map((e) => e.alarm))).toEqual(new Set(['in-alarm', 'alarm-cleared']));

  const client = new Client({ node: inject('elasticsearchUrl') });
  await installTemplates(client);
  // The capture is hours of 1-minute intervals analyzed in an instant: decided (event.created) long after the traffic.
  const decided = new Date('2026-12-02T10:00:00.000Z');
  const before = Date.now();
  for (let pass = 0; pass < 2; pass++) {
    const res = await client.bulk({ refresh: true, operations: events.flatMap((e) => [{ index: { _index: anomalyIndex(), _id: anomalyDocumentId(e) } }, anomalyDocument(e, { ingested: new Date(), created: decided })]) });
    const failed = res.items.filter((i) => i.index?.error).map((i) => i.index?.error?.reason);
    expect(failed).toEqual([]);
  }
  expect((await client.count({ index: anomalyIndex() })).count).toBe(new Set(events.map((e) => e.event_id)).size);
  const bySeverity = await client.search({ index: anomalyIndex(), size: 0, aggs: { s: { terms: { field: 'severity' } } } });
  const buckets = (bySeverity.aggregations!.s as { buckets: { key: string; doc_count: number }[] }).buckets;
  expect(buckets.reduce((n, b) => n + b.doc_count, 0)).toBe(events.length);

  // @timestamp is the interval the anomaly is about; event.created when it was decided; event.ingested when indexed.
  const byId = new Map(events.map((e) => [e.event_id, e]));
  const hits = (await client.search<Record<string, any>>({ index: anomalyIndex(), size: 10_000, query: { terms: { event_id: [...byId.keys()] } } })).hits.hits;
  expect(hits).toHaveLength(byId.size);
  for (const h of hits) {
    const doc = h._source!;
    expect(doc['@timestamp'], doc.event_id).toBe(byId.get(doc.event_id)!['@timestamp']);
    expect(doc.event.created).toBe(decided.toISOString());
    expect(Date.parse(doc.event.ingested)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(doc.event.ingested)).toBeLessThanOrEqual(Date.now());
  }
  await client.close();
}, 120_000);
