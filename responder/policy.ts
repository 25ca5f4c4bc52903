// The response policy: loading and validation (the schema in contracts/policy.schema.ts, then what a
// schema cannot say), and the decision it makes for one anomaly. Pure: no clock, no I/O beyond
// reading the file.

import { readFileSync } from 'node:fs';
import { SPEED_CLASS_KBPS, type SpeedClass } from '../contracts/control-api.js';
import type { AnomalyEvent } from '../contracts/anomaly-event.js';
import { bundledFile } from '../contracts/config-files.js';
import type { ErrorCode } from '../contracts/errors.js';
import { policyValidator, type Policy, type PolicyRule, type ResponseAction } from '../contracts/policy.schema.js';
import { SEVERITIES } from '../contracts/rules.schema.js';
import { AddressError, canonicalOrNull, looksLikeAddress, parseAddress } from '../net/address.js';

export type { Policy, PolicyRule, ResponseAction };
/** The actions that change a subscriber, and so can be released. */
export type Enforcement = Exclude<ResponseAction, 'notify'>;

/** What the policy asks for one anomaly: the rule that matched and the action with its parameters.
 *  `instead`: why the action is not the rule's own (a redirect without a quarantine group).
 *  `ruleSpeedClass`: the class the rule asked for, when a stricter throttle in force is kept instead (responder.ts). */
export type Decision = { rule: PolicyRule; releaseAfterSeconds: number | null; instead?: string } & (
  | { action: 'notify' }
  | { action: 'throttle'; speedClass: SpeedClass; ruleSpeedClass?: SpeedClass }
  | { action: 'redirect'; groupId: string }
  | { action: 'block' }
);

export class PolicyError extends Error {
  readonly code: ErrorCode = 'TWP0001';
  constructor(readonly problems: string[], source = 'response policy') {
    super(`${source} is invalid:\n  - ${problems.join('\n  - ')}`);
    this.name = 'PolicyError';
  }
}

/** Schema and semantic problems, each naming where it is ("rules[2] 'medium': ..."); empty when valid. */
export function policyProblems(policy: unknown): string[] {
  const schema = policyValidator.problems(policy, { list: 'rules' });
  if (schema.length > 0) return schema;
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
  // An allowlisted address that is ambiguous would never match its device: refused, like the inventory's.
  p.allowlist.forEach((entry, i) => {
    if (!looksLikeAddress(entry)) return;
    const a = parseAddress(entry);
    if (a instanceof AddressError) problems.push(`allowlist[${i}]: ${a.message}`);
  });
  return problems;
}

/** The policy, checked, with its addresses in canonical form and its defaults filled in. */
export function validatePolicy(policy: unknown, source?: string): Policy {
  const problems = policyProblems(policy);
  if (problems.length > 0) throw new PolicyError(problems, source);
  const p = policy as Policy;
  return { ...p, redirectFallback: p.redirectFallback ?? 'throttle', allowlist: p.allowlist.map((e) => (looksLikeAddress(e) ? canonicalOrNull(e)! : e)) };
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

/** Whether class `a` lets less through than `b`: speed classes are ordered by the rate each allows (SORACOM's
 *  published speeds, SPEED_CLASS_KBPS), not by name; two classes of one rate are as strict as each other. */
export const stricter = (a: SpeedClass, b: SpeedClass): boolean => SPEED_CLASS_KBPS[a] < SPEED_CLASS_KBPS[b];

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
      return groupId !== null ? { ...base, action: 'redirect', groupId } : withoutQuarantine(policy, base);
    }
    case 'block':
      return { ...base, action: 'block' };
  }
}

/** A redirect with no group to redirect to: what the policy's redirectFallback says (throttle by default). */
function withoutQuarantine(policy: Policy, base: { rule: PolicyRule; releaseAfterSeconds: number | null }): Decision {
  const instead = 'no quarantine group is configured for redirect';
  switch (policy.redirectFallback ?? 'throttle') {
    case 'throttle':
      return { ...base, action: 'throttle', speedClass: policy.throttleSpeedClass, instead };
    case 'notify':
      return { ...base, action: 'notify', releaseAfterSeconds: null, instead };
    case 'block':
      return { ...base, action: 'block', instead };
  }
}

/** The allowlist entry that exempts the device (its id, IMSI or IP in any spelling), or null. */
export function allowlisted(policy: Policy, device: AnomalyEvent['device']): string | null {
  const ip = canonicalOrNull(device.ip) ?? device.ip;
  return policy.allowlist.find((entry) => entry === device.id || entry === device.imsi || entry === ip) ?? null;
}
