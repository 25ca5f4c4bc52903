// Replay source: a pcap/pcapng file through the collector, as fast as it can go or paced to capture
// time (--speed N = N× real time). Between intervals it waits for the sink, so a slow or absent
// sink slows the replay down instead of losing records.

import { Frame, type ReaderStats } from '../../gre-decap/readers/frame.js';
import type { Collector } from '../collector.js';
import type { Pipeline } from '../pipeline.js';
import { openCaptureFile } from './capture-file.js';

const PACE_STEP_MS = 200;

export interface ReplayOptions {
  /** 0 = as fast as possible; N = N times capture speed. */
  speed: number;
  onProgress?: (bytes: number, frames: number) => void;
  /** Checked after every wait: true stops the replay early (SIGTERM), still flushing the open interval. */
  stopRequested: () => boolean;
}

export async function replayCapture(path: string, collector: Collector, pipeline: Pipeline, opts: ReplayOptions): Promise<ReaderStats> {
  const reader = openCaptureFile(path);
  const f = new Frame();
  let frames = 0;
  let firstTs = -1;
  let wallStart = 0;
  try {
    while (reader.next(f)) {
      if (opts.speed > 0) {
        const ts = f.tsSec + f.tsNsec / 1e9;
        if (firstTs < 0) {
          firstTs = ts;
          wallStart = performance.now();
        }
        // Sleep only when more than 10 ms ahead, so pacing costs a timer per burst, not per frame.
        const ahead = ((ts - firstTs) / opts.speed) * 1000 - (performance.now() - wallStart);
        if (ahead > 10) {
          // In steps, so a stop during a long gap of the capture is taken within PACE_STEP_MS.
          for (let left = ahead; left > 0 && !opts.stopRequested(); left -= PACE_STEP_MS) await new Promise((r) => setTimeout(r, Math.min(left, PACE_STEP_MS)));
          if (opts.stopRequested()) break;
        }
      }
      collector.onFrame(f);
      if (pipeline.queue.length !== 0) {
        await pipeline.drain();
        if (opts.stopRequested()) break;
      }
      if ((++frames & 0xffff) === 0) {
        opts.onProgress?.(reader.stats.bytes, frames);
        // Yield now and then even when nothing else awaits, so signals are handled mid-replay.
        await new Promise((r) => setImmediate(r));
        if (opts.stopRequested()) break;
      }
    }
    collector.finish();
    await pipeline.drain();
  } finally {
    reader.close();
  }
  return reader.stats;
}
