// The analyzer's configuration: loading, validation (the schema first, each behavior against the
// schema of its own kind so a mistake is named precisely, then what a schema cannot say), and
// compilation into the flat form the per-record loop evaluates.

import { readFileSync } from 'node:fs';
import { Type } from 'typebox';
import { bundledFile } from '../contracts/config-files.js';
import type { ErrorCode } from '../contracts/errors.js';
import {
  AnalyzerConfigSchema, EVIDENCE_KINDS, EVIDENCE_PARAMS, EvidenceBehaviorSchema, isEvidence, MetricRuleSchema,
  type AnalyzerConfig, type Behavior, type COMPARISONS, type EvidenceBehavior, type MetricRule,
} from '../contracts/rules.schema.js';
import { SEVERITIES, severityRank, type Severity } from '../contracts/severity.js';
import { validator } from '../contracts/validate.js';
import { detectorFor } from './detectors/index.js';
import type { EvidenceDetector } from './detectors/detector.js';
import { METRIC_COUNT, metricIndex } from './features.js';

export type { AnalyzerConfig, Behavior, EvidenceBehavior, MetricRule, Severity };
export type Comparison = (typeof COMPARISONS)[number];

export class AnalyzerConfigError extends Error {
  readonly code: ErrorCode = 'TWN0001';
  constructor(readonly problems: string[], source = 'analyzer configuration') {
    super(`${source} is invalid:\n  - ${problems.join('\n  - ')}`);
    this.name = 'AnalyzerConfigError';
  }
}

// The top level with behaviors taken as they come; each behavior is then checked against its own kind.
const topLevel = validator(Type.Object({ ...AnalyzerConfigSchema.properties, behaviors: Type.Array(Type.Object({}), { minItems: 1 }) }, { additionalProperties: false }));
const metricRules = validator(MetricRuleSchema);
// An evidence behavior against the parameters of its own kind, so a mistake in them is named, not drowned in a union's.
const evidenceBehaviors = Object.fromEntries(
  EVIDENCE_KINDS.map((k) => [k, validator(Type.Object({ ...EvidenceBehaviorSchema.properties, evidence: EVIDENCE_PARAMS[k] }, { additionalProperties: false }))]),
);
const whole = validator(AnalyzerConfigSchema);

function behaviorProblems(b: Record<string, unknown>): string[] {
  if (!('evidence' in b)) return metricRules.problems(b);
  const kind = (b.evidence as { kind?: unknown } | null)?.kind;
  if (typeof kind !== 'string' || !(kind in evidenceBehaviors)) return [`/evidence/kind must be one of: ${EVIDENCE_KINDS.join(', ')}`];
  return evidenceBehaviors[kind].problems(b);
}

