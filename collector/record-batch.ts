// One interval's records as NDJSON bytes in a reusable buffer: what ./records.ts writes straight from
// the aggregator's typed arrays and what every sink takes (the NDJSON sink writes the bytes, the Kafka
// sink sends each line keyed by device id). The text is what JSON.stringify gives for the same record
// (test/record-bytes.test.ts holds the writer to the object builder it replaced, byte for byte); the
// record objects, for in-process consumers (the bus, the table, tests), are parsed from it, so there is
// one builder and the bytes are the source of truth.

import type { InspectionRecord } from '../contracts/inspection-record.js';

/** JSON text into a growable byte buffer; no allocation per value once the buffer is big enough. */
export class JsonWriter {
  buf: Buffer;
  pos = 0;

  constructor(size = 1 << 16) {
    this.buf = Buffer.allocUnsafeSlow(size);
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafeSlow(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** ASCII that needs no escaping (keys with their quotes, punctuation). */
  raw(s: string): void {
    const n = s.length;
    this.room(n);
    // A copy in C++ beats a loop of charCodeAt from about 16 characters (2x on a record's keys, measured).
    if (n > 16) {
      this.pos += this.buf.write(s, this.pos, 'latin1');
      return;
    }
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) b[p++] = s.charCodeAt(i);
    this.pos = p;
  }

  byte(c: number): void {
    this.room(1);
    this.buf[this.pos++] = c;
  }

  /** A number as JSON.stringify writes it (non-finite as null). */
  num(n: number): void {
    if (n >= 0 && n <= 0xffffffff && n === Math.floor(n)) {
      this.room(10);
      const b = this.buf;
      if (n < 10) {
        b[this.pos++] = 48 + n;
        return;
      }
      let digits = 1;
      for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
      let p = this.pos + digits;
      this.pos = p;
      for (let x = n; ; ) {
        const q = Math.floor(x / 10);
        b[--p] = 48 + (x - q * 10);
        if (q === 0) break;
        x = q;
      }
      return;
    }
    this.raw(Number.isFinite(n) ? String(n) : 'null'); // rare: fractions, huge or negative numbers
  }

  /** Consecutive counters: for each k, keys[k] (raw, e.g. ',"udp.pkts":') then from[at + k]. */
  nums(keys: readonly string[], from: Float64Array, at: number): void {
    for (let k = 0; k < keys.length; k++) {
      this.raw(keys[k]);
      this.num(from[at + k]);
    }
  }

  bool(v: boolean): void {
    this.raw(v ? 'true' : 'false');
  }

  /** A JSON string: printable ASCII copied as is, anything else the way JSON.stringify escapes it. */
  str(s: string): void {
    const n = s.length;
    this.room(n + 2);
    const b = this.buf;
    let p = this.pos;
    b[p++] = 0x22;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) {
        this.strSlow(s);
        return;
      }
      b[p++] = c;
    }
    b[p++] = 0x22;
    this.pos = p;
  }

  private strSlow(s: string): void {
    this.text(JSON.stringify(s));
  }

  /** JSON text made elsewhere (JSON.stringify), as UTF-8. */
  text(json: string): void {
    this.room(Buffer.byteLength(json, 'utf8'));
    this.pos += this.buf.write(json, this.pos, 'utf8');
  }
}

/** Released batches waiting to be filled again (one per collector; a pipeline holds a few at most). */
export type BatchPool = RecordBatch[];

export class RecordBatch {
  readonly w = new JsonWriter(1 << 14);
  /** Per record: the offset just past its newline. */
  ends = new Int32Array(256);
  /** Per record: its device id (the Kafka message key). */
  readonly keys: string[] = [];
  count = 0;
  private parsed: InspectionRecord[] | null = null;

  constructor(private readonly pool: BatchPool | null = null) {}

  /** Empties the batch for the next interval's records. */
  begin(): void {
    this.w.pos = 0;
    this.count = 0;
    this.keys.length = 0;
    this.parsed = null;
  }

  /** The record just written ends here; `key` is its device id. */
  endRecord(key: string): void {
    this.w.byte(0x0a);
    if (this.count === this.ends.length) {
      const ends = new Int32Array(this.ends.length * 2);
      ends.set(this.ends);
      this.ends = ends;
    }
    this.ends[this.count] = this.w.pos;
    this.keys[this.count++] = key;
  }

  /** Every record, one per line, each line ending in a newline. Valid until release(). */
  get bytes(): Buffer {
    return this.w.buf.subarray(0, this.w.pos);
  }

  /** Record i's JSON text, without the newline. Valid until release(). */
  line(i: number): Buffer {
    return this.w.buf.subarray(i === 0 ? 0 : this.ends[i - 1], this.ends[i] - 1);
  }

  /** The records as objects, parsed from the bytes (once). */
  records(): InspectionRecord[] {
    if (this.parsed) return this.parsed;
    const out: InspectionRecord[] = new Array(this.count);
    for (let i = 0; i < this.count; i++) {
      out[i] = JSON.parse(this.w.buf.toString('utf8', i === 0 ? 0 : this.ends[i - 1], this.ends[i] - 1)) as InspectionRecord;
    }
    return (this.parsed = out);
  }

  /** Delivered or dropped: the buffer goes back to its collector to be written again. */
  release(): void {
    this.parsed = null;
    this.pool?.push(this);
  }

  /** A batch of records given as objects (tests, hand-built records): JSON.stringify of each. */
  static of(records: readonly InspectionRecord[]): RecordBatch {
    const b = new RecordBatch();
    for (const r of records) {
      b.w.text(JSON.stringify(r));
      b.endRecord(r.device.id);
    }
    return b;
  }
}
