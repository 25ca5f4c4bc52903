// tapwatch analyze (offline CLI) gives exactly the events of the in-process analyzer on the collector's
// records of a small labelled capture with incidents, in the same order, on one worker thread or several
// (each taking whole groups), and counts and skips lines that are not records, one too long to hold among them.

import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { createAnalyzer } from '../analyzer/analyzer.js';
import { MAX_LINE_BYTES } from '../analyzer/ndjson-lines.js';
import { defaultConfig } from '../analyzer/rules.js';
import { scenarioRecords } from '../bench/detect-pipeline.js';
import { record } from './helpers/records.js';
import { until } from './helpers/until.js';

it('same events as the analyzer in-process, on any number of worker threads; malformed lines counted and skipped', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tapwatch-analyze-'));
  try {
    const { records } = scenarioRecords({ out: join(dir, 'scenario'), devices: 30, days: 0.5, incidentsPerType: 2, seed: 5 });
    const lines = records.map((r) => JSON.stringify(r));
    // A line too long to be a record is let go as it is read, not held (MAX_LINE_BYTES).
    lines.splice(10, 0, '{"truncated', 'not json at all', `{"pad":"${'x'.repeat(MAX_LINE_BYTES)}"}`);
    writeFileSync(join(dir, 'records.ndjson'), lines.join('\n') + '\n');
    expect(new Set(records.map((r) => r.device.group)).size).toBeGreaterThanOrEqual(3);
    const analyzer = createAnalyzer(defaultConfig());
    const want = records.flatMap((r) => analyzer.process(r)).map((e) => JSON.stringify(e));
    expect(want.length).toBeGreaterThan(5);
    const cli = join(import.meta.dirname, '..', 'dist', 'cli', 'tapwatch.js');
    for (const workers of ['1', '3']) {
      const out = join(dir, `events-${workers}.ndjson`);
      const run = spawnSync('node', [cli, 'analyze', '--in', join(dir, 'records.ndjson'), '--out', out, '--workers', workers], { encoding: 'utf8' });
      expect(run.status, run.stderr).toBe(0);
      const logs = run.stderr.split('\n').filter(Boolean).map((l) => JSON.parse(l));
      expect(logs.find((l) => l.msg === 'done'), workers).toMatchObject({ records: records.length, invalid: 3, workers: Number(workers) });
      expect(logs.filter((l) => l.msg.startsWith('skipping')).map((l) => l.line), workers).toEqual([11, 12, 13]);
      expect(readFileSync(out, 'utf8').trim().split('\n').filter(Boolean), workers).toEqual(want);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);

it('records piped in live are analysed as they come: an event is out before the input ends', async () => {
  const failed = Array.from({ length: 8 }, (_, k) => ({ ip: `198.51.100.${k + 1}`, port: 23 }));
  const cli = join(import.meta.dirname, '..', 'dist', 'cli', 'tapwatch.js');
  const child = spawn('node', [cli, 'analyze', '--in', '-', '--out', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  try {
    child.stdin.write(JSON.stringify(record({ i: 0 })) + '\n' + JSON.stringify(record({ i: 1, failed, failedBeyond: 112 })) + '\n');
    const line = await until('an event on stdout while stdin is still open', () => out.split('\n').find((l) => l.includes('"in-alarm"')), { timeoutMs: 30_000 });
    expect(JSON.parse(line)).toMatchObject({ behavior: 'scan', device: { id: 'dev-1' } });
  } finally {
    child.stdin.end();
  }
  const [code] = await once(child, 'exit');
  expect(code).toBe(0);
}, 60_000);
