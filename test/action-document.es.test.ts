// The responder's ActionEvents, every action and result, mapped by actionDocument(), are accepted by the
// strict tapwatch-actions template on the real node, once each however often they are sent.

import { Client } from '@elastic/elasticsearch';
import { expect, inject, it } from 'vitest';
import { ACTION_RESULTS, ACTION_TYPES, type ActionEvent } from '../contracts/action-event.js';
import { defaultPolicy } from '../responder/policy.js';
import { createResponder } from '../responder/responder.js';
import { installTemplates } from '../indexer/templates.js';
import { actionDocument, actionDocumentId, actionIndex } from '../indexer/documents.js';
import { anomaly, at, MemoryControl } from './helpers/responder-fixtures.js';

/** A run of the responder that produces every action type and every result. */
async function everyKindOfAction(): Promise<ActionEvent[]> {
  const events: ActionEvent[] = [];
  const control = new MemoryControl();
  for (const d of ['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6']) control.add(d);
  const policy = { ...defaultPolicy(), quarantineGroupId: 'quarantine', releaseAfterSeconds: 600, allowlist: ['m5'], breaker: { maxActionsPerMinute: 3, maxFleetPercent: 100 } };
  const live = createResponder({ policy, client: control, publish: (ev) => void events.push(ev) });
  await live.handle(anomaly('m0', { severity: 'medium' }), at(0));
  await live.handle(anomaly('m1', { severity: 'high' }), at(0));
  await live.handle(anomaly('m2', { severity: 'critical' }), at(0));
  await live.handle(anomaly('m3', { severity: 'critical' }), at(1)); // breaker
  await live.handle(anomaly('m4', { severity: 'low' }), at(1));
  await live.handle(anomaly('m5', { severity: 'critical' }), at(1)); // allowlist
  await live.handle(anomaly('m0', { severity: 'critical', behavior: 'telnet-scan' }), at(2)); // cooldown
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
    const res = await client.bulk({ refresh: true, operations: events.flatMap((e) => [{ index: { _index: actionIndex(), _id: actionDocumentId(e) } }, actionDocument(e)]) });
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
