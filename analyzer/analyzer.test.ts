import { describe, expect, it } from 'vitest';
import { RECORD_SCHEMA_ID, type Destination, type InspectionRecord } from '../contracts/inspection-record.js';
import { quietEvidence } from '../test/helpers/records.js';
import { createAnalyzer, restoreAnalyzer, type Analyzer } from './analyzer.js';
import { eventErrors, type AnomalyEvent } from '../contracts/anomaly-event.js';
import { defaultConfig, type AnalyzerConfig, type Behavior } from './rules.js';
import { Scenario } from '../synth/scenario.js';

const T0 = Date.parse('2026-03-02T00:00:00.000Z');

interface Traffic { bytesOut?: number; syn?: number; synAck?: number; dns?: number; top?: Destination[]; complete?: boolean }

function rec(id: string, interval: number, t: Traffic = {}, group = 'meters'): InspectionRecord {
  const start = new Date(T0 + interval * 300_000).toISOString();
  const up = t.bytesOut ?? 2000 + ((interval * 7919) % 500);
  return {
    schema: RECORD_SCHEMA_ID,
    '@timestamp': start,
    interval: { start, end: new Date(T0 + (interval + 1) * 300_000).toISOString(), seconds: 300, complete: t.complete ?? true },
    device: { id, ip: `10.128.0.${id.length}`, imsi: '440103000000001', group, known: true },
    collector: { source: 'test' },
    tunnel: { type: 'gre' },
    'traffic.statistics': {
      'ethernet.bytes': 0, 'ip.bytes': up + 1000, 'ip.packets': 30, 'total.packets': 30, 'avg.pkt.size': 100, 'max.pkt.size': 200,
      'pkt.len_min64': 0, 'pkt.len_64_128': 30, 'pkt.len_128_256': 0, 'pkt.len_256_1024': 0, 'pkt.len_1024_1500': 0, 'pkt.len_grt1500': 0,
      'tcp.pkts': 30, 'udp.pkts': 0, 'fragmented.pkts': 0, 'unique.flows': 2,
    },
    uplink: { bytes: up, packets: 20 },
    downlink: { bytes: 1000, packets: 10 },
    'detected.protos': [{ name: 'mqtts', packets: 30, bytes: up + 1000, flows: 1 }],
    destinations: { distinct: 1, distinct_ports: 1, top: t.top ?? [{ ip: '203.0.113.10', port: 8883, transport: 'tcp', packets: 30, bytes: up + 1000 }] },
    tcp: { syn: t.syn ?? 1, syn_ack: t.synAck ?? 1, rst: 0 },
    ...quietEvidence(t.dns ?? 1),
  };
}

function config(behaviors?: Behavior[]): AnalyzerConfig {
  const c = structuredClone(defaultConfig());
  c.warmupIntervals = 24;
  c.timeOfDay.minBucketSamples = 3;
  c.fleet.minGroupDevices = 3;
  if (behaviors) c.behaviors = behaviors;
  return c;
}

/** Per behavior and device, events alternate in-alarm, alarm-cleared, starting with in-alarm. */
function alternates(events: readonly AnomalyEvent[]): boolean {
  const last = new Map<string, string>();
  for (const e of events) {
    const k = `${e.device.id}/${e.behavior}`;
    const expected = last.get(k) === 'in-alarm' ? 'alarm-cleared' : 'in-alarm';
    if (e.alarm !== expected) return false;
    last.set(k, e.alarm);
  }
  return true;
}

function run(a: Analyzer, records: InspectionRecord[]): AnomalyEvent[] {
  return records.flatMap((r) => [...a.process(r)]);
}

