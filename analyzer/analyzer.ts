// The analyzer: InspectionRecords in, AnomalyEvents out, one record at a time and deterministic
// (the same records in the same order give the same events). Per record it derives the metrics,
// judges every behavior against a static value, the device's own baseline or its group's
// percentile, steps the behavior's alarm, and only then learns from the record, so a value is
// never part of the baseline it is judged by.
//
// All state is plain data with toJSON/fromJSON: per device (baseline, seen destinations, usual
// protocol mix, alarm states, duration windows) for a compacted topic keyed by device id, and per
// group (fleet.ts) under its own key.

import type { InspectionRecord } from '../contracts/inspection-record.js';
import { AlarmStates, CLEARED, IN_ALARM, type AlarmTransition } from './alarms.js';
import { EVENT_SCHEMA_ID, type AnomalyEvent, type Detector, type EventBaseline } from '../contracts/anomaly-event.js';
import { DeviceBaseline, type BaselineOptions, type BaselineState } from './baseline.js';
import { decodeArray, encodeArray } from './codec.js';
import { ADDED, destinationKey, KNOWN_SINCE_WARMUP, SeenDestinations, type SeenDestinationsState } from './destinations.js';
import { summarize } from './explain.js';
import {
  FLEET_FEATURES, learnMix, METRIC_COUNT, METRICS, mixShift, M_FLEET, M_NEW_DEST_BYTES, M_NEW_DESTS, M_PROTO_SHIFT,
  PROTOCOL_SLOTS, protocolShares, recordMetrics,
} from './features.js';
import { Fleet, GroupState, type FleetStateJSON } from './fleet.js';
import { breaches, compileRules, validateConfig, type AnalyzerConfig, type CompiledRule } from './rules.js';
import { toSpace } from './baseline.js';

export const STATE_SCHEMA_ID = 'tapwatch.analyzer-state.v1';
const DEFAULT_GROUP = 'default';

export interface DeviceStateJSON {
  id: string;
  ip: string;
  imsi?: string;
  group: string;
  records: number;
  baseline: BaselineState;
  destinations: SeenDestinationsState;
  mix: string | null;
  alarms: Record<string, number[]>;
  windows: string;
  windowCounts: number[];
}

export interface AnalyzerStateJSON {
  schema: typeof STATE_SCHEMA_ID;
  layout: string;
  fleet: FleetStateJSON;
  devices: Record<string, DeviceStateJSON>;
}

class DeviceState {
  ip: string;
  imsi: string | undefined;
  records = 0;
  mix: Float32Array | null = null;
  windows: Float64Array;
  windowCounts: number[];

  constructor(
    readonly id: string,
    readonly group: string,
    readonly baseline: DeviceBaseline,
    readonly destinations: SeenDestinations,
    readonly alarms: AlarmStates,
    windowSize: number,
    rules: number,
    ip: string,
  ) {
    this.ip = ip;
    this.windows = new Float64Array(windowSize);
    this.windowCounts = new Array<number>(rules).fill(0);
  }
}

export interface Analyzer {
  /** Judges one record; the events are the alarm transitions it caused (usually none). */
  process(record: InspectionRecord): readonly AnomalyEvent[];
  /** One device's state, for a checkpoint keyed by device id; undefined if the device was never seen. */
  snapshot(deviceId: string): DeviceStateJSON | undefined;
  /** Puts a device's checkpointed state back (replacing what this analyzer had for it). */
  restore(deviceId: string, state: DeviceStateJSON): void;
  /** The groups' state (percentiles, shares, destination sketch, isolation forests), for its own checkpoint key. */
  snapshotFleet(): FleetStateJSON;
  restoreFleet(state: FleetStateJSON): void;
  deviceIds(): string[];
  /** Everything: restoreAnalyzer(config, JSON.parse(JSON.stringify(a))) continues exactly where `a` stands. */
  toJSON(): AnalyzerStateJSON;
  readonly config: AnalyzerConfig;
}

const NONE: readonly AnomalyEvent[] = Object.freeze([]);

export function createAnalyzer(config: AnalyzerConfig): Analyzer {
  return new AnalyzerImpl(validateConfig(config));
}

