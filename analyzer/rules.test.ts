import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AnalyzerConfigError, compileRules, configProblems, defaultConfig, loadConfig, type AnalyzerConfig } from './rules.js';
import { metricIndex } from './features.js';

const withBehavior = (patch: (b: Record<string, any>) => void): unknown => {
  const c = structuredClone(defaultConfig()) as unknown as { behaviors: Record<string, any>[] };
  patch(c.behaviors[0]);
  return c;
};

describe('analyzer configuration', () => {
  it('ships a valid default set, and compiles the quantiles device baselines must track', () => {
    const c = defaultConfig();
    expect(configProblems(c)).toEqual([]);
    const { rules, levels } = compileRules(c);
    expect(rules.map((r) => r.behavior.name)).toContain('telnet-scan');
    expect(levels[metricIndex('bytes_out')]).toEqual([0.99]);
    const beacon = rules.find((r) => r.behavior.name === 'new-destination-beacon')!;
    expect(beacon.stat).toBeNull();
    expect(beacon.toAlarm).toBe(2);
    const scan = rules.find((r) => r.behavior.name === 'telnet-scan')!;
    expect(scan.stat).toMatchObject({ kind: 'mad', mads: 8 });
    // a p99 of one's own history needs ~1,000 samples in a time-of-day bucket before the bucket is used
    expect(rules.find((r) => r.behavior.name === 'upload-volume')!.minBucketSamples).toBe(1000);
  });

  it('names the behavior and the field in each problem', () => {
    const cases: [(b: Record<string, any>) => void, RegExp][] = [
      [(b) => (b.metric = 'bytes'), /behaviors\[0\] 'telnet-scan' \/metric must be equal to one of the allowed values: bytes_out, /],
      [(b) => (b.criteria.statisticalThreshold.statistic = 'p999x'), /statistic must match pattern/],
      [(b) => (b.criteria.statisticalThreshold = { statistic: 'mad', mads: 3, scope: 'group' }), /mad compares with the device's own history: scope must be device/],
      [(b) => delete b.criteria.statisticalThreshold.mads, /statistic mad needs mads/],
      [(b) => (b.criteria.durationSeconds = 450), /durationSeconds 450 must be 1 to 12 times intervalSeconds \(300\)/],
      [(b) => (b.criteria.durationSeconds = 900), /a device-history threshold is learned per interval/],
      [(b) => { delete b.criteria.value; delete b.criteria.statisticalThreshold; }, /needs a value, a statisticalThreshold, or both/],
      [(b) => (b.criteria.consecutiveDatapointToAlarm = 2), /must NOT have additional properties/],
      [(b) => (b.severity = 'urgent'), /severity must be equal to one of the allowed values: low, medium, high, critical/],
      [(b) => (b.criteria.statisticalThreshold = { statistic: 'p101', scope: 'group' }), /statistic must match pattern/],
      [(b) => (b.criteria.statisticalThreshold = { statistic: 'p99', scope: 'group', mads: 3 }), /mads goes with statistic mad, not p99/],
    ];
    for (const [patch, message] of cases) {
      const problems = configProblems(withBehavior(patch));
      expect(problems.join('\n')).toMatch(message);
    }
    const dup = structuredClone(defaultConfig()) as AnalyzerConfig;
    dup.behaviors.push({ ...dup.behaviors[0] });
    expect(configProblems(dup).join('\n')).toMatch(/'telnet-scan': the name is used twice/);
  });

  it('loads a file and reports a broken one with the file name and a code', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapwatch-rules-'));
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify(defaultConfig()));
    expect(loadConfig(good).behaviors.length).toBe(defaultConfig().behaviors.length);
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{ "intervalSeconds": 300,');
    expect(() => loadConfig(broken)).toThrow(AnalyzerConfigError);
    writeFileSync(broken, JSON.stringify({ ...defaultConfig(), warmupIntervals: 0 }));
    let thrown: unknown;
    try {
      loadConfig(broken);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(AnalyzerConfigError);
    expect((thrown as AnalyzerConfigError).code).toBe('TWN0001');
    expect((thrown as Error).message).toContain(broken);
    expect((thrown as Error).message).toMatch(/\/warmupIntervals must be >= 1/);
  });
});
