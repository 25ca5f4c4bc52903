// The analyzer's machinery on hand-made records: one event per alarm transition, metric rules per
// minute of traffic whatever the records' interval, a device compared with its group while it warms
// up and with itself after, fleet-wide swings not blamed on one device, events that validate, and
// state that continues exactly from a checkpoint (whole, or per device and fleet in any order). The
// evidence behaviors have their own tests (detectors/detectors.test.ts).

import { describe, expect, it } from 'vitest';
import { eventErrors, type AnomalyEvent } from '../contracts/anomaly-event.js';
import type { InspectionRecord } from '../contracts/inspection-record.js';
import { record, T0 } from '../test/helpers/records.js';
import { createAnalyzer, restoreAnalyzer, type Analyzer } from './analyzer.js';
import { defaultConfig, type AnalyzerConfig, type MetricRule } from './rules.js';

function config(behaviors: AnalyzerConfig['behaviors'], o: Partial<AnalyzerConfig> = {}): AnalyzerConfig {
  const c = structuredClone(defaultConfig());
  c.warmupSeconds = 24 * 60;
  c.warmupSamples = 24;
  c.timeOfDay.minBucketSamples = 3;
  c.fleet.minGroupDevices = 3;
  c.behaviors = behaviors;
  return { ...c, ...o };
}

const dnsBurst: MetricRule = {
  name: 'dns-burst', metric: 'dns_queries', severity: 'medium', advice: 'Look at the resolver logs.',
  criteria: { comparisonOperator: 'greater-than', value: { count: 100 }, consecutiveDatapointsToAlarm: 1, consecutiveDatapointsToClear: 3 },
};

const queries = (n: number) => [{ domain: 'vendor.example', queries: n, distinct_names: 1, examples: ['api.vendor.example'] }];

const RANK = { low: 0, medium: 1, high: 2, critical: 3 } as const;

/** Per behavior and device, events alternate in-alarm, alarm-cleared, starting with in-alarm; an alarm may only escalate in between. */
function alternates(events: readonly AnomalyEvent[]): boolean {
  const last = new Map<string, AnomalyEvent>();
  for (const e of events) {
    const k = `${e.device.id}/${e.behavior}`;
    const prev = last.get(k);
    const ok = prev?.alarm === 'in-alarm'
      ? e.alarm === 'alarm-cleared' || RANK[e.severity] > RANK[prev.severity]
      : e.alarm === 'in-alarm';
    if (!ok) return false;
    last.set(k, e);
  }
  return true;
}

function run(a: Analyzer, records: InspectionRecord[]): AnomalyEvent[] {
  return records.flatMap((r) => [...a.process(r)]);
}

