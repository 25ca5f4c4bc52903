// A count-min sketch: how many devices of a group have taken up a destination, in fixed memory.
// It never under-counts, so a destination it calls rare is rare; collisions can only make a rare
// destination look common, which errs towards fewer alarms. Width and depth bound the error:
// with N insertions an estimate exceeds the truth by more than 2N/width with probability <= 2^-depth.

import { decodeArray, encodeArray } from './codec.js';
import { mix32 } from '../net/hash.js';

const ROW_SEEDS = [0x9e3779b1, 0x85ebca77, 0xc2b2ae3d, 0x27d4eb2f, 0x165667b1, 0xd3a2646c];

export interface CountMinState {
  width: number;
  depth: number;
  cells: string;
}

export class CountMin {
  readonly cells: Uint32Array;

  constructor(readonly width: number, readonly depth: number, cells?: Uint32Array) {
    if ((width & (width - 1)) !== 0 || width === 0) throw new Error('count-min width must be a power of two');
    if (depth < 1 || depth > ROW_SEEDS.length) throw new Error(`count-min depth must be 1..${ROW_SEEDS.length}`);
    this.cells = cells ?? new Uint32Array(width * depth);
  }

  add(key: number): void {
    const mask = this.width - 1;
    for (let r = 0; r < this.depth; r++) {
      const i = r * this.width + (mix32(key ^ ROW_SEEDS[r]) & mask);
      if (this.cells[i] !== 0xffffffff) this.cells[i]++;
    }
  }

  estimate(key: number): number {
    const mask = this.width - 1;
    let min = 0xffffffff;
    for (let r = 0; r < this.depth; r++) {
      const c = this.cells[r * this.width + (mix32(key ^ ROW_SEEDS[r]) & mask)];
      if (c < min) min = c;
    }
    return min;
  }

  toJSON(): CountMinState {
    return { width: this.width, depth: this.depth, cells: encodeArray(this.cells) };
  }

  static fromJSON(s: CountMinState): CountMin {
    return new CountMin(s.width, s.depth, decodeArray(s.cells, Uint32Array, s.width * s.depth));
  }
}
