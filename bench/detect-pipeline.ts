// The detection benchmark's way through packets: a labelled fleet from the packet-level scenario
// generator (synth/scenarios), its capture through the collector in-process (the library `tapwatch
// collect --pcap` runs: decapsulation, aggregation, records per interval, with the inventory), and
// the records out as they close. Never records made to the analyzer's measure.

import { join } from 'node:path';
import { Collector } from '../collector/collector.js';
import { DeviceNets } from '../collector/device-nets.js';
import type { InspectionRecord } from '../contracts/inspection-record.js';
import { openCapture } from '../gre-decap/readers/capture.js';
import { Frame } from '../gre-decap/readers/frame.js';
import { Inventory } from '../inventory/inventory.js';
import { generateScenario, type ScenarioOptions, type ScenarioResult } from '../synth/scenarios/generate.js';
import type { Labels } from '../synth/scenarios/labels.js';

export interface CollectStats {
  frames: number;
  bytes: number;
  records: number;
  /** Wall time of the whole replay, including whatever onRecords did. */
  seconds: number;
}

/**
 * Replays DIR/mirror.pcap through the collector with DIR/inventory.csv, as `tapwatch collect --pcap
 * --device-net 10.128.0.0/9 --inventory --interval N` does with its defaults; each closed interval's
 * records go to onRecords in order. Throws when the capture does not read to its end.
 */
export function collectScenario(dir: string, intervalSeconds: number, onRecords: (records: InspectionRecord[]) => void): CollectStats {
  const started = performance.now();
  let records = 0;
  const collector = new Collector({
    nets: new DeviceNets(['10.128.0.0/9']),
    intervalSeconds,
    topK: 10,
    contacts: 16,
    maxDevices: 65536,
    maxFlows: 1 << 20,
    maxDestinations: 1 << 20,
    clock: 'packet',
    source: `pcap:${join(dir, 'mirror.pcap')}`,
    onRecords: (batch) => {
      records += batch.length;
      onRecords(batch);
    },
  });
  collector.inventory = Inventory.load(join(dir, 'inventory.csv'));
  const reader = openCapture(join(dir, 'mirror.pcap'));
  const f = new Frame();
  try {
    while (reader.next(f)) collector.onFrame(f);
    collector.finish();
  } finally {
    reader.close();
  }
  const s = reader.stats;
  if (s.error) throw new Error(`${dir}/mirror.pcap: ${s.error}`);
  return { frames: collector.decap.frames, bytes: s.bytes, records, seconds: (performance.now() - started) / 1000 };
}

/** A small scenario's records, all in memory (for tests): generated into opts.out, then collected. */
export function scenarioRecords(opts: ScenarioOptions): { labels: Labels; records: InspectionRecord[]; generated: ScenarioResult } {
  const generated = generateScenario(opts);
  const records: InspectionRecord[] = [];
  collectScenario(opts.out, generated.labels.interval, (batch) => {
    for (const r of batch) records.push(r);
  });
  return { labels: generated.labels, records, generated };
}
