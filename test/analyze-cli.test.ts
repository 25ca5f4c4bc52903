// tapwatch analyze (offline CLI) gives exactly the events of the in-process analyzer on the collector's
// records of a small labelled capture with incidents, and counts and skips lines that are not records.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { createAnalyzer } from '../analyzer/analyzer.js';
import { defaultConfig } from '../analyzer/rules.js';
import { scenarioRecords } from '../bench/detect-pipeline.js';

it('same events as the analyzer in-process; malformed lines counted and skipped', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tapwatch-analyze-'));
  try {
    const { records } = scenarioRecords({ out: join(dir, 'scenario'), devices: 30, days: 0.5, incidentsPerType: 2, seed: 5 });
    const lines = records.map((r) => JSON.stringify(r));
    lines.splice(10, 0, '{"truncated', 'not json at all');
    writeFileSync(join(dir, 'records.ndjson'), lines.join('\n') + '\n');
    const cli = join(import.meta.dirname, '..', 'dist', 'cli', 'tapwatch.js');
    const run = spawnSync('node', [cli, 'analyze', '--in', join(dir, 'records.ndjson'), '--out', join(dir, 'events.ndjson')], { encoding: 'utf8' });
    expect(run.status).toBe(0);
    const done = run.stderr.split('\n').filter((l) => l.includes('"done"')).map((l) => JSON.parse(l))[0];
    expect(done).toMatchObject({ records: records.length, invalid: 2 });
    const got = readFileSync(join(dir, 'events.ndjson'), 'utf8').trim().split('\n').filter(Boolean);
    const analyzer = createAnalyzer(defaultConfig());
    const want = records.flatMap((r) => analyzer.process(r)).map((e) => JSON.stringify(e));
    expect(want.length).toBeGreaterThan(5);
    expect(got).toEqual(want);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
