// Scores an analyzer's events against a scenario's labels: per incident type recall, precision
// and time to detect, false alarms per 1,000 device-days, and what the benign firmware updates
// were reported as. Shared by bench-detect.ts and its regression test.
//
// Definitions (what the bench table means):
// - An incident is detected by an in-alarm event on its device, of a behavior that is meant to
//   catch its type (CATCHES), in one of its intervals: start <= k < end. Any other alarm is no
//   detection: "recall 1.0" means the right detector fired in time, not that something did.
// - recall(type): incidents of the type detected / incidents of the type.
// - time to detect: first detecting event's interval - the incident's start interval (0 = the
//   incident's first interval).
// - false alarm: an in-alarm event on a device with no incident (malicious or firmware) in or up
//   to GRACE intervals before its interval (an alarm a little after an incident ends is the same
//   episode, not a new alarm; it is not a detection either). Alarms of other behaviors during an
//   incident are counted apart (offTarget), neither detections nor false alarms.
//   Device-days are those after warm-up (the warm-up day is counted for false alarms all the same).
// - precision(type): detecting events of the type / (those + all false alarms): a false alarm has
//   no type, so every type is charged with all of them.
// - firmware updates are benign: their events are counted apart, with the highest severity reached.

import type { AnomalyEvent } from '../contracts/anomaly-event.js';
import { MALICIOUS_TYPES, type IncidentType, type Incident, type Scenario } from '../synth/scenario.js';

const GRACE = 3;

/** The behaviors whose alarm counts as detecting each incident type. */
export const CATCHES: Readonly<Record<IncidentType, readonly string[]>> = {
  exfiltration: ['upload-volume', 'upload-to-new-destination'],
  'telnet-scan': ['telnet-scan', 'destination-fanout'],
  ddos: ['packet-flood'],
  'c2-beacon': ['new-destination-beacon'],
  'dns-tunnel': ['dns-tunnel'],
  'firmware-update': [],
};
const SEVERITY_RANK = { low: 0, medium: 1, high: 2, critical: 3 } as const;

export interface TypeScore {
  type: IncidentType;
  incidents: number;
  detected: number;
  recall: number;
  events: number;
  precision: number;
  medianTimeToDetect: number | null;
  behaviors: Record<string, number>;
}

export interface RunScore {
  types: TypeScore[];
  firmware: { incidents: number; reported: number; events: number; maxSeverity: string | null; aboveLow: number };
  falseAlarms: number;
  deviceDays: number;
  falseAlarmsPer1000DeviceDays: number;
  falseAlarmBehaviors: Record<string, number>;
  falseAlarmSamples: AnomalyEvent[];
  /** In-alarm events during an incident by a behavior not meant to catch it, by behavior. */
  offTarget: Record<string, number>;
  eventsTotal: number;
}

