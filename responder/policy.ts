// The response policy: loading and validation (JSON Schema first, then what a schema cannot say), and
// the decision it makes for one anomaly. Pure: no clock, no I/O beyond reading the file.

import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import type { SpeedClass } from '../control/model.js';
import type { AnomalyEvent, Detector } from '../contracts/anomaly-event.js';
import { bundledFile, schemaProblems } from '../contracts/config-files.js';
import { POLICY_SCHEMA, RESPONSE_ACTIONS } from '../contracts/policy.schema.js';
import { SEVERITIES } from '../contracts/rules.schema.js';
import type { Severity } from '../analyzer/rules.js';
import type { ErrorCode } from '../contracts/errors.js';

export type ResponseAction = (typeof RESPONSE_ACTIONS)[number];
/** The actions that change a subscriber, and so can be released. */
export type Enforcement = Exclude<ResponseAction, 'notify'>;

export interface PolicyRule {
  name: string;
  description?: string;
  severity?: Severity[];
  behavior?: string[];
  detector?: Detector[];
  action: ResponseAction;
  speedClass?: SpeedClass;
  groupId?: string;
  releaseAfterSeconds?: number | null;
}

export interface Policy {
  $comment?: string;
  dryRun: boolean;
  throttleSpeedClass: SpeedClass;
  quarantineGroupId: string | null;
  cooldownSeconds: number;
  releaseAfterSeconds: number | null;
  releaseOnClear: boolean;
  allowlist: string[];
  breaker: { maxActionsPerMinute: number; maxFleetPercent: number };
  rules: PolicyRule[];
}

/** What the policy asks for one anomaly: the rule that matched and the action with its parameters. */
export type Decision = { rule: PolicyRule; releaseAfterSeconds: number | null } & (
  | { action: 'notify' }
  | { action: 'throttle'; speedClass: SpeedClass }
  | { action: 'redirect'; groupId: string }
  /** `instead`: why a redirect became a block (no quarantine group configured). */
  | { action: 'block'; instead?: string }
);

export class PolicyError extends Error {
  readonly code: ErrorCode = 'TWP0001';
  constructor(readonly problems: string[], source = 'response policy') {
    super(`${source} is invalid:\n  - ${problems.join('\n  - ')}`);
    this.name = 'PolicyError';
  }
}

let validator: ValidateFunction | null = null;

/** Schema and semantic problems, each naming where it is ("rules[2] 'medium': ..."); empty when valid. */
export function policyProblems(policy: unknown): string[] {
  validator ??= new Ajv({ allErrors: true, strict: true }).compile(POLICY_SCHEMA);
  if (!validator(policy)) return schemaProblems(validator.errors, policy, 'rules');
  const p = policy as Policy;
  const problems: string[] = [];
  const names = new Set<string>();
  p.rules.forEach((r, i) => {
    const at = `rules[${i}] '${r.name}':`;
    if (names.has(r.name)) problems.push(`${at} the name is used twice`);
    names.add(r.name);
    if (r.speedClass !== undefined && r.action !== 'throttle') problems.push(`${at} speedClass goes with action throttle, not ${r.action}`);
    if (r.groupId !== undefined && r.action !== 'redirect') problems.push(`${at} groupId goes with action redirect, not ${r.action}`);
  });
  // Every event must meet some rule, or an anomaly would pass without a record of what was decided.
  for (const s of SEVERITIES) {
    if (!p.rules.some((r) => !r.behavior && !r.detector && (!r.severity || r.severity.includes(s)))) {
      problems.push(`no rule catches every ${s} event (one without behavior or detector conditions): add one, e.g. { "name": "${s}", "severity": ["${s}"], "action": "notify" }`);
    }
  }
  return problems;
}

export function validatePolicy(policy: unknown, source?: string): Policy {
  const problems = policyProblems(policy);
  if (problems.length > 0) throw new PolicyError(problems, source);
  return policy as Policy;
}

export function loadPolicy(path: string): Policy {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new PolicyError([(e as Error).message], path);
  }
  return validatePolicy(parsed, path);
}

export function defaultPolicy(): Policy {
  return loadPolicy(bundledFile('responder', 'policy.default.json', (problem) => new PolicyError([problem])));
}

const matches = <T>(list: readonly T[] | undefined, value: T): boolean => list === undefined || list.includes(value);

/** The first rule that matches the event, with its action resolved against the policy's settings. */
export function decide(policy: Policy, event: AnomalyEvent): Decision {
  const rule = policy.rules.find((r) => matches(r.severity, event.severity) && matches(r.behavior, event.behavior) && matches(r.detector, event.detector));
  // validatePolicy guarantees a fallback rule per severity.
  if (!rule) throw new Error(`no policy rule matches ${event.severity} event ${event.event_id}; was the policy validated?`);
  const releaseAfterSeconds = rule.releaseAfterSeconds !== undefined ? rule.releaseAfterSeconds : policy.releaseAfterSeconds;
  const base = { rule, releaseAfterSeconds };
  switch (rule.action) {
    case 'notify':
      return { ...base, action: 'notify', releaseAfterSeconds: null };
    case 'throttle':
      return { ...base, action: 'throttle', speedClass: rule.speedClass ?? policy.throttleSpeedClass };
    case 'redirect': {
      const groupId = rule.groupId ?? policy.quarantineGroupId;
      return groupId !== null ? { ...base, action: 'redirect', groupId } : { ...base, action: 'block', instead: 'no quarantine group is configured for redirect' };
    }
    case 'block':
      return { ...base, action: 'block' };
  }
}

/** The allowlist entry that exempts the device (its id, IMSI or IP), or null. */
export function allowlisted(policy: Policy, device: AnomalyEvent['device']): string | null {
  return policy.allowlist.find((entry) => entry === device.id || entry === device.imsi || entry === device.ip) ?? null;
}
