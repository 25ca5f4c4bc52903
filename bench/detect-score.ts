// Scores an analyzer's events against a packet-level scenario's labels.json (synth/scenarios):
// per incident type recall and time to detect, and false alarms per 1,000 device-days, by behavior
// and by the benign event they fell in. Shared by bench/detect.ts and the tests that run it small.
//
// Definitions (what the bench table means):
// - Times are in intervals of the labels' interval; an event's interval starts at its @timestamp.
// - An incident is detected by an in-alarm event on its device, of a behavior meant to catch its
//   type (CATCHES), in an interval that overlaps the incident's window [start, end + GRACE
//   intervals). Any other alarm is no detection: "recall 1.0" means the right detector fired in
//   time, not that something did.
// - time to detect: the first detecting event's interval minus the interval holding the incident's
//   start (0 = the interval the incident began in).
// - false alarm: an in-alarm event of severity medium or above on a device, in an interval that
//   overlaps none of that device's incident windows (with the grace: an alarm just after an incident
//   is the same episode). Counted again at high or above: the product's hard rule is no high alarm
//   on a benign device. Alarms of other behaviors during an incident are counted apart (offTarget),
//   neither detections nor false alarms. Each false alarm is put down to the most specific benign
//   event it overlaps (the device's own, else its group's, else the fleet's; the shortest first),
//   or to 'none'.
// - device-days: each device from the start of the capture (or when it joined) to its end.

import type { AnomalyEvent } from '../contracts/anomaly-event.js';
import { severityRank } from '../contracts/severity.js';
import { INCIDENT_TYPES, type IncidentType, type Labels } from '../synth/scenarios/labels.js';

/** Intervals after an incident's end in which its alarms still belong to it. */
export const GRACE = 3;

/** The behaviors (analyzer/rules.default.json) whose alarm counts as detecting each incident type. */
export const CATCHES: Readonly<Record<IncidentType, readonly string[]>> = {
  scan: ['scan'],
  'dns-tunnel': ['dns-tunnel'],
  beacon: ['beacon'],
  exfiltration: ['exfiltration', 'upload-volume'],
  flood: ['flood', 'packet-flood'],
};

export interface TypeScore {
  type: IncidentType;
  incidents: number;
  detected: number;
  recall: number;
  medianTimeToDetect: number | null;
  /** Ids of the incidents no catching alarm found. */
  missed: string[];
}

export interface FalseAlarms {
  count: number;
  per1000DeviceDays: number;
  byBehavior: Record<string, number>;
  /** By the most specific benign event the alarm overlaps ('none' when it overlaps none). */
  byBenign: Record<string, number>;
  samples: AnomalyEvent[];
}

export interface RunScore {
  types: TypeScore[];
  deviceDays: number;
  /** In-alarm events of severity medium or above outside every incident of their device. */
  medium: FalseAlarms;
  /** The same at high or above. */
  high: FalseAlarms;
  /** In-alarm events during an incident by a behavior not meant to catch it, by behavior. */
  offTarget: Record<string, number>;
  inAlarm: number;
  eventsTotal: number;
}

interface Window {
  from: number;
  to: number;
}

export function scoreRun(labels: Labels, events: readonly AnomalyEvent[]): RunScore {
  const step = labels.interval * 1000;
  const t0 = Date.parse(labels.start);
  const tEnd = Date.parse(labels.end);
  // Windows in ms; an event covers [ts, ts + step).
  const incidents = labels.incidents.map((inc) => ({ inc, from: Date.parse(inc.start), to: Date.parse(inc.end) + GRACE * step }));
  const byDevice = new Map<string, typeof incidents>();
  for (const w of incidents) byDevice.set(w.inc.device_id, [...(byDevice.get(w.inc.device_id) ?? []), w]);
  const groupOf = new Map(labels.devices.map((d) => [d.id, d.group]));
  const benign = labels.benign.map((b) => ({ b, from: Date.parse(b.start), to: Date.parse(b.end) }));
  const overlaps = (w: Window, ts: number): boolean => ts < w.to && ts + step > w.from;

  const first = new Map<string, number>(); // incident id → first catching event's time
  const medium = falseAlarms();
  const high = falseAlarms();
  const offTarget: Record<string, number> = {};
  let inAlarm = 0;
  for (const e of events) {
    if (e.alarm !== 'in-alarm') continue;
    inAlarm++;
    const ts = Date.parse(e['@timestamp']);
    const near = (byDevice.get(e.device.id) ?? []).filter((w) => overlaps(w, ts));
    if (near.length > 0) {
      const hits = near.filter((w) => CATCHES[w.inc.type].includes(e.behavior));
      if (hits.length === 0) offTarget[e.behavior] = (offTarget[e.behavior] ?? 0) + 1;
      for (const w of hits) if (!first.has(w.inc.id) || ts < first.get(w.inc.id)!) first.set(w.inc.id, ts);
      continue;
    }
    const rank = severityRank(e.severity);
    if (rank < severityRank('medium')) continue;
    const group = groupOf.get(e.device.id);
    const specificity = (b: Labels['benign'][number]): number => (b.device_id ? 0 : b.group === '*' ? 2 : 1);
    const cause = benign
      .filter((w) => overlaps(w, ts) && (w.b.device_id === e.device.id || (w.b.group !== undefined && (w.b.group === '*' || w.b.group === group))))
      .sort((x, y) => specificity(x.b) - specificity(y.b) || (x.to - x.from) - (y.to - y.from))[0];
    const kind = cause?.b.kind ?? 'none';
    add(medium, e, kind);
    if (rank >= severityRank('high')) add(high, e, kind);
  }

  const types = INCIDENT_TYPES.map((type): TypeScore => {
    const incs = incidents.filter((w) => w.inc.type === type);
    const ttd = incs
      .filter((w) => first.has(w.inc.id))
      .map((w) => Math.floor((first.get(w.inc.id)! - t0) / step) - Math.floor((w.from - t0) / step))
      .sort((a, b) => a - b);
    return {
      type,
      incidents: incs.length,
      detected: ttd.length,
      recall: incs.length ? ttd.length / incs.length : 1,
      medianTimeToDetect: ttd.length ? median(ttd) : null,
      missed: incs.filter((w) => !first.has(w.inc.id)).map((w) => w.inc.id),
    };
  });
  const deviceDays = labels.devices.reduce((n, d) => n + (tEnd - Math.max(t0, d.joined ? Date.parse(d.joined) : t0)), 0) / 86_400_000;
  for (const f of [medium, high]) f.per1000DeviceDays = deviceDays > 0 ? (f.count / deviceDays) * 1000 : 0;
  return { types, deviceDays, medium, high, offTarget, inAlarm, eventsTotal: events.length };
}

function falseAlarms(): FalseAlarms {
  return { count: 0, per1000DeviceDays: 0, byBehavior: {}, byBenign: {}, samples: [] };
}

function add(f: FalseAlarms, e: AnomalyEvent, kind: string): void {
  f.count++;
  f.byBehavior[e.behavior] = (f.byBehavior[e.behavior] ?? 0) + 1;
  f.byBenign[kind] = (f.byBenign[kind] ?? 0) + 1;
  if (f.samples.length < 10) f.samples.push(e);
}

function median(sorted: number[]): number {
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

/** "a 3, b 1", largest first. */
export const counts = (r: Record<string, number>): string =>
  Object.entries(r).sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1)).map(([k, n]) => `${k} ${n}`).join(', ');
