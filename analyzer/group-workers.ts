// `analyze --in` on worker threads, each group of devices on one of them. A group's events depend on
// its own records only (each group keeps its own clock: fleet.ts), so analysers that each hold whole
// groups write, between them, exactly the events one analyzer would; the main thread writes them back
// in the order of the lines they came from. Parsing and validating a record costs about as much as
// analysing it, so the main thread does neither: it reads each line's group from its bytes
// (line-group.ts), copies the line into that worker's next batch and hands the batch over without a copy;
// the worker hands the batch's buffers back with its answer, and they carry the next batches (a new buffer
// for every batch, allocated by one thread and freed by another, held 38 MB more RSS on a 900k-record file).
//
// Groups are spread by size: the first lines are held back until their groups' shares are known (4,096
// lines, or fewer when the input pauses), the largest group goes to the least loaded worker, and so on
// (a group first seen later goes to the worker with the fewest lines so far). One group gets one thread
// however large it is: a fleet of one group is analysed at one thread's pace. Lines go to the workers
// after each chunk read, so records piped in live (`collect --out - | analyze --in -`) are not held back.

import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { DEFAULT_GROUP } from './analyzer.js';
import { LINE_TOO_LONG, MAX_LINE_BYTES } from './ndjson-lines.js';
import { lineGroup } from './line-group.js';
import type { AnalyzerConfig } from './rules.js';

/** Lines for one worker: their bytes one after another, where each of the first `count` ends, and their line numbers in the input. */
export interface Batch {
  batch: number;
  count: number;
  bytes: Uint8Array<ArrayBuffer>;
  ends: Int32Array<ArrayBuffer>;
  lines: Float64Array<ArrayBuffer>;
}

/** A batch's buffers, handed back to be filled again. */
export interface BatchBuffers {
  bytes: ArrayBuffer;
  ends: ArrayBuffer;
  lines: ArrayBuffer;
}

export interface BatchResult {
  batch: number;
  buffers: BatchBuffers;
  records: number;
  /** [line, event JSON], in line order. */
  events: [number, string][];
  /** [line, why it is not a record], in line order. */
  invalid: [number, string][];
}

export interface WorkerSummary {
  warming: { devices: number; until: string | null };
  groups: string[];
}

export interface GroupWorkersOptions {
  workers: number;
  config: AnalyzerConfig;
  /** One event as JSON; awaited, so a slow output holds the input back. */
  event(json: string): Promise<void> | void;
  /** A line that is not a valid record (counted and skipped). */
  invalid(line: number, why: string): void;
}

export interface GroupWorkersResult {
  records: number;
  events: number;
  invalid: number;
  warming: { devices: number; until: string | null };
  /** Groups analysed in parts: records whose group name the main thread read otherwise than JSON does (escapes in the key). */
  split: string[];
}

const BATCH_LINES = 2048;
const SAMPLE_LINES = 4096;
/** A chunk with fewer bytes than this means the reader caught up with whoever writes the input. */
const SHORT_CHUNK = 48 << 10;
const MAX_IN_FLIGHT = 4;
/**
 * A worker's young generation. Left to V8 it grew to 128 MB in each worker (a record's parse is garbage a
 * moment later, and V8 sizes the young generation by allocation rate): 570 MB for the process with two
 * workers on the 901,759-record fleet, 394 MB with 16, events the same, time within run-to-run noise.
 */
const YOUNG_GENERATION_MB = 16;
/**
 * The bin starts node with --max-semi-space-size=4 for `collect`'s sake (cli/tapwatch.ts), and V8 lets that flag
 * override a worker's resourceLimits: with 4 MB semi-spaces the workers scavenged twice as often (100,000 records:
 * 335 scavenges against 184) and a full-fleet run took 21.4-24.7 s against 17.6-22.1 s (5 runs each, alternating).
 * An isolate reads the flag when it is created, so clearing it before the workers start gives them the young
 * generation above (188 scavenges; 22.0-23.8 s against 22.7-23.1 s, 3 runs each, events the same).
 */
function letWorkersSizeTheirYoungGeneration(): void {
  setFlagsFromString('--max-semi-space-size=0');
}

