import { describe, expect, it } from 'vitest';
import { IsolationForest as Reference } from 'ml-isolation-forest';
import { sampleRankCorrelation } from 'simple-statistics';
import { Prng } from '../net/prng.js';
import { averagePath, IsolationForest } from './iforest.js';

const DIMS = 6;

/** Two correlated Gaussian clusters and `outliers` planted rows (indexes from `normal` on). */
function dataset(seed: number, normal: number, outliers: number): number[][] {
  const r = new Prng(seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - r.float())) * Math.cos(2 * Math.PI * r.float());
  const rows: number[][] = [];
  for (let i = 0; i < normal; i++) {
    const c = i % 3 === 0 ? 4 : 0;
    const base = gauss();
    rows.push(Array.from({ length: DIMS }, (_, f) => c + 0.7 * base + 0.5 * gauss() + f * 0.1));
  }
  for (let i = 0; i < outliers; i++) {
    // Far along one feature, or off the clusters' correlation, or between the clusters: each kind isolates differently.
    const row = Array.from({ length: DIMS }, () => 0.5 * gauss());
    if (i % 3 === 0) row[i % DIMS] -= 6 + 3 * r.float();
    else if (i % 3 === 1) for (let f = 0; f < DIMS; f++) row[f] = (f % 2 ? 7 : -4.5) + 0.3 * gauss();
    else for (let f = 0; f < DIMS; f++) row[f] = -6 - r.float();
    rows.push(row);
  }
  return rows;
}

function ours(rows: number[][], trees: number, seed: number): { forest: IsolationForest; scores: number[] } {
  const flat = Float64Array.from(rows.flat());
  const forest = IsolationForest.train(flat, rows.length, DIMS, { trees, sampleSize: 256, seed });
  return { forest, scores: rows.map((_, i) => forest.score(flat, i * DIMS)) };
}

/** The reference draws from Math.random; a seeded stand-in makes this test repeatable. */
function reference(rows: number[][], trees: number, seed: number): number[] {
  const r = new Prng(seed);
  const saved = Math.random;
  Math.random = () => r.float();
  try {
    const ref = new Reference({ nEstimators: trees });
    ref.train(rows);
    return ref.predict(rows);
  } finally {
    Math.random = saved;
  }
}

const topK = (scores: number[], k: number): number[] => scores.map((s, i) => [s, i]).sort((a, b) => b[0] - a[0]).slice(0, k).map((x) => x[1]).sort((a, b) => a - b);

describe('isolation forest', () => {
  it('c(n) is the paper\'s average path length', () => {
    expect(averagePath(1)).toBe(0);
    expect(averagePath(2)).toBe(1);
    // c(256) = 2 H(255) - 2*255/256, H(i) ~ ln i + gamma
    expect(averagePath(256)).toBeCloseTo(2 * (Math.log(255) + 0.5772156649) - (2 * 255) / 256, 10);
  });

  it('ranks points like ml-isolation-forest 0.1.0 on data with planted outliers', () => {
    const rows = dataset(11, 1500, 15);
    const a = ours(rows, 200, 5).scores;
    const b = reference(rows, 200, 6);
    expect(sampleRankCorrelation(a, b)).toBeGreaterThanOrEqual(0.9);
    // Outliers off the clusters in several features: both put exactly these ten first.
    const multi = Array.from({ length: 15 }, (_, i) => 1500 + i).filter((i) => (i - 1500) % 3 !== 0);
    expect(topK(a, 10)).toEqual(multi);
    expect(topK(b, 10)).toEqual(multi);
    // Outliers in one feature only rank lower with subsampling: the reference grows every tree on
    // all rows, the outlier among them, so a split lands next to it; a psi-subsample rarely holds
    // it, and a point beyond the sample's range follows the sample's most extreme rows (as in the
    // paper and scikit-learn). Both still put them in the top 10%.
    const rankOf = (s: number[], i: number): number => s.filter((x) => x > s[i]).length;
    for (let i = 1500; i < 1515; i += 3) {
      expect(rankOf(a, i)).toBeLessThan(0.1 * rows.length);
      expect(rankOf(b, i)).toBeLessThan(0.1 * rows.length);
    }
  });

  it('is deterministic for a seed, and a different seed grows a different forest', () => {
    const rows = dataset(3, 600, 6);
    const x = ours(rows, 50, 42).scores;
    expect(ours(rows, 50, 42).scores).toEqual(x);
    expect(ours(rows, 50, 43).scores).not.toEqual(x);
  });

  it('subsamples: trees hold at most psi rows and depth ceil(log2 psi)', () => {
    const rows = dataset(4, 5000, 0);
    const { forest } = ours(rows, 10, 1);
    expect(forest.sampleSize).toBe(256);
    expect(forest.nodesPerTree).toBe(2 ** 9 - 1);
    const small = ours(dataset(4, 100, 0), 10, 1).forest;
    expect(small.sampleSize).toBe(100);
  });

  it('serializes to JSON and scores exactly the same after', () => {
    const rows = dataset(7, 800, 8);
    const { forest, scores } = ours(rows, 100, 9);
    const json = JSON.stringify(forest);
    expect(json.length).toBeLessThan(1_000_000);
    const back = IsolationForest.fromJSON(JSON.parse(json));
    const flat = Float64Array.from(rows.flat());
    expect(rows.map((_, i) => back.score(flat, i * DIMS))).toEqual(scores);
  });

  it('finds nothing to split in constant data and scores every row alike', () => {
    const flat = new Float64Array(50 * 3).fill(1);
    const f = IsolationForest.train(flat, 50, 3, { trees: 5, sampleSize: 256, seed: 1 });
    expect(f.pathLength(flat, 0)).toBeCloseTo(averagePath(50), 10);
  });
});
