// Typed arrays for the record writer (./records.ts, ./evidence/report.ts), reused from interval to
// interval: each slot keeps one array, grown (doubling, never shrunk) to the largest size asked so far.
// Allocating them afresh every interval left megabytes of array buffers per interval to the GC and
// made the collector's peak RSS grow with the length of the capture.

type Kind = Int32Array | Uint32Array | Uint16Array | Uint8Array | Float64Array;

export class ReusedArrays {
  private readonly slots: (Kind | undefined)[] = [];

  /** An array of n elements set to `value`, for slot `slot` (a view of the slot's array). */
  int32(slot: number, n: number, value = 0): Int32Array {
    return this.get(slot, n, Int32Array).fill(value);
  }

  uint32(slot: number, n: number): Uint32Array {
    return this.get(slot, n, Uint32Array).fill(0);
  }

  uint16(slot: number, n: number): Uint16Array {
    return this.get(slot, n, Uint16Array).fill(0);
  }

  uint8(slot: number, n: number): Uint8Array {
    return this.get(slot, n, Uint8Array).fill(0);
  }

  float64(slot: number, n: number): Float64Array {
    return this.get(slot, n, Float64Array).fill(0);
  }

  private get<T extends Kind>(slot: number, n: number, make: new (n: number) => T): T {
    let a = this.slots[slot] as T | undefined;
    if (!a || a.length < n) {
      let size = a ? a.length * 2 : 1024;
      while (size < n) size *= 2;
      a = new make(size);
      this.slots[slot] = a;
    }
    return a.subarray(0, n) as T;
  }
}
