// Robust per-device baselines, with time-of-day buckets where the device shows a daily pattern.
//
// Warm-up: the first `warmup` records are kept (one float per metric) and, when there are enough,
// each metric's median, MAD and the quantiles the rules ask for are computed exactly, over the whole
// day and per time-of-day bucket. The buffer is then dropped. From there on each statistic is
// tracked by a streaming estimator (stochastic approximation with steps proportional to the
// current spread), so a device costs a fixed, small amount of memory and each record O(1) work.
//
// Values are compared in log space for counts (features.ts says why). A metric uses its bucket's
// statistics only when its bucket medians differ by at least `minPatternStrength` spreads: a daily
// pattern the data actually shows; otherwise the all-day statistics, which rest on 8x the samples.
//
// Learning is gated: a device in alarm does not move its baseline (an incident must not teach the
// detector that it is normal; the alarm lasts as long as the device breaches). A value far outside
// the device's range does not either, unless the metric has been held back for `relearnAfter`
// records in a row without an alarm: then the device has changed and the baseline follows.

import { quantileSorted } from 'simple-statistics';
import { decodeArray, encodeArray } from './codec.js';
import { METRIC_COUNT, METRIC_INFO, METRICS } from './features.js';

export interface BaselineOptions {
  buckets: number;
  warmup: number;
  minBucketSamples: number;
  minPatternStrength: number;
  /** Smallest step size of the streaming estimators: about 1/gain records of memory. */
  gain: number;
  gateMads: number;
  relearnAfter: number;
  /** Quantile levels per metric (e.g. [0.99]), those the rules use. */
  levels: readonly (readonly number[])[];
}

export interface BaselineState {
  records: number;
  stats: string;
  pattern: string;
  held: string;
  warm: { values: string; buckets: string; n: number } | null;
}

// Per metric and slot (bucket 0..B-1, then all-day at B): median, scale (a sigma: 1.4826 MAD), samples, quantiles.
const MED = 0;
const SCALE = 1;
const N = 2;
const Q = 3;
const MAD_TO_SIGMA = 1.4826;

const INFO = METRICS.map((m) => METRIC_INFO[m]);

export const toSpace = (m: number, x: number): number => (INFO[m].log ? Math.log1p(Math.max(0, x)) : x);
// A streaming median of a metric that is mostly 0 can step a hair below it; counts are never negative.
export const fromSpace = (m: number, y: number): number => (INFO[m].log ? Math.max(0, Math.expm1(y)) : y);

export interface BaselineView {
  slot: number; // bucket, or `buckets` for all-day
  samples: number;
  median: number; // natural units
  mad: number; // natural units: half the width of the band median ± 1 MAD (exact MAD when not in log space)
}

export class DeviceBaseline {
  readonly stride: number;
  readonly stats: Float64Array;
  readonly pattern: Uint8Array;
  readonly held: Uint16Array;
  warm: { values: Float32Array; buckets: Uint8Array; n: number } | null;
  records = 0;

  constructor(readonly o: BaselineOptions, state?: BaselineState) {
    const maxLevels = Math.max(0, ...o.levels.map((l) => l.length));
    this.stride = Q + maxLevels;
    const size = METRIC_COUNT * (o.buckets + 1) * this.stride;
    if (state) {
      this.records = state.records;
      this.stats = decodeArray(state.stats, Float64Array, size);
      this.pattern = decodeArray(state.pattern, Uint8Array, METRIC_COUNT);
      this.held = decodeArray(state.held, Uint16Array, METRIC_COUNT);
      this.warm = state.warm && {
        values: decodeArray(state.warm.values, Float32Array, METRIC_COUNT * o.warmup),
        buckets: decodeArray(state.warm.buckets, Uint8Array, o.warmup),
        n: state.warm.n,
      };
    } else {
      this.stats = new Float64Array(size);
      this.pattern = new Uint8Array(METRIC_COUNT);
      this.held = new Uint16Array(METRIC_COUNT);
      this.warm = { values: new Float32Array(METRIC_COUNT * o.warmup), buckets: new Uint8Array(o.warmup), n: 0 };
    }
  }

