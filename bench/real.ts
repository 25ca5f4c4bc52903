// Detection judged on traffic nobody here wrote: runs the shipped collector and analyzer on every
// capture a manifest lists (a directory of real captures: ../shared/realiot/ has one, README there)
// and says per capture whether tapwatch did what a good detector should:
// - benign: no alarm above low, and at most one low per started device-week;
// - an attack (scan, beacon, dnstunnel, ...): an alarm of medium or above for the device from its
//   onset's minute to 3 minutes after it (no onset: anywhere in the capture), and none above low before.
// Then false alarms per device-day over the benign captures and the time to detect.
//
//   npm run bench:real -- DIR [--manifest F] [--out DIR] [--rules F] [--json F] [--check]
//
// The manifest is tab-separated, '#' lines skipped: file, repository, commit, path, git blob, device
// address, kind (benign or the attack), onset (ISO time or '-'). Captures are read where they are and
// never copied: several of these files carry no licence to redistribute.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { AnomalyEvent } from '../contracts/anomaly-event.js';
import { severityRank } from '../contracts/severity.js';

export interface ManifestRow {
  file: string;
  device: string;
  kind: string;
  onset: string | null;
}

export interface CaptureResult {
  file: string;
  kind: string;
  pass: boolean;
  why: string;
  deviceDays: number;
  /** Alarms (in-alarm transitions) by severity. */
  alarms: Record<string, number>;
  behaviors: string[];
  /** Attack captures: minutes from the onset's minute to the first alarm of medium or above. */
  minutesToDetect: number | null;
}

export function readManifest(path: string): ManifestRow[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('#'))
    .map((l) => {
      const f = l.split('\t');
      if (f.length < 8) throw new Error(`${path}: a row needs 8 tab-separated fields, got ${f.length}: ${l.slice(0, 80)}`);
      return { file: f[0], device: f[5], kind: f[6], onset: f[7] === '-' ? null : f[7] };
    });
}

/** Judges one capture's events as the manifest's expectations say. */
export function judge(row: ManifestRow, events: AnomalyEvent[], recordStarts: number[]): CaptureResult {
  const raised = events.filter((e) => e.alarm === 'in-alarm');
  const alarms: Record<string, number> = {};
  for (const e of raised) alarms[e.severity] = (alarms[e.severity] ?? 0) + 1;
  const behaviors = [...new Set(raised.map((e) => `${e.behavior}:${e.severity}`))];
  const first = Math.min(...recordStarts);
  const last = Math.max(...recordStarts);
  const deviceDays = recordStarts.length ? Math.max(0, last - first) / 86400 : 0;
  const t = (e: AnomalyEvent) => Date.parse(e['@timestamp']) / 1000;
  if (row.kind === 'benign') {
    const high = raised.filter((e) => severityRank(e.severity) > severityRank('low'));
    const lows = raised.filter((e) => e.severity === 'low');
    const allowed = Math.max(1, Math.ceil(deviceDays / 7));
    return {
      file: row.file, kind: row.kind, deviceDays, alarms, behaviors, minutesToDetect: null,
      pass: high.length === 0 && lows.length <= allowed,
      why: `${deviceDays.toFixed(1)} days, ${high.length} above low, ${lows.length} low (allowed ${allowed})`,
    };
  }
  const onset = row.onset ? Math.floor(Date.parse(row.onset) / 60000) * 60 : first;
  const end = row.onset ? onset + 180 : last + 300;
  const hits = raised.filter((e) => t(e) >= onset && t(e) <= end && severityRank(e.severity) >= severityRank('medium'));
  const early = raised.filter((e) => t(e) < onset && severityRank(e.severity) > severityRank('low'));
  const ttd = hits.length ? (Math.min(...hits.map(t)) - onset) / 60 : null;
  return {
    file: row.file, kind: row.kind, deviceDays, alarms, behaviors, minutesToDetect: ttd,
    pass: hits.length > 0 && early.length === 0,
    why: `${row.kind}: ${hits.length ? `detected ${ttd} min after the onset's minute (${hits[0].behavior}, ${hits[0].severity})` : 'not detected'}, ${early.length} alarms above low before the onset`,
  };
}

