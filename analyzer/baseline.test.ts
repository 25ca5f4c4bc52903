import { typedArrayBytes } from '../test/helpers/typed-bytes.js';
import { describe, expect, it } from 'vitest';
import { medianSorted, quantileSorted } from 'simple-statistics';
import { Prng } from '../net/prng.js';
import { DeviceBaseline, fromSpace, toSpace, type BaselineOptions } from './baseline.js';
import { M_BYTES_OUT, M_DNS, M_FLEET, METRIC_COUNT, METRIC_INFO, METRICS } from './features.js';

const levels = Array.from({ length: METRIC_COUNT }, (_, m) => (m === M_BYTES_OUT ? [0.99] : []));
const options: BaselineOptions = { buckets: 4, warmup: 96, minBucketSamples: 6, minPatternStrength: 1.5, gain: 0.02, gateMads: 4, relearnAfter: 48, levels };

/** Feeds `n` records: bytes_out follows `bytes(i, bucket)`, everything else is flat. */
function feed(b: DeviceBaseline, n: number, bytes: (i: number, bucket: number) => number, rng: Prng, from = 0, inAlarm = false): void {
  const v = new Float64Array(METRIC_COUNT);
  for (let i = from; i < from + n; i++) {
    const bucket = Math.floor((i % 24) / 6);
    v.fill(10);
    v[M_FLEET] = NaN;
    v[M_BYTES_OUT] = bytes(i, bucket) * Math.exp(0.2 * (rng.float() - 0.5));
    b.learn(v, bucket, inAlarm);
  }
}

describe('device baseline', () => {
  it('computes exact median, MAD and quantiles from the warm-up records', () => {
    const rng = new Prng(1);
    const b = new DeviceBaseline(options);
    const seen: number[] = [];
    const v = new Float64Array(METRIC_COUNT);
    for (let i = 0; i < 96; i++) {
      expect(b.ready).toBe(false);
      expect(b.slotOffset(M_BYTES_OUT, 0)).toBe(-1);
      v.fill(1);
      v[M_BYTES_OUT] = 1000 + rng.int(0, 5000);
      seen.push(toSpace(M_BYTES_OUT, v[M_BYTES_OUT]));
      b.learn(v, i % 4, false);
    }
    expect(b.ready).toBe(true);
    const sorted = seen.map((y) => Math.fround(y)).sort((x, y) => x - y); // the warm-up buffer keeps float32
    const med = medianSorted(sorted);
    const mad = medianSorted(sorted.map((y) => Math.abs(y - med)).sort((x, y) => x - y));
    const all = b.slotOffset(M_BYTES_OUT, 0); // no daily pattern: the all-day statistics
    const view = b.view(M_BYTES_OUT, all);
    expect(view.samples).toBe(96);
    expect(view.median).toBeCloseTo(fromSpace(M_BYTES_OUT, med), 6);
    expect(b.madThreshold(M_BYTES_OUT, all, 3)).toBeCloseTo(fromSpace(M_BYTES_OUT, med + 3 * Math.max(1.4826 * mad, METRIC_INFO.bytes_out.scaleFloor)), 6);
    expect(b.quantile(M_BYTES_OUT, all, 0)).toBeCloseTo(fromSpace(M_BYTES_OUT, quantileSorted(sorted, 0.99)), 6);
  });

  it('uses time-of-day buckets only for a metric with a daily pattern', () => {
    const b = new DeviceBaseline(options);
    feed(b, 96 * 3, (_, bucket) => (bucket === 2 ? 200_000 : 2_000), new Prng(2));
    const m = METRICS.indexOf('bytes_out');
    expect(b.pattern[m]).toBe(1);
    expect(b.pattern[M_DNS]).toBe(0);
    const day = b.view(m, b.slotOffset(m, 2));
    const night = b.view(m, b.slotOffset(m, 0));
    expect(day.slot).toBe(2);
    expect(day.median).toBeGreaterThan(100_000);
    expect(night.median).toBeLessThan(4_000);
    expect(b.view(M_DNS, b.slotOffset(M_DNS, 2)).slot).toBe(options.buckets); // all-day
    // A high quantile wants many samples in its bucket; until then it comes from the whole day.
    expect(b.view(m, b.slotOffset(m, 2, 1000)).slot).toBe(options.buckets);
  });

  it('is not moved by a device in alarm or by a far outlier, but follows a lasting change', () => {
    const rng = new Prng(3);
    const b = new DeviceBaseline(options);
    feed(b, 96 * 2, () => 5_000, rng);
    const off = b.slotOffset(M_BYTES_OUT, 0);
    const before = b.view(M_BYTES_OUT, off).median;
    feed(b, 40, () => 5e8, rng, 0, true);
    feed(b, 40, () => 5e8, rng, 40, false); // held back: fewer than relearnAfter in a row
    expect(b.view(M_BYTES_OUT, b.slotOffset(M_BYTES_OUT, 0)).median).toBeCloseTo(before, 6);
    feed(b, 400, () => 5e8, rng, 80, false); // still there after relearnAfter: the new normal
    expect(b.view(M_BYTES_OUT, b.slotOffset(M_BYTES_OUT, 0)).median).toBeGreaterThan(1e8);
  });

  it('round-trips through JSON, during warm-up and after, and continues identically', () => {
    for (const n of [50, 300]) {
      const a = new DeviceBaseline(options);
      feed(a, n, (i) => 1000 + (i % 13) * 100, new Prng(4));
      const b = new DeviceBaseline(options, JSON.parse(JSON.stringify(a)));
      feed(a, 100, (i) => 3000 + (i % 7) * 10, new Prng(5), n);
      feed(b, 100, (i) => 3000 + (i % 7) * 10, new Prng(5), n);
      expect(b.toJSON()).toEqual(a.toJSON());
    }
  });

  it('states its memory as the typed arrays it really holds, during warm-up and after', () => {
    const bytes = DeviceBaseline.bytesPerDevice(options);
    const b = new DeviceBaseline(options);
    expect(typedArrayBytes(b)).toBe(bytes.steady + bytes.warmup);
    feed(b, options.warmup + 5, (i) => 1000 + (i % 13) * 100, new Prng(6));
    expect(b.ready).toBe(true);
    expect(typedArrayBytes(b)).toBe(bytes.steady);
  });
});
