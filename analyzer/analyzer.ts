// The analyzer: InspectionRecords in, AnomalyEvents out, one record at a time and deterministic (the
// same records in the same order give the same events). Per record it
// - judges every evidence behavior (scan, beacon, DNS tunnel, flood, exfiltration, new destination)
//   on what the traffic is, from the device's first record where the evidence means something by
//   itself, and then whether independent evidence agrees (corroborated);
// - judges every metric rule against a fixed line, the device's own history once it has warmed up, or
//   its group's percentile until then;
// - steps each behavior's alarm, and only then learns from the record (baseline, the destinations it
//   knows by name or address, its group's), so a value is never part of the baseline it is judged by.
// Time comes from the records: their interval start and length; metrics are per minute of traffic.
//
// All state is plain data with toJSON/fromJSON: per device (baseline, known destinations, usual
// protocol mix, alarms, evidence states) for a compacted topic keyed by device id, and per group
// (fleet.ts) under its own key. A checkpoint carries the layout it was written with; one that does not
// fit this configuration is refused (the device relearns) rather than misread.

import { EVENT_SCHEMA_ID, type AnomalyEvent, type Detector, type EventBaseline, type Evidence } from '../contracts/anomaly-event.js';
import type { InspectionRecord } from '../contracts/inspection-record.js';
import { SEVERITIES, severityRank } from '../contracts/severity.js';
import { AlarmStates, CLEARED, IN_ALARM, type AlarmTransition } from './alarms.js';
import { DeviceBaseline, toSpace, type BaselineOptions, type BaselineState } from './baseline.js';
import { decodeArray, encodeArray } from './codec.js';
import { hostKey, isPublic, type DetectorContext, type Verdict } from './detectors/detector.js';
import { KNOWN_SINCE_WARMUP, SeenDestinations, ADDED, type SeenDestinationsState } from './destinations.js';
import { summarize } from './explain.js';
import { FLEET_FEATURES, learnMix, METRIC_COUNT, METRICS, mixShift, M_FLEET, M_PROTO_SHIFT, PROTOCOL_SLOTS, protocolShares, recordMetrics } from './features.js';
import { Fleet, GroupState, type FleetStateJSON } from './fleet.js';
import { breaches, compileRules, validateConfig, type AnalyzerConfig, type CompiledEvidence, type CompiledRule } from './rules.js';

export const STATE_SCHEMA_ID = 'tapwatch.analyzer-state.v3';
/** The group of a record that names none. */
export const DEFAULT_GROUP = 'default';

/** The group whose devices a record's device is compared with. */
export const groupOf = (r: InspectionRecord): string => r.device.group ?? DEFAULT_GROUP;

export interface DeviceStateJSON {
  layout: string;
  id: string;
  ip: string;
  imsi?: string;
  group: string;
  records: number;
  /** Interval start of its first record (seconds), and every how many records the warm-up keeps one. */
  first: number;
  stride: number;
  baseline: BaselineState;
  destinations: SeenDestinationsState;
  mix: string | null;
  alarms: Record<string, number[]>;
  evidence: Record<string, unknown>;
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
  /** Per evidence behavior, its detector's state. */
  evidence: unknown[];

  constructor(
    readonly id: string,
    readonly group: string,
    readonly first: number,
    readonly stride: number,
    readonly baseline: DeviceBaseline,
    readonly destinations: SeenDestinations,
    readonly alarms: AlarmStates,
    evidence: unknown[],
    ip: string,
  ) {
    this.ip = ip;
    this.evidence = evidence;
  }
}