describe('analyzer', () => {
  it('reports one event per transition: a scan of ten intervals is one in-alarm and one alarm-cleared', () => {
    const a = createAnalyzer(config());
    const records: InspectionRecord[] = [];
    for (let i = 0; i < 30; i++) records.push(rec('meter-1', i));
    for (let i = 30; i < 40; i++) records.push(rec('meter-1', i, { syn: 900, synAck: 12 }));
    for (let i = 40; i < 55; i++) records.push(rec('meter-1', i));
    const events = run(a, records);
    const scan = events.filter((e) => e.behavior === 'telnet-scan');
    expect(scan.map((e) => [e.alarm, e['@timestamp']])).toEqual([
      ['in-alarm', new Date(T0 + 30 * 300_000).toISOString()],
      ['alarm-cleared', new Date(T0 + 45 * 300_000).toISOString()], // after consecutiveDatapointsToClear = 6 quiet intervals
    ]);
    expect(alternates(events)).toBe(true);
    const [raised, cleared] = scan;
    expect(raised).toMatchObject({
      device: { id: 'meter-1', imsi: '440103000000001', group: 'meters' },
      detector: 'device-baseline',
      metric: 'syn_unanswered',
      observed: 888,
      threshold: 60,
      severity: 'high',
      datapoints: 1,
      baseline: { scope: 'device', statistic: 'mad' },
    });
    expect(raised.summary).toMatch(/^Device meter-1 \(IMSI 440103000000001, .*TCP SYNs without a SYN-ACK: 888 in the 5-minute interval from 2026-03-02 02:30 UTC, above the threshold of 60 \(its own median \+ MADs: .*\[telnet-scan, high\]\. Suspected: port scanning .* Quarantine the SIM/);
    expect(cleared.alarm_since).toBe(raised['@timestamp']);
    expect(cleared.summary).toMatch(/alarm raised 2026-03-02 02:30 UTC is cleared/);
    for (const e of events) expect(eventErrors(e)).toBeNull();
  });

  it('ignores a cut-short interval', () => {
    const a = createAnalyzer(config());
    expect(a.process(rec('d', 0, { complete: false, syn: 5000 }))).toEqual([]);
    expect(a.deviceIds()).toEqual([]);
  });

  it('sums a behavior over its durationSeconds', () => {
    const dns: Behavior = {
      name: 'dns-burst', metric: 'dns_queries', severity: 'medium', advice: 'Look at the resolver logs.',
      criteria: { comparisonOperator: 'greater-than', value: { count: 100 }, durationSeconds: 900, consecutiveDatapointsToAlarm: 1, consecutiveDatapointsToClear: 1 },
    };
    const a = createAnalyzer(config([dns]));
    const events = [0, 1, 2, 3].map((i) => a.process(rec('gw', i, { dns: 40 })));
    expect(events.map((e) => e.length)).toEqual([0, 0, 1, 0]); // 40, 80, 120 > 100: in alarm, and stays
    expect(events[2][0]).toMatchObject({ observed: 120, detector: 'static', baseline: { scope: 'static', statistic: 'value', value: 100 } });
  });

  it('does not blame a device for a swing its whole group shares, but does when it is alone', () => {
    const surge: Behavior = {
      name: 'upload-surge', metric: 'bytes_out', severity: 'high', advice: 'Check the device.', suppressWhenGroupShare: 0.2,
      criteria: { comparisonOperator: 'greater-than', statisticalThreshold: { statistic: 'p99', scope: 'device', multiplier: 4 }, consecutiveDatapointsToAlarm: 2, consecutiveDatapointsToClear: 2 },
    };
    const devices = Array.from({ length: 20 }, (_, i) => `meter-${i}`);
    const stream = (surging: (d: number) => boolean): InspectionRecord[] => {
      const out: InspectionRecord[] = [];
      for (let i = 0; i < 40; i++) devices.forEach((d, k) => out.push(rec(d, i, i >= 30 && i < 35 && surging(k) ? { bytesOut: 5e6 } : {})));
      return out;
    };
    expect(run(createAnalyzer(config([surge])), stream(() => true))).toEqual([]);
    const alone = run(createAnalyzer(config([surge])), stream((k) => k === 7));
    expect(alone.filter((e) => e.alarm === 'in-alarm').map((e) => [e.device.id, e['@timestamp']])).toEqual([['meter-7', new Date(T0 + 31 * 300_000).toISOString()]]);
  });

  it('compares with the group percentile of the previous interval, taken over the healthy peers', () => {
    const a = createAnalyzer(config());
    const many = Array.from({ length: 300 }, (_, k) => ({ ip: `198.18.${k >> 8}.${k & 255}`, port: 23, transport: 'tcp' as const, packets: 1, bytes: 60 }));
    let events: AnomalyEvent[] = [];
    for (let i = 0; i < 30; i++) for (let d = 0; d < 12; d++) events.push(...a.process(rec(`m${d}`, i, d === 3 && i >= 28 ? { top: many.slice(0, 20) } : {})));
    const fanout = { ...rec('m3', 30), destinations: { distinct: 300, distinct_ports: 2, top: many.slice(0, 20) } };
    events = [...a.process(fanout)];
    const e = events.find((x) => x.behavior === 'destination-fanout')!;
    expect(e).toMatchObject({ detector: 'group-percentile', observed: 300, threshold: 40, baseline: { scope: 'group', statistic: 'p99', group: 'meters', devices: 12 } });
  });

  describe('state', () => {
    const sc = new Scenario({ devices: 60, days: 2, incidentsPerType: 2, seed: 5 });
    const records = [...sc.batches()].flat();
    const cut = Math.floor(records.length * 0.75) + 17; // after warm-up, in the middle of an interval
    const whole = createAnalyzer(defaultConfig());
    const before = run(whole, records.slice(0, cut));
    const expected = run(whole, records.slice(cut));

    it('is deterministic: the same records in the same order give the same events', () => {
      const again = createAnalyzer(defaultConfig());
      expect([...run(again, records.slice(0, cut)), ...run(again, records.slice(cut))]).toEqual([...before, ...expected]);
      expect(expected.length).toBeGreaterThan(0);
      expect(alternates([...before, ...expected])).toBe(true);
    });

    it('continues exactly after toJSON / restoreAnalyzer, through a JSON string', () => {
      const a = createAnalyzer(defaultConfig());
      run(a, records.slice(0, cut));
      const text = JSON.stringify(a);
      const b = restoreAnalyzer(defaultConfig(), JSON.parse(text));
      expect(run(b, records.slice(cut))).toEqual(expected);
      expect(JSON.stringify(b)).toEqual(JSON.stringify(whole));
    });

    it('continues exactly from per-device checkpoints and the fleet checkpoint, restored in any order', () => {
      const a = createAnalyzer(defaultConfig());
      run(a, records.slice(0, cut));
      const perDevice = new Map(a.deviceIds().map((id) => [id, JSON.parse(JSON.stringify(a.snapshot(id)))]));
      const fleet = JSON.parse(JSON.stringify(a.snapshotFleet()));
      const b = createAnalyzer(defaultConfig());
      const ids = [...perDevice.keys()];
      b.restore(ids[0], perDevice.get(ids[0]));
      b.restoreFleet(fleet);
      for (const id of ids.slice(1).reverse()) b.restore(id, perDevice.get(id));
      expect(run(b, records.slice(cut))).toEqual(expected);
      expect(a.snapshot('no-such-device')).toBeUndefined();
    });

    it('refuses a checkpoint written with another layout', () => {
      const a = createAnalyzer(defaultConfig());
      run(a, records.slice(0, 500));
      const other = defaultConfig();
      other.timeOfDay.buckets = 6;
      expect(() => restoreAnalyzer(other, JSON.parse(JSON.stringify(a)))).toThrow(/TWN0002/);
    });
  });
});