describe('analyzer', () => {
  it('reports one event per transition: ten busy minutes are one in-alarm and one alarm-cleared, with sentences', () => {
    const a = createAnalyzer(config([dnsBurst]));
    const records = Array.from({ length: 25 }, (_, i) => record({ i, domains: queries(i >= 5 && i < 15 ? 500 : 2) }));
    const events = run(a, records);
    expect(events.map((e) => [e.alarm, e['@timestamp']])).toEqual([
      ['in-alarm', records[5]['@timestamp']],
      ['alarm-cleared', records[17]['@timestamp']], // consecutiveDatapointsToClear = 3 quiet minutes
    ]);
    const [raised, cleared] = events;
    expect(raised).toMatchObject({
      device: { id: 'dev-1', imsi: '440101000000001', group: 'meters' }, detector: 'static', basis: 'absolute', metric: 'dns_queries',
      observed: 500, threshold: 100, unit: 'per minute', severity: 'medium', datapoints: 1, baseline: { scope: 'static', statistic: 'value', value: 100 },
    });
    expect(raised.summary).toMatch(/^Device dev-1 \(IMSI 440101000000001, 10\.128\.0\.10, group meters\): DNS queries: 500 in the minute from 2026-03-02 00:05 UTC, above the fixed threshold of 100 per minute, 5\.0x past it \[dns-burst, medium; judged on its own, from the first record\]\. Look at the resolver logs\.$/);
    expect(cleared.alarm_since).toBe(raised['@timestamp']);
    expect(cleared.summary).toMatch(/the dns-burst alarm raised 2026-03-02 00:05 UTC is cleared/);
    expect(alternates(events)).toBe(true);
    for (const e of events) expect(eventErrors(e)).toBeNull();
  });

  it('judges per minute of traffic whatever the interval, and says both', () => {
    const a = createAnalyzer(config([dnsBurst]));
    const [e] = [...a.process(record({ i: 0, seconds: 300, domains: queries(600) }))];
    expect(e).toMatchObject({ observed: 120, threshold: 100, interval_seconds: 300 });
    expect(e.summary).toMatch(/DNS queries: 600 in the 5 minutes from 2026-03-02 00:00 UTC \(120 per minute\), above the fixed threshold of 100 per minute/);
    expect(createAnalyzer(config([dnsBurst])).process(record({ i: 0, seconds: 300, domains: queries(400) }))).toEqual([]); // 80 a minute
  });

  it('judges a cut-short interval on what the traffic is, never on its rates, and learns nothing from it', () => {
    const tunnel = defaultConfig().behaviors.find((b) => b.name === 'dns-tunnel')!;
    const a = createAnalyzer(config([dnsBurst, tunnel]));
    const names = Array.from({ length: 12 }, (_, i) => `${i}q7zx${'k3v9'.repeat(10)}.t.tunnel.example`);
    const r = record({ i: 0, domains: [...queries(5000), { domain: 'tunnel.example', queries: 12, distinct_names: 12, name_bytes: 12 * 62, label_max: 45, unusual_types: 12, entropy: 4.6, examples: names.slice(0, 3) }] });
    r.interval.complete = false;
    // The tunnel's names are there; the 5,000 queries of an interval cut short are no rate to judge.
    expect(a.process(r).map((e) => e.behavior)).toEqual(['dns-tunnel']);
    expect(a.snapshot('dev-1')?.records).toBe(0);
  });

  const surge: MetricRule = {
    name: 'upload-surge', metric: 'bytes_out', severity: 'medium', advice: 'Check the device.', suppressWhenGroupShare: 0.2,
    criteria: { comparisonOperator: 'greater-than', statisticalThreshold: { statistic: 'p99', scope: 'device', multiplier: 4 }, consecutiveDatapointsToAlarm: 2, consecutiveDatapointsToClear: 2 },
  };
  const devices = Array.from({ length: 20 }, (_, i) => `meter-${i}`);
  const usual = (d: number, i: number) => ({ bytes: 2000 + ((d * 7919 + i * 104729) % 500), packets: 20 });
  function stream(minutes: number, surging: (d: number, i: number) => boolean): InspectionRecord[] {
    const out: InspectionRecord[] = [];
    for (let i = 0; i < minutes; i++) devices.forEach((device, d) => out.push(record({ i, device, up: surging(d, i) ? { bytes: 5e6, packets: 4000 } : usual(d, i) })));
    return out;
  }

  it('does not blame a device for a swing its whole group shares, but does when it is alone', () => {
    const during = (i: number) => i >= 30 && i < 35;
    expect(run(createAnalyzer(config([surge])), stream(40, (_, i) => during(i)))).toEqual([]);
    const alone = run(createAnalyzer(config([surge])), stream(40, (d, i) => d === 7 && during(i)));
    expect(alone.filter((e) => e.alarm === 'in-alarm').map((e) => [e.device.id, e['@timestamp'], e.detector, e.basis])).toEqual([['meter-7', record({ i: 31 })['@timestamp'], 'device-baseline', 'device']]);
  });

  it('compares a device still warming up with its group, and says so', () => {
    const events = run(createAnalyzer(config([surge])), stream(8, (d, i) => d === 3 && i >= 5));
    const e = events.find((x) => x.alarm === 'in-alarm')!;
    expect(e).toMatchObject({ device: { id: 'meter-3' }, detector: 'group-percentile', basis: 'group', baseline: { scope: 'group', statistic: 'p99', group: 'meters', devices: 19 }, warmup: { complete: false, needed: 24 * 60 } });
    expect(e.summary).toMatch(/judged against its group while the device warms up/);
    expect(e.summary).toMatch(/The device has \d+ min of history; its own baseline needs 24 min\./);
  });

  it('says how many devices are still warming up, and until when', () => {
    const a = createAnalyzer(config([surge]));
    run(a, stream(10, () => false));
    expect(a.warming()).toEqual({ devices: 20, until: new Date((T0 + 24 * 60) * 1000).toISOString() });
    run(a, stream(30, () => false).slice(10 * 20));
    expect(a.warming()).toEqual({ devices: 0, until: null });
  });

  describe('state', () => {
    // Two groups, a day of warm-up compressed to 24 minutes, and some evidence: scans and a tunnel.
    const c = config(defaultConfig().behaviors);
    const records: InspectionRecord[] = [];
    for (let i = 0; i < 60; i++) {
      devices.forEach((device, d) => records.push(record({
        i, device, group: d < 10 ? 'meters' : 'cameras', up: usual(d, i),
        failed: d === 4 && i >= 40 ? [{ ip: `198.51.100.${i}` }] : [],
        domains: d === 12 && i >= 45 ? [{ domain: 'evil.example', queries: 3, distinct_names: 3, name_bytes: 150, label_max: 40, unusual_types: 3, examples: [`${i}a${'x'.repeat(38)}`, `${i}b${'x'.repeat(38)}`, `${i}c${'x'.repeat(38)}`] }] : [],
      })));
    }
    const cut = Math.floor(records.length * 0.75) + 7;
    const whole = createAnalyzer(c);
    const before = run(whole, records.slice(0, cut));
    const expected = run(whole, records.slice(cut));

    it('is deterministic: the same records in the same order give the same events', () => {
      const again = createAnalyzer(c);
      expect([...run(again, records.slice(0, cut)), ...run(again, records.slice(cut))]).toEqual([...before, ...expected]);
      expect(expected.length).toBeGreaterThan(0);
      expect(alternates([...before, ...expected])).toBe(true);
    });

    it('gives a group the events and state its own records give it, whatever other groups send around them', () => {
      // Cameras run a minute behind meters here: a fleet-wide clock would take their records for late ones.
      const minute = (r: InspectionRecord) => Date.parse(r.interval.start) / 60_000;
      const shifted = [...records].sort((x, y) => 2 * minute(x) + (x.device.group === 'meters' ? 0 : 3) - (2 * minute(y) + (y.device.group === 'meters' ? 0 : 3)));
      const together = createAnalyzer(c);
      const events = run(together, shifted);
      for (const group of ['meters', 'cameras']) {
        const alone = createAnalyzer(c);
        const own = run(alone, records.filter((r) => r.device.group === group));
        expect(events.filter((e) => e.device.group === group), group).toEqual(own);
        expect(together.snapshotFleet().groups[group], group).toEqual(alone.snapshotFleet().groups[group]);
      }
      expect(events.length).toBeGreaterThan(0);
    });

    it('continues exactly after toJSON / restoreAnalyzer, through a JSON string', () => {
      const a = createAnalyzer(c);
      run(a, records.slice(0, cut));
      const b = restoreAnalyzer(c, JSON.parse(JSON.stringify(a)));
      expect(run(b, records.slice(cut))).toEqual(expected);
      expect(JSON.stringify(b)).toEqual(JSON.stringify(whole));
    });

    it('continues exactly from per-device checkpoints and the fleet checkpoint, restored in any order', () => {
      const a = createAnalyzer(c);
      run(a, records.slice(0, cut));
      const perDevice = new Map(a.deviceIds().map((id) => [id, JSON.parse(JSON.stringify(a.snapshot(id)))]));
      const fleet = JSON.parse(JSON.stringify(a.snapshotFleet()));
      const b = createAnalyzer(c);
      const ids = [...perDevice.keys()];
      expect(b.restore(ids[0], perDevice.get(ids[0]))).toBe(true);
      b.restoreFleet(fleet);
      for (const id of ids.slice(1).reverse()) b.restore(id, perDevice.get(id));
      expect(run(b, records.slice(cut))).toEqual(expected);
      expect(a.snapshot('no-such-device')).toBeUndefined();
    });

    it('refuses a checkpoint written under another layout: the device relearns instead', () => {
      const a = createAnalyzer(c);
      run(a, records.slice(0, 500));
      const other = structuredClone(c);
      other.timeOfDay.buckets = 6;
      expect(() => restoreAnalyzer(other, JSON.parse(JSON.stringify(a)))).toThrow(/TWN0002/);
      const b = createAnalyzer(other);
      expect(b.restore('meter-1', a.snapshot('meter-1')!)).toBe(false);
      expect(b.deviceIds()).toEqual([]);
    });
  });
});