  get ready(): boolean {
    return this.warm === null;
  }

  /**
   * Offset of the statistics a comparison of metric m in `bucket` should use, or -1 when there are
   * none yet. `minSamples` raises the bar for the bucket: a quantile p needs about 10/(1-p) samples
   * (p99: 1,000, some four weeks of one 3-hour bucket) before it means more than "the largest value
   * seen"; until then the all-day statistics, with 8x the samples, are used.
   */
  slotOffset(m: number, bucket: number, minSamples = this.o.minBucketSamples): number {
    if (!this.ready) return -1;
    const per = (this.o.buckets + 1) * this.stride;
    const own = m * per + bucket * this.stride;
    if (this.pattern[m] && this.stats[own + N] >= minSamples) return own;
    const all = m * per + this.o.buckets * this.stride;
    return this.stats[all + N] >= this.o.minBucketSamples ? all : -1;
  }

  /** Median + k spreads, in natural units. */
  madThreshold(m: number, off: number, k: number): number {
    return fromSpace(m, this.stats[off + MED] + k * this.stats[off + SCALE]);
  }

  /** The device's own quantile (level index li of metric m), in natural units. */
  quantile(m: number, off: number, li: number): number {
    return fromSpace(m, this.stats[off + Q + li]);
  }

  view(m: number, off: number): BaselineView {
    const med = this.stats[off + MED];
    const halfBand = (this.stats[off + SCALE] / MAD_TO_SIGMA);
    const per = (this.o.buckets + 1) * this.stride;
    return {
      slot: ((off - m * per) / this.stride) | 0,
      samples: this.stats[off + N],
      median: fromSpace(m, med),
      mad: (fromSpace(m, med + halfBand) - fromSpace(m, med - halfBand)) / 2,
    };
  }

  /** Learns one record's metrics (natural units; NaN = not measured). */
  learn(v: Float64Array, bucket: number, inAlarm: boolean): void {
    this.records++;
    const w = this.warm;
    if (w) {
      for (let m = 0; m < METRIC_COUNT; m++) w.values[m * this.o.warmup + w.n] = toSpace(m, v[m]);
      w.buckets[w.n++] = bucket;
      if (w.n === this.o.warmup) this.initialize();
      return;
    }
    const per = (this.o.buckets + 1) * this.stride;
    for (let m = 0; m < METRIC_COUNT; m++) {
      if (Number.isNaN(v[m])) continue;
      const y = toSpace(m, v[m]);
      if (inAlarm) continue;
      const gateOff = this.slotOffset(m, bucket);
      if (gateOff >= 0 && this.outside(m, gateOff, y)) {
        if (this.held[m] < this.o.relearnAfter) {
          this.held[m]++;
          continue;
        }
      } else this.held[m] = 0;
      this.step(m, m * per + bucket * this.stride, y);
      this.step(m, m * per + this.o.buckets * this.stride, y);
    }
    if (this.records % this.o.warmup === 0) this.findPatterns();
  }

  private outside(m: number, off: number, y: number): boolean {
    const s = this.stats;
    const far = this.o.gateMads * s[off + SCALE];
    const levels = this.o.levels[m];
    const top = levels.length > 0 ? s[off + Q + levels.length - 1] : -Infinity;
    return y > Math.max(top, s[off + MED] + far) || y < s[off + MED] - far;
  }

