// npm run bench:detect — the detection benchmark, through packets: a labelled fleet from the
// packet-level scenario generator (synth/scenarios) as a GRE mirror capture, replayed through the
// collector, its records through the analyzer (default rules or --rules), the events scored against
// labels.json (bench/detect-score.ts): per incident type recall and median time to detect, false
// alarms per 1,000 device-days at medium and at high or above, by behavior and by the benign event
// they fell in; and the collector's and the analyzer's throughput.
//
//   node dist/bench/detect.js [--devices 350] [--days 3] [--seed 1] [--incidents 8 per type]
//        [--interval 60] [--learning-hours 24] [--rules rules.json] [--json out.json]
//        [--events events.ndjson] [--keep DIR]
//
// The defaults are the target size: over 1,000 device-days, incidents only after the fleet's
// first day of monitoring (its warm-up; devices joining later are judged from their first record).
//
// The capture is written to a temporary directory and deleted afterwards (it is large: about
// 10 MB per device-day), unless --keep DIR says where to write and keep it.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createAnalyzer } from '../analyzer/analyzer.js';
import { defaultConfig, loadConfig } from '../analyzer/rules.js';
import type { AnomalyEvent } from '../contracts/anomaly-event.js';
import { generateScenario } from '../synth/scenarios/generate.js';
import { collectScenario } from './detect-pipeline.js';
import { counts, GRACE, scoreRun, type FalseAlarms } from './detect-score.js';

const DEFAULTS = { devices: 350, days: 3, seed: 1, incidents: 8, interval: 60, learningHours: 24 };

const { values: a } = parseArgs({
  options: {
    devices: { type: 'string' },
    days: { type: 'string' },
    seed: { type: 'string' },
    incidents: { type: 'string' },
    interval: { type: 'string' },
    'learning-hours': { type: 'string' },
    rules: { type: 'string' },
    json: { type: 'string' },
    events: { type: 'string' },
    keep: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (a.help) {
  console.log(`usage: node dist/bench/detect.js [--devices ${DEFAULTS.devices}] [--days ${DEFAULTS.days}] [--seed ${DEFAULTS.seed}] [--incidents ${DEFAULTS.incidents} per type] [--interval ${DEFAULTS.interval}] [--learning-hours ${DEFAULTS.learningHours}] [--rules FILE] [--json FILE] [--events FILE] [--keep DIR]`);
  process.exit(0);
}
const num = (s: string | undefined, d: number): number => (s === undefined ? d : Number(s));
const opts = {
  devices: num(a.devices, DEFAULTS.devices),
  days: num(a.days, DEFAULTS.days),
  seed: num(a.seed, DEFAULTS.seed),
  incidentsPerType: num(a.incidents, DEFAULTS.incidents),
  interval: num(a.interval, DEFAULTS.interval),
  learningHours: num(a['learning-hours'], DEFAULTS.learningHours),
};
const config = a.rules ? loadConfig(a.rules) : defaultConfig();
const dir = a.keep ?? mkdtempSync(join(tmpdir(), 'tapwatch-detect-'));

try {
  const gen = generateScenario({ ...opts, out: dir });
  const labels = gen.labels;
  const analyzer = createAnalyzer(config);
  const events: AnomalyEvent[] = [];
  let analyzeMs = 0;
  const collected = collectScenario(dir, labels.interval, (batch) => {
    const t = performance.now();
    for (const r of batch) for (const e of analyzer.process(r)) events.push(e);
    analyzeMs += performance.now() - t;
  });
  const collectS = collected.seconds - analyzeMs / 1000;
  const s = scoreRun(labels, events);

  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
  console.log(`tapwatch bench:detect — ${labels.devices.length} devices (${opts.devices} and ${labels.devices.length - opts.devices} joining), ${opts.days} days at ${labels.interval} s, seed ${opts.seed}, ${opts.incidentsPerType} incidents per type, learning until ${labels.learning_end}, rules ${a.rules ?? 'default'}`);
  console.log(`capture: ${fmt(gen.packets)} packets, ${(gen.bytes / 1e9).toFixed(2)} GB, generated in ${gen.seconds.toFixed(1)} s; ${fmt(collected.records)} records, ${events.length} events (${s.inAlarm} in-alarm)\n`);

  const head = ['incident type', 'incidents', 'detected', 'recall', 'median TTD (intervals)', 'missed'];
  const rows = s.types.map((t) => [t.type, String(t.incidents), String(t.detected), t.recall.toFixed(3), t.medianTimeToDetect === null ? 'n/a' : String(t.medianTimeToDetect), t.missed.join(' ')]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
  console.log(`(detected: an in-alarm event of a behavior that catches the type, on the device, between the incident's start and ${GRACE} intervals after its end)\n`);

  const fa = (name: string, f: FalseAlarms): string =>
    `false alarms ${name}: ${f.count} over ${s.deviceDays.toFixed(1)} device-days = ${f.per1000DeviceDays.toFixed(2)} per 1,000 device-days`
    + (f.count ? `\n  by behavior: ${counts(f.byBehavior)}\n  by the benign event they fell in: ${counts(f.byBenign)}` : '');
  console.log(fa('(medium or above)', s.medium));
  console.log(fa('(high or above)', s.high));
  if (Object.keys(s.offTarget).length) console.log(`alarms of other behaviors during incidents (neither detections nor false alarms): ${counts(s.offTarget)}`);
  console.log(`\nthroughput: collector ${fmt(collected.frames / collectS)} frames/s, ${(collected.bytes / 1e6 / collectS).toFixed(0)} MB/s (${collectS.toFixed(1)} s); analyzer ${fmt(collected.records / (analyzeMs / 1000))} records/s (${(analyzeMs / 1000).toFixed(1)} s); one process`);
  if (s.high.count) {
    console.log('\nfirst false alarms at high or above:');
    for (const e of s.high.samples) console.log(`  ${e.summary}`);
  }
  if (a.json) {
    writeFileSync(a.json, JSON.stringify({
      options: { ...opts, rules: a.rules ?? null }, capture: { packets: gen.packets, bytes: gen.bytes, generateSeconds: gen.seconds },
      collector: { frames: collected.frames, records: collected.records, seconds: collectS, framesPerSecond: collected.frames / collectS },
      analyzer: { seconds: analyzeMs / 1000, recordsPerSecond: collected.records / (analyzeMs / 1000) },
      score: s,
    }, null, 2));
  }
  if (a.events) writeFileSync(a.events, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
} finally {
  if (!a.keep) rmSync(dir, { recursive: true, force: true });
}