export function restoreAnalyzer(config: AnalyzerConfig, state: AnalyzerStateJSON): Analyzer {
  const a = new AnalyzerImpl(validateConfig(config));
  a.load(state);
  return a;
}

class AnalyzerImpl implements Analyzer {
  private readonly rules: CompiledRule[];
  private readonly names: string[];
  private readonly baselineOptions: BaselineOptions;
  private readonly windowOffset: number[];
  private readonly windowSize: number;
  private readonly devices = new Map<string, DeviceState>();
  private readonly fleet: Fleet;
  private readonly layout: string;
  private readonly v = new Float64Array(METRIC_COUNT);
  private readonly shares = new Float64Array(PROTOCOL_SLOTS);
  private readonly fleetVector = new Float64Array(FLEET_FEATURES.length);
  private readonly thresholdOf = new Float64Array(1);
  private readonly newForMinutes: number;
  private readonly bucketMinutes: number;

  constructor(readonly config: AnalyzerConfig) {
    const compiled = compileRules(config);
    this.rules = compiled.rules;
    this.names = this.rules.map((r) => r.behavior.name);
    const t = config.timeOfDay;
    this.baselineOptions = {
      buckets: t.buckets,
      warmup: config.warmupIntervals,
      minBucketSamples: t.minBucketSamples,
      minPatternStrength: t.minPatternStrength,
      gain: config.baseline.gain,
      gateMads: config.baseline.gateMads / 1.4826,
      relearnAfter: config.baseline.relearnAfter,
      levels: compiled.levels,
    };
    this.windowOffset = [];
    let size = 0;
    for (const r of this.rules) {
      this.windowOffset.push(size);
      if (r.window > 1) size += r.window;
    }
    this.windowSize = size;
    this.fleet = new Fleet(FLEET_FEATURES.length, config, this.rules);
    this.newForMinutes = config.destinations.newForSeconds / 60;
    this.bucketMinutes = 1440 / t.buckets;
    // What a checkpoint's arrays depend on: restoring across a change of any of these is refused.
    this.layout = JSON.stringify({
      metrics: METRICS, buckets: t.buckets, warmup: config.warmupIntervals, levels: compiled.levels,
      capacity: config.destinations.capacity, fleetFeatures: FLEET_FEATURES.length, trainingVectors: config.fleet.trainingVectors,
      windows: this.rules.map((r) => [r.behavior.name, r.window]),
    });
  }

  process(r: InspectionRecord): readonly AnomalyEvent[] {
    if (!r.interval.complete) return NONE; // a cut-short interval says nothing about the device's rate
    const minute = Math.floor(Date.parse(r.interval.start) / 60000);
    const current = this.fleet.advance(minute);
    const dev = this.device(r);
    const g = this.fleet.group(dev.group);
    const v = this.v;
    const warming = !dev.baseline.ready;
    recordMetrics(r, this.config.intervalSeconds, v);
    this.novelty(r, dev, g, minute, warming);
    const hasMix = protocolShares(r, this.shares);
    v[M_PROTO_SHIFT] = dev.mix && hasMix ? mixShift(this.shares, dev.mix) : 0;
    for (let i = 0; i < FLEET_FEATURES.length; i++) this.fleetVector[i] = toSpace(FLEET_FEATURES[i], v[FLEET_FEATURES[i]]);
    v[M_FLEET] = g.forest ? g.forest.score(this.fleetVector) : NaN;

    const bucket = this.bucketOf(minute);
    let events: AnomalyEvent[] | null = null;
    for (const rule of this.rules) {
      const observed = this.windowed(dev, rule, v[rule.metric]);
      if (Number.isNaN(observed)) continue;
      // A group percentile describes the healthy peers: a handful of scanners in a group of two
      // hundred would otherwise be its p99 and hide each other.
      if (current && rule.stat?.kind === 'quantile' && rule.stat.scope === 'group' && !dev.alarms.anyActive()) g.addValue(rule.index, observed);
      const how = this.threshold(rule, dev, g, bucket);
      if (how === NO_DATAPOINT) continue;
      const threshold = this.thresholdOf[0];
      const raw = breaches(rule.cmp, observed, threshold);
      if (current) g.countEvaluation(rule.index, raw);
      const breached = raw && g.closedShare[rule.index] < rule.suppressShare;
      const t = dev.alarms.step(rule.index, breached, rule.toAlarm, rule.toClear, minute);
      if (t) (events ??= []).push(this.event(r, dev, g, rule, t, how, observed, threshold, bucket, minute));
    }

    const inAlarm = dev.alarms.anyActive();
    dev.baseline.learn(v, bucket, inAlarm);
    if (!inAlarm) {
      if (current) g.addTraining(this.fleetVector);
      if (hasMix) {
        const first = dev.mix === null;
        dev.mix ??= new Float32Array(PROTOCOL_SLOTS);
        learnMix(dev.mix, this.shares, this.config.protocolMix.rate, first);
      }
    }
    dev.records++;
    return events ?? NONE;
  }

