// The responder's ActionEvents, every action and result, mapped by actionDocument(), are accepted by the
// strict tapwatch-actions template on the real node, once each however often they are sent; and an action lands in
// the time window of the anomaly it answers, whenever it was decided.

import { Client } from '@elastic/elasticsearch';
import { expect, inject, it } from 'vitest';
import { ACTION_RESULTS, ACTION_TYPES, type ActionEvent } from '../contracts/action-event.js';
import { defaultPolicy } from '../responder/policy.js';
import { createResponder } from '../responder/responder.js';
import { installTemplates } from '../indexer/templates.js';
import { actionDocument, actionDocumentId, actionIndex } from '../indexer/documents.js';
import { anomaly, at, MemoryControl } from './helpers/responder-fixtures.js';
import { indexedNow } from './helpers/es-fixtures.js';
import { anomalyDocument, anomalyDocumentId, anomalyIndex } from '../indexer/documents.js';
import type { AnomalyEvent } from '../contracts/anomaly-event.js';

/** A run of the responder that produces every action type and every result. */
async function everyKindOfAction(): Promise<ActionEvent[]> {
  const events: ActionEvent[] = [];
  const control = new MemoryControl();
  for (const d of ['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6']) control.add(d);
  // The shipped rules never block; this run needs every action, so critical blocks here.
  const rules = [{ name: 'critical-block', severity: ['critical' as const], action: 'block' as const }, ...defaultPolicy().rules];
  const policy = { ...defaultPolicy(), rules, quarantineGroupId: 'quarantine', releaseAfterSeconds: 600, allowlist: ['m5'], breaker: { maxActionsPerMinute: 3, maxFleetPercent: 100 } };
  const live = createResponder({ policy, client: control, publish: (ev) => void events.push(ev) });
  await live.handle(anomaly('m0', { severity: 'medium' }), at(0));
  await live.handle(anomaly('m1', { severity: 'high' }), at(0));
  await live.handle(anomaly('m2', { severity: 'critical' }), at(0));
  await live.handle(anomaly('m3', { severity: 'critical' }), at(1)); // breaker
  await live.handle(anomaly('m4', { severity: 'low' }), at(1));
  await live.handle(anomaly('m5', { severity: 'critical' }), at(1)); // allowlist
  await live.handle(anomaly('m0', { severity: 'critical', behavior: 'scan' }), at(2)); // cooldown
  await live.handle({ ...anomaly('gw', { severity: 'critical' }), device: { id: 'gw', ip: '10.0.0.1' } }, at(2)); // no IMSI
  control.failure = new Error('503 from the control API');
  await live.handle(anomaly('m6', { severity: 'critical' }), at(120));
  control.failure = null;
  await live.releaseDue(at(3600));
  const dry = createResponder({ policy: { ...policy, dryRun: true }, client: control, publish: (ev) => void events.push(ev) });
  await dry.handle(anomaly('m6', { severity: 'high', seconds: 5 }), at(5));
  return events;
}

it('responder events index into tapwatch-actions under the strict mapping, idempotently', async () => {
  const events = await everyKindOfAction();
  expect(new Set(events.map((e) => e.action))).toEqual(new Set(ACTION_TYPES));
  expect(new Set(events.map((e) => e.result))).toEqual(new Set(ACTION_RESULTS));

  const client = new Client({ node: inject('elasticsearchUrl') });
  await installTemplates(client);
  await client.indices.delete({ index: actionIndex(), ignore_unavailable: true });
  for (let pass = 0; pass < 2; pass++) {
    const res = await client.bulk({ refresh: true, operations: events.flatMap((e) => [{ index: { _index: actionIndex(), _id: actionDocumentId(e) } }, actionDocument(e, indexedNow())]) });
    expect(res.items.filter((i) => i.index?.error).map((i) => i.index?.error?.reason)).toEqual([]);
  }
  expect((await client.count({ index: actionIndex() })).count).toBe(events.length);
  // What the "Actions taken" panel aggregates on, and the fields added for the responder.
  const res = await client.search({
    index: actionIndex(),
    size: 0,
    aggs: { results: { terms: { field: 'action.result', size: 20 } }, failed: { filter: { term: { 'event.outcome': 'failure' } } }, released: { filter: { exists: { field: 'action.releases.action_id' } } } },
  });
  const aggs = res.aggregations as Record<string, { buckets?: { key: string }[]; doc_count?: number }>;
  expect(aggs.results.buckets!.map((b) => b.key).sort()).toEqual([...ACTION_RESULTS].sort());
  expect(aggs.failed.doc_count).toBe(events.filter((e) => e.result === 'failed').length);
  expect(aggs.released.doc_count).toBe(events.filter((e) => e.action === 'release').length);
  await client.close();
}, 120_000);