export async function analyzeOnWorkers(lines: AsyncIterable<Buffer[]>, o: GroupWorkersOptions): Promise<GroupWorkersResult> {
  const n = o.workers;
  let failure: Error | null = null;
  let wake = () => {};
  const fail = (err: Error) => {
    failure ??= err;
    wake();
  };
  const progress = () => new Promise<void>((resolve) => (wake = resolve));
  const check = () => {
    if (failure) throw failure;
  };

  const pending = new Map<number, { waiting: number; results: Pick<BatchResult, 'records' | 'events' | 'invalid'>[] }>();
  const summaries: Promise<WorkerSummary>[] = [];
  letWorkersSizeTheirYoungGeneration();
  const workers = Array.from({ length: n }, (_, w) => {
    const worker = new Worker(new URL('./group-worker.js', import.meta.url), { workerData: o.config, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } });
    let summarised: ((s: WorkerSummary) => void) | null = null;
    summaries[w] = new Promise((resolve) => (summarised = resolve));
    worker.on('message', (m: BatchResult | WorkerSummary) => {
      if ('groups' in m) {
        summarised!(m);
        summarised = null;
        return;
      }
      spare.push(m.buffers);
      const p = pending.get(m.batch)!;
      p.results.push(m);
      if (--p.waiting === 0) void pump();
    });
    worker.on('error', (err) => fail(err));
    worker.on('exit', (code) => {
      if (summarised) fail(new Error(`an analyzer worker thread stopped before it was done (exit code ${code})`));
    });
    return worker;
  });

  let records = 0;
  let events = 0;
  let invalid = 0;
  let sent = 0;
  let written = 0;
  let pumping = false;
  // Batches are written strictly in the order they were sent, each once all its workers have answered.
  const pump = async () => {
    if (pumping) return;
    pumping = true;
    try {
      for (let p = pending.get(written); p && p.waiting === 0; p = pending.get(written)) {
        pending.delete(written);
        const items: [number, string, boolean][] = [];
        for (const r of p.results) {
          records += r.records;
          for (const [line, json] of r.events) items.push([line, json, true]);
          for (const [line, why] of r.invalid) items.push([line, why, false]);
        }
        items.sort((a, b) => a[0] - b[0]); // stable: one line's events come from one worker, in order
        for (const [line, text, isEvent] of items) {
          if (isEvent) {
            events++;
            await o.event(text);
          } else {
            invalid++;
            o.invalid(line, text);
          }
        }
        written++;
        wake();
      }
    } catch (err) {
      fail(err as Error);
    } finally {
      pumping = false;
    }
  };

  const spare: BatchBuffers[] = [];
  const builders = workers.map(() => new LineBatch(spare));
  let inBatch = 0;
  // Lines found invalid here (too long to be a record), written with the batch they fell in, in line order.
  let refused: [number, string][] = [];
  const flush = async () => {
    const batch = sent++;
    const to = builders.map((b, w) => (b.empty ? -1 : w)).filter((w) => w >= 0);
    pending.set(batch, { waiting: to.length, results: refused.length ? [{ records: 0, events: [], invalid: refused }] : [] });
    refused = [];
    for (const w of to) {
      const m = builders[w].take(batch);
      workers[w].postMessage(m, [m.bytes.buffer, m.ends.buffer, m.lines.buffer]);
    }
    inBatch = 0;
    if (to.length === 0) void pump();
    while (sent - written > MAX_IN_FLIGHT && !failure) await progress();
    check();
  };

  const load = new Float64Array(n);
  const owner = new Map<string, number>();
  const leastLoaded = () => load.indexOf(Math.min(...load));
  const add = (line: number, bytes: Buffer, group: string): Promise<void> | undefined => {
    if (bytes === LINE_TOO_LONG) {
      refused.push([line, `longer than ${MAX_LINE_BYTES} bytes: not a record (skipped unread)`]);
      return ++inBatch >= BATCH_LINES ? flush() : undefined;
    }
    let w = owner.get(group);
    if (w === undefined) owner.set(group, (w = leastLoaded()));
    load[w]++;
    builders[w].add(line, bytes);
    return ++inBatch >= BATCH_LINES ? flush() : undefined;
  };

  try {
    let sample: { line: number; bytes: Buffer; group: string }[] | null = [];
    const release = async (held: NonNullable<typeof sample>) => {
      const sizes = new Map<string, number>();
      for (const h of held) sizes.set(h.group, (sizes.get(h.group) ?? 0) + 1);
      for (const [group, size] of [...sizes].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))) {
        const w = leastLoaded();
        owner.set(group, w);
        load[w] += size;
      }
      load.fill(0);
      for (const h of held) await add(h.line, h.bytes, h.group);
    };
    let line = 0;
    for await (const chunk of lines) {
      check();
      let size = 0;
      for (const bytes of chunk) {
        line++;
        size += bytes.length + 1;
        if (bytes !== LINE_TOO_LONG && blank(bytes)) continue;
        const group = lineGroup(bytes, DEFAULT_GROUP);
        if (!sample) {
          const flushed = add(line, bytes, group);
          if (flushed) await flushed;
          continue;
        }
        sample.push({ line, bytes: bytes === LINE_TOO_LONG ? bytes : Buffer.from(bytes), group });
        if (sample.length >= SAMPLE_LINES) {
          const held = sample;
          sample = null;
          await release(held);
        }
      }
      if (sample && size < SHORT_CHUNK) {
        const held = sample;
        sample = null;
        await release(held);
      }
      if (inBatch > 0) await flush();
    }
    if (sample) await release(sample);
    if (inBatch > 0) await flush();
    while (written < sent && !failure) await progress();
    check();

    for (const w of workers) w.postMessage('end');
    const done = await Promise.race([Promise.all(summaries), new Promise<never>((_, reject) => (wake = () => reject(failure)))]);
    const seen = new Map<string, number>();
    for (const s of done) for (const g of s.groups) seen.set(g, (seen.get(g) ?? 0) + 1);
    const untils = done.map((s) => s.warming.until).filter((u): u is string => u !== null).sort();
    return {
      records, events, invalid,
      warming: { devices: done.reduce((a, s) => a + s.warming.devices, 0), until: untils.at(-1) ?? null },
      split: [...seen].filter(([, k]) => k > 1).map(([g]) => g),
    };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** A line of text: anything but spaces, tabs and a carriage return. */
