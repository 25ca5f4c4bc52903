// The analyzer's configuration: loading, validation (JSON Schema first, then what a schema cannot
// say), and compilation of behaviors into the flat form the per-record loop evaluates.

import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import { bundledFile, schemaProblems } from '../contracts/config-files.js';
import { ANALYZER_CONFIG_SCHEMA, type COMPARISONS, type SEVERITIES } from '../contracts/rules.schema.js';
import { METRIC_COUNT, METRIC_INFO, metricIndex, type Metric } from './features.js';
import type { ErrorCode } from '../contracts/errors.js';

export type Severity = (typeof SEVERITIES)[number];
export type Comparison = (typeof COMPARISONS)[number];

export interface StatisticalThreshold {
  statistic: string; // pNN or mad
  scope: 'device' | 'group';
  multiplier?: number;
  mads?: number;
}

export interface Behavior {
  name: string;
  description?: string;
  metric: Metric;
  criteria: {
    comparisonOperator: Comparison;
    value?: { count: number };
    statisticalThreshold?: StatisticalThreshold;
    durationSeconds?: number;
    consecutiveDatapointsToAlarm?: number;
    consecutiveDatapointsToClear?: number;
  };
  suppressWhenGroupShare?: number;
  severity: Severity;
  suspected?: string;
  advice: string;
}

export interface AnalyzerConfig {
  $comment?: string;
  intervalSeconds: number;
  warmupIntervals: number;
  timeOfDay: { buckets: number; utcOffsetMinutes: number; minPatternStrength: number; minBucketSamples: number };
  baseline: { gain: number; gateMads: number; relearnAfter: number };
  destinations: { capacity: number; newForSeconds: number; commonShare: number; commonMin: number; maxAdoptionsPerRecord: number };
  protocolMix: { rate: number };
  fleet: { trees: number; sampleSize: number; trainingVectors: number; retrainEveryIntervals: number; minGroupDevices: number; seed: number };
  behaviors: Behavior[];
}

export class AnalyzerConfigError extends Error {
  readonly code: ErrorCode = 'TWN0001';
  constructor(readonly problems: string[], source = 'analyzer configuration') {
    super(`${source} is invalid:\n  - ${problems.join('\n  - ')}`);
    this.name = 'AnalyzerConfigError';
  }
}

let validator: ValidateFunction | null = null;

/** Schema and semantic problems, each naming where it is ("behaviors[3] 'dns-tunnel': ..."); empty when valid. */
export function configProblems(config: unknown): string[] {
  validator ??= new Ajv({ allErrors: true, strict: true }).compile(ANALYZER_CONFIG_SCHEMA);
  if (!validator(config)) return schemaProblems(validator.errors, config, 'behaviors');
  const c = config as AnalyzerConfig;
  const problems: string[] = [];
  const names = new Set<string>();
  c.behaviors.forEach((b, i) => {
    const at = `behaviors[${i}] '${b.name}':`;
    if (names.has(b.name)) problems.push(`${at} the name is used twice`);
    names.add(b.name);
    const cr = b.criteria;
    const duration = cr.durationSeconds ?? c.intervalSeconds;
    if (duration % c.intervalSeconds !== 0 || duration / c.intervalSeconds > 12) {
      problems.push(`${at} durationSeconds ${duration} must be 1 to 12 times intervalSeconds (${c.intervalSeconds})`);
    }
    const st = cr.statisticalThreshold;
    if (!cr.value && !st) problems.push(`${at} criteria needs a value, a statisticalThreshold, or both`);
    if (st) {
      if (st.statistic === 'mad') {
        if (st.scope !== 'device') problems.push(`${at} statistic mad compares with the device's own history: scope must be device`);
        if (st.mads === undefined) problems.push(`${at} statistic mad needs mads (threshold = median + mads x MAD)`);
        if (st.multiplier !== undefined) problems.push(`${at} multiplier goes with a percentile; with mad use mads`);
      } else if (st.mads !== undefined) problems.push(`${at} mads goes with statistic mad, not ${st.statistic}`);
      if (st.scope === 'device' && duration !== c.intervalSeconds) {
        problems.push(`${at} a device-history threshold is learned per interval: durationSeconds must equal intervalSeconds`);
      }
    }
  });
  return problems;
}

