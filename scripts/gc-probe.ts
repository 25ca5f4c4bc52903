// Proves the packet loop allocates nothing, in the steady state a long-running collector lives in.
// One loop reads the whole capture; every 2^16 packets it notes the time. The first WARMUP packets
// are warm-up (V8 compiles the loop while it runs, and until then interpreted code boxes numbers);
// young-generation collections are counted from there to the end of the loop. Run with a tiny
// young generation, so that even a few bytes per packet would force scavenges:
//   node --max-semi-space-size=1 dist/scripts/gc-probe.js <capture> <decap|devices|collect|control>
// 'control' allocates one small object per packet: it must show collections, or the probe proves nothing.

import { openCapture } from '../gre-decap/capture.js';
import { Decapsulator } from '../gre-decap/decap.js';
import { Frame } from '../gre-decap/frame.js';
import { PacketMeta } from '../gre-decap/meta.js';
import { DecapSummary } from '../gre-decap/summary.js';
import { DeviceCounter } from '../bench/device-count.js';
import { Collector } from '../collector/collector.js';
import { DeviceNets } from '../collector/device-nets.js';
import { PerformanceObserver, constants, performance } from 'node:perf_hooks';

type Sink = (f: Frame) => void;

const kept: unknown[] = new Array(1024).fill(null);

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
    case 'devices': {
      const c = new DeviceCounter(1 << 20);
      return (f) => {
        decap.decodeFrame(f, m);
        c.add(f.buf, m);
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
      return (f) => c.onFrame(f);
    }
    case 'control':
      return (f) => {
        decap.decodeFrame(f, m);
        kept[m.dstPort & 1023] = { port: m.dstPort, len: m.ipTotalLen };
      };
    default:
      throw new Error(`unknown mode '${mode}' (decap, devices, collect, control)`);
  }
}

export const WARMUP = 1 << 18;
const STAMP_EVERY = 1 << 16;

/** One pass; stamps[i] = time when packet i * STAMP_EVERY was reached, the last entry = the end. */
function loop(path: string, sink: Sink, stamps: Float64Array): number {
  const reader = openCapture(path);
  const frame = new Frame();
  let n = 0;
  while (reader.next(frame)) {
    if ((n & (STAMP_EVERY - 1)) === 0) stamps[n / STAMP_EVERY] = performance.now();
    sink(frame);
    n++;
  }
  stamps[stamps.length - 1] = performance.now();
  reader.close();
  return n;
}

const [path, mode = 'decap'] = process.argv.slice(2);
if (!path) {
  process.stderr.write('Usage: node --max-semi-space-size=1 dist/scripts/gc-probe.js <capture> <decap|devices|collect|control>\n');
  process.exit(2);
}
const scavenges: number[] = [];
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    if ((e as unknown as { detail: { kind: number } }).detail.kind === constants.NODE_PERFORMANCE_GC_MINOR) scavenges.push(e.startTime);
  }
});
obs.observe({ entryTypes: ['gc'] });
const stamps = new Float64Array(4096);
const packets = loop(path, sinkFor(mode), stamps);
await new Promise((r) => setTimeout(r, 50)); // entries arrive asynchronously
obs.disconnect();
if (packets <= WARMUP) throw new Error(`${path}: ${packets} packets, need more than the ${WARMUP} of warm-up`);
const from = stamps[WARMUP / STAMP_EVERY];
const to = stamps[stamps.length - 1];
const youngGcs = scavenges.filter((t) => t >= from && t <= to).length;
process.stdout.write(
  JSON.stringify({ mode, packets, measuredPackets: packets - WARMUP, youngGcs, youngGcsInWarmup: scavenges.filter((t) => t < from).length, loopMs: Math.round(to - from) }) + '\n',
);