function blank(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0x20 && b[i] !== 0x09 && b[i] !== 0x0d) return false;
  return true;
}

/**
 * The lines bound for one worker, copied into buffers of their own that are handed over whole (only those
 * can be) and come back with the answer. A worker's share of a batch is at most BATCH_LINES lines.
 */
class LineBatch {
  private bytes: Uint8Array<ArrayBuffer>;
  private ends: Int32Array<ArrayBuffer>;
  private lines: Float64Array<ArrayBuffer>;
  private used = 0;
  private count = 0;

  constructor(private readonly spare: BatchBuffers[]) {
    ({ bytes: this.bytes, ends: this.ends, lines: this.lines } = this.fresh());
  }

  add(line: number, b: Buffer): void {
    if (this.used + b.length > this.bytes.length) {
      // Not zero-filled: every byte sent is written first.
      const grown = new Uint8Array(Buffer.allocUnsafeSlow(Math.max(2 * this.bytes.length, this.used + b.length)).buffer);
      grown.set(this.bytes.subarray(0, this.used));
      this.bytes = grown;
    }
    this.bytes.set(b, this.used);
    this.used += b.length;
    this.ends[this.count] = this.used;
    this.lines[this.count++] = line;
  }

  get empty(): boolean {
    return this.count === 0;
  }

  take(batch: number): Batch {
    const m: Batch = { batch, count: this.count, bytes: this.bytes.subarray(0, this.used), ends: this.ends, lines: this.lines };
    ({ bytes: this.bytes, ends: this.ends, lines: this.lines } = this.fresh());
    this.used = 0;
    this.count = 0;
    return m;
  }

  private fresh() {
    const b = this.spare.pop();
    if (b) return { bytes: new Uint8Array(b.bytes), ends: new Int32Array(b.ends), lines: new Float64Array(b.lines) };
    return { bytes: new Uint8Array(Buffer.allocUnsafeSlow(1 << 18).buffer), ends: new Int32Array(BATCH_LINES), lines: new Float64Array(BATCH_LINES) };
  }
}