export interface Analyzer {
  /** Judges one record; the events are the alarm transitions it caused (usually none). */
  process(record: InspectionRecord): readonly AnomalyEvent[];
  /** One device's state, for a checkpoint keyed by device id; undefined if the device was never seen. */
  snapshot(deviceId: string): DeviceStateJSON | undefined;
  /** Puts a device's checkpointed state back; false (and nothing changed) when it was written under another layout. */
  restore(deviceId: string, state: DeviceStateJSON): boolean;
  /** The groups' state (percentiles, shares, destination sketch, isolation forests), for its own checkpoint key. */
  snapshotFleet(): FleetStateJSON;
  restoreFleet(state: FleetStateJSON): void;
  deviceIds(): string[];
  /** Devices whose own baseline is still warming up, and when the last of them is through. */
  warming(): { devices: number; until: string | null };
  /** Everything: restoreAnalyzer(config, JSON.parse(JSON.stringify(a))) continues exactly where `a` stands. */
  toJSON(): AnalyzerStateJSON;
  readonly config: AnalyzerConfig;
  /** What a checkpoint's arrays depend on (state version, metrics, buckets, warm-up, capacities...). */
  readonly layout: string;
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

/** How a metric rule's threshold was found this record. */
const NO_DATAPOINT = 0;
const FROM_STATIC = 1;
const FROM_DEVICE = 2;
const FROM_GROUP = 3;

class AnalyzerImpl implements Analyzer {
  private readonly rules: CompiledRule[];
  private readonly evidence: CompiledEvidence[];
  private readonly names: string[];
  private readonly baselineOptions: BaselineOptions;
  private readonly devices = new Map<string, DeviceState>();
  private readonly fleet: Fleet;
  readonly layout: string;
  private readonly v = new Float64Array(METRIC_COUNT);
  private readonly shares = new Float64Array(PROTOCOL_SLOTS);
  private readonly fleetVector = new Float64Array(FLEET_FEATURES.length);
  private readonly thresholdOf = new Float64Array(1);
  private readonly bucketMinutes: number;
  private readonly ctx = new Context();
  private lastStart = '';
  private lastStartSeconds = NaN;

  constructor(readonly config: AnalyzerConfig) {
    const compiled = compileRules(config);
    this.rules = compiled.rules;
    this.evidence = compiled.evidence;
    this.names = compiled.names;
    const t = config.timeOfDay;
    this.baselineOptions = {
      buckets: t.buckets,
      warmup: config.warmupSamples,
      minBucketSamples: t.minBucketSamples,
      minPatternStrength: t.minPatternStrength,
      gain: config.baseline.gain,
      gateMads: config.baseline.gateMads / 1.4826,
      relearnAfter: config.baseline.relearnAfter,
      levels: compiled.levels,
    };
    this.fleet = new Fleet(FLEET_FEATURES.length, config, this.rules);
    this.bucketMinutes = 1440 / t.buckets;
    // What a checkpoint's arrays depend on: a state written under another layout is refused.
    this.layout = JSON.stringify({
      v: STATE_SCHEMA_ID, metrics: METRICS, buckets: t.buckets, warmup: config.warmupSamples, levels: compiled.levels,
      capacity: config.destinations.capacity, fleetFeatures: FLEET_FEATURES.length, trainingVectors: config.fleet.trainingVectors,
      evidence: this.evidence.map((e) => [e.name, e.behavior.evidence.kind]),
    });
  }

  process(r: InspectionRecord): readonly AnomalyEvent[] {
    const t = this.startSeconds(r.interval.start);
    const minute = Math.floor(t / 60);
    let events: AnomalyEvent[] | null = null;
    const emit = (e: AnomalyEvent) => (events ??= []).push(e);
    if (!r.interval.complete) {
      // A cut-short interval (a capture's or a restart's edge) says nothing about the device's rates, so
      // no metric rule judges it and nothing learns from it. What the traffic is still holds: a tunnel's
      // names or a sweep's failed hosts are there however short the interval (rates in it can only read low).
      const dev = this.device(r, t);
      this.judgeEvidence(r, dev, this.fleet.group(dev.group), t, minute, this.newcomer(dev, t), emit);
      return events ?? NONE;
    }
    const dev = this.device(r, t);
    const g = this.fleet.group(dev.group);
    const current = g.advance(minute);
    const v = this.v;
    const warming = !dev.baseline.ready;
    const newcomer = this.newcomer(dev, t);
    recordMetrics(r, v);
    const hasMix = protocolShares(r, this.shares);
    v[M_PROTO_SHIFT] = dev.mix && hasMix ? mixShift(this.shares, dev.mix) : 0;
    for (let i = 0; i < FLEET_FEATURES.length; i++) this.fleetVector[i] = toSpace(FLEET_FEATURES[i], v[FLEET_FEATURES[i]]);
    v[M_FLEET] = g.forest ? g.forest.score(this.fleetVector) : NaN;

    const bucket = this.bucketOf(minute);
    for (const rule of this.rules) this.judgeRule(rule, r, dev, g, current, bucket, minute, emit);
    this.judgeEvidence(r, dev, g, t, minute, newcomer, emit);

    this.learn(r, dev, g, current, minute, warming, newcomer, hasMix);
    return events ?? NONE;
  }

