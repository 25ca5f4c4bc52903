// What the analyzer knows about each group of devices (the peers a device is compared with): the
// group-scope percentiles of the last closed interval, the share of the group breaching each
// behavior (so that a fleet-wide swing, such as a reconnect storm after a cell outage, is not
// blamed on every device), which destinations the group has taken up, and the isolation forest
// over the group's recent feature vectors.
//
// Records arrive interleaved across devices; a group's interval is closed when the first record of a
// later one arrives for that group, and the group statistics a record is judged by are those of the
// group's last closed interval. Each group keeps its own clock, so what a group concludes depends on
// its own records only: groups can be analysed apart (`analyze --in` spreads them over worker threads)
// with the same events. In a consumer group each analyzer sees its partitions' devices: a sample of
// every group, so shares and percentiles stay meaningful.

import { quantileSorted } from 'simple-statistics';
import { decodeArray, encodeArray } from './codec.js';
import { fnv1a, mix32 } from '../net/hash.js';
import { CountMin, type CountMinState } from './count-min.js';
import { IsolationForest, type ForestState } from './iforest.js';
import type { AnalyzerConfig, CompiledRule } from './rules.js';

const SKETCH_WIDTH = 8192;
const SKETCH_DEPTH = 4;

export interface GroupStateJSON {
  openMinute: number | null;
  devices: number;
  sketch: CountMinState;
  ring: string;
  ringNext: number;
  ringLen: number;
  forest: ForestState | null;
  trainedAt: number;
  trainings: number;
  openValues: string[];
  openCount: number[];
  openEvaluated: string;
  openBreached: string;
  closedQuantile: string;
  closedDevices: string;
  closedShare: string;
}

export class GroupState {
  /** The group's open interval (minutes since the epoch); null before its first complete record. */
  openMinute: number | null = null;
  devices = 0;
  /** First-seen times (seconds) of the group's earliest devices, ascending, at most 2 × commonMin of them. */
  private earliest: number[] = [];
  sketch = new CountMin(SKETCH_WIDTH, SKETCH_DEPTH);
  readonly ring: Float32Array;
  ringNext = 0;
  ringLen = 0;
  forest: IsolationForest | null = null;
  /** Minute the forest was last trained. */
  trainedAt = 0;
  trainings = 0;
  /** Values of group-scope behaviors in the open interval (one growable array per behavior). */
  openValues: Float64Array[];
  openCount: number[];
  readonly openEvaluated: Int32Array;
  readonly openBreached: Int32Array;
  readonly closedQuantile: Float64Array;
  readonly closedDevices: Int32Array;
  readonly closedShare: Float64Array;

  constructor(readonly name: string, readonly dims: number, private readonly c: AnalyzerConfig, private readonly rules: CompiledRule[]) {
    const r = rules.length; // arrays by CompiledRule.slot
    this.ring = new Float32Array(c.fleet.trainingVectors * dims);
    this.openValues = rules.map(() => new Float64Array(0));
    this.openCount = rules.map(() => 0);
    this.openEvaluated = new Int32Array(r);
    this.openBreached = new Int32Array(r);
    this.closedQuantile = new Float64Array(r).fill(NaN);
    this.closedDevices = new Int32Array(r);
    this.closedShare = new Float64Array(r);
  }

  /** A destination new to one of the group's devices. */
  adopt(key: number): void {
    this.sketch.add(key);
  }

  /** Devices of the group that took the destination up (the sketch's estimate: never below the truth). */
  devicesUsing(key: number): number {
    return this.sketch.estimate(key);
  }

  /** Taken up by enough of the group that it is the group's, not one device's. */
  common(key: number): boolean {
    const d = this.c.destinations;
    return this.sketch.estimate(key) >= Math.max(d.commonMin, d.commonShare * this.devices);
  }

  /** A device of the group, first seen at `first` (seconds). */
  join(first: number): void {
    this.devices++;
    const k = 2 * this.c.destinations.commonMin;
    const e = this.earliest;
    if (e.length === k && first >= e[k - 1]) return;
    let i = e.length;
    while (i > 0 && e[i - 1] > first) i--;
    e.splice(i, 0, first);
    if (e.length > k) e.pop();
  }

  /** No devices: what restoring devices and fleet in either order starts from before each device joins again. */
  forgetDevices(): void {
    this.devices = 0;
    this.earliest = [];
  }

  /**
   * What none of the group's devices took up is news once enough of them (twice the fewest that make a
   * host common) have been watched for warmupSeconds at `t`: until then sessions older than the
   * monitoring hide the names the group uses (a broker resolved last week is reached by address).
   */
  comparable(t: number): boolean {
    const k = 2 * this.c.destinations.commonMin;
    return this.earliest.length === k && t - this.earliest[k - 1] >= this.c.warmupSeconds;
  }

  addValue(rule: number, x: number): void {
    let a = this.openValues[rule];
    const n = this.openCount[rule];
    if (n === a.length) {
      const grown = new Float64Array(Math.max(64, a.length * 2));
      grown.set(a);
      this.openValues[rule] = a = grown;
    }
    a[n] = x;
    this.openCount[rule] = n + 1;
  }

  countEvaluation(rule: number, breached: boolean): void {
    this.openEvaluated[rule]++;
    if (breached) this.openBreached[rule]++;
  }

  addTraining(vector: Float64Array): void {
    this.ring.set(vector, this.ringNext * this.dims);
    this.ringNext = (this.ringNext + 1) % this.c.fleet.trainingVectors;
    if (this.ringLen < this.c.fleet.trainingVectors) this.ringLen++;
  }

