// The scenario generator: a labelled IoT fleet as a GRE mirror capture. Plans the fleet, the benign
// events and the incidents from the seed, then runs every activity through one scheduler straight
// into the pcap writer (nothing but the activities' state is held in memory), and writes
// mirror.pcap, inventory.csv and labels.json into the output directory. Same options, same bytes.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { World } from './behaviour.js';
import { startDevice } from './classes.js';
import { Cloud } from './cloud.js';
import { fleetClasses, makeDevice, type Device, type DeviceClass } from './fleet.js';
import { DEFAULT_RANGES, planIncidents, tracked, type Incident, type IncidentRanges } from './incidents.js';
import { benignRows, deviceRows, iso, isoEnd, isoStart, writeInventory, writeLabels, type Labels } from './labels.js';
import { NoisePlan, toMs } from './noise.js';
import { Rand, subSeed } from './random.js';
import { Scheduler } from './sched.js';
import { DAY, HOUR } from './units.js';
import { ipText, MirrorWriter } from './wire.js';

export interface ScenarioOptions {
  out: string;
  devices?: number;
  days?: number;
  seed?: number;
  /** The analyzer's interval (s): incidents last at least two of them; written to the labels. */
  interval?: number;
  incidentsPerType?: number;
  /** First timestamp (ISO 8601). */
  start?: string;
  /** Hours before any incident but the first-10-minutes ones (default: a quarter of the run, at most 24). */
  learningHours?: number;
  /** Devices that join during the run (default 2 % of the fleet, at least 3). */
  joiners?: number;
  /** Narrower incident ranges (tests); the defaults are DEFAULT_RANGES. */
  ranges?: Partial<IncidentRanges>;
}

export const SCENARIO_DEFAULTS = { devices: 500, days: 2, seed: 1, interval: 60, incidentsPerType: 4, start: '2026-03-02T00:00:00.000Z' } as const;

export interface ScenarioResult {
  dir: string;
  packets: number;
  bytes: number;
  seconds: number;
  labels: Labels;
}

export function generateScenario(opts: ScenarioOptions): ScenarioResult {
  const started = process.hrtime.bigint();
  const o = { ...SCENARIO_DEFAULTS, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) } as Required<Omit<ScenarioOptions, 'ranges' | 'learningHours' | 'joiners'>> & ScenarioOptions;
  for (const k of ['devices', 'incidentsPerType', 'seed', 'interval'] as const) {
    if (!Number.isInteger(o[k]) || o[k] < (k === 'devices' || k === 'interval' ? 1 : 0)) throw new RangeError(`${k} must be a whole number, got ${o[k]}`);
  }
  if (!(o.days > 0)) throw new RangeError(`days must be positive, got ${o.days}`);
  const t0 = Date.parse(o.start) * 1000;
  if (!Number.isFinite(t0)) throw new RangeError(`start is not an ISO 8601 time: ${o.start}`);
  const end = t0 + toMs(o.days * DAY);
  const learningEnd = t0 + toMs((o.learningHours ?? Math.min(24, o.days * 6)) * HOUR);
  if (learningEnd >= end) throw new RangeError('the learning period covers the whole run');
  const joiners = o.joiners ?? Math.max(3, Math.round(o.devices * 0.02));

  // The fleet: devices present from the start, then joiners at times spread over the run.
  const classes = fleetClasses({ devices: o.devices, joiners, seed: o.seed });
  const perClass = new Map<DeviceClass, number>();
  const jr = new Rand(subSeed(o.seed, 9));
  const devices: Device[] = classes.map((cls, i) => {
    const n = (perClass.get(cls) ?? 0) + 1;
    perClass.set(cls, n);
    const j = i - o.devices;
    const joinUs = j < 0 ? 0 : t0 + toMs((0.1 + (0.8 * (j + jr.float())) / joiners) * (end - t0));
    return makeDevice(i, n, cls, joinUs, o.seed);
  });

  const cloud = new Cloud(o.seed);
  const noise = NoisePlan.plan({ start: t0, end, learningEnd, seed: o.seed }, devices, cloud);
  const incidents = planIncidents({
    seed: o.seed, start: t0, end, learningEnd, perType: o.incidentsPerType, interval: o.interval, ranges: { ...DEFAULT_RANGES, ...o.ranges },
  }, devices, cloud, noise);

  mkdirSync(o.out, { recursive: true });
  const w = new MirrorWriter(join(o.out, 'mirror.pcap'), { seed: subSeed(o.seed, 0xf111) });
  const sched = new Scheduler(end);
  const world: World = { w, sched, cloud, noise, start: t0, end, benign: [] };
  for (const d of devices) startDevice(world, d);
  for (const inc of incidents) sched.spawn(tracked(inc, inc.proc(world, inc)));
  try {
    sched.run();
  } finally {
    w.close();
  }

  const labels: Labels = {
    generator: 'tapwatch-scenarios',
    format: 1,
    options: { devices: o.devices, days: o.days, seed: o.seed, interval: o.interval, incidents_per_type: o.incidentsPerType, start: o.start, learning_hours: (learningEnd - t0) / HOUR, joiners },
    start: iso(t0),
    end: iso(end),
    interval: o.interval,
    learning_end: iso(learningEnd),
    devices: deviceRows(devices),
    incidents: incidents.map((inc) => incidentRow(inc)),
    benign: benignRows([...noise.labels, ...world.benign]),
  };
  writeInventory(join(o.out, 'inventory.csv'), devices);
  writeLabels(join(o.out, 'labels.json'), labels);
  return { dir: o.out, packets: w.packets, bytes: w.fileBytes, seconds: Number(process.hrtime.bigint() - started) / 1e9, labels };
}

function incidentRow(inc: Incident): Labels['incidents'][number] {
  const params = Object.fromEntries(Object.entries(inc.params).filter(([k]) => !k.endsWith('_n') && k !== 'seed'));
  return {
    id: inc.id, type: inc.type, device_id: inc.dev.id, device_ip: ipText(inc.dev.ip),
    start: isoStart(inc.start), end: isoEnd(Math.max(inc.end, inc.last)), detail: inc.detail, params,
  };
}