  /** An interval start in seconds since the epoch; the devices' records of one interval come together and share it. */
  private startSeconds(start: string): number {
    if (start !== this.lastStart) {
      this.lastStart = start;
      this.lastStartSeconds = Date.parse(start) / 1000;
    }
    return this.lastStartSeconds;
  }

  private device(r: InspectionRecord, t: number): DeviceState {
    const id = r.device.id;
    let dev = this.devices.get(id);
    if (!dev) {
      const group = groupOf(r);
      // The warm-up keeps warmupSamples records spread evenly over warmupSeconds of this device's records.
      const stride = Math.max(1, Math.round(this.config.warmupSeconds / r.interval.seconds / this.config.warmupSamples));
      dev = new DeviceState(
        id, group, t, stride, new DeviceBaseline(this.baselineOptions), new SeenDestinations(this.config.destinations.capacity),
        new AlarmStates(this.names.length), this.evidence.map((e) => e.detector?.init() ?? null), r.device.ip,
      );
      this.devices.set(id, dev);
      this.fleet.group(group).join(t);
    }
    dev.ip = r.device.ip;
    dev.imsi = r.device.imsi ?? dev.imsi;
    return dev;
  }

  private judgeRule(rule: CompiledRule, r: InspectionRecord, dev: DeviceState, g: GroupState, current: boolean, bucket: number, minute: number, emit: (e: AnomalyEvent) => void): void {
    const observed = this.v[rule.metric];
    if (Number.isNaN(observed)) return;
    const how = this.threshold(rule, dev, g, bucket);
    const threshold = this.thresholdOf[0];
    const raw = how !== NO_DATAPOINT && breaches(rule.cmp, observed, threshold);
    // A group percentile describes the healthy peers: a handful of scanners in a group of two hundred
    // would otherwise be its p99 and hide each other, and a device's own surge would raise the line it
    // is judged by the next minute.
    if (current && rule.stat?.kind === 'quantile' && !raw && !dev.alarms.anyActive()) g.addValue(rule.slot, observed);
    if (how === NO_DATAPOINT) return;
    if (current) g.countEvaluation(rule.slot, raw);
    const breached = raw && g.closedShare[rule.slot] < rule.suppressShare;
    const tr = dev.alarms.step(rule.index, breached, rule.toAlarm, rule.toClear, minute, severityRank(rule.severity));
    if (!tr) return;
    const detector: Detector = rule.metric === M_FLEET ? 'fleet-model' : how === FROM_DEVICE ? 'device-baseline' : how === FROM_GROUP ? 'group-percentile' : 'static';
    const evidence: Evidence | undefined = tr === IN_ALARM && r.destinations.top.length ? { kind: 'volume', top: r.destinations.top.slice(0, 5) } : undefined;
    emit(this.event(r, dev, rule, tr, {
      detector,
      basis: how === FROM_DEVICE ? 'device' : how === FROM_GROUP ? 'group' : 'absolute',
      metric: METRICS[rule.metric],
      observed,
      threshold,
      unit: 'per minute',
      baseline: this.ruleBaseline(rule, how, dev, g, bucket, threshold),
      evidence,
    }, minute));
  }

  /**
   * Puts the rule's threshold in thresholdOf[0] and says where it came from. A device-scope statistic
   * comes from the device's own history once it has warmed up, and from its group's until then (a
   * device with no group to speak of makes no datapoint: its first day is not judged by another's
   * standards, nor by none). A static value is a floor under the statistic.
   */
  private threshold(rule: CompiledRule, dev: DeviceState, g: GroupState, bucket: number): number {
    const s = rule.stat;
    if (s === null) {
      this.thresholdOf[0] = rule.value!;
      return FROM_STATIC;
    }
    let stat = NaN;
    let source = FROM_GROUP;
    if (s.kind === 'quantile' && (s.scope === 'group' || !dev.baseline.ready)) {
      stat = g.closedQuantile[rule.slot] * s.multiplier;
    } else if (dev.baseline.ready) {
      const off = dev.baseline.slotOffset(rule.metric, bucket, rule.minBucketSamples);
      if (off >= 0) {
        stat = s.kind === 'mad'
          ? dev.baseline.madThreshold(rule.metric, off, rule.upward ? s.k : -s.k)
          : dev.baseline.quantile(rule.metric, off, s.level) * s.multiplier;
        source = FROM_DEVICE;
      }
    }
    if (Number.isNaN(stat)) return NO_DATAPOINT;
    this.thresholdOf[0] = rule.value === null ? stat : rule.upward ? Math.max(rule.value, stat) : Math.min(rule.value, stat);
    return source;
  }

