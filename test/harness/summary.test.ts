// The closing line CI reads must never be green when the run is not. Each case is a real vitest run
// over one small file of summary-cases/ with the summary reporter, then the summary script.

import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const here = import.meta.dirname;
const root = join(here, '..', '..');

function run(...cases: string[]): { line: string; lines: string[]; status: number | null; vitestStatus: number | null } {
  const out = join(mkdtempSync(join(tmpdir(), 'tapwatch-summary-')), 'summary.json');
  const v = spawnSync(
    process.execPath,
    [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--config', join(here, 'summary-cases', 'vitest.config.ts'), ...cases],
    { cwd: root, encoding: 'utf8', env: { ...process.env, SUMMARY_OUT: out } },
  );
  const s = spawnSync(process.execPath, [join(here, 'test-summary.mjs'), out, String(v.status)], { encoding: 'utf8' });
  const lines = s.stdout.trim().split('\n');
  return { line: lines.at(-1)!, lines, status: s.status, vitestStatus: v.status };
}

describe('the closing line', () => {
  it('is green with exit 0 only when every test passed', () => {
    const r = run('passes.case.ts');
    expect(r).toMatchObject({ line: '1 passed, 0 failed', status: 0, vitestStatus: 0 });
  });

  it('counts a failed test', () => {
    const r = run('passes.case.ts', 'fails.case.ts');
    expect(r).toMatchObject({ line: '1 passed, 1 failed', status: 1 });
    expect(r.lines[0]).toMatch(/^failed: .*fails\.case\.ts > fails: /);
  });

  it('counts a skipped test as a failure and names it', () => {
    const r = run('skips.case.ts');
    expect(r).toMatchObject({ line: '1 passed, 1 failed', status: 1 });
    expect(r.lines[0]).toMatch(/did not run \(skipped\): .*skips\.case\.ts > is skipped/);
  });

  it('counts a file whose worker was killed', () => {
    const r = run('passes.case.ts', 'killed.case.ts');
    expect(r.vitestStatus).not.toBe(0);
    expect(r.status).toBe(1);
    expect(r.line).toMatch(/^1 passed, [1-9]\d* failed$/);
    expect(r.lines.join('\n')).toMatch(/killed\.case\.ts/);
  });

  it('counts an unhandled error thrown after a passing test', () => {
    const r = run('throws-late.case.ts');
    expect(r.status).toBe(1);
    expect(r.line).toBe('1 passed, 1 failed');
    expect(r.lines[0]).toMatch(/unhandled error: .*thrown after the test/);
  });

  it('counts a file that fails to load', () => {
    const r = run('passes.case.ts', 'broken-import.case.ts');
    expect(r).toMatchObject({ line: '1 passed, 1 failed', status: 1 });
    expect(r.lines[0]).toMatch(/broken-import\.case\.ts: .*the module cannot load/);
  });

  it('says "0 passed" only with a non-zero exit, also when the report is missing', () => {
    const s = spawnSync(process.execPath, [join(here, 'test-summary.mjs'), join(tmpdir(), 'no-such-summary.json'), '1'], { encoding: 'utf8' });
    expect(s.status).toBe(1);
    expect(s.stdout.trim().split('\n').at(-1)).toBe('0 passed, 1 failed');
  });
});
