// What both allocation probes (gc-probe.ts over a capture file, live-gc-probe.ts over live capture)
// measure with: the per-frame work of each mode, a young generation put in a known state before the
// measured window opens, and the young-generation collections observed.

import { PerformanceObserver, constants } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Decapsulator } from '../../gre-decap/decap.js';
import type { Frame } from '../../gre-decap/readers/frame.js';
import { PacketMeta } from '../../gre-decap/meta.js';
import { DecapSummary } from '../../gre-decap/summary.js';
import { Collector } from '../../collector/collector.js';
import { DeviceNets } from '../../collector/device-nets.js';
import { UsageError } from '../../cli/args.js';

export type Sink = (f: Frame) => void;

const kept: unknown[] = [null];

/**
 * The per-frame work of a mode: 'none', 'decap' (decode + summary), 'collect' (the whole collector path,
 * interval clock included), or 'control', which allocates one small array per frame: it must show
 * collections, or the probe proves nothing.
 */
export function probeSink(mode: string): { sink: Sink; collector?: Collector } {
  const decap = new Decapsulator();
  const m = new PacketMeta();
  switch (mode) {
    case 'none':
      return { sink: () => undefined };
    case 'decap': {
      const s = new DecapSummary();
      return {
        sink: (f) => {
          decap.decodeFrame(f, m);
          s.add(f.buf, m);
        },
      };
    }
    case 'collect': {
      // An interval longer than the capture: closing an interval builds records and is meant to
      // allocate, once a minute.
      const c = new Collector({
        nets: new DeviceNets(['10.128.0.0/9']), intervalSeconds: 86_400, topK: 10,
        maxDevices: 65536, maxFlows: 1 << 20, maxDestinations: 1 << 20,
        clock: 'packet', source: 'probe', onRecords: () => undefined,
      });
      return { sink: (f) => c.onFrame(f), collector: c };
    }
    case 'control':
      // Each frame's array dies at the next frame: garbage, allocated young (pretenuring is off, above).
      return {
        sink: (f) => {
          decap.decodeFrame(f, m);
          kept[0] = [m.dstPort, m.ipTotalLen, f.capLen, m.srcPort];
        },
      };
    default:
      throw new UsageError(`mode: none, decap, collect or control, got '${mode}'`);
  }
}

// The measured window opens on a young generation in a known state: emptied, then filled with garbage
// to about HEADROOM bytes short of a scavenge. Its count of scavenges then depends only on what the
// window allocates: zero while that stays under about HEADROOM in all (< 0.25 byte per packet over
// the 1M packets measured, where any allocation on 1 packet in 64 or more makes 256 KiB), at least one
// above. Opened wherever warm-up happened to leave the young generation (anywhere from empty to full,
// from run to run), the few KiB the window allocates once forced a scavenge in some runs and not in
// others: 6-11 KiB on Node 24, mostly V8 installing TurboFan code for the decoders and aggregator that
// it tiers up from Maglev only after the warm-up, and 2-4 KiB on Node 20. Code that runs for the first
// time inside the window allocates more: the DNS name table's first dropped name deoptimizes the DNS
// parser, which runs with its numbers boxed until it is optimized again: 90-120 KiB in all, measured (the
// probe reports windowBytes), which with 128 KiB of room failed a CI run once.
const HEADROOM = 256 * 1024; // asked for; V8 reports 10-50 KiB more as available than it lets us allocate
setFlagsFromString('--expose-gc'); // the probe's own handle on the collector: no need to start node with it
// Allocation-site pretenuring sends what a site allocates straight to old space once V8 finds its objects
// surviving, where no scavenge counts it: the control's per-frame array read 0 scavenges instead of 57 in
// most runs of the file probe (and 1 instead of 9 in CI), 57 in every run with it off. Off here, so every
// allocation in the window is young and counted, whatever V8 would have decided about its site.
setFlagsFromString('--no-allocation-site-pretenuring');
const gc = runInNewContext('gc') as (o: { type: 'minor' | 'major' }) => void;
const NEW_SPACE = getHeapSpaceStatistics().findIndex((s) => s.space_name === 'new_space');
let filler: unknown = null;

export function openWindow(): void {
  gc({ type: 'minor' });
  gc({ type: 'minor' }); // promotes what survived the first
  const free = getHeapSpaceStatistics()[NEW_SPACE].space_available_size;
  // 1 KiB each on 64-bit V8 without pointer compression (Node's builds): 32-byte JSArray + 16 + 122 × 8.
  for (let left = free - HEADROOM; left >= 1024; left -= 1024) filler = new Array(122);
  usedAtOpen = youngUsed();
}

const youngUsed = () => getHeapSpaceStatistics()[NEW_SPACE].space_used_size;
let usedAtOpen = 0;
let usedAtEnd = 0;

/** Where the window ends (the last call before windowBytes() counts). */
export function markWindowEnd(): void {
  usedAtEnd = youngUsed();
}

/** Bytes the window allocated: meaningful when it saw no scavenge (one empties the young generation). */
export function windowBytes(): number {
  return usedAtEnd - usedAtOpen;
}

/**
 * Start times of the young-generation collections from now on; stop() ends the observation. Entries
 * arrive asynchronously, later on a loaded machine: settled() resolves once every collection up to
 * now has arrived (it forces one more and waits for its entry: they come in order), where a fixed
 * wait once read 1 of 9 scavenges under load.
 */
export function observeScavenges(): { times: number[]; settled(): Promise<void>; stop(): void } {
  const times: number[] = [];
  let waiting: { after: number; arrived: () => void } | null = null;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if ((e as unknown as { detail: { kind: number } }).detail.kind === constants.NODE_PERFORMANCE_GC_MINOR) times.push(e.startTime);
      if (waiting && e.startTime >= waiting.after) {
        waiting.arrived();
        waiting = null;
      }
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  const settled = () =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('gc entries did not arrive within 30 s')), 30_000);
      waiting = { after: performance.now(), arrived: () => (clearTimeout(timer), resolve()) };
      gc({ type: 'minor' });
    });
  return { times, settled, stop: () => obs.disconnect() };
}
