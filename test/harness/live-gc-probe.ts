// The allocation probe of gc-probe.ts, on live capture: frames arrive through libpcap and the pcap
// binding (collector/sources/live-capture.ts) instead of a file reader, and young-generation
// collections are counted over the steady state of the capture loop. Run with a tiny young generation:
//
//   node --max-semi-space-size=1 dist/test/harness/live-gc-probe.js --interface IF --frames N [--warmup N]
//        [--mode decap|collect|control] [--prewarm FILE] [--max-wait-ms N]
//
// --prewarm runs the frames of a capture file through the same sink first, so V8 has compiled the
// decoders before live frames arrive. Then the first --warmup live frames are warm-up for the capture
// loop itself; every STAMP_EVERY frames up to there the window is (re)opened as in gc-probe.ts (a
// young generation emptied, then filled to HEADROOM short of a scavenge), so the first frame after the
// warm-up runs no code for the first time. The window ends at frame --frames, inside the callback,
// where the capture is closed: no timer runs inside the window. Prints one JSON line:
//   {"mode","frames","measuredFrames","youngGcs","youngGcsInWarmup","loopMs","framesPerSecond","batches","kernelDrops"}
// 'control' allocates one small array per frame: it must show collections, or the probe proves nothing.

import { performance } from 'node:perf_hooks';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { openCapture } from '../../gre-decap/readers/capture.js';
import { Frame } from '../../gre-decap/readers/frame.js';
import { openLiveCapture, LiveCaptureError, type LiveCapture } from '../../collector/sources/live-capture.js';
import { intOption, parseCommand, UsageError, type CommandSpec } from '../../cli/args.js';
import { observeScavenges, openWindow, probeSink } from './gc-window.js';

const spec: CommandSpec = {
  name: 'live-gc-probe',
  usage: 'node --max-semi-space-size=1 dist/test/harness/live-gc-probe.js --interface IF --frames N [--warmup N] [--mode decap|collect|control] [--prewarm FILE]',
  summary: 'Counts young-generation GCs in the live capture loop after a warm-up; prints one JSON line.',
  options: {
    interface: { type: 'string', short: 'i' },
    frames: { type: 'string' },
    warmup: { type: 'string' },
    mode: { type: 'string' },
    prewarm: { type: 'string' },
    filter: { type: 'string' },
    drive: { type: 'string' },
    'coalesce-ms': { type: 'string' },
    'max-wait-ms': { type: 'string' },
  },
  help: {
    interface: 'interface to capture on (required)',
    frames: 'frames to capture in all, warm-up included (required)',
    warmup: 'live frames of warm-up before the window opens (default 32768)',
    mode: "what each frame goes through: 'decap' (default), 'collect', or 'control' (allocates per frame)",
    prewarm: 'a capture file run through the sink first',
    filter: "BPF filter (default '': everything)",
    drive: "'loop' (default): the binding reads on the event loop, as tapwatch collect does; 'manual': a JavaScript loop calls dispatch() (no event loop turns in the window)",
    'coalesce-ms': 'with --drive loop: the capture\'s coalesceMs (default 1)',
    'max-wait-ms': 'give up after this long (default 120000)',
  },
};

const STAMP_EVERY = 1 << 13;

