import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AnalyzerConfigError, compileRules, configProblems, defaultConfig, loadConfig, type AnalyzerConfig } from './rules.js';
import { metricIndex } from './features.js';

/** The default configuration with one behavior changed by `patch`. */
const withBehavior = (name: string, patch: (b: Record<string, any>) => void): unknown => {
  const c = structuredClone(defaultConfig()) as unknown as { behaviors: Record<string, any>[] };
  patch(c.behaviors.find((b) => b.name === name)!);
  return c;
};

describe('analyzer configuration', () => {
  it('ships a valid default set, and compiles the quantiles device baselines must track', () => {
    const c = defaultConfig();
    expect(configProblems(c)).toEqual([]);
    const { rules, evidence, levels, names } = compileRules(c);
    expect(evidence.map((e) => e.name)).toEqual(['scan', 'beacon', 'dns-tunnel', 'flood', 'exfiltration', 'new-destination', 'corroborated']);
    expect(names.slice(0, 7)).toEqual(evidence.map((e) => e.name));
    expect(levels[metricIndex('bytes_out')]).toEqual([0.99]);
    const scan = evidence.find((e) => e.name === 'scan')!;
    expect([scan.severity, scan.strongSeverity, scan.toAlarm, scan.detector !== null]).toEqual(['medium', 'high', 1, true]);
    expect(evidence.find((e) => e.name === 'corroborated')!.detector).toBeNull();
    // a p99 of one's own history needs ~1,000 samples in a time-of-day bucket before the bucket is used
    expect(rules.find((r) => r.name === 'upload-volume')!.minBucketSamples).toBe(1000);
    // nothing above low on a metric rule or a new destination: 'high' is for evidence
    for (const b of c.behaviors) if (!('evidence' in b) || b.evidence.kind === 'new-destination') expect(['low', 'medium'], b.name).toContain(b.severity);
  });

  it('names the behavior and the field in each problem', () => {
    const cases: [string, (b: Record<string, any>) => void, RegExp][] = [
      ['upload-volume', (b) => (b.metric = 'bytes'), /behaviors\[7\] 'upload-volume': \/metric must be equal to one of the allowed values: bytes_out, /],
      ['upload-volume', (b) => (b.criteria.statisticalThreshold.statistic = 'p999x'), /statistic must match pattern/],
      ['upload-volume', (b) => (b.criteria.statisticalThreshold = { statistic: 'mad', mads: 3, scope: 'group' }), /mad compares with the device's own history: scope must be device/],
      ['upload-volume', (b) => (b.criteria.statisticalThreshold = { statistic: 'mad', scope: 'device' }), /statistic mad needs mads/],
      ['upload-volume', (b) => { delete b.criteria.value; delete b.criteria.statisticalThreshold; }, /needs a value, a statisticalThreshold, or both/],
      ['upload-volume', (b) => (b.criteria.consecutiveDatapointToAlarm = 2), /must not have additional properties: consecutiveDatapointToAlarm/],
      ['upload-volume', (b) => (b.severity = 'urgent'), /severity must be equal to one of the allowed values: low, medium, high, critical/],
      ['upload-volume', (b) => (b.criteria.statisticalThreshold = { statistic: 'p99', scope: 'group', mads: 3 }), /mads goes with statistic mad, not p99/],
      ['scan', (b) => (b.evidence.falseAlarmRate = 2), /behaviors\[0\] 'scan': \/evidence\/falseAlarmRate must be <= 1/],
      ['scan', (b) => (b.evidence.kind = 'portscan'), /behaviors\[0\] 'scan': \/evidence\/kind must be one of: scan, beacon, dns-tunnel/],
      ['beacon', (b) => delete b.evidence.maxJitter, /'beacon': .*maxJitter/],
      ['dns-tunnel', (b) => (b.strongSeverity = 'low'), /strongSeverity low is below severity medium/],
    ];
    for (const [name, patch, message] of cases) {
      const problems = configProblems(withBehavior(name, patch));
      expect(problems.join('\n'), String(message)).toMatch(message);
    }
    const dup = structuredClone(defaultConfig()) as AnalyzerConfig;
    dup.behaviors.push({ ...dup.behaviors[0] });
    expect(configProblems(dup).join('\n')).toMatch(/'scan': the name is used twice/);
  });

  it('loads a file and reports a broken one with the file name and a code', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapwatch-rules-'));
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify(defaultConfig()));
    expect(loadConfig(good).behaviors.length).toBe(defaultConfig().behaviors.length);
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{ "warmupSeconds": 300,');
    expect(() => loadConfig(broken)).toThrow(AnalyzerConfigError);
    writeFileSync(broken, JSON.stringify({ ...defaultConfig(), warmupSeconds: 0 }));
    let thrown: unknown;
    try {
      loadConfig(broken);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(AnalyzerConfigError);
    expect((thrown as AnalyzerConfigError).code).toBe('TWN0001');
    expect((thrown as Error).message).toContain(broken);
    expect((thrown as Error).message).toMatch(/\/warmupSeconds must be >= 60/);
  });
});