export function validateConfig(config: unknown, source?: string): AnalyzerConfig {
  const problems = configProblems(config);
  if (problems.length > 0) throw new AnalyzerConfigError(problems, source);
  return config as AnalyzerConfig;
}

export function loadConfig(path: string): AnalyzerConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new AnalyzerConfigError([(e as Error).message], path);
  }
  return validateConfig(parsed, path);
}

/** rules.default.json, as shipped (see bundledFile). */
export function defaultConfigPath(): string {
  return bundledFile('analyzer', 'rules.default.json', (problem) => new AnalyzerConfigError([problem]));
}

export function defaultConfig(): AnalyzerConfig {
  return loadConfig(defaultConfigPath());
}

const CMP_GT = 0;
const CMP_GTE = 1;
const CMP_LT = 2;
const CMP_LTE = 3;
const CMP: Record<Comparison, number> = { 'greater-than': CMP_GT, 'greater-than-equals': CMP_GTE, 'less-than': CMP_LT, 'less-than-equals': CMP_LTE };

export interface CompiledRule {
  index: number;
  behavior: Behavior;
  metric: number;
  cmp: number;
  upward: boolean;
  value: number | null;
  /** 'mad': median + k sigma of the device; 'quantile': multiplier x pNN of the device or of its group. */
  stat: { kind: 'mad'; mads: number; k: number } | { kind: 'quantile'; scope: 'device' | 'group'; p: number; label: string; multiplier: number; level: number } | null;
  window: number;
  additive: boolean;
  /** Samples a time-of-day bucket needs before the device's statistic is taken from it (baseline.ts). */
  minBucketSamples: number;
  toAlarm: number;
  toClear: number;
  suppressShare: number;
}

export interface CompiledRules {
  rules: CompiledRule[];
  /** Quantile levels each metric's device baseline tracks, ascending. */
  levels: number[][];
}

export function compileRules(c: AnalyzerConfig): CompiledRules {
  const levels: number[][] = Array.from({ length: METRIC_COUNT }, () => []);
  for (const b of c.behaviors) {
    const st = b.criteria.statisticalThreshold;
    if (st && st.scope === 'device' && st.statistic !== 'mad') {
      const p = Number(st.statistic.slice(1)) / 100;
      const m = metricIndex(b.metric);
      if (!levels[m].includes(p)) levels[m].push(p);
    }
  }
  for (const l of levels) l.sort((a, b) => a - b);
  const rules = c.behaviors.map((b, index): CompiledRule => {
    const m = metricIndex(b.metric);
    const cr = b.criteria;
    const st = cr.statisticalThreshold;
    let stat: CompiledRule['stat'] = null;
    if (st?.statistic === 'mad') stat = { kind: 'mad', mads: st.mads!, k: st.mads! / 1.4826 }; // k in sigmas: the baseline keeps 1.4826 MAD
    else if (st) {
      const p = Number(st.statistic.slice(1)) / 100;
      stat = { kind: 'quantile', scope: st.scope, p, label: st.statistic, multiplier: st.multiplier ?? 1, level: st.scope === 'device' ? levels[m].indexOf(p) : -1 };
    }
    const cmp = CMP[cr.comparisonOperator];
    return {
      index,
      behavior: b,
      metric: m,
      cmp,
      upward: cmp === CMP_GT || cmp === CMP_GTE,
      value: cr.value ? cr.value.count : null,
      stat,
      window: (cr.durationSeconds ?? c.intervalSeconds) / c.intervalSeconds,
      minBucketSamples: stat?.kind === 'quantile' && stat.scope === 'device'
        ? Math.max(c.timeOfDay.minBucketSamples, Math.ceil(10 / (1 - Math.min(stat.p, 0.999)) ))
        : c.timeOfDay.minBucketSamples,
      additive: METRIC_INFO[b.metric].additive,
      toAlarm: cr.consecutiveDatapointsToAlarm ?? 1,
      toClear: cr.consecutiveDatapointsToClear ?? 1,
      suppressShare: b.suppressWhenGroupShare ?? Infinity,
    };
  });
  return { rules, levels };
}

export function breaches(cmp: number, observed: number, threshold: number): boolean {
  switch (cmp) {
    case CMP_GT: return observed > threshold;
    case CMP_GTE: return observed >= threshold;
    case CMP_LT: return observed < threshold;
    default: return observed <= threshold;
  }
}