export function scoreRun(sc: Scenario, events: readonly AnomalyEvent[]): RunScore {
  const t0 = Date.parse(sc.intervalStart(0));
  const step = sc.options.intervalSeconds * 1000;
  const byDevice = new Map<string, Incident[]>();
  for (const inc of sc.incidents) byDevice.set(inc.device, [...(byDevice.get(inc.device) ?? []), inc]);
  const first = new Map<Incident, number>();
  const matched = new Map<Incident, AnomalyEvent[]>();
  const falseAlarms: AnomalyEvent[] = [];
  const offTarget: Record<string, number> = {};
  for (const e of events) {
    if (e.alarm !== 'in-alarm') continue;
    const k = Math.round((Date.parse(e['@timestamp']) - t0) / step);
    const near = (byDevice.get(e.device.id) ?? []).filter((inc) => k >= inc.start && k < inc.end + GRACE);
    if (near.length === 0) {
      falseAlarms.push(e);
      continue;
    }
    const hits = near.filter((inc) => k < inc.end && CATCHES[inc.type].includes(e.behavior));
    if (hits.length === 0 && near.some((inc) => inc.type !== 'firmware-update')) offTarget[e.behavior] = (offTarget[e.behavior] ?? 0) + 1;
    // Firmware updates are benign: whatever alarms during one is what it was reported as.
    for (const inc of near.filter((i) => i.type === 'firmware-update')) matched.set(inc, [...(matched.get(inc) ?? []), e]);
    for (const inc of hits) {
      matched.set(inc, [...(matched.get(inc) ?? []), e]);
      if (!first.has(inc) || k < first.get(inc)!) first.set(inc, k);
    }
  }
  const fa = falseAlarms.length;
  const types = MALICIOUS_TYPES.map((type): TypeScore => {
    const incs = sc.incidents.filter((i) => i.type === type);
    const detected = incs.filter((i) => first.has(i));
    const ttd = detected.map((i) => first.get(i)! - i.start).sort((a, b) => a - b);
    const evs = incs.flatMap((i) => matched.get(i) ?? []);
    const behaviors: Record<string, number> = {};
    for (const e of evs) behaviors[e.behavior] = (behaviors[e.behavior] ?? 0) + 1;
    return {
      type,
      incidents: incs.length,
      detected: detected.length,
      recall: incs.length ? detected.length / incs.length : 1,
      events: evs.length,
      precision: evs.length + fa > 0 ? evs.length / (evs.length + fa) : 1,
      medianTimeToDetect: ttd.length ? median(ttd) : null,
      behaviors,
    };
  });
  const fw = sc.incidents.filter((i) => i.type === 'firmware-update');
  const fwEvents = fw.flatMap((i) => matched.get(i) ?? []);
  let max: keyof typeof SEVERITY_RANK | null = null;
  for (const e of fwEvents) if (max === null || SEVERITY_RANK[e.severity] > SEVERITY_RANK[max]) max = e.severity;
  const deviceDays = sc.options.devices * (sc.options.days - sc.options.warmupDays);
  const falseAlarmBehaviors: Record<string, number> = {};
  for (const e of falseAlarms) falseAlarmBehaviors[e.behavior] = (falseAlarmBehaviors[e.behavior] ?? 0) + 1;
  return {
    types,
    firmware: {
      incidents: fw.length,
      reported: fw.filter((i) => matched.has(i)).length,
      events: fwEvents.length,
      maxSeverity: max,
      aboveLow: fwEvents.filter((e) => e.severity !== 'low').length,
    },
    falseAlarms: fa,
    deviceDays,
    falseAlarmsPer1000DeviceDays: (fa / deviceDays) * 1000,
    falseAlarmBehaviors,
    falseAlarmSamples: falseAlarms.slice(0, 10),
    offTarget,
    eventsTotal: events.length,
  };
}

function median(sorted: number[]): number {
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

export const TARGETS = { recall: 0.95, falseAlarmsPer1000DeviceDays: 1, medianTimeToDetect: 2, recordsPerSecond: 50_000 } as const;

/** The targets a run misses, in words; empty when all are met. */
export function missedTargets(s: RunScore, recordsPerSecond?: number): string[] {
  const out: string[] = [];
  for (const t of s.types) {
    if (t.recall < TARGETS.recall) out.push(`${t.type}: recall ${t.recall.toFixed(3)} < ${TARGETS.recall}`);
    if (t.medianTimeToDetect === null || t.medianTimeToDetect > TARGETS.medianTimeToDetect) out.push(`${t.type}: median time to detect ${t.medianTimeToDetect} > ${TARGETS.medianTimeToDetect} intervals`);
  }
  if (s.falseAlarmsPer1000DeviceDays > TARGETS.falseAlarmsPer1000DeviceDays) out.push(`false alarms ${s.falseAlarmsPer1000DeviceDays.toFixed(2)} per 1,000 device-days > ${TARGETS.falseAlarmsPer1000DeviceDays}`);
  if (s.firmware.aboveLow > 0) out.push(`firmware updates reported above low severity ${s.firmware.aboveLow} times (max ${s.firmware.maxSeverity})`);
  if (recordsPerSecond !== undefined && recordsPerSecond < TARGETS.recordsPerSecond) out.push(`throughput ${Math.round(recordsPerSecond)} records/s < ${TARGETS.recordsPerSecond}`);
  return out;
}
