// Proves the packet loop allocates nothing, in the steady state a long-running collector lives in.
// One loop reads the whole capture. The first WARMUP packets are warm-up (V8 compiles the loop while
// it runs, and until then interpreted code boxes numbers); young-generation collections are counted
// from there to the end of the loop. Run with a tiny young generation, so that even a fraction of a
// byte per packet forces scavenges:
//   node --max-semi-space-size=1 dist/test/harness/gc-probe.js <capture> <decap|collect|control>
// 'control' allocates one small array per packet: it must show collections, or the probe proves nothing.

import { openCaptureFile } from '../../collector/sources/capture-file.js';
import { Frame } from '../../gre-decap/readers/frame.js';
import type { Collector } from '../../collector/collector.js';
import { STRIDE, F_DNS_QUERIES, F_DNS_RESPONSES, F_TLS_HELLOS, F_ICMP_UNREACH, F_DNS_NAMES_DROPPED } from '../../collector/device-counters.js';
import { performance } from 'node:perf_hooks';
import { observeScavenges, markWindowEnd, openWindow, probeSink, windowBytes, type Sink } from './gc-window.js';

/** What the collector's evidence counters saw (summed over devices), so a test can tell the traffic was what it meant. */
function evidenceSeen(c: Collector | undefined): Record<string, number> | undefined {
  if (!c) return undefined;
  const a = c.agg;
  const sum = (f: number) => {
    let n = 0;
    for (let i = 0; i < a.activeCount; i++) n += a.counters[a.active[i] * STRIDE + f];
    return n;
  };
  return {
    dnsQueries: sum(F_DNS_QUERIES), dnsResponses: sum(F_DNS_RESPONSES), clientHellos: sum(F_TLS_HELLOS), icmpUnreachable: sum(F_ICMP_UNREACH),
    namesDropped: sum(F_DNS_NAMES_DROPPED), hostNameSwaps: a.ev.hosts.swaps,
  };
}

export const WARMUP = 1 << 18;
const STAMP_EVERY = 1 << 16;

/** Frames in the capture, read once before the measured pass so that pass knows its last frame. */
function countFrames(path: string): number {
  const reader = openCaptureFile(path);
  const frame = new Frame();
  let n = 0;
  while (reader.next(frame)) n++;
  reader.close();
  return n;
}

/**
 * One pass; bounds[0] = time when the window opened at packet WARMUP, bounds[1] = time when the last
 * packet arrived. Every STAMP_EVERY packets up to the boundary the loop takes the same path (open the
 * window, read the clock), so reaching the boundary runs no code for the first time, which would
 * deoptimize the loop inside the window; after it the loop reads the clock once more, at the last
 * packet (performance.now() allocates 88 bytes a call on Node 24 where it is not inlined, 16 on Node 20).
 * The end of file is outside the window: it runs once per capture (stopping the read ahead, leaving
 * the loop), and what code run there for the first time allocates is no packet's cost.
 */
function loop(path: string, sink: Sink, bounds: Float64Array, last: number): number {
  // Read as `collect` and `decap` read (the addon's read: tests run where npm ci built it).
  const reader = openCaptureFile(path);
  const frame = new Frame();
  let n = 0;
  let stampAt = 0;
  while (reader.next(frame)) {
    if (n === stampAt) {
      if (n <= WARMUP) openWindow();
      bounds[n <= WARMUP ? 0 : 1] = performance.now();
      markWindowEnd(); // the last call counts
      stampAt = n < WARMUP ? n + STAMP_EVERY : last;
    }
    sink(frame);
    n++;
  }
  reader.close();
  return n;
}

const [path, mode = 'decap'] = process.argv.slice(2);
if (!path) {
  process.stderr.write('Usage: node --max-semi-space-size=1 dist/test/harness/gc-probe.js <capture> <decap|collect|control>\n');
  process.exit(2);
}
const scavenges = observeScavenges();
const bounds = new Float64Array(2);
const { sink, collector } = probeSink(mode);
const frames = countFrames(path);
const packets = loop(path, sink, bounds, frames - 1);
await scavenges.settled();
scavenges.stop();
if (packets <= WARMUP) throw new Error(`${path}: ${packets} packets, need more than the ${WARMUP} of warm-up`);
const [from, to] = bounds;
const youngGcs = scavenges.times.filter((t) => t >= from && t <= to).length;
const bytes = windowBytes();
process.stdout.write(
  JSON.stringify({
    mode, packets, measuredPackets: packets - WARMUP, youngGcs, youngGcsInWarmup: scavenges.times.filter((t) => t < from).length, loopMs: Math.round(to - from), windowBytes: bytes,
    evidence: evidenceSeen(collector),
  }) + '\n',
);