/** Schema and semantic problems, each naming where it is ("behaviors[3] 'dns-tunnel': ..."); empty when valid. */
export function configProblems(config: unknown): string[] {
  const top = topLevel.problems(config);
  if (top.length) return top;
  const c = config as AnalyzerConfig;
  const problems: string[] = [];
  const names = new Set<string>();
  c.behaviors.forEach((b: Behavior, i) => {
    const at = `behaviors[${i}]${typeof b.name === 'string' ? ` '${b.name}'` : ''}:`;
    const own = behaviorProblems(b as unknown as Record<string, unknown>);
    if (own.length) {
      problems.push(...own.map((p) => `${at} ${p}`));
      return;
    }
    if (names.has(b.name)) problems.push(`${at} the name is used twice`);
    names.add(b.name);
    if (isEvidence(b)) {
      if (b.strongSeverity && severityRank(b.strongSeverity) < severityRank(b.severity)) problems.push(`${at} strongSeverity ${b.strongSeverity} is below severity ${b.severity}`);
      return;
    }
    const cr = b.criteria;
    const st = cr.statisticalThreshold;
    if (!cr.value && !st) problems.push(`${at} criteria needs a value, a statisticalThreshold, or both`);
    if (st) {
      if (st.statistic === 'mad') {
        if (st.scope !== 'device') problems.push(`${at} statistic mad compares with the device's own history: scope must be device`);
        if (st.mads === undefined) problems.push(`${at} statistic mad needs mads (threshold = median + mads x MAD)`);
        if (st.multiplier !== undefined) problems.push(`${at} multiplier goes with a percentile; with mad use mads`);
      } else if (st.mads !== undefined) problems.push(`${at} mads goes with statistic mad, not ${st.statistic}`);
    }
  });
  if (problems.length === 0) problems.push(...whole.problems(config));
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

interface CompiledBase {
  /** Position in the behaviors list: the alarm slot. */
  index: number;
  name: string;
  /** How observed is compared with threshold in the events. */
  comparison: Comparison;
  toAlarm: number;
  toClear: number;
  severity: Severity;
  strongSeverity: Severity;
}

export interface CompiledRule extends CompiledBase {
  behavior: MetricRule;
  /** Position among the metric rules: the group statistics' slot. */
  slot: number;
  metric: number;
  cmp: number;
  upward: boolean;
  value: number | null;
  /** 'mad': median + k sigma of the device; 'quantile': multiplier x pNN of the device (its group's while it warms up) or of its group. */
  stat: { kind: 'mad'; mads: number; k: number } | { kind: 'quantile'; scope: 'device' | 'group'; p: number; label: string; multiplier: number; level: number } | null;
  /** Samples a time-of-day bucket needs before the device's statistic is taken from it (baseline.ts). */
  minBucketSamples: number;
  suppressShare: number;
}

export interface CompiledEvidence extends CompiledBase {
  behavior: EvidenceBehavior;
  /** null for 'corroborated': judged from the other evidence alarms. */
  detector: EvidenceDetector<unknown> | null;
}

export interface CompiledRules {
  rules: CompiledRule[];
  evidence: CompiledEvidence[];
  /** Every behavior's name, by alarm slot. */
  names: string[];
  /** Quantile levels each metric's device baseline tracks, ascending. */
  levels: number[][];
}

export function compileRules(c: AnalyzerConfig): CompiledRules {
  const levels: number[][] = Array.from({ length: METRIC_COUNT }, () => []);
  for (const b of c.behaviors) {
    if (isEvidence(b)) continue;
    const st = b.criteria.statisticalThreshold;
    if (st && st.scope === 'device' && st.statistic !== 'mad') {
      const p = Number(st.statistic.slice(1)) / 100;
      const m = metricIndex(b.metric);
      if (!levels[m].includes(p)) levels[m].push(p);
    }
  }
  for (const l of levels) l.sort((a, b) => a - b);
  const rules: CompiledRule[] = [];
  const evidence: CompiledEvidence[] = [];
  c.behaviors.forEach((b, index) => {
    const base: CompiledBase = {
      index,
      name: b.name,
      comparison: isEvidence(b) ? 'greater-than-equals' : b.criteria.comparisonOperator,
      toAlarm: b.criteria?.consecutiveDatapointsToAlarm ?? 1,
      toClear: b.criteria?.consecutiveDatapointsToClear ?? 1,
      severity: b.severity,
      strongSeverity: (isEvidence(b) && b.strongSeverity) || b.severity,
    };
    if (isEvidence(b)) {
      evidence.push({ ...base, behavior: b, detector: detectorFor(b.evidence) });
      return;
    }
    const m = metricIndex(b.metric);
    const st = b.criteria.statisticalThreshold;
    let stat: CompiledRule['stat'] = null;
    if (st?.statistic === 'mad') stat = { kind: 'mad', mads: st.mads!, k: st.mads! / 1.4826 }; // k in sigmas: the baseline keeps 1.4826 MAD
    else if (st) {
      const p = Number(st.statistic.slice(1)) / 100;
      stat = { kind: 'quantile', scope: st.scope, p, label: st.statistic, multiplier: st.multiplier ?? 1, level: st.scope === 'device' ? levels[m].indexOf(p) : -1 };
    }
    const cmp = CMP[b.criteria.comparisonOperator];
    rules.push({
      ...base,
      behavior: b,
      slot: rules.length,
      metric: m,
      cmp,
      upward: cmp === CMP_GT || cmp === CMP_GTE,
      value: b.criteria.value ? b.criteria.value.count : null,
      stat,
      minBucketSamples: stat?.kind === 'quantile' && stat.scope === 'device'
        ? Math.max(c.timeOfDay.minBucketSamples, Math.ceil(10 / (1 - Math.min(stat.p, 0.999))))
        : c.timeOfDay.minBucketSamples,
      suppressShare: b.suppressWhenGroupShare ?? Infinity,
    });
  });
  return { rules, evidence, names: c.behaviors.map((b) => b.name), levels };
}

export function breaches(cmp: number, observed: number, threshold: number): boolean {
  switch (cmp) {
    case CMP_GT: return observed > threshold;
    case CMP_GTE: return observed >= threshold;
    case CMP_LT: return observed < threshold;
    default: return observed <= threshold;
  }
}

export { SEVERITIES };