  private step(m: number, off: number, y: number): void {
    const s = this.stats;
    const n = s[off + N];
    if (n === 0) {
      s[off + MED] = y;
      s[off + SCALE] = INFO[m].scaleFloor;
      for (let li = 0; li < this.o.levels[m].length; li++) s[off + Q + li] = y;
      s[off + N] = 1;
      return;
    }
    const g = Math.max(1 / (n + 1), this.o.gain);
    const scale = s[off + SCALE];
    const stepSize = g * scale;
    const med = s[off + MED];
    s[off + MED] = med + (y > med ? stepSize : y < med ? -stepSize : 0);
    // The spread settles where |y - median| exceeds 0.6745 sigma half the time, i.e. at 1.4826 MAD.
    const grown = Math.abs(y - med) > 0.6745 * scale ? scale * (1 + g) : scale * (1 - g);
    s[off + SCALE] = Math.max(grown, INFO[m].scaleFloor);
    const levels = this.o.levels[m];
    for (let li = 0; li < levels.length; li++) {
      const p = levels[li];
      const q = s[off + Q + li];
      s[off + Q + li] = y > q ? q + 2 * stepSize * p : q - 2 * stepSize * (1 - p);
    }
    s[off + N] = n + 1;
  }

  /** Exact statistics from the warm-up records, per bucket and all day. */
  private initialize(): void {
    const w = this.warm!;
    const per = (this.o.buckets + 1) * this.stride;
    for (let m = 0; m < METRIC_COUNT; m++) {
      const byBucket: number[][] = Array.from({ length: this.o.buckets }, () => []);
      const all: number[] = [];
      for (let i = 0; i < w.n; i++) {
        const y = w.values[m * this.o.warmup + i];
        if (Number.isNaN(y)) continue;
        all.push(y);
        byBucket[w.buckets[i]].push(y);
      }
      this.exact(m, m * per + this.o.buckets * this.stride, all);
      for (let b = 0; b < this.o.buckets; b++) this.exact(m, m * per + b * this.stride, byBucket[b]);
    }
    this.warm = null;
    this.findPatterns();
  }

  private exact(m: number, off: number, values: number[]): void {
    const s = this.stats;
    s[off + N] = values.length;
    if (values.length === 0) return;
    values.sort((a, b) => a - b);
    const med = quantileSorted(values, 0.5);
    const dev = values.map((y) => Math.abs(y - med)).sort((a, b) => a - b);
    s[off + MED] = med;
    s[off + SCALE] = Math.max(MAD_TO_SIGMA * quantileSorted(dev, 0.5), INFO[m].scaleFloor);
    const levels = this.o.levels[m];
    for (let li = 0; li < levels.length; li++) s[off + Q + li] = quantileSorted(values, levels[li]);
  }

  /** A metric follows the time of day when its bucket medians lie at least minPatternStrength all-day spreads apart. */
  private findPatterns(): void {
    const s = this.stats;
    const per = (this.o.buckets + 1) * this.stride;
    for (let m = 0; m < METRIC_COUNT; m++) {
      const all = m * per + this.o.buckets * this.stride;
      let lo = Infinity;
      let hi = -Infinity;
      for (let b = 0; b < this.o.buckets; b++) {
        const off = m * per + b * this.stride;
        if (s[off + N] < this.o.minBucketSamples) continue;
        lo = Math.min(lo, s[off + MED]);
        hi = Math.max(hi, s[off + MED]);
      }
      this.pattern[m] = INFO[m].timeOfDay && hi - lo >= this.o.minPatternStrength * s[all + SCALE] ? 1 : 0;
    }
  }

  toJSON(): BaselineState {
    return {
      records: this.records,
      stats: encodeArray(this.stats),
      pattern: encodeArray(this.pattern),
      held: encodeArray(this.held),
      warm: this.warm && { values: encodeArray(this.warm.values), buckets: encodeArray(this.warm.buckets), n: this.warm.n },
    };
  }

  /** Bytes this device's baseline holds: steady state, and the extra kept during warm-up only. */
  static bytesPerDevice(o: BaselineOptions): { steady: number; warmup: number } {
    const maxLevels = Math.max(0, ...o.levels.map((l) => l.length));
    return {
      steady: METRIC_COUNT * (o.buckets + 1) * (Q + maxLevels) * 8 + METRIC_COUNT * 3,
      warmup: METRIC_COUNT * o.warmup * 4 + o.warmup,
    };
  }
}
