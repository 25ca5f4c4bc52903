// Hash flooding, measured (issue 12): one device, `count` UDP datagrams to (address, port) pairs
// crafted to collide in the destination table under the old unkeyed hash, against random pairs of
// the same count, each replayed through the collector. node dist/bench/hash-flood.js [count] [runs]

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { Collector } from '../collector/collector.js';
import { DeviceNets } from '../collector/device-nets.js';
import { Pipeline } from '../collector/pipeline.js';
import { RecordBus } from '../collector/sinks/bus.js';
import { replayCapture } from '../collector/sources/replay.js';
import { collidingPairs, randomPairs, writeFloodCapture } from '../synth/hash-flood.js';

/** Seconds to replay `path` through a collector with the CLI's default table sizes; and its records. */
export async function collectSeconds(path: string): Promise<{ seconds: number; destinations: number }> {
  const bus = new RecordBus();
  let destinations = 0;
  bus.subscribe((records) => {
    for (const r of records) destinations += r.destinations.distinct;
  });
  const pipeline = new Pipeline(bus, pino({ level: 'silent' }));
  const c = new Collector({
    nets: new DeviceNets(['10.128.0.0/9']),
    intervalSeconds: 60,
    topK: 10,
    maxDevices: 65536,
    maxFlows: 1 << 20,
    maxDestinations: 1 << 20,
    clock: 'packet',
    source: 'bench',
    onBatch: (b) => pipeline.enqueue(b),
  });
  const t0 = performance.now();
  await replayCapture(path, c, pipeline, { speed: 0, stopRequested: () => false });
  return { seconds: (performance.now() - t0) / 1000, destinations };
}

/** Both captures of `count` packets, replayed `runs` times each in turn; the best time of each. */
export async function floodVersusRandom(count: number, runs: number): Promise<{ colliding: number; random: number; destinations: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'tapwatch-flood-'));
  try {
    const flood = join(dir, 'colliding.pcap');
    const random = join(dir, 'random.pcap');
    writeFloodCapture(flood, collidingPairs(count));
    writeFloodCapture(random, randomPairs(count));
    let best = { colliding: Infinity, random: Infinity, destinations: 0 };
    for (let r = 0; r < runs; r++) {
      const a = await collectSeconds(random);
      const b = await collectSeconds(flood);
      best = { colliding: Math.min(best.colliding, b.seconds), random: Math.min(best.random, a.seconds), destinations: b.destinations };
    }
    return best;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const count = Number(process.argv[2] ?? 65536);
  const runs = Number(process.argv[3] ?? 3);
  const r = await floodVersusRandom(count, runs);
  console.log(`${count} packets, best of ${runs}: colliding ${r.colliding.toFixed(3)} s, random ${r.random.toFixed(3)} s, ratio ${(r.colliding / r.random).toFixed(2)}; colliding destinations counted ${r.destinations}`);
}