  private ruleBaseline(rule: CompiledRule, how: number, dev: DeviceState, g: GroupState, bucket: number, threshold: number): EventBaseline {
    const m = rule.metric;
    const baseline: EventBaseline = { scope: 'static', statistic: 'value', value: rule.value ?? threshold };
    if (how === FROM_GROUP && rule.stat?.kind === 'quantile') {
      Object.assign(baseline, { scope: 'group', statistic: rule.stat.label, value: g.closedQuantile[rule.slot], group: g.name, devices: g.closedDevices[rule.slot] });
    } else if (how === FROM_DEVICE && rule.stat) {
      const off = dev.baseline.slotOffset(m, bucket, rule.minBucketSamples);
      baseline.scope = 'device';
      baseline.statistic = rule.stat.kind === 'mad' ? 'mad' : rule.stat.label;
      baseline.value = rule.stat.kind === 'mad' ? dev.baseline.madThreshold(m, off, rule.upward ? rule.stat.k : -rule.stat.k) : dev.baseline.quantile(m, off, rule.stat.level);
    }
    const off = dev.baseline.slotOffset(m, bucket, rule.minBucketSamples);
    if (off >= 0) {
      const view = dev.baseline.view(m, off);
      baseline.median = view.median;
      baseline.mad = Math.max(0, view.mad);
      baseline.samples = view.samples;
      if (view.slot < this.config.timeOfDay.buckets) baseline.time_of_day = this.bucketLabel(view.slot);
    }
    return roundBaseline(baseline);
  }

  /**
   * Watched for less than warmupSeconds: what the device talks to is still being learned, so nothing is
   * new to it yet (its group is what it is compared with). Time, not samples: a tracker that reports a
   * few times an hour knows its hosts after a day, though its baseline takes weeks of samples.
   */
  private newcomer(dev: DeviceState, t: number): boolean {
    return t - dev.first < this.config.warmupSeconds;
  }

  private judgeEvidence(r: InspectionRecord, dev: DeviceState, g: GroupState, t: number, minute: number, newcomer: boolean, emit: (e: AnomalyEvent) => void): void {
    const ctx = this.ctx.at(t, r.interval.seconds, newcomer, dev.destinations, g);
    let corroborating: string[] = [];
    for (let i = 0; i < this.evidence.length; i++) {
      const e = this.evidence[i];
      if (!e.detector) continue;
      const verdict = e.detector.observe(dev.evidence[i], r, ctx);
      const severity = verdict.strong ? e.strongSeverity : e.severity;
      const tr = dev.alarms.step(e.index, verdict.breach, e.toAlarm, e.toClear, minute, severityRank(severity));
      if (dev.alarms.active(e.index) && e.behavior.evidence.kind !== 'new-destination') corroborating.push(e.name);
      if (tr) emit(this.evidenceEvent(r, dev, e, tr, verdict, newcomer, minute));
    }
    for (const e of this.evidence) {
      if (e.behavior.evidence.kind !== 'corroborated') continue;
      const need = e.behavior.evidence.minBehaviors;
      corroborating = corroborating.filter((n) => n !== e.name);
      const breach = corroborating.length >= need;
      const tr = dev.alarms.step(e.index, breach, e.toAlarm, e.toClear, minute, severityRank(e.severity));
      if (tr) {
        const verdict: Verdict = {
          breach,
          strong: false,
          metric: 'independent evidence behaviors in alarm at once',
          observed: corroborating.length,
          threshold: need,
          unit: 'now',
          ...(breach ? { evidence: { kind: 'corroborated' as const, behaviors: corroborating } } : {}),
        };
        emit(this.evidenceEvent(r, dev, e, tr, verdict, newcomer, minute));
      }
    }
  }

  private evidenceEvent(r: InspectionRecord, dev: DeviceState, e: CompiledEvidence, tr: AlarmTransition, verdict: Verdict, newcomer: boolean, minute: number): AnomalyEvent {
    const kind = e.behavior.evidence.kind;
    const relative = kind === 'exfiltration' || kind === 'new-destination';
    return this.event(r, dev, e, tr, {
      detector: 'evidence',
      basis: relative ? (newcomer ? 'group' : 'device') : 'absolute',
      metric: verdict.metric,
      observed: verdict.observed,
      threshold: verdict.threshold,
      unit: verdict.unit,
      baseline: { scope: 'static', statistic: 'value', value: verdict.threshold },
      evidence: tr === IN_ALARM ? verdict.evidence : undefined,
    }, minute);
  }