  private device(r: InspectionRecord): DeviceState {
    const id = r.device.id;
    let dev = this.devices.get(id);
    if (!dev) {
      const group = r.device.group ?? DEFAULT_GROUP;
      dev = new DeviceState(
        id, group, new DeviceBaseline(this.baselineOptions), new SeenDestinations(this.config.destinations.capacity),
        new AlarmStates(this.rules.length), this.windowSize, this.rules.length, r.device.ip,
      );
      this.devices.set(id, dev);
      this.fleet.group(group).devices++;
    }
    dev.ip = r.device.ip;
    dev.imsi = r.device.imsi ?? dev.imsi;
    return dev;
  }

  /**
   * Destinations in the record's top list that the device has not used before (within the
   * newForSeconds window since it first did) and that its group has not taken up: the count and
   * their bytes. The top list is the collector's top-K by bytes, so a device must be run with a K
   * above the number of servers it normally talks to for a small new flow to be visible.
   */
  private novelty(r: InspectionRecord, dev: DeviceState, g: GroupState, minute: number, warming: boolean): void {
    let count = 0;
    let bytes = 0;
    let adoptions = 0;
    const share = !dev.alarms.anyActive();
    const seen = dev.destinations;
    for (const d of r.destinations.top) {
      const key = destinationKey(d);
      const touched = seen.touch(key, minute, warming);
      const slot = touched & (ADDED - 1);
      if (touched & ADDED && share && adoptions < this.config.destinations.maxAdoptionsPerRecord) {
        g.adopt(key);
        adoptions++;
      }
      const first = seen.first[slot];
      if (first !== KNOWN_SINCE_WARMUP && minute - first < this.newForMinutes && !g.common(key)) {
        count++;
        bytes += d.bytes;
      }
    }
    this.v[M_NEW_DESTS] = count;
    this.v[M_NEW_DEST_BYTES] = bytes * (this.config.intervalSeconds / r.interval.seconds);
  }

  private bucketOf(minute: number): number {
    const m = (((minute + this.config.timeOfDay.utcOffsetMinutes) % 1440) + 1440) % 1440;
    return Math.floor(m / this.bucketMinutes);
  }

  /** The value a behavior compares: this record's, or the sum (mean) over its durationSeconds. */
  private windowed(dev: DeviceState, rule: CompiledRule, x: number): number {
    if (rule.window === 1 || Number.isNaN(x)) return x;
    const off = this.windowOffset[rule.index];
    const n = dev.windowCounts[rule.index];
    dev.windows[off + (n % rule.window)] = x;
    dev.windowCounts[rule.index] = n + 1;
    const used = Math.min(n + 1, rule.window);
    let sum = 0;
    for (let i = 0; i < used; i++) sum += dev.windows[off + i];
    return rule.additive ? sum : sum / used;
  }

