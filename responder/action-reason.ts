// The sentence of an ActionEvent: what was (or was not) done to which device, why not if not, and the
// anomaly and policy rule behind it, so a person reading tapwatch-actions needs no other document.

import type { ActionEvent } from '../contracts/action-event.js';
import type { AnomalyEvent } from '../contracts/anomaly-event.js';
import { formatValue } from '../analyzer/explain.js';
import type { Metric } from '../analyzer/features.js';
import type { ActiveAction } from './ledger.js';
import type { Decision } from './policy.js';

/** The result of a decision, with what its sentence needs to say why. */
export type Because =
  | { result: 'applied' }
  | { result: 'dry-run' }
  | { result: 'skipped-no-imsi' }
  | { result: 'skipped-allowlist'; entry: string }
  | { result: 'skipped-cooldown'; last: { at: number; action: string }; cooldownSeconds: number }
  | { result: 'suppressed-breaker'; why: string }
  | { result: 'failed'; error: string };

function lead(b: Because): string {
  switch (b.result) {
    case 'applied':
      return 'Applied';
    case 'dry-run':
      return 'Dry run, not applied';
    case 'skipped-allowlist':
      return `Skipped, the device is on the allowlist ('${b.entry}')`;
    case 'skipped-cooldown':
      return `Skipped, within the ${b.cooldownSeconds} s cooldown after the ${b.last.action} of ${new Date(b.last.at).toISOString()}`;
    case 'skipped-no-imsi':
      return 'Skipped, the anomaly has no IMSI to address the control API with';
    case 'suppressed-breaker':
      return `Suppressed, the circuit breaker is open (${b.why}); no device is acted on until it closes, and this is its one alert`;
    case 'failed':
      return `Failed (${b.error})`;
  }
}

type Target = Pick<ActionEvent, 'action' | 'device' | 'speed_class' | 'group_id'>;

function what(t: Target): string {
  const dev = `device ${t.device.id}`;
  switch (t.action) {
    case 'notify':
      return `notify about ${dev}, no change to it`;
    case 'throttle':
      return `throttle ${dev} to speed class ${t.speed_class}`;
    case 'redirect':
      return `redirect ${dev} to quarantine group ${t.group_id}`;
    default:
      return `block ${dev} (deactivate its SIM)`;
  }
}

function anomalyPhrase(a: AnomalyEvent): string {
  const m = a.metric as Metric;
  return `anomaly ${a.event_id} (${a.behavior}, ${a.severity}, ${a.detector}: ${a.metric} ${formatValue(m, a.observed)} against threshold ${formatValue(m, a.threshold)})`;
}

/** "Applied: throttle device meter-1 to speed class s1.minimum; for anomaly … under policy rule 'medium'. Released at … at the latest." */
export function actionReason(t: Target & Pick<ActionEvent, 'expires_at'>, because: Because, anomaly: AnomalyEvent, d: Decision): string {
  const ttl = t.expires_at && (because.result === 'applied' || because.result === 'dry-run') ? ` Released at ${t.expires_at} at the latest.` : '';
  const why = d.instead ? ` It is ${t.action === 'notify' ? 'a notification' : `a ${t.action}`} because ${d.instead}.` : '';
  const kept = d.action === 'throttle' && d.ruleSpeedClass ? ` The throttle in force is stricter than the rule's ${d.ruleSpeedClass}: a second throttle never loosens it.` : '';
  return `${lead(because)}: ${what(t)}; for ${anomalyPhrase(anomaly)} under policy rule '${d.rule.name}'.${why}${kept}${ttl}`;
}

/** A release is applied, recorded in a dry run, or failed; nothing holds it back. */
export type ReleaseBecause = Extract<Because, { result: 'applied' | 'dry-run' | 'failed' }>;

/** What starts a release: the alarm behind the action cleared, or its TTL ran out. */
export type ReleaseTrigger = { cleared: AnomalyEvent } | { expiredAt: number };

/** What a release puts back, in words. */
function restored(a: ActiveAction): string {
  const p = a.previous;
  if (!p) return 'its state before';
  if (a.action === 'throttle') return `speed class ${p.speed_class}`;
  if (a.action === 'redirect') return p.group_id === null ? 'no group' : `group ${p.group_id}`;
  return p.status === 'active' ? 'status active' : `nothing: it was ${p.status} before the block`;
}

/** "Applied: release the throttle of device meter-1 (action …), back to speed class s1.fast; its TTL ran out at …." */
export function releaseReason(a: ActiveAction, because: ReleaseBecause, trigger: ReleaseTrigger): string {
  const cause = 'cleared' in trigger ? `the ${trigger.cleared.behavior} alarm cleared (${trigger.cleared.event_id})` : `its TTL ran out at ${new Date(trigger.expiredAt).toISOString()}`;
  return `${lead(because)}: release the ${a.action} of device ${a.device.id} (action ${a.action_id}${a.rule ? `, policy rule '${a.rule}'` : ''}), back to ${restored(a)}; ${cause}.`;
}