it('an action shares the time window of the anomaly it answers, though decided hours later; its decision time is event.created', async () => {
  // A capture replayed two hours after its traffic: the responder decides on the wall clock, at(7200) and later.
  const events: ActionEvent[] = [];
  const control = new MemoryControl();
  control.add('r0');
  const policy = { ...defaultPolicy(), releaseAfterSeconds: 600, breaker: { maxActionsPerMinute: 10, maxFleetPercent: 100 } };
  const responder = createResponder({ policy, client: control, publish: (ev) => void events.push(ev) });
  const alarm: AnomalyEvent = anomaly('r0', { severity: 'medium', seconds: 0 });
  await responder.handle(alarm, at(7200));
  await responder.releaseDue(at(7200 + 3600)); // the TTL release: about no traffic, so at its decision time
  expect(events.map((e) => [e.action, e.result])).toEqual([['throttle', 'applied'], ['release', 'applied']]);

  const client = new Client({ node: inject('elasticsearchUrl') });
  await installTemplates(client);
  const index = { anomalies: `${anomalyIndex()}-window`, actions: `${actionIndex()}-window` };
  try {
    await client.index({ index: index.anomalies, id: anomalyDocumentId(alarm), document: anomalyDocument(alarm, indexedNow()), refresh: true });
    await client.bulk({ refresh: true, operations: events.flatMap((e) => [{ index: { _index: index.actions, _id: actionDocumentId(e) } }, actionDocument(e, indexedNow())]) });
    // What a dashboard's date histogram does with them: the anomaly and its action in the same minute.
    const res = await client.search({
      index: [index.anomalies, index.actions],
      size: 0,
      aggs: { t: { date_histogram: { field: '@timestamp', fixed_interval: '1m', min_doc_count: 1 }, aggs: { kinds: { terms: { field: 'event.dataset' } } } } },
    });
    const buckets = (res.aggregations!.t as { buckets: { key_as_string: string; kinds: { buckets: { key: string; doc_count: number }[] } }[] }).buckets;
    const kinds = (b: (typeof buckets)[number]) => b.kinds.buckets.map((k) => `${k.key}×${k.doc_count}`).sort();
    expect(buckets.map((b) => [b.key_as_string, kinds(b)])).toEqual([
      [at(0).toISOString(), ['tapwatch.action×1', 'tapwatch.anomaly×1']],
      [at(7200 + 3600).toISOString(), ['tapwatch.action×1']],
    ]);
    const actions = (await client.search<Record<string, any>>({ index: index.actions, sort: [{ '@timestamp': 'asc' }] })).hits.hits.map((h) => h._source!);
    expect(actions.map((d) => [d.event.action, d['@timestamp'], d.event.created])).toEqual([
      ['throttle', at(0).toISOString(), at(7200).toISOString()],
      ['release', at(10800).toISOString(), at(10800).toISOString()],
    ]);
  } finally {
    await client.indices.delete({ index: Object.values(index), ignore_unavailable: true });
    await client.close();
  }
});
