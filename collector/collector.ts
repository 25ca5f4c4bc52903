// The collector's data path for one source: frame → decapsulate → aggregate, and the interval
// clock that turns each closed interval into InspectionRecords. Intervals are aligned to
// multiples of the interval length since the epoch. They close on packet time when replaying
// (same input, same records, byte for byte) and on the wall clock when live.

import { Decapsulator, type DecapOptions } from '../gre-decap/decap.js';
import type { Frame } from '../gre-decap/readers/frame.js';
import { PacketMeta } from '../gre-decap/meta.js';
import { TUNNEL_NAMES } from '../gre-decap/layers.js';
import { Aggregator, type AggregatorOptions } from './aggregate.js';
import type { DeviceNets } from './device-nets.js';
import type { FrameConsumer } from './sources/frame-consumer.js';
import type { InspectionRecord } from '../contracts/inspection-record.js';
import { Inventory } from '../inventory/inventory.js';
import { AddressNames, RecordScratch, writeRecords } from './records.js';
import { RecordBatch, type BatchPool } from './record-batch.js';

export interface CollectorOptions extends AggregatorOptions {
  nets: DeviceNets;
  intervalSeconds: number;
  topK: number;
  /** Contacts per record, the far ends with the most activity bursts (default 16). */
  contacts?: number;
  /** 'packet': intervals close when a frame's timestamp passes their end (replay); 'wall': on tick(). */
  clock: 'packet' | 'wall';
  /** Where the records came from, for the records' collector.source. */
  source: string;
  decap?: DecapOptions;
  /**
   * The sane window for frame timestamps: frames outside it are counted (badTimestamps) and skipped,
   * never moving the interval clock. Default: 1970-01-01 to 2200-01-01, and within a day of the open
   * interval (the capture's clock so far, or the wall clock when live).
   */
  time?: { minSec?: number; maxSec?: number; maxSkewSec?: number };
  /** Told once per interval in which new devices found the device table full: frames refused, and by which source networks. */
  onDeviceOverflow?: (o: { startSec: number; frames: number; maxDevices: number; sources: { net: string; frames: number }[] }) => void;
  /**
   * Receives each closed interval's records as NDJSON bytes, synchronously, in order; the receiver owns the
   * batch until it calls release(), which hands the buffer back for a later interval.
   */
  onBatch?: (batch: RecordBatch, interval: { startSec: number; complete: boolean }) => void;
  /** Receives each closed interval's records as objects (parsed from the batch), synchronously, in order. */
  onRecords?: (records: InspectionRecord[], interval: { startSec: number; complete: boolean }) => void;
}

/** 2200-01-01T00:00:00Z: no capture is stamped later (nor can a Date hold 2^64 µs). */
const MAX_SEC = 7_258_118_400;

export class Collector implements FrameConsumer {
  readonly decap: Decapsulator;
  readonly agg: Aggregator;
  inventory = Inventory.empty();
  /** Frames that arrived with a timestamp before the open interval (counted into it). */
  lateFrames = 0;
  intervalsClosed = 0;
  recordsEmitted = 0;
  /** Bytes of every frame read, as on the wire. */
  wireBytes = 0;
  /** Frames skipped for a timestamp outside the sane window (CollectorOptions.time). */
  badTimestamps = 0;
  /** Frames by the type of their outermost tunnel (index 0: not tunnelled). */
  readonly tunnelFrames = new Float64Array(TUNNEL_NAMES.length);
  private readonly meta = new PacketMeta();
  private readonly names = new AddressNames();
  private readonly scratch = new RecordScratch();
  private readonly pool: BatchPool = [];
  private startSec = -1; // open interval's start, -1 before the first frame
  private endSec = -1;
  private readonly minSec: number;
  private readonly maxSec: number;
  private readonly maxSkewSec: number;

  constructor(private readonly opts: CollectorOptions) {
    if (!Number.isInteger(opts.intervalSeconds) || opts.intervalSeconds < 1) {
      throw new RangeError(`interval must be a whole number of seconds ≥ 1, got ${opts.intervalSeconds}`);
    }
    this.minSec = opts.time?.minSec ?? 0;
    this.maxSec = opts.time?.maxSec ?? MAX_SEC;
    this.maxSkewSec = opts.time?.maxSkewSec ?? 86_400;
    this.decap = new Decapsulator(opts.decap);
    this.agg = new Aggregator(opts.nets, opts);
  }

  onFrame(f: Frame): void {
    // A frame from 2100 in a 2026 capture (or stamped 2^64-1 µs) would open an interval there and make
    // every later frame "late", or crash turning the time into a date: out of the window, it is skipped.
    const t = f.tsSec;
    if (!(t >= this.minSec && t < this.maxSec) || (this.startSec >= 0 && (t > this.endSec + this.maxSkewSec || t < this.startSec - this.maxSkewSec))) {
      this.badTimestamps++;
      return;
    }
    const m = this.meta;
    this.decap.decodeFrame(f, m);
    this.wireBytes += f.wireLen;
    this.tunnelFrames[m.tunDepth > 0 ? m.tunType[0] : 0]++;
    if (this.opts.clock === 'packet') {
      if (f.tsSec >= this.endSec) this.roll(f.tsSec);
      else if (f.tsSec < this.startSec) this.lateFrames++;
    } else if (this.startSec < 0) {
      this.open(Math.floor(Date.now() / 1000));
    }
    this.agg.add(f.buf, m);
  }

  tunnelCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    this.tunnelFrames.forEach((n, t) => {
      if (n > 0) out[TUNNEL_NAMES[t]] = n;
    });
    return out;
  }

  /** Wall-clock mode: close the open interval once `nowSec` has passed its end. */
  tick(nowSec: number): void {
    if (this.startSec >= 0 && nowSec >= this.endSec) {
      this.close(true);
      this.open(nowSec);
    }
  }

  /** End of input or shutdown: close the open interval early, marked incomplete. */
  finish(): void {
    if (this.startSec >= 0 && this.agg.intervalFrames > 0) this.close(false);
    this.startSec = -1;
    this.endSec = -1;
  }

  private roll(tsSec: number): void {
    if (this.startSec >= 0) this.close(true);
    this.open(tsSec);
  }

  private open(sec: number): void {
    const len = this.opts.intervalSeconds;
    this.startSec = Math.floor(sec / len) * len;
    this.endSec = this.startSec + len;
    this.agg.startInterval(this.startSec);
  }

  private close(complete: boolean): void {
    const batch = this.pool.pop() ?? new RecordBatch(this.pool);
    writeRecords(
      this.agg,
      { startSec: this.startSec, seconds: this.opts.intervalSeconds, complete, source: this.opts.source },
      this.inventory,
      this.opts.topK,
      this.names,
      this.opts.contacts ?? 16,
      batch,
      this.scratch,
    );
    if (this.agg.intervalOverflow > 0) {
      this.opts.onDeviceOverflow?.({ startSec: this.startSec, frames: this.agg.intervalOverflow, maxDevices: this.agg.devices.maxEntries, sources: this.agg.overflowSources(5) });
    }
    this.agg.reset();
    for (let i = 0; i < this.agg.evictedCount; i++) this.names.forgetDevice(this.agg.evicted[i]);
    this.intervalsClosed++;
    this.recordsEmitted += batch.count;
    const interval = { startSec: this.startSec, complete };
    if (batch.count === 0) batch.release();
    else if (this.opts.onBatch) this.opts.onBatch(batch, interval);
    else {
      if (this.opts.onRecords) this.opts.onRecords(batch.records(), interval);
      batch.release();
    }
  }
}
