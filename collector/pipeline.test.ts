// The pipeline between the collector and a sink that is away: a live source cannot wait, so the
// pipeline keeps at most 1,000 intervals and counts every record it drops; a replay waits for the
// sink instead and loses nothing.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Frame } from '../gre-decap/readers/frame.js';
import { LINKTYPE_ETHERNET } from '../gre-decap/layers.js';
import { PcapWriter } from '../synth/capture-file.js';
import { bytes, ethernet, gre, ipv4, udp } from '../synth/packets.js';
import { until } from '../test/helpers/until.js';
import { Collector } from './collector.js';
import { DeviceNets } from './device-nets.js';
import type { InspectionRecord } from '../contracts/inspection-record.js';
import { Pipeline } from './pipeline.js';
import { RecordBatch } from './record-batch.js';
import { replayCapture } from './sources/replay.js';
import { newSinkStats, type RecordSink } from './sinks/sink.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tapwatch-pipeline-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T0 = 1_767_225_600;
/** More intervals than a live pipeline keeps, so losing any of them is visible. */
const INTERVALS = 1_200;
/** 1 to 3 devices in interval i, so records and intervals are not the same count. */
const devicesIn = (i: number) => 1 + (i % 3);
const frameFrom = (device: number) =>
  ethernet(ipv4(gre(ipv4(udp(bytes(24), { src: 40000, dst: 53 }), { src: `10.128.0.${device}`, dst: '203.0.113.7', proto: 17 }), { protocol: 0x0800, key: 1 }), { src: '192.0.2.1', dst: '198.51.100.1', proto: 47 }));

function collector(clock: 'packet' | 'wall', onBatch: (b: RecordBatch) => void): Collector {
  return new Collector({
    nets: new DeviceNets(['10.128.0.0/9']),
    intervalSeconds: 1,
    topK: 10,
    maxDevices: 64,
    maxFlows: 1024,
    maxDestinations: 1024,
    clock,
    source: 'test',
    onBatch,
  });
}

/** A pino logger whose lines the test can read. */
function capturingLog(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'info' }, stream), lines };
}

const key = (r: InspectionRecord) => `${r.interval.start} ${r.device.ip}`;

describe('live pipeline with a sink that waits (as the Kafka sink does while its broker is away)', () => {
  it('drops and counts queued intervals only: the one in flight is delivered once, none is lost uncounted', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const delivered: number[] = [];
    const sink: RecordSink = {
      name: 'gated',
      stats: newSinkStats(),
      async send(b) {
        await gate;
        delivered.push(b.records()[0].interval.seconds);
      },
      async close() {},
    };
    const p = new Pipeline(sink, pino({ level: 'silent' }), 3);
    // Each "interval" is one record whose interval.seconds carries its number.
    const batch = (n: number) => RecordBatch.of([{ interval: { seconds: n }, device: { id: 'd' } } as InspectionRecord]);
    p.enqueue(batch(0));
    const drained = p.drain(); // 0 is in flight, the sink waits
    for (let i = 1; i <= 5; i++) p.enqueue(batch(i));
    release();
    await drained;
    // Kept: the one in flight and the newest three; dropped and counted: 1 and 2.
    expect(delivered).toEqual([0, 3, 4, 5]);
    expect(p.droppedRecords).toBe(2);
    expect(delivered.length + p.droppedRecords).toBe(6);
  });
});

describe('live pipeline bounded in bytes', () => {
  it('drops the oldest queued intervals once their records pass maxQueuedBytes, keeping the newest however large', () => {
    const sink: RecordSink = { name: 'away', stats: newSinkStats(), send: () => new Promise<void>(() => undefined), async close() {} };
    const batch = (n: number, pad: number) => RecordBatch.of([{ interval: { seconds: n }, device: { id: 'x'.repeat(pad) } } as InspectionRecord]);
    const size = (pad: number) => batch(0, pad).w.pos;
    const p = new Pipeline(sink, pino({ level: 'silent' }), 1000, 3 * size(1000));
    for (let i = 0; i < 5; i++) p.enqueue(batch(i, 1000));
    // Three of them fit; the two oldest were dropped and counted.
    expect(p.queue.map((b) => b.records()[0].interval.seconds)).toEqual([2, 3, 4]);
    expect([p.droppedBatches, p.droppedRecords]).toEqual([2, 2]);
    // One interval larger than the bound on its own is kept (the newest always is); the rest give way.
    p.enqueue(batch(5, 10_000));
    expect(p.queue.map((b) => b.records()[0].interval.seconds)).toEqual([5]);
    expect(p.pendingRecords).toBe(1);
  });
});

