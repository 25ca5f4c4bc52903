import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { recordErrors } from '../contracts/inspection-record.js';
import { INCIDENT_TYPES, Scenario } from './scenario.js';

const digest = (sc: Scenario, intervals: number): string => {
  const h = createHash('sha256');
  let i = 0;
  for (const batch of sc.batches()) {
    h.update(JSON.stringify(batch));
    if (++i === intervals) break;
  }
  return h.digest('hex');
};

describe('scenario', () => {
  const opts = { devices: 80, days: 2, incidentsPerType: 3 };

  it('is deterministic: the same seed gives the same records, another seed others', () => {
    expect(digest(new Scenario({ ...opts, seed: 9 }), 40)).toBe(digest(new Scenario({ ...opts, seed: 9 }), 40));
    expect(digest(new Scenario({ ...opts, seed: 10 }), 40)).not.toBe(digest(new Scenario({ ...opts, seed: 9 }), 40));
  });

  it('writes InspectionRecords that pass the collector\'s schema', () => {
    const sc = new Scenario({ ...opts, seed: 9 });
    let checked = 0;
    let i = 0;
    for (const batch of sc.batches()) {
      if (i++ % 37 === 0) for (const r of batch) {
        expect(recordErrors(r)).toBeNull();
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });

  it('labels each incident type on its own devices, after warm-up, inside the run', () => {
    const sc = new Scenario({ ...opts, seed: 9 });
    for (const t of INCIDENT_TYPES) expect(sc.incidents.filter((x) => x.type === t).length).toBe(3);
    expect(new Set(sc.incidents.map((x) => x.device)).size).toBe(sc.incidents.length);
    for (const x of sc.incidents) {
      expect(x.start).toBeGreaterThanOrEqual(sc.warmupIntervals);
      expect(x.end).toBeLessThanOrEqual(sc.intervals);
      expect(x.end).toBeGreaterThan(x.start);
    }
    expect(new Set(sc.devices.map((d) => d.group))).toEqual(new Set(['meters-east', 'meters-west', 'trackers', 'cameras', 'gateways']));
  });

  it('injects what each incident is: e.g. the scan sweeps port 23 without answers, the outage silences a group', () => {
    const sc = new Scenario({ ...opts, seed: 9 });
    const scan = sc.incidents.find((x) => x.type === 'telnet-scan')!;
    const storm = sc.fleetEvents.find((e) => e.kind === 'reconnect-storm')!;
    let i = 0;
    for (const batch of sc.batches()) {
      if (i === scan.start) {
        const r = batch.find((x) => x.device.id === scan.device)!;
        expect(r.tcp.syn - r.tcp.syn_ack).toBeGreaterThan(100);
        expect(r.destinations.distinct).toBeGreaterThan(100);
        expect(r['detected.protos'].map((p) => p.name)).toContain('telnet');
      }
      if (i === storm.start + 1) expect(batch.filter((r) => r.device.group === 'meters-east')).toEqual([]);
      i++;
    }
  });
});