  /**
   * Puts the behavior's threshold in thresholdOf[0] and says where it came from. A behavior whose
   * statistic does not exist yet (device warming up, group too small or not yet through one
   * interval) makes no datapoint: its static value is a floor under the statistic, and alone it
   * would judge a busy camera by a meter's standards.
   */
  private threshold(rule: CompiledRule, dev: DeviceState, g: GroupState, bucket: number): number {
    let stat = NaN;
    let source = FROM_STATIC;
    const s = rule.stat;
    if (s) {
      if (s.kind === 'quantile' && s.scope === 'group') {
        stat = g.closedQuantile[rule.index] * s.multiplier;
        source = FROM_GROUP;
      } else {
        const off = dev.baseline.slotOffset(rule.metric, bucket, rule.minBucketSamples);
        if (off >= 0) {
          stat = s.kind === 'mad'
            ? dev.baseline.madThreshold(rule.metric, off, rule.upward ? s.k : -s.k)
            : dev.baseline.quantile(rule.metric, off, s.level) * s.multiplier;
          source = FROM_DEVICE;
        }
      }
    }
    if (s === null) {
      this.thresholdOf[0] = rule.value!;
      return FROM_STATIC;
    }
    if (Number.isNaN(stat)) return NO_DATAPOINT;
    this.thresholdOf[0] = rule.value === null ? stat : rule.upward ? Math.max(rule.value, stat) : Math.min(rule.value, stat);
    return source;
  }

  private event(
    r: InspectionRecord, dev: DeviceState, g: GroupState, rule: CompiledRule, t: AlarmTransition, how: number,
    observed: number, threshold: number, bucket: number, minute: number,
  ): AnomalyEvent {
    const b = rule.behavior;
    const m = rule.metric;
    const baseline: EventBaseline = { scope: 'static', statistic: 'value', value: rule.value ?? threshold };
    if (how === FROM_GROUP && rule.stat?.kind === 'quantile') {
      Object.assign(baseline, { scope: 'group', statistic: rule.stat.label, value: g.closedQuantile[rule.index], group: g.name, devices: g.closedDevices[rule.index] });
    } else if (how === FROM_DEVICE && rule.stat) {
      const off = dev.baseline.slotOffset(m, bucket, rule.minBucketSamples);
      baseline.scope = 'device';
      baseline.statistic = rule.stat.kind === 'mad' ? 'mad' : rule.stat.label;
      baseline.value = rule.stat.kind === 'mad'
        ? dev.baseline.madThreshold(m, off, rule.upward ? rule.stat.k : -rule.stat.k)
        : dev.baseline.quantile(m, off, rule.stat.level);
    }
    const off = dev.baseline.slotOffset(m, bucket, rule.minBucketSamples);
    if (off >= 0) {
      const view = dev.baseline.view(m, off);
      baseline.median = view.median;
      baseline.mad = Math.max(0, view.mad);
      baseline.samples = view.samples;
      if (view.slot < this.config.timeOfDay.buckets) baseline.time_of_day = this.bucketLabel(view.slot);
    }
    const detector: Detector = m === M_FLEET ? 'fleet-model' : how === FROM_DEVICE ? 'device-baseline' : how === FROM_GROUP ? 'group-percentile' : 'static';
    const time = new Date(minute * 60000).toISOString();
    const score = rule.upward ? (threshold > 0 ? observed / threshold : observed) : observed > 0 ? threshold / observed : threshold;
    const e: Omit<AnomalyEvent, 'summary'> = {
      schema: EVENT_SCHEMA_ID,
      event_id: `${dev.id}/${b.name}/${time}/${t}`,
      '@timestamp': time,
      interval_seconds: r.interval.seconds,
      device: { id: dev.id, ip: dev.ip, ...(dev.imsi ? { imsi: dev.imsi } : {}), ...(r.device.group ? { group: dev.group } : {}) },
      detector,
      behavior: b.name,
      metric: METRICS[m],
      comparison: b.criteria.comparisonOperator,
      observed: round(observed),
      threshold: round(threshold),
      baseline: roundBaseline(baseline),
      score: round(Math.max(0, score)),
      severity: b.severity,
      alarm: t,
      datapoints: dev.alarms.streak(rule.index, t, rule.toClear),
      ...(t === CLEARED ? { alarm_since: new Date(dev.alarms.since(rule.index) * 60000).toISOString() } : {}),
      ...(b.suspected && t === IN_ALARM ? { suspected: b.suspected } : {}),
    };
    return { ...e, summary: summarize(e, b.advice, r.interval.seconds) };
  }