describe('a live source while its sink fails', () => {
  /** Refuses every batch (as a broken file or an unreachable broker does) until `failing` is cleared. */
  class FailingSink implements RecordSink {
    readonly name = 'failing';
    readonly stats = newSinkStats();
    failing = true;
    readonly delivered: InspectionRecord[][] = [];
    async send(batch: RecordBatch): Promise<void> {
      const records = batch.records();
      if (this.failing) {
        this.stats.failed++;
        throw new Error('sink away');
      }
      this.delivered.push(records);
      this.stats.delivered += records.length;
    }
    async close(): Promise<void> {}
  }

  it('keeps at most 1,000 intervals, drops the oldest, counts every record dropped, and delivers the rest once back', async () => {
    const sink = new FailingSink();
    const { log, lines } = capturingLog();
    const pipeline = new Pipeline(sink, log); // the default bound, as `tapwatch collect` builds it
    const emitted: InspectionRecord[][] = [];
    const c = collector('wall', (b) => {
      emitted.push(b.records());
      pipeline.enqueue(b);
    });
    // As live-source.ts does each second: frames arrive, the tick closes the interval, and a drain is
    // tried; a sink failure is logged and the interval stays queued.
    const f = new Frame();
    f.linkType = LINKTYPE_ETHERNET;
    let sinkErrors = 0;
    let now = Math.floor(Date.now() / 1000) + 10;
    for (let i = 0; i < INTERVALS; i++) {
      for (let d = 1; d <= devicesIn(i); d++) {
        f.buf = frameFrom(d);
        f.capLen = f.wireLen = f.buf.length;
        f.tsSec = now;
        c.onFrame(f);
      }
      c.tick(++now);
      if (pipeline.queue.length > 0) await pipeline.drain().catch(() => sinkErrors++);
      expect(pipeline.queue.length).toBeLessThanOrEqual(1000);
    }
    expect(emitted).toHaveLength(INTERVALS);
    expect(sinkErrors).toBe(INTERVALS);
    expect(sink.delivered).toHaveLength(0);

    expect(pipeline.queue).toHaveLength(1000);
    const lost = emitted.slice(0, INTERVALS - 1000);
    expect(pipeline.droppedBatches).toBe(lost.length);
    expect(pipeline.droppedRecords).toBe(lost.reduce((n, r) => n + r.length, 0));
    expect(pipeline.droppedRecords).not.toBe(pipeline.droppedBatches); // records counted, not intervals
    expect(lines.filter((l) => l.msg === 'sink is too far behind: dropped the oldest interval')).toHaveLength(lost.length);

    // The sink is back: what was kept goes out in order, each record once; with what was counted as
    // dropped, that is everything the collector made.
    sink.failing = false;
    await pipeline.drain();
    expect(pipeline.queue).toHaveLength(0);
    expect(sink.delivered.flat().map(key)).toEqual(emitted.slice(INTERVALS - 1000).flat().map(key));
    expect(sink.stats.delivered + pipeline.droppedRecords).toBe(c.recordsEmitted);
  });
});

describe('a replay while its sink fails', () => {
  /** Retries a batch until it goes through (as the Kafka sink does with a broker that is away). */
  class RetryingSink implements RecordSink {
    readonly name = 'retrying';
    readonly stats = newSinkStats();
    failing = true;
    /** Fails again, on its own, when this many intervals have been delivered. */
    failAgainAt = -1;
    readonly delivered: InspectionRecord[][] = [];
    async send(batch: RecordBatch): Promise<void> {
      const records = batch.records();
      if (this.delivered.length === this.failAgainAt) this.failing = true;
      while (this.failing) {
        this.stats.retries++;
        await new Promise((r) => setTimeout(r, 2)); // the sink's own backoff
      }
      this.delivered.push(records);
      this.stats.delivered += records.length;
    }
    async close(): Promise<void> {}
  }

  it('waits for the sink instead of dropping: every interval is delivered once, in order', async () => {
    const path = join(dir, 'replay.pcap');
    const w = new PcapWriter(path);
    for (let i = 0; i < INTERVALS; i++) for (let d = 1; d <= devicesIn(i); d++) w.write(frameFrom(d), T0 + i, d * 1000);
    w.close();

    const sink = new RetryingSink();
    sink.failAgainAt = 600;
    const { log } = capturingLog();
    const pipeline = new Pipeline(sink, log);
    const emitted: InspectionRecord[][] = [];
    const c = collector('packet', (b) => {
      emitted.push(b.records());
      pipeline.enqueue(b);
    });
    const replay = replayCapture(path, c, pipeline, { speed: 0, stopRequested: () => false });

    // The sink is away from the start: the replay stops reading after the first interval and waits.
    await until('the replay to wait on the sink', () => sink.stats.retries >= 50, { timeoutMs: 60_000, everyMs: 10 });
    expect(c.intervalsClosed).toBe(1);
    expect(pipeline.pending).toBe(1);
    sink.failing = false;

    // Away again after 600 intervals: the replay waits there too.
    const retriesBefore = sink.stats.retries;
    await until('the second outage', () => sink.failing && sink.stats.retries >= retriesBefore + 50, { timeoutMs: 60_000, everyMs: 10 });
    expect(c.intervalsClosed).toBe(601);
    expect(pipeline.pending).toBe(1);
    sink.failing = false;

    const stats = await replay;
    expect(stats.error).toBeNull();
    expect(pipeline.droppedBatches).toBe(0);
    expect(pipeline.droppedRecords).toBe(0);
    expect(emitted).toHaveLength(INTERVALS);
    expect(sink.delivered.flat().map(key)).toEqual(emitted.flat().map(key));
    expect(sink.stats.delivered).toBe(c.recordsEmitted);
    expect(c.recordsEmitted).toBe(Array.from({ length: INTERVALS }, (_, i) => devicesIn(i)).reduce((a, b) => a + b, 0));
  });
});
