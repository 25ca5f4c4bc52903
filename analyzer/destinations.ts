// The destinations a device has used, by name when it has one for them, else by address
// (detectors/detector.ts hostKey), in a fixed-size table: the memory for a device stays bounded
// however many addresses it touches (a scanning device touches thousands). Eviction is segmented
// LRU: a destination seen in one interval only is on probation and goes first; one seen in two or
// more intervals is protected and goes only when no probationary entry is left. So a scan churns
// the probationary entries and leaves the device's real servers known.

import { decodeArray, encodeArray } from './codec.js';

/** Flag in touch()'s result: the destination was not in the table. Slots stay below it (capacity <= 4096). */
export const ADDED = 0x10000;

/** Marks an entry learned during warm-up: known from the start, never "new". */
export const KNOWN_SINCE_WARMUP = -0x80000000;

export interface SeenDestinationsState {
  capacity: number;
  size: number;
  keys: string;
  first: string;
  last: string;
  intervals: string;
}

export class SeenDestinations {
  readonly keys: Uint32Array;
  readonly first: Int32Array; // minute first seen, or KNOWN_SINCE_WARMUP
  readonly last: Int32Array; // minute last seen
  readonly intervals: Uint16Array; // distinct intervals seen, saturating
  size = 0;

  constructor(readonly capacity: number, state?: SeenDestinationsState) {
    if (state) {
      this.keys = decodeArray(state.keys, Uint32Array, capacity);
      this.first = decodeArray(state.first, Int32Array, capacity);
      this.last = decodeArray(state.last, Int32Array, capacity);
      this.intervals = decodeArray(state.intervals, Uint16Array, capacity);
      this.size = state.size;
    } else {
      this.keys = new Uint32Array(capacity);
      this.first = new Int32Array(capacity);
      this.last = new Int32Array(capacity);
      this.intervals = new Uint16Array(capacity);
    }
  }

  find(key: number): number {
    const keys = this.keys;
    for (let i = 0; i < this.size; i++) if (keys[i] === key) return i;
    return -1;
  }

  /**
   * Records that the device used `key` in the interval starting at `minute`. Returns the entry's
   * slot, plus ADDED when the key was unknown before (its first sighting, or first since eviction).
   */
  touch(key: number, minute: number, warmingUp: boolean): number {
    let i = this.find(key);
    if (i >= 0) {
      if (this.last[i] !== minute) {
        this.last[i] = minute;
        if (this.intervals[i] !== 0xffff) this.intervals[i]++;
      }
      return i;
    }
    i = this.size < this.capacity ? this.size++ : this.victim();
    this.keys[i] = key;
    this.first[i] = warmingUp ? KNOWN_SINCE_WARMUP : minute;
    this.last[i] = minute;
    this.intervals[i] = 1;
    return i | ADDED;
  }

  /** Least recently seen probationary entry, else least recently seen entry. */
  private victim(): number {
    let probation = -1;
    let any = 0;
    for (let i = 0; i < this.size; i++) {
      if (this.last[i] < this.last[any]) any = i;
      if (this.intervals[i] === 1 && (probation < 0 || this.last[i] < this.last[probation])) probation = i;
    }
    return probation >= 0 ? probation : any;
  }

  toJSON(): SeenDestinationsState {
    return {
      capacity: this.capacity,
      size: this.size,
      keys: encodeArray(this.keys),
      first: encodeArray(this.first),
      last: encodeArray(this.last),
      intervals: encodeArray(this.intervals),
    };
  }

  static fromJSON(s: SeenDestinationsState): SeenDestinations {
    return new SeenDestinations(s.capacity, s);
  }

  static bytesPerDevice(capacity: number): number {
    return capacity * (4 + 4 + 4 + 2);
  }
}
