import { describe, expect, it } from 'vitest';
import { ANOMALY_EVENT_SCHEMA, eventErrors, EVENT_SCHEMA_ID, type AnomalyEvent } from './anomaly-event.js';
import { formatValue, summarize } from '../analyzer/explain.js';

const event: Omit<AnomalyEvent, 'summary'> = {
  schema: EVENT_SCHEMA_ID,
  event_id: 'meter-0001/dns-tunnel/2026-03-03T10:05:00.000Z/in-alarm',
  '@timestamp': '2026-03-03T10:05:00.000Z',
  interval_seconds: 300,
  device: { id: 'meter-0001', ip: '10.128.0.1', imsi: '440103000000001', group: 'meters-east' },
  detector: 'device-baseline',
  behavior: 'dns-tunnel',
  metric: 'dns_queries',
  comparison: 'greater-than',
  observed: 812,
  threshold: 150,
  baseline: { scope: 'device', statistic: 'p99', value: 3, median: 1, mad: 1, samples: 288, time_of_day: '09:00-12:00 UTC' },
  score: 5.413,
  severity: 'high',
  alarm: 'in-alarm',
  datapoints: 1,
  suspected: 'DNS tunnelling',
};

describe('AnomalyEvent', () => {
  it('has a schema that accepts an event and says what is wrong with a bad one', () => {
    const e: AnomalyEvent = { ...event, summary: summarize(event, 'Block the domain.', 300) };
    expect(eventErrors(e)).toBeNull();
    expect(eventErrors({ ...e, alarm: 'alarm-invalidated' })).toMatch(/\/alarm must be equal to one of the allowed values/);
    const { summary: _, ...noSummary } = e;
    expect(eventErrors(noSummary)).toMatch(/must have required property 'summary'/);
    expect(ANOMALY_EVENT_SCHEMA.required).toContain('baseline');
  });

  it('says who, what, against what and what to do, in one sentence a person can act on', () => {
    const text = summarize(event, 'Block the domain at the resolver and quarantine the SIM.', 300);
    expect(text).toBe(
      'Device meter-0001 (IMSI 440103000000001, 10.128.0.1, group meters-east): DNS queries: 812 in the 5-minute interval from 2026-03-03 10:05 UTC, ' +
        'above the threshold of 150 (its own p99: 3; usual 1 ± 1 at 09:00-12:00 UTC), 5.4x past it [dns-tunnel, high]. Suspected: DNS tunnelling. ' +
        'Block the domain at the resolver and quarantine the SIM.',
    );
    const cleared = summarize({ ...event, alarm: 'alarm-cleared', observed: 2, datapoints: 3, alarm_since: '2026-03-03T10:05:00.000Z', '@timestamp': '2026-03-03T11:00:00.000Z' }, '', 300);
    expect(cleared).toBe('Device meter-0001 (IMSI 440103000000001, 10.128.0.1, group meters-east): DNS queries: back to 2 (threshold 150) for 3 consecutive intervals; the dns-tunnel alarm raised 2026-03-03 10:05 UTC is cleared.');
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