  private event(
    r: InspectionRecord, dev: DeviceState, b: CompiledRule | CompiledEvidence, tr: AlarmTransition,
    o: { detector: Detector; basis: AnomalyEvent['basis']; metric: string; observed: number; threshold: number; unit: string; baseline: EventBaseline; evidence?: Evidence },
    minute: number,
  ): AnomalyEvent {
    const time = new Date(minute * 60000).toISOString();
    const severity = SEVERITIES[dev.alarms.level(b.index)];
    const upward = 'upward' in b ? b.upward : true;
    const score = upward ? (o.threshold > 0 ? o.observed / o.threshold : o.observed) : o.observed > 0 ? o.threshold / o.observed : o.threshold;
    const seen = Math.max(0, Math.round(Date.parse(r.interval.start) / 1000 + r.interval.seconds - dev.first));
    const e: Omit<AnomalyEvent, 'summary'> = {
      schema: EVENT_SCHEMA_ID,
      event_id: `${dev.id}/${b.name}/${time}/${tr}${tr === IN_ALARM ? `/${severity}` : ''}`,
      '@timestamp': time,
      interval_seconds: r.interval.seconds,
      device: { id: dev.id, ip: dev.ip, ...(dev.imsi ? { imsi: dev.imsi } : {}), ...(r.device.group ? { group: dev.group } : {}) },
      detector: o.detector,
      basis: o.basis,
      warmup: { complete: dev.baseline.ready, seconds: seen, needed: this.config.warmupSeconds },
      behavior: b.name,
      metric: o.metric,
      comparison: b.comparison,
      observed: round(o.observed),
      threshold: round(o.threshold),
      unit: o.unit,
      baseline: o.baseline,
      score: round(Math.max(0, score)),
      severity,
      alarm: tr,
      datapoints: dev.alarms.streak(b.index, tr, b.toClear),
      ...(tr === CLEARED ? { alarm_since: new Date(dev.alarms.since(b.index) * 60000).toISOString() } : {}),
      ...(b.behavior.suspected && tr === IN_ALARM ? { suspected: b.behavior.suspected } : {}),
      ...(o.evidence ? { evidence: o.evidence } : {}),
    };
    return { ...e, summary: summarize(e, b.behavior.advice, r) };
  }

  /**
   * What the record teaches: the destinations the device and its group use, the baseline, the usual
   * mix (this.shares, when hasMix), the fleet model.
   */
  private learn(r: InspectionRecord, dev: DeviceState, g: GroupState, current: boolean, minute: number, warming: boolean, newcomer: boolean, hasMix: boolean): void {
    const inAlarm = dev.alarms.anyActive();
    const hosts = new Set<number>();
    for (const d of r.destinations.top) if (isPublic(d.ip)) hosts.add(hostKey(d.name, d.ip));
    for (const c of r.contacts) if (isPublic(c.ip)) hosts.add(hostKey(c.name, c.ip));
    let adoptions = 0;
    for (const key of hosts) {
      const touched = dev.destinations.touch(key, minute, newcomer);
      // A device in alarm does not vote for what its group uses.
      if (touched & ADDED && !inAlarm && adoptions < this.config.destinations.maxAdoptionsPerRecord) {
        g.adopt(key);
        adoptions++;
      }
    }
    if (!warming || dev.records % dev.stride === 0) dev.baseline.learn(this.v, this.bucketOf(minute), inAlarm);
    if (!inAlarm) {
      if (current) g.addTraining(this.fleetVector);
      if (hasMix) {
        const first = dev.mix === null;
        dev.mix ??= new Float32Array(PROTOCOL_SLOTS);
        learnMix(dev.mix, this.shares, this.config.protocolMix.rate, first);
      }
    }
    dev.records++;
  }

  private bucketOf(minute: number): number {
    const m = (((minute + this.config.timeOfDay.utcOffsetMinutes) % 1440) + 1440) % 1440;
    return Math.floor(m / this.bucketMinutes);
  }

  private bucketLabel(slot: number): string {
    const start = slot * this.bucketMinutes - this.config.timeOfDay.utcOffsetMinutes;
    const hh = (min: number): string => {
      const x = ((min % 1440) + 1440) % 1440;
      return `${String(Math.floor(x / 60)).padStart(2, '0')}:${String(x % 60).padStart(2, '0')}`;
    };
    return `${hh(start)}-${hh(start + this.bucketMinutes)} UTC`;
  }

