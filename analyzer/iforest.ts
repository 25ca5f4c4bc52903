// Isolation forest (Liu, Ting & Zhou 2008) with what ml-isolation-forest 0.1.0 lacks and a
// streaming analyzer needs: each tree is grown on a subsample of psi rows (256 by default, as in
// the paper: it is what makes scores comparable across training-set sizes and training cheap), the
// randomness comes from a seed (same data and seed, same forest), and the forest is flat typed
// arrays that serialize to a few hundred kilobytes and score a row without allocating.
// iforest.test.ts shows it ranks points like the reference implementation.

import { Prng } from '../net/prng.js';
import { decodeArray, encodeArray } from './codec.js';

const EULER_GAMMA = 0.5772156649015329;
const LEAF = 0xff;

/** Average path length of an unsuccessful search in a binary search tree of n points: c(n) in the paper. */
export function averagePath(n: number): number {
  if (n <= 1) return 0;
  if (n === 2) return 1;
  return 2 * (Math.log(n - 1) + EULER_GAMMA) - (2 * (n - 1)) / n;
}

// c(n) for every leaf size a forest can have (leaves hold at most sampleSize <= 4096 rows): scoring
// is then one table read per tree instead of a logarithm.
const C = Float64Array.from({ length: 4097 }, (_, n) => averagePath(n));

export interface ForestOptions {
  trees: number;
  sampleSize: number;
  seed: number;
}

export interface ForestState {
  dims: number;
  trees: number;
  sampleSize: number;
  nodesPerTree: number;
  feature: string;
  split: string;
  size: string;
}

export class IsolationForest {
  private constructor(
    readonly dims: number,
    readonly trees: number,
    readonly sampleSize: number,
    readonly nodesPerTree: number,
    // Node i of tree t is at t * nodesPerTree + i; its children are 2i+1 and 2i+2 (a heap layout,
    // so no child pointers are stored). feature = LEAF marks a leaf, whose size is the number of
    // sample rows that reached it.
    private readonly feature: Uint8Array,
    private readonly split: Float64Array,
    private readonly size: Uint16Array,
  ) {}

  /** Grows a forest on `rows` (n rows of `dims` values, row-major). */
  static train(rows: ArrayLike<number>, n: number, dims: number, o: ForestOptions): IsolationForest {
    if (dims > 254) throw new Error('isolation forest: at most 254 features');
    if (n < 2) throw new Error('isolation forest: need at least 2 rows');
    const psi = Math.min(o.sampleSize, n);
    const height = Math.ceil(Math.log2(psi));
    const nodesPerTree = 2 ** (height + 1) - 1;
    const feature = new Uint8Array(o.trees * nodesPerTree).fill(LEAF);
    const split = new Float64Array(o.trees * nodesPerTree);
    const size = new Uint16Array(o.trees * nodesPerTree);
    const rng = new Prng(o.seed);
    const pool = Int32Array.from({ length: n }, (_, i) => i);
    const sample = new Int32Array(psi);
    const untried = new Uint8Array(dims * (height + 1));
    for (let t = 0; t < o.trees; t++) {
      // Partial Fisher-Yates: psi distinct rows without replacement. The pool stays a permutation
      // of all rows from tree to tree, which is all the shuffle needs, so it is not reset.
      for (let i = 0; i < psi; i++) {
        const j = i + Math.floor(rng.float() * (n - i));
        const tmp = pool[i];
        pool[i] = pool[j];
        pool[j] = tmp;
        sample[i] = pool[i];
      }
      grow(rows, dims, sample, 0, psi, t * nodesPerTree, 0, 0, height, feature, split, size, rng, untried);
    }
    return new IsolationForest(dims, o.trees, psi, nodesPerTree, feature, split, size);
  }

  /** Mean path length of `row` (offset `at` in `data`) over the trees. */
  pathLength(data: ArrayLike<number>, at = 0): number {
    let total = 0;
    const { feature, split, size, nodesPerTree } = this;
    for (let t = 0; t < this.trees; t++) {
      const base = t * nodesPerTree;
      let i = 0;
      let depth = 0;
      while (feature[base + i] !== LEAF) {
        i = data[at + feature[base + i]] < split[base + i] ? 2 * i + 1 : 2 * i + 2;
        depth++;
      }
      total += depth + C[size[base + i]];
    }
    return total / this.trees;
  }

  /** 2^(-E[h(x)] / c(psi)): near 1 isolated early (anomalous), about 0.5 or less ordinary. */
  score(data: ArrayLike<number>, at = 0): number {
    return 2 ** (-this.pathLength(data, at) / averagePath(this.sampleSize));
  }

  toJSON(): ForestState {
    return {
      dims: this.dims,
      trees: this.trees,
      sampleSize: this.sampleSize,
      nodesPerTree: this.nodesPerTree,
      feature: encodeArray(this.feature),
      split: encodeArray(this.split),
      size: encodeArray(this.size),
    };
  }

  static fromJSON(s: ForestState): IsolationForest {
    const nodes = s.trees * s.nodesPerTree;
    return new IsolationForest(
      s.dims, s.trees, s.sampleSize, s.nodesPerTree,
      decodeArray(s.feature, Uint8Array, nodes), decodeArray(s.split, Float64Array, nodes), decodeArray(s.size, Uint16Array, nodes),
    );
  }
}

/**
 * Splits sample[lo, hi) at heap node `node` of the tree at `base`. The feature is drawn at random
 * among those not yet found constant in this node (a constant feature cannot separate anything:
 * drawing it would only waste depth, so another is drawn, as scikit-learn does); the split point
 * is uniform between that feature's min and max in the node, as in the paper. Only the drawn
 * feature is scanned, so growing a tree costs O(psi log psi), whatever the number of features.
 */
function grow(
  rows: ArrayLike<number>, dims: number, sample: Int32Array, lo: number, hi: number,
  base: number, node: number, depth: number, height: number,
  feature: Uint8Array, split: Float64Array, size: Uint16Array, rng: Prng, untried: Uint8Array,
): void {
  const count = hi - lo;
  if (depth >= height || count <= 1) {
    size[base + node] = count;
    return;
  }
  // untried[depth * dims ..] holds this node's candidate features; deeper nodes use later rows.
  const cand = depth * dims;
  for (let f = 0; f < dims; f++) untried[cand + f] = f;
  let left = dims;
  let f = -1;
  let min = 0;
  let max = 0;
  while (left > 0) {
    const k = Math.floor(rng.float() * left);
    const g = untried[cand + k];
    untried[cand + k] = untried[cand + --left];
    min = Infinity;
    max = -Infinity;
    for (let i = lo; i < hi; i++) {
      const x = rows[sample[i] * dims + g];
      if (x < min) min = x;
      if (x > max) max = x;
    }
    if (max > min) {
      f = g;
      break;
    }
  }
  if (f < 0) {
    size[base + node] = count;
    return;
  }
  const at = min + rng.float() * (max - min);
  // Partition in place: rows below the split first.
  let mid = lo;
  for (let i = lo; i < hi; i++) {
    if (rows[sample[i] * dims + f] < at) {
      const tmp = sample[i];
      sample[i] = sample[mid];
      sample[mid++] = tmp;
    }
  }
  feature[base + node] = f;
  split[base + node] = at;
  grow(rows, dims, sample, lo, mid, base, 2 * node + 1, depth + 1, height, feature, split, size, rng, untried);
  grow(rows, dims, sample, mid, hi, base, 2 * node + 2, depth + 1, height, feature, split, size, rng, untried);
}
