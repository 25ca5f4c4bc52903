// npm run bench:detect — the detection benchmark: a deterministic labeled fleet (scenario.ts)
// through the analyzer with the default rules; prints per incident type recall, precision and
// median time to detect, false alarms per 1,000 device-days, what the benign firmware updates were
// reported as, throughput, and memory per device. Definitions: score.ts.
//
//   node dist/analyzer/bench-detect.js [--devices 1000] [--days 4] [--seed N] [--incidents 20]
//        [--top 20] [--config rules.json] [--json out.json] [--events events.ndjson] [--check]
//
// --check exits 1 when a target is missed. Only the analyzer's own time counts for throughput:
// the generator's is reported apart.

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createAnalyzer } from '../analyzer/analyzer.js';
import type { AnomalyEvent } from '../contracts/anomaly-event.js';
import { DeviceBaseline } from '../analyzer/baseline.js';
import { PROTOCOL_SLOTS } from '../analyzer/features.js';
import { SeenDestinations } from '../analyzer/destinations.js';
import { compileRules, defaultConfig, loadConfig } from '../analyzer/rules.js';
import { DEFAULT_SCENARIO, Scenario } from '../synth/scenario.js';
import { missedTargets, scoreRun, TARGETS } from './detect-score.js';

const { values: a } = parseArgs({
  options: {
    devices: { type: 'string' },
    days: { type: 'string' },
    seed: { type: 'string' },
    incidents: { type: 'string' },
    top: { type: 'string' },
    config: { type: 'string' },
    json: { type: 'string' },
    events: { type: 'string' },
    check: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (a.help) {
  console.log('usage: bench-detect [--devices N] [--days N] [--seed N] [--incidents N per type] [--top K] [--config FILE] [--json FILE] [--events FILE] [--check]');
  process.exit(0);
}
const int = (s: string | undefined, d: number): number => (s === undefined ? d : Number.parseInt(s, 10));
const config = a.config ? loadConfig(a.config) : defaultConfig();
const opts = {
  ...DEFAULT_SCENARIO,
  devices: int(a.devices, DEFAULT_SCENARIO.devices),
  days: int(a.days, DEFAULT_SCENARIO.days),
  seed: int(a.seed, DEFAULT_SCENARIO.seed),
  incidentsPerType: int(a.incidents, DEFAULT_SCENARIO.incidentsPerType),
  topK: int(a.top, DEFAULT_SCENARIO.topK),
  warmupDays: Math.max(1, Math.ceil(config.warmupSeconds / 86400)),
};

const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
const heapBefore = process.memoryUsage();
const sc = new Scenario(opts);
const analyzer = createAnalyzer(config);
const events: AnomalyEvent[] = [];
let records = 0;
let analyzeMs = 0;
const wall = performance.now();
for (const batch of sc.batches()) {
  const t = performance.now();
  for (const r of batch) {
    const out = analyzer.process(r);
    for (const e of out) events.push(e);
  }
  analyzeMs += performance.now() - t;
  records += batch.length;
}
const wallMs = performance.now() - wall;
gc?.();
const heapAfter = process.memoryUsage();
const rate = records / (analyzeMs / 1000);

const s = scoreRun(sc, events);
const pct = (x: number): string => x.toFixed(3);
const rows = s.types.map((t) => [
  t.type, String(t.incidents), `${t.detected}`, pct(t.recall), pct(t.precision), t.medianTimeToDetect === null ? 'n/a' : String(t.medianTimeToDetect),
  Object.entries(t.behaviors).sort((x, y) => y[1] - x[1]).map(([b, n]) => `${b} ${n}`).join(', '),
]);
const head = ['incident type', 'incidents', 'detected', 'recall', 'precision', 'median TTD (intervals)', 'events by behavior'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells: string[]): string => cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');

// Memory per device: what the state's typed arrays hold (steady and during warm-up), what its
// checkpoint weighs, and (with --expose-gc) the heap actually added per device by the whole run.
const compiled = compileRules(config);
const bo = { buckets: config.timeOfDay.buckets, warmup: config.warmupSamples, minBucketSamples: 0, minPatternStrength: 0, gain: 0, gateMads: 0, relearnAfter: 0, levels: compiled.levels };
const base = DeviceBaseline.bytesPerDevice(bo);
const dest = SeenDestinations.bytesPerDevice(config.destinations.capacity);
const alarms = compiled.rules.length * 16;
const steady = base.steady + dest + alarms + PROTOCOL_SLOTS * 4;
const ids = analyzer.deviceIds();
const checkpoint = ids.reduce((n, id) => n + JSON.stringify(analyzer.snapshot(id)).length, 0) / ids.length;
const fleetCheckpoint = JSON.stringify(analyzer.snapshotFleet()).length;
const heapPerDevice = gc ? (heapAfter.heapUsed + heapAfter.arrayBuffers - heapBefore.heapUsed - heapBefore.arrayBuffers) / ids.length : null;

console.log(`tapwatch bench:detect — ${opts.devices} devices, ${opts.days} days at ${opts.intervalSeconds} s (${opts.warmupDays} day warm-up), seed ${opts.seed}, ${opts.incidentsPerType} incidents per type, collector top-K ${opts.topK}`);
console.log(`${records.toLocaleString('en-US')} records, ${events.length} events (${events.filter((e) => e.alarm === 'in-alarm').length} in-alarm)\n`);
console.log(line(head));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows) console.log(line(r));
console.log('');
console.log(`false alarms: ${s.falseAlarms} over ${s.deviceDays.toLocaleString('en-US')} device-days after warm-up = ${s.falseAlarmsPer1000DeviceDays.toFixed(2)} per 1,000 device-days${s.falseAlarms ? ` (${Object.entries(s.falseAlarmBehaviors).map(([b, n]) => `${b} ${n}`).join(', ')})` : ''}`);
console.log(`firmware updates (benign): ${s.firmware.incidents}, reported ${s.firmware.reported} (${s.firmware.events} events), highest severity ${s.firmware.maxSeverity ?? 'none'}, above low: ${s.firmware.aboveLow}`);
console.log(`throughput: ${Math.round(rate).toLocaleString('en-US')} records/s in the analyzer (${(analyzeMs / 1000).toFixed(1)} s); generator and all ${(wallMs / 1000).toFixed(1)} s wall`);
console.log(`memory per device: ${steady.toLocaleString('en-US')} B of state arrays in steady state (+${base.warmup.toLocaleString('en-US')} B during warm-up only; destinations capped at ${config.destinations.capacity}), checkpoint ${Math.round(checkpoint).toLocaleString('en-US')} B of JSON${heapPerDevice === null ? '' : `, heap added by the run ${Math.round(heapPerDevice).toLocaleString('en-US')} B per device (includes the per-group fleet state)`}; fleet checkpoint ${Math.round(fleetCheckpoint / 1024).toLocaleString('en-US')} KiB for ${sc.devices.length ? new Set(sc.devices.map((d) => d.group)).size : 0} groups`);
const missed = missedTargets(s, rate);
console.log(`\ntargets (recall >= ${TARGETS.recall}, median TTD <= ${TARGETS.medianTimeToDetect}, false alarms <= ${TARGETS.falseAlarmsPer1000DeviceDays}/1,000 device-days, firmware <= low, >= ${TARGETS.recordsPerSecond.toLocaleString('en-US')} records/s): ${missed.length === 0 ? 'all met' : `MISSED: ${missed.join('; ')}`}`);
if (s.falseAlarms) {
  console.log('\nfirst false alarms:');
  for (const e of s.falseAlarmSamples) console.log(`  ${e.summary}`);
}
if (a.json) writeFileSync(a.json, JSON.stringify({ options: opts, records, analyzeSeconds: analyzeMs / 1000, recordsPerSecond: rate, score: s, memory: { steady, warmup: base.warmup, checkpoint, heapPerDevice, fleetCheckpoint } }, null, 2));
if (a.events) writeFileSync(a.events, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
if (a.check && missed.length > 0) process.exit(1);