  private bucketLabel(slot: number): string {
    const start = slot * this.bucketMinutes - this.config.timeOfDay.utcOffsetMinutes;
    const hh = (min: number): string => {
      const x = ((min % 1440) + 1440) % 1440;
      return `${String(Math.floor(x / 60)).padStart(2, '0')}:${String(x % 60).padStart(2, '0')}`;
    };
    return `${hh(start)}-${hh(start + this.bucketMinutes)} UTC`;
  }

  snapshot(deviceId: string): DeviceStateJSON | undefined {
    const d = this.devices.get(deviceId);
    if (!d) return undefined;
    return {
      id: d.id,
      ip: d.ip,
      ...(d.imsi ? { imsi: d.imsi } : {}),
      group: d.group,
      records: d.records,
      baseline: d.baseline.toJSON(),
      destinations: d.destinations.toJSON(),
      mix: d.mix && encodeArray(d.mix),
      alarms: d.alarms.toJSON(this.names),
      windows: encodeArray(d.windows),
      windowCounts: d.windowCounts.slice(),
    };
  }

  restore(deviceId: string, s: DeviceStateJSON): void {
    const dev = new DeviceState(
      deviceId, s.group, new DeviceBaseline(this.baselineOptions, s.baseline), SeenDestinations.fromJSON(s.destinations),
      AlarmStates.fromJSON(this.names, s.alarms), this.windowSize, this.rules.length, s.ip,
    );
    if (dev.destinations.capacity !== this.config.destinations.capacity) throw new Error(`checkpoint of ${deviceId}: destination capacity ${dev.destinations.capacity}, configured ${this.config.destinations.capacity}`);
    dev.imsi = s.imsi;
    dev.records = s.records;
    dev.mix = s.mix === null ? null : decodeArray(s.mix, Float32Array, PROTOCOL_SLOTS);
    dev.windows = decodeArray(s.windows, Float64Array, this.windowSize);
    dev.windowCounts = s.windowCounts.length === this.rules.length ? s.windowCounts.slice() : new Array<number>(this.rules.length).fill(0);
    if (!this.devices.has(deviceId)) this.fleet.group(s.group).devices++;
    this.devices.set(deviceId, dev);
  }

  snapshotFleet(): FleetStateJSON {
    return this.fleet.toJSON();
  }

  restoreFleet(s: FleetStateJSON): void {
    this.fleet.restore(s);
    // A group's size is the devices this analyzer holds, whichever order devices and fleet were restored in.
    for (const g of this.fleet.groups.values()) g.devices = 0;
    for (const d of this.devices.values()) this.fleet.group(d.group).devices++;
  }

  deviceIds(): string[] {
    return [...this.devices.keys()];
  }

  toJSON(): AnalyzerStateJSON {
    const devices: Record<string, DeviceStateJSON> = {};
    for (const id of this.devices.keys()) devices[id] = this.snapshot(id)!;
    return { schema: STATE_SCHEMA_ID, layout: this.layout, fleet: this.fleet.toJSON(), devices };
  }

  load(s: AnalyzerStateJSON): void {
    if (s.schema !== STATE_SCHEMA_ID) throw new Error(`TWN0002: not an analyzer state (${String(s.schema)})`);
    if (s.layout !== this.layout) throw new Error('TWN0002: the state was saved with another metric/bucket/behavior layout; start the analyzer without it');
    for (const [id, d] of Object.entries(s.devices)) this.restore(id, d);
    this.restoreFleet(s.fleet);
  }
}

const NO_DATAPOINT = 0;
const FROM_STATIC = 1;
const FROM_DEVICE = 2;
const FROM_GROUP = 3;

const round = (x: number): number => (Number.isFinite(x) ? Math.round(x * 1000) / 1000 : 0);

function roundBaseline(b: EventBaseline): EventBaseline {
  const out: EventBaseline = { ...b, value: round(b.value) };
  if (b.median !== undefined) out.median = round(b.median);
  if (b.mad !== undefined) out.mad = round(b.mad);
  if (b.samples !== undefined) out.samples = Math.round(b.samples);
  return out;
}