  warming(): { devices: number; until: string | null } {
    let devices = 0;
    let until = -Infinity;
    for (const d of this.devices.values()) {
      if (d.baseline.ready) continue;
      devices++;
      until = Math.max(until, d.first + this.config.warmupSeconds);
    }
    return { devices, until: devices ? new Date(until * 1000).toISOString() : null };
  }

  snapshot(deviceId: string): DeviceStateJSON | undefined {
    const d = this.devices.get(deviceId);
    if (!d) return undefined;
    const evidence: Record<string, unknown> = {};
    this.evidence.forEach((e, i) => {
      if (e.detector) evidence[e.name] = e.detector.save(d.evidence[i]);
    });
    return {
      layout: this.layout,
      id: d.id,
      ip: d.ip,
      ...(d.imsi ? { imsi: d.imsi } : {}),
      group: d.group,
      records: d.records,
      first: d.first,
      stride: d.stride,
      baseline: d.baseline.toJSON(),
      destinations: d.destinations.toJSON(),
      mix: d.mix && encodeArray(d.mix),
      alarms: d.alarms.toJSON(this.names),
      evidence,
    };
  }

  restore(deviceId: string, s: DeviceStateJSON): boolean {
    if (s.layout !== this.layout) return false;
    const dev = new DeviceState(
      deviceId, s.group, s.first, s.stride, new DeviceBaseline(this.baselineOptions, s.baseline), SeenDestinations.fromJSON(s.destinations),
      AlarmStates.fromJSON(this.names, s.alarms),
      this.evidence.map((e) => (e.detector ? (e.name in s.evidence ? e.detector.load(s.evidence[e.name]) : e.detector.init()) : null)),
      s.ip,
    );
    dev.imsi = s.imsi;
    dev.records = s.records;
    dev.mix = s.mix === null ? null : decodeArray(s.mix, Float32Array, PROTOCOL_SLOTS);
    if (!this.devices.has(deviceId)) this.fleet.group(s.group).join(s.first);
    this.devices.set(deviceId, dev);
    return true;
  }

  snapshotFleet(): FleetStateJSON {
    return this.fleet.toJSON();
  }

  restoreFleet(s: FleetStateJSON): void {
    this.fleet.restore(s);
    // A group's size is the devices this analyzer holds, whichever order devices and fleet were restored in.
    for (const g of this.fleet.groups.values()) g.forgetDevices();
    for (const d of this.devices.values()) this.fleet.group(d.group).join(d.first);
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
    if (s.schema !== STATE_SCHEMA_ID || s.layout !== this.layout) throw new Error('TWN0002: the state was saved with another layout; start the analyzer without it');
    for (const [id, d] of Object.entries(s.devices)) this.restore(id, d);
    this.restoreFleet(s.fleet);
  }
}

/** What the detectors may ask, about the record's device and group: one object, set for each record. */
class Context implements DetectorContext {
  t = 0;
  seconds = 0;
  warming = false;
  groupComparable = false;
  private known!: SeenDestinations;
  private g!: GroupState;

  at(t: number, seconds: number, newcomer: boolean, known: SeenDestinations, g: GroupState): this {
    this.t = t;
    this.seconds = seconds;
    this.warming = newcomer;
    this.known = known;
    this.g = g;
    this.groupComparable = g.comparable(t);
    return this;
  }

  newToDevice(key: number, since: number): boolean {
    if (this.warming) return false;
    const known = this.known;
    const i = known.find(key);
    return i < 0 || (known.first[i] !== KNOWN_SINCE_WARMUP && known.first[i] * 60 >= since);
  }

  commonInGroup(key: number): boolean {
    return this.g.common(key);
  }

  groupDevices(key: number): number {
    return this.g.devicesUsing(key);
  }
}

const round = (x: number): number => (Number.isFinite(x) ? Math.round(x * 1000) / 1000 : 0);

function roundBaseline(b: EventBaseline): EventBaseline {
  const out: EventBaseline = { ...b, value: round(b.value) };
  if (b.median !== undefined) out.median = round(b.median);
  if (b.mad !== undefined) out.mad = round(b.mad);
  if (b.samples !== undefined) out.samples = Math.round(b.samples);
  return out;
}