function main(argv: string[]): void {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const v = parsed.values as Record<string, string | undefined>;
  if (!v.interface) throw new UsageError('--interface is required');
  const total = intOption('frames', v.frames, 1, Number.MAX_SAFE_INTEGER);
  if (total === undefined) throw new UsageError('--frames is required');
  const warmup = intOption('warmup', v.warmup, 1, Number.MAX_SAFE_INTEGER) ?? 1 << 15;
  if (warmup >= total) throw new UsageError('--warmup must be below --frames');
  const maxWait = intOption('max-wait-ms', v['max-wait-ms'], 1, 2_147_483_647) ?? 120_000;
  const mode = v.mode ?? 'decap';
  const { sink } = probeSink(mode);

  if (v.prewarm) {
    const r = openCapture(v.prewarm);
    const f = new Frame();
    while (r.next(f)) sink(f);
    r.close();
  }

  const scavenges = observeScavenges();

  const bounds = new Float64Array(2);
  // PROBE_HEAP=1: a sampling heap profile of the window, garbage included (diagnosis only; it allocates itself).
  let heapSession: Session | null = null;
  if (process.env.PROBE_HEAP) {
    heapSession = new Session();
    heapSession.connect();
  }
  let n = 0;
  let cap: LiveCapture | null = null;
  const giveUp = setTimeout(() => {
    cap?.close();
    scavenges.stop();
    process.stderr.write(`live-gc-probe: gave up after ${maxWait} ms with ${n} of ${total} frames\n`);
    process.exitCode = 1;
  }, maxWait);
  const onFrame = (f: Frame): void => {
    if ((n & (STAMP_EVERY - 1)) === 0 && n <= warmup) {
      openWindow();
      bounds[0] = performance.now();
    }
    sink(f);
    n++;
    if (n === warmup + 1 && heapSession) heapSession.post('HeapProfiler.startSampling', { samplingInterval: 64, includeObjectsCollectedByMinorGC: true, includeObjectsCollectedByMajorGC: true });
    if (n === total) {
      bounds[1] = performance.now();
      cap!.close();
      clearTimeout(giveUp);
      void scavenges.settled().then(report, (err: Error) => {
        process.stderr.write(`live-gc-probe: ${err.message}\n`);
        process.exitCode = 1;
      });
    }
  };
  const drive = v.drive ?? 'loop';
  if (drive !== 'loop' && drive !== 'manual') throw new UsageError(`--drive: loop or manual, got '${drive}'`);
  const coalesceMs = intOption('coalesce-ms', v['coalesce-ms'], 0, 1000);
  cap = openLiveCapture({ iface: v.interface, filter: v.filter ?? '', drive, coalesceMs }, { onFrame });
  const live = cap;
  process.stderr.write(`live-gc-probe: capturing on ${v.interface}\n`);
  if (drive === 'manual') {
    // Busy-reads until the count is reached (the non-blocking descriptor returns at once when empty),
    // or until ~5 million reads in a row found nothing (seconds without traffic: the sender is done).
    // No clock is read here: that would allocate inside the window.
    setTimeout(() => {
      let idle = 0;
      while (!live.closed) {
        idle = live.dispatch() > 0 ? 0 : idle + 1;
        if (idle === 5_000_000) {
          live.close();
          clearTimeout(giveUp);
          process.stderr.write(`live-gc-probe: traffic stopped with ${n} of ${total} frames\n`);
          process.exitCode = 1;
        }
      }
    }, 0);
  }

  function report(): void {
    scavenges.stop();
    if (heapSession) {
      heapSession.post('HeapProfiler.stopSampling', (err, res) => {
        if (!err) writeFileSync(process.env.PROBE_HEAP_OUT ?? 'live-gc-probe.heapprofile', JSON.stringify((res as { profile: unknown }).profile));
      });
    }
    const [from, to] = bounds;
    const measured = total! - Math.floor(warmup / STAMP_EVERY) * STAMP_EVERY; // frames from the last window opening on
    process.stdout.write(JSON.stringify({
      mode, drive, frames: n, measuredFrames: measured,
      youngGcs: scavenges.times.filter((t) => t >= from && t <= to).length,
      youngGcsInWarmup: scavenges.times.filter((t) => t < from).length,
      loopMs: Math.round(to - from),
      framesPerSecond: Math.round(measured / ((to - from) / 1000)),
      batches: live.stats.batches ?? null,
      kernelDrops: live.stats.kernelDrops,
    }) + '\n');
  }
}

try {
  main(process.argv.slice(2));
} catch (e) {
  if (e instanceof UsageError) {
    process.stderr.write(`live-gc-probe: ${e.message}\n`);
    process.exitCode = 2;
  } else if (e instanceof LiveCaptureError) {
    process.stderr.write(`live-gc-probe: ${e.code}: ${e.message}\n`);
    process.exitCode = 1;
  } else throw e;
}