  /**
   * Moves the group's clock to the interval starting at `minute`; returns true when the record belongs
   * to the open interval (a late record is judged but not counted into the group's statistics). After a
   * silence the minute just before is closed empty too: a group that sent nothing then has no
   * statistics to judge by, rather than ones from before the silence.
   */
  advance(minute: number): boolean {
    if (this.openMinute === null) this.openMinute = minute;
    if (minute > this.openMinute) {
      this.close(this.openMinute);
      if (minute - 1 > this.openMinute) this.close(minute - 1);
      this.openMinute = minute;
    }
    return minute === this.openMinute;
  }

  /** Ends the group's open minute: its percentiles and breach shares become the closed ones; the forest is retrained when due. */
  private close(minute: number): void {
    const f = this.c.fleet;
    for (const rule of this.rules) {
      const i = rule.slot;
      const n = this.openCount[i];
      // Device-scope quantiles too: a device still warming up is compared with its group's.
      if (rule.stat?.kind === 'quantile') {
        if (n >= f.minGroupDevices) {
          const sorted = this.openValues[i].slice(0, n).sort();
          this.closedQuantile[i] = quantileSorted(sorted as unknown as number[], rule.stat.p);
        } else this.closedQuantile[i] = NaN;
        this.closedDevices[i] = n;
      }
      this.closedShare[i] = this.openEvaluated[i] >= f.minGroupDevices ? this.openBreached[i] / this.openEvaluated[i] : 0;
      this.openCount[i] = 0;
      this.openEvaluated[i] = 0;
      this.openBreached[i] = 0;
    }
    const enough = this.ringLen >= Math.max(2 * f.minGroupDevices, 16);
    if (enough && (this.forest === null || minute - this.trainedAt >= f.retrainEveryMinutes)) {
      this.forest = IsolationForest.train(this.ring, this.ringLen, this.dims, {
        trees: f.trees,
        sampleSize: f.sampleSize,
        seed: mix32(f.seed ^ fnv1a(this.name) ^ Math.imul(this.trainings + 1, 0x9e3779b1)),
      });
      this.trainings++;
      this.trainedAt = minute;
    }
  }

  toJSON(): GroupStateJSON {
    return {
      openMinute: this.openMinute,
      devices: this.devices,
      sketch: this.sketch.toJSON(),
      ring: encodeArray(this.ring.subarray(0, this.ringLen * this.dims)),
      ringNext: this.ringNext,
      ringLen: this.ringLen,
      forest: this.forest && this.forest.toJSON(),
      trainedAt: this.trainedAt,
      trainings: this.trainings,
      openValues: this.openValues.map((a, i) => encodeArray(a.subarray(0, this.openCount[i]))),
      openCount: this.openCount.slice(),
      openEvaluated: encodeArray(this.openEvaluated),
      openBreached: encodeArray(this.openBreached),
      closedQuantile: encodeArray(this.closedQuantile),
      closedDevices: encodeArray(this.closedDevices),
      closedShare: encodeArray(this.closedShare),
    };
  }

  static fromJSON(name: string, dims: number, c: AnalyzerConfig, rules: CompiledRule[], s: GroupStateJSON): GroupState {
    const g = new GroupState(name, dims, c, rules);
    const r = rules.length;
    if (s.openCount.length !== r) throw new Error(`checkpoint: group ${name} was saved with ${s.openCount.length} behaviors, the configuration has ${r}`);
    g.openMinute = s.openMinute;
    g.devices = s.devices;
    g.sketch = CountMin.fromJSON(s.sketch);
    g.ring.set(decodeArray(s.ring, Float32Array, s.ringLen * dims));
    g.ringNext = s.ringNext;
    g.ringLen = s.ringLen;
    g.forest = s.forest && IsolationForest.fromJSON(s.forest);
    g.trainedAt = s.trainedAt;
    g.trainings = s.trainings;
    g.openValues = s.openValues.map((v) => decodeArray(v, Float64Array));
    g.openCount = s.openCount.slice();
    g.openEvaluated.set(decodeArray(s.openEvaluated, Int32Array, r));
    g.openBreached.set(decodeArray(s.openBreached, Int32Array, r));
    g.closedQuantile.set(decodeArray(s.closedQuantile, Float64Array, r));
    g.closedDevices.set(decodeArray(s.closedDevices, Int32Array, r));
    g.closedShare.set(decodeArray(s.closedShare, Float64Array, r));
    return g;
  }
}

export interface FleetStateJSON {
  groups: Record<string, GroupStateJSON>;
}

export class Fleet {
  readonly groups = new Map<string, GroupState>();

  constructor(readonly dims: number, private readonly c: AnalyzerConfig, private readonly rules: CompiledRule[]) {}

  group(name: string): GroupState {
    let g = this.groups.get(name);
    if (!g) this.groups.set(name, (g = new GroupState(name, this.dims, this.c, this.rules)));
    return g;
  }

  toJSON(): FleetStateJSON {
    const groups: Record<string, GroupStateJSON> = {};
    for (const [name, g] of this.groups) groups[name] = g.toJSON();
    return { groups };
  }

  restore(s: FleetStateJSON): void {
    this.groups.clear();
    for (const [name, g] of Object.entries(s.groups)) this.groups.set(name, GroupState.fromJSON(name, this.dims, this.c, this.rules, g));
  }
}