const USAGE = 'usage: npm run bench:real -- DIR [--manifest F] [--out DIR] [--rules F] [--json F] [--check]\n';

function main(): number {
  let args;
  try {
    args = parseArgs({
      allowPositionals: true,
      options: { manifest: { type: 'string' }, out: { type: 'string' }, rules: { type: 'string' }, json: { type: 'string' }, check: { type: 'boolean' }, help: { type: 'boolean' } },
    });
  } catch (e) {
    process.stderr.write(`bench:real: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = args;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const dir = positionals[0];
  if (!dir) {
    process.stderr.write(USAGE);
    return 2;
  }
  const manifest = values.manifest ?? join(dir, 'manifest.tsv');
  if (!existsSync(manifest)) {
    process.stderr.write(`bench:real: no manifest at ${manifest} (give --manifest)\n`);
    return 2;
  }
  const out = values.out ?? mkdtempSync(join(tmpdir(), 'tapwatch-real-'));
  mkdirSync(out, { recursive: true });
  const cli = join(import.meta.dirname, '..', 'cli', 'tapwatch.js');
  const results: CaptureResult[] = [];
  for (const row of readManifest(manifest)) {
    const rec = join(out, `${row.file}.rec`);
    const an = join(out, `${row.file}.an`);
    execFileSync(process.execPath, [cli, 'collect', '--pcap', join(dir, row.file), '--device-net', `${row.device}/${row.device.includes(':') ? 128 : 32}`, '--out', rec, '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
    execFileSync(process.execPath, [cli, 'analyze', '--in', rec, '--out', an, '--log-level', 'warn', ...(values.rules ? ['--rules', values.rules] : [])], { stdio: ['ignore', 'ignore', 'inherit'] });
    const lines = (f: string) => readFileSync(f, 'utf8').split('\n').filter((l) => l.trim());
    const starts = lines(rec).map((l) => Date.parse((JSON.parse(l) as { interval: { start: string } }).interval.start) / 1000);
    const r = judge(row, lines(an).map((l) => JSON.parse(l) as AnomalyEvent), starts);
    results.push(r);
    process.stdout.write(`${r.pass ? 'PASS' : 'FAIL'} ${r.file}: ${r.why}${r.behaviors.length ? ` [${r.behaviors.join(', ')}]` : ''}\n`);
  }
  const benign = results.filter((r) => r.kind === 'benign');
  const attacks = results.filter((r) => r.kind !== 'benign');
  const days = benign.reduce((n, r) => n + r.deviceDays, 0);
  const falseAlarms = benign.reduce((n, r) => n + (r.alarms.medium ?? 0) + (r.alarms.high ?? 0) + (r.alarms.critical ?? 0), 0);
  const lows = benign.reduce((n, r) => n + (r.alarms.low ?? 0), 0);
  const ttd = attacks.map((r) => r.minutesToDetect).filter((x): x is number => x !== null).sort((a, b) => a - b);
  const summary = {
    captures: results.length,
    passed: results.filter((r) => r.pass).length,
    benignDeviceDays: Math.round(days * 100) / 100,
    falseAlarmsAboveLowPerDeviceDay: days > 0 ? Math.round((falseAlarms / days) * 1000) / 1000 : null,
    lowsPerDeviceWeek: days > 0 ? Math.round((lows / days) * 7 * 100) / 100 : null,
    attacksDetected: `${attacks.filter((r) => r.pass).length}/${attacks.length}`,
    medianMinutesToDetect: ttd.length ? ttd[Math.floor(ttd.length / 2)] : null,
  };
  process.stdout.write(`${summary.passed}/${summary.captures} captures pass; benign: ${summary.benignDeviceDays} device-days, ${falseAlarms} alarms above low (${summary.falseAlarmsAboveLowPerDeviceDay} per device-day), ${lows} low (${summary.lowsPerDeviceWeek} per device-week); attacks detected ${summary.attacksDetected}, median ${summary.medianMinutesToDetect} min after onset\n`);
  if (values.json) writeFileSync(values.json, JSON.stringify({ summary, results }, null, 2));
  return values.check && summary.passed !== summary.captures ? 1 : 0;
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) process.exitCode = main();
