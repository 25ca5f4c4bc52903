// An action document's @timestamp is the time of the traffic its anomaly is about, whichever version of the
// responder wrote the ActionEvent: from the anomaly ref's own @timestamp, or, in events written before refs
// carried it, from the anomaly's event_id. A TTL release (no anomaly) keeps the decision's time.

import { describe, expect, it } from 'vitest';
import { actionDocument } from './documents.js';
import { indexedNow, sampleActionEvent, sampleAnomalyEvent } from '../test/helpers/es-fixtures.js';

describe('actionDocument @timestamp', () => {
  const anomaly = sampleAnomalyEvent({ '@timestamp': '2026-01-01T00:05:00.000Z', device: { id: 'site/2/meter-7', ip: '10.128.0.7' } });

  it("is the anomaly ref's time, not the decision's", () => {
    const e = sampleActionEvent({}, anomaly);
    expect(e.anomaly?.['@timestamp']).toBe('2026-01-01T00:05:00.000Z');
    const doc = actionDocument({ ...e, anomaly: { ...e.anomaly!, '@timestamp': '2026-01-01T00:06:00.000Z' } }, indexedNow());
    expect(doc['@timestamp']).toBe('2026-01-01T00:06:00.000Z');
    expect(doc.event.created).toBe(e['@timestamp']);
  });

  it("is read from the anomaly's event_id in an ActionEvent written before refs carried a time", () => {
    const { '@timestamp': _, ...older } = sampleActionEvent({}, anomaly).anomaly!;
    expect(actionDocument(sampleActionEvent({ anomaly: older }, anomaly), indexedNow())['@timestamp']).toBe('2026-01-01T00:05:00.000Z');
  });

  it("is the decision's time for an action with no anomaly (a release when its time ran out)", () => {
    const e = sampleActionEvent({ action: 'release', anomaly: undefined }, anomaly);
    expect(actionDocument(e, indexedNow())['@timestamp']).toBe(e['@timestamp']);
  });
});
