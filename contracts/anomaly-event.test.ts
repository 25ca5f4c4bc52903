// The AnomalyEvent contract: the schema accepts what the analyzer writes and says what is wrong with
// what it should not accept; sentences say who, what, against what and what to do; numbers in units.

import { describe, expect, it } from 'vitest';
import { AnomalyEventSchema, eventErrors, EVENT_SCHEMA_ID, type AnomalyEvent } from './anomaly-event.js';
import { formatValue, summarize } from '../analyzer/explain.js';
import { record } from '../test/helpers/records.js';

const event: Omit<AnomalyEvent, 'summary'> = {
  schema: EVENT_SCHEMA_ID,
  event_id: 'meter-0001/upload-volume/2026-03-02T00:05:00.000Z/in-alarm/medium',
  '@timestamp': '2026-03-02T00:05:00.000Z',
  interval_seconds: 300,
  device: { id: 'meter-0001', ip: '10.128.0.1', imsi: '440103000000001', group: 'meters-east' },
  detector: 'device-baseline',
  basis: 'device',
  warmup: { complete: true, seconds: 172800, needed: 86400 },
  behavior: 'upload-volume',
  metric: 'bytes_out',
  comparison: 'greater-than',
  observed: 812_000,
  threshold: 150_000,
  unit: 'per minute',
  baseline: { scope: 'device', statistic: 'p99', value: 25_000, median: 1000, mad: 200, samples: 288, time_of_day: '00:00-03:00 UTC' },
  score: 5.413,
  severity: 'medium',
  alarm: 'in-alarm',
  datapoints: 1,
  suspected: 'data exfiltration',
};
const r = record({ i: 1, seconds: 300 });

describe('AnomalyEvent', () => {
  it('has a schema that accepts an event and says what is wrong with a bad one', () => {
    const e: AnomalyEvent = { ...event, summary: summarize(event, 'Check where the data went.', r) };
    expect(eventErrors(e)).toBeNull();
    expect(eventErrors({ ...e, alarm: 'alarm-invalidated' })).toMatch(/\/alarm must be equal to one of the allowed values/);
    const { summary: _, ...noSummary } = e;
    expect(eventErrors(noSummary)).toMatch(/summary/);
    expect(eventErrors({ ...e, evidence: { kind: 'scan', failed_hosts: 3 } })).toMatch(/evidence/);
    expect(AnomalyEventSchema.required).toContain('baseline');
  });

  it('says who, what, against what and what to do, in one sentence a person can act on', () => {
    const text = summarize(event, 'Check where the data went.', r);
    expect(text).toBe(
      'Device meter-0001 (IMSI 440103000000001, 10.128.0.1, group meters-east): uplink bytes: 4.1 MB in the 5 minutes from 2026-03-02 00:05 UTC (812 kB per minute), ' +
        'above the threshold of 150 kB per minute (its own p99: 25 kB; usual 1.0 kB ± 200 B at 00:00-03:00 UTC), 5.4x past it [upload-volume, medium; judged against the device\'s own history]. ' +
        'Suspected: data exfiltration. Check where the data went.',
    );
    const cleared = summarize({ ...event, alarm: 'alarm-cleared', observed: 2000, datapoints: 3, alarm_since: '2026-03-02T00:05:00.000Z', '@timestamp': '2026-03-02T01:00:00.000Z' }, '', r);
    expect(cleared).toBe('Device meter-0001 (IMSI 440103000000001, 10.128.0.1, group meters-east): uplink bytes: back to 2.0 kB per minute (threshold 150 kB) for 3 consecutive intervals; the upload-volume alarm raised 2026-03-02 00:05 UTC is cleared.');
  });

  it('writes numbers in their units', () => {
    expect(formatValue('bytes_out', 4_123_456)).toBe('4.1 MB');
    expect(formatValue('bytes_out', 950)).toBe('950 B');
    expect(formatValue('bytes_out', -0.2)).toBe('0 B');
    expect(formatValue('dns_queries', -0.2)).toBe('0');
    expect(formatValue('bytes_out', 37_500_000)).toBe('38 MB');
    expect(formatValue('packets_out', 12345.6)).toBe('12,346');
    expect(formatValue('protocol_mix_shift', 0.372)).toBe('37%');
    expect(formatValue('fleet_outlier', 0.7312)).toBe('0.73');
  });
});
