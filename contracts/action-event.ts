// The ActionEvent: one per decision of the responder about one device (an action taken, recorded in a
// dry run, skipped and why, or undone), on topic tapwatch.actions keyed by device id. Defined once
// here with its JSON Schema; the responder's ledger is rebuilt from these events, and the indexer
// writes them to tapwatch-actions (dashboards/to-document.ts).

import { createHash } from 'node:crypto';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { SPEED_CLASSES, SUBSCRIBER_STATUSES, type SpeedClass, type SubscriberStatus } from '../control/model.js';
import { ANOMALY_EVENT_SCHEMA, type AnomalyEvent } from './anomaly-event.js';
import { RESPONSE_ACTIONS } from './policy.schema.js';
import type { Enforcement } from '../responder/policy.js';

export const ACTION_SCHEMA_ID = 'tapwatch.action.v1';

export const ACTION_TYPES = [...RESPONSE_ACTIONS, 'release'] as const;
export type ActionType = (typeof ACTION_TYPES)[number];

export const ACTION_RESULTS = ['applied', 'dry-run', 'skipped-allowlist', 'skipped-cooldown', 'skipped-no-imsi', 'suppressed-breaker', 'failed'] as const;
export type ActionResult = (typeof ACTION_RESULTS)[number];

/** The subscriber fields an action changes, as they were before it: what its release puts back. */
export interface PreviousState {
  status: SubscriberStatus;
  speed_class: SpeedClass;
  group_id: string | null;
}

export interface ActionEvent {
  schema: typeof ACTION_SCHEMA_ID;
  /** actionId(device, cause, action): the Idempotency-Key of the API call, the same on every retry and restart. */
  action_id: string;
  '@timestamp': string; // when it was decided, on the clock the responder was given
  device: AnomalyEvent['device'];
  action: ActionType;
  result: ActionResult;
  reason: string;
  /** The policy rule that chose the action (for a release, the rule of the action released). */
  rule?: string;
  /** The anomaly that triggered it: the in-alarm event, or for a release on clear the alarm-cleared one. */
  anomaly?: Pick<AnomalyEvent, 'event_id' | 'behavior' | 'detector' | 'severity' | 'metric' | 'observed' | 'threshold'>;
  /** throttle: the class set; release of a throttle: the class restored. */
  speed_class?: SpeedClass;
  /** redirect: the group set; release of a redirect: the group restored. */
  group_id?: string;
  previous?: PreviousState;
  /** For a release: the action it undoes. */
  releases?: { action_id: string; action: Enforcement };
  /** When a TTL applies: when the action is released unless released before. */
  expires_at?: string;
  actor: string;
  /** What carried the action out (the control API); absent for notify. */
  enforcer?: string;
  dry_run: boolean;
  error?: { message: string };
}

/**
 * The deterministic id of an action: a hash of the device, what caused it (the anomaly's event_id, or the
 * action_id of the action a release undoes) and the action type. The same anomaly redelivered, retried or
 * replayed after a restart gets the same id, so the control API applies it once.
 */
export function actionId(deviceId: string, causeId: string, action: ActionType): string {
  return createHash('sha256').update(`${deviceId}\n${causeId}\n${action}`).digest('hex').slice(0, 32);
}

/** What an ActionEvent keeps of the anomaly behind it. */
export function anomalyRef(e: AnomalyEvent): NonNullable<ActionEvent['anomaly']> {
  return { event_id: e.event_id, behavior: e.behavior, detector: e.detector, severity: e.severity, metric: e.metric, observed: e.observed, threshold: e.threshold };
}

const num = { type: 'number' } as const;
const anomaly = ANOMALY_EVENT_SCHEMA.properties;
const enforcements = RESPONSE_ACTIONS.filter((a) => a !== 'notify');

export const ACTION_EVENT_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://tapwatch.dev/schema/action-event.v1.json',
  title: 'tapwatch ActionEvent',
  description: 'One decision of the responder about one device: an action taken, recorded in a dry run, skipped, suppressed, failed, or undone.',
  type: 'object',
  additionalProperties: false,
  required: ['schema', 'action_id', '@timestamp', 'device', 'action', 'result', 'reason', 'actor', 'dry_run'],
  properties: {
    schema: { const: ACTION_SCHEMA_ID },
    action_id: { type: 'string', pattern: '^[0-9a-f]{32}$', description: 'hash of device id, cause id and action type' },
    '@timestamp': { type: 'string', format: 'date-time' },
    device: anomaly.device,
    action: { enum: [...ACTION_TYPES] },
    result: { enum: [...ACTION_RESULTS] },
    reason: { type: 'string', minLength: 1 },
    rule: { type: 'string', minLength: 1 },
    anomaly: {
      type: 'object',
      additionalProperties: false,
      required: ['event_id', 'behavior', 'detector', 'severity', 'metric', 'observed', 'threshold'],
      properties: { event_id: anomaly.event_id, behavior: anomaly.behavior, detector: anomaly.detector, severity: anomaly.severity, metric: anomaly.metric, observed: num, threshold: num },
    },
    speed_class: { enum: [...SPEED_CLASSES] },
    group_id: { type: 'string', minLength: 1 },
    previous: {
      type: 'object',
      additionalProperties: false,
      required: ['status', 'speed_class', 'group_id'],
      properties: { status: { enum: [...SUBSCRIBER_STATUSES] }, speed_class: { enum: [...SPEED_CLASSES] }, group_id: { type: ['string', 'null'] } },
    },
    releases: {
      type: 'object',
      additionalProperties: false,
      required: ['action_id', 'action'],
      properties: { action_id: { type: 'string', pattern: '^[0-9a-f]{32}$' }, action: { enum: enforcements } },
    },
    expires_at: { type: 'string', format: 'date-time' },
    actor: { type: 'string', minLength: 1 },
    enforcer: { type: 'string', minLength: 1 },
    dry_run: { type: 'boolean' },
    error: { type: 'object', additionalProperties: false, required: ['message'], properties: { message: { type: 'string', minLength: 1 } } },
  },
  allOf: [
    { if: { properties: { result: { const: 'failed' } } }, then: { required: ['error'] } },
    { if: { properties: { action: { const: 'release' } } }, then: { required: ['releases'] }, else: { required: ['anomaly', 'rule'] } },
    { if: { properties: { action: { const: 'throttle' } } }, then: { required: ['speed_class'] } },
    { if: { properties: { action: { const: 'redirect' } } }, then: { required: ['group_id'] } },
  ],
} as const;

let validator: ValidateFunction | null = null;

/** null when the event matches the schema, else the errors on one line. */
export function actionEventErrors(event: unknown): string | null {
  if (validator === null) {
    // strictRequired off: the conditional `required`s of allOf name properties the top level defines.
    const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
    addFormats.default(ajv);
    validator = ajv.compile(ACTION_EVENT_SCHEMA);
  }
  if (validator(event)) return null;
  return (validator.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
}
