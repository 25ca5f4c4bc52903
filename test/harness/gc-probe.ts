// Proves the packet loop allocates nothing, in the steady state a long-running collector lives in.
// One loop reads the whole capture. The first WARMUP packets are warm-up (V8 compiles the loop while
// it runs, and until then interpreted code boxes numbers); young-generation collections are counted
// from there to the end of the loop. Run with a tiny young generation, so that even a fraction of a
// byte per packet forces scavenges:
//   node --max-semi-space-size=1 dist/test/harness/gc-probe.js <capture> <decap|collect|control>
// 'control' allocates one small object per packet: it must show collections, or the probe proves nothing.

import { openCapture } from '../../gre-decap/readers/capture.js';
import { Decapsulator } from '../../gre-decap/decap.js';
import { Frame } from '../../gre-decap/readers/frame.js';
import { PacketMeta } from '../../gre-decap/meta.js';
import { DecapSummary } from '../../gre-decap/summary.js';
import { Collector } from '../../collector/collector.js';
import { DeviceNets } from '../../collector/device-nets.js';
import { STRIDE, F_DNS_QUERIES, F_DNS_RESPONSES, F_TLS_HELLOS, F_ICMP_UNREACH, F_DNS_NAMES_DROPPED } from '../../collector/device-counters.js';
import { PerformanceObserver, constants, performance } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Sink = (f: Frame) => void;

const kept: unknown[] = new Array(1024).fill(null);
let collector: Collector | undefined;

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

function sinkFor(mode: string): Sink {
  const decap = new Decapsulator();
  const m = new PacketMeta();
  switch (mode) {
    case 'decap': {
      const s = new DecapSummary();
      return (f) => {
        decap.decodeFrame(f, m);
        s.add(f.buf, m);
      };
    }
    case 'collect': {
      // The whole collector path, interval clock included, with an interval longer than the
      // capture: closing an interval builds records and is meant to allocate, once a minute.
      const c = new Collector({
        nets: new DeviceNets(['10.128.0.0/9']), intervalSeconds: 86_400, topK: 10,
        maxDevices: 65536, maxFlows: 1 << 20, maxDestinations: 1 << 20,
        clock: 'packet', source: 'probe', onRecords: () => undefined,
      });
      collector = c;
      return (f) => c.onFrame(f);
    }
    case 'control':
      return (f) => {
        decap.decodeFrame(f, m);
        kept[m.dstPort & 1023] = { port: m.dstPort, len: m.ipTotalLen };
      };
    default:
      throw new Error(`unknown mode '${mode}' (decap, collect, control)`);
  }
}

export const WARMUP = 1 << 18;
const STAMP_EVERY = 1 << 16;

// The measured window opens on a young generation in a known state: emptied, then filled with garbage
// to about HEADROOM bytes short of a scavenge. Its count of scavenges then depends only on what the
// window allocates: zero while that stays under ~100 KiB in all (< 0.1 byte per packet), at least one
// above. Opened wherever warm-up happened to leave the young generation (anywhere from empty to full,
// from run to run), the few KiB the window allocates once forced a scavenge in some runs and not in
// others: 6-11 KiB on Node 24, mostly V8 installing TurboFan code for the decoders and aggregator that
// it tiers up from Maglev only after the warm-up, and 2-4 KiB on Node 20; plus the first end of file.
const HEADROOM = 128 * 1024; // asked for; V8 reports 10-50 KiB more as available than it lets us allocate
setFlagsFromString('--expose-gc'); // the probe's own handle on the collector: no need to start node with it
const gc = runInNewContext('gc') as (o: { type: 'minor' | 'major' }) => void;
const NEW_SPACE = getHeapSpaceStatistics().findIndex((s) => s.space_name === 'new_space');
let filler: unknown = null;

function openWindow(): void {
  gc({ type: 'minor' });
  gc({ type: 'minor' }); // promotes what survived the first
  const free = getHeapSpaceStatistics()[NEW_SPACE].space_available_size;
  // 1 KiB each on 64-bit V8 without pointer compression (Node's builds): 32-byte JSArray + 16 + 122 × 8.
  for (let left = free - HEADROOM; left >= 1024; left -= 1024) filler = new Array(122);
}

/**
 * One pass; bounds[0] = time when the window opened at packet WARMUP, bounds[1] = the end. Every
 * STAMP_EVERY packets up to the boundary the loop takes the same path (open the window, read the
 * clock), so reaching the boundary runs no code for the first time, which would deoptimize the loop
 * inside the window; after it the loop reads no clock (performance.now() allocates 88 bytes a call on
 * Node 24 where it is not inlined, 16 on Node 20).
 */
function loop(path: string, sink: Sink, bounds: Float64Array): number {
  const reader = openCapture(path);
  const frame = new Frame();
  let n = 0;
  while (reader.next(frame)) {
    if ((n & (STAMP_EVERY - 1)) === 0 && n <= WARMUP) {
      openWindow();
      bounds[0] = performance.now();
    }
    sink(frame);
    n++;
  }
  bounds[1] = performance.now();
  reader.close();
  return n;
}

const [path, mode = 'decap'] = process.argv.slice(2);
if (!path) {
  process.stderr.write('Usage: node --max-semi-space-size=1 dist/test/harness/gc-probe.js <capture> <decap|collect|control>\n');
  process.exit(2);
}
const scavenges: number[] = [];
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    if ((e as unknown as { detail: { kind: number } }).detail.kind === constants.NODE_PERFORMANCE_GC_MINOR) scavenges.push(e.startTime);
  }
});
obs.observe({ entryTypes: ['gc'] });
const bounds = new Float64Array(2);
const packets = loop(path, sinkFor(mode), bounds);
await new Promise((r) => setTimeout(r, 50)); // entries arrive asynchronously
obs.disconnect();
if (packets <= WARMUP) throw new Error(`${path}: ${packets} packets, need more than the ${WARMUP} of warm-up`);
const [from, to] = bounds;
const youngGcs = scavenges.filter((t) => t >= from && t <= to).length;
process.stdout.write(
  JSON.stringify({
    mode, packets, measuredPackets: packets - WARMUP, youngGcs, youngGcsInWarmup: scavenges.filter((t) => t < from).length, loopMs: Math.round(to - from),
    evidence: evidenceSeen(collector),
  }) + '\n',
);
