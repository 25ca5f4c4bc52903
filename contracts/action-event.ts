// The ActionEvent: one per decision of the responder about one device (an action taken, recorded in a
// dry run, skipped and why, or undone), on topic tapwatch.actions keyed by device id. Defined once,
// as a TypeBox schema from which the type is derived and with which it is validated; the responder's
// ledger is rebuilt from these events, and the indexer writes them to tapwatch-actions.

import { createHash } from 'node:crypto';
import { Type, type Static } from 'typebox';
import { SPEED_CLASSES, SUBSCRIBER_STATUSES } from './control-api.js';
import { AnomalyEventSchema, type AnomalyEvent } from './anomaly-event.js';
import { RESPONSE_ACTIONS } from './policy.schema.js';
import { validator } from './validate.js';

export const ACTION_SCHEMA_ID = 'tapwatch.action.v1';

export const ACTION_TYPES = [...RESPONSE_ACTIONS, 'release'] as const;
export type ActionType = (typeof ACTION_TYPES)[number];

export const ACTION_RESULTS = ['applied', 'dry-run', 'skipped-allowlist', 'skipped-cooldown', 'skipped-no-imsi', 'suppressed-breaker', 'failed'] as const;
export type ActionResult = (typeof ACTION_RESULTS)[number];

const ENFORCEMENTS = ['throttle', 'redirect', 'block'] as const;
const ActionIdSchema = Type.String({ pattern: '^[0-9a-f]{32}$', description: 'hash of device id, cause id and action type' });
const SpeedClass = Type.Enum(SPEED_CLASSES);
/** The AnomalyEvent's own definitions of the parts an ActionEvent repeats (contracts/anomaly-event.ts). */
const anomaly = AnomalyEventSchema.properties;
const fromAnomaly = <K extends keyof AnomalyEvent>(k: K & keyof typeof anomaly) => Type.Unsafe<AnomalyEvent[K]>(anomaly[k]);

export const PreviousStateSchema = Type.Object(
  { status: Type.Enum(SUBSCRIBER_STATUSES), speed_class: SpeedClass, group_id: Type.Union([Type.String(), Type.Null()]) },
  { additionalProperties: false, description: 'The subscriber fields an action changes, as they were before it: what its release puts back.' },
);
export type PreviousState = Static<typeof PreviousStateSchema>;

export const AnomalyRefSchema = Type.Object(
  {
    event_id: fromAnomaly('event_id'),
    behavior: fromAnomaly('behavior'),
    detector: fromAnomaly('detector'),
    severity: fromAnomaly('severity'),
    metric: fromAnomaly('metric'),
    observed: Type.Number(),
    threshold: Type.Number(),
    // The anomaly's time, which the responder's ledger needs to tell whether a clear comes after the alarm it
    // acted on (a clear delivered again must not release a newer alarm's action). Optional: events written
    // before it still validate.
    '@timestamp': Type.Optional(fromAnomaly('@timestamp')),
  },
  { additionalProperties: false },
);

/** What must be present for some results and actions: kept beside the schema that says it, so a
 *  validation error can say which condition an event broke. */
const CONDITIONS = [
  { when: { result: 'failed' }, require: 'error' },
  { when: { action: 'release' }, require: 'releases' },
  { when: { action: { not: 'release' } }, require: 'anomaly' },
  { when: { action: { not: 'release' } }, require: 'rule' },
  { when: { action: 'throttle' }, require: 'speed_class' },
  { when: { action: 'redirect' }, require: 'group_id' },
] as const;

export const ActionEventSchema = Type.Object(
  {
    schema: Type.Literal(ACTION_SCHEMA_ID),
    /** actionId(device, cause, action): the Idempotency-Key of the API call, the same on every retry and restart. */
    action_id: ActionIdSchema,
    '@timestamp': Type.String({ format: 'date-time', description: 'when it was decided, on the clock the responder was given' }),
    device: fromAnomaly('device'),
    action: Type.Enum(ACTION_TYPES),
    result: Type.Enum(ACTION_RESULTS),
    reason: Type.String({ minLength: 1 }),
    rule: Type.Optional(Type.String({ minLength: 1, description: 'the policy rule that chose the action (for a release, the rule of the action released)' })),
    anomaly: Type.Optional(AnomalyRefSchema),
    speed_class: Type.Optional(Type.Enum(SPEED_CLASSES, { description: 'throttle: the class set; release of a throttle: the class restored' })),
    group_id: Type.Optional(Type.String({ minLength: 1, description: 'redirect: the group set; release of a redirect: the group restored' })),
    previous: Type.Optional(PreviousStateSchema),
    releases: Type.Optional(Type.Object({ action_id: ActionIdSchema, action: Type.Enum(ENFORCEMENTS) }, { additionalProperties: false, description: 'for a release: the action it undoes' })),
    expires_at: Type.Optional(Type.String({ format: 'date-time', description: 'when the action is released unless released before' })),
    actor: Type.String({ minLength: 1 }),
    enforcer: Type.Optional(Type.String({ minLength: 1, description: 'what carried the action out (the control API); absent for notify' })),
    dry_run: Type.Boolean(),
    error: Type.Optional(Type.Object({ message: Type.String({ minLength: 1 }) }, { additionalProperties: false })),
  },
  {
    $id: 'https://tapwatch.dev/schema/action-event.v1.json',
    title: 'tapwatch ActionEvent',
    description: 'One decision of the responder about one device: an action taken, recorded in a dry run, skipped, suppressed, failed, or undone.',
    additionalProperties: false,
    allOf: CONDITIONS.map(({ when, require }) => ({
      if: { properties: Object.fromEntries(Object.entries(when).map(([k, v]) => [k, typeof v === 'string' ? { const: v } : { not: { const: v.not } }])), required: Object.keys(when) },
      then: { required: [require] },
    })),
  },
);
export type ActionEvent = Static<typeof ActionEventSchema>;

const actionEventValidator = validator(ActionEventSchema);

/** null when the event matches the schema, else the problems on one line; a broken condition says which. */
export function actionEventErrors(event: unknown): string | null {
  const problems = actionEventValidator.problems(event);
  if (problems.length === 0) return null;
  const ev = (event ?? {}) as Record<string, unknown>;
  const broken = CONDITIONS.filter(({ when, require }) => ev[require] === undefined && Object.entries(when).every(([k, v]) => (typeof v === 'string' ? ev[k] === v : ev[k] !== v.not)));
  // The schema's own line for a condition ("must match then schema") says less than this one.
  return [
    ...problems.filter((p) => !/must match "then" schema/.test(p)),
    ...broken.map(({ when, require }) => `/ must have required property '${require}' (${Object.entries(when).map(([k, v]) => `${k} ${typeof v === 'string' ? v : `not ${v.not}`}`).join(', ')})`),
  ].join('; ');
}

/**
 * The deterministic id of an action: a hash of the device, what caused it (the anomaly's event_id, or the
 * action_id of the action a release undoes) and the action type. The same anomaly redelivered, retried or
 * replayed after a restart gets the same id, so the control API applies it once.
 */
export function actionId(deviceId: string, causeId: string, action: ActionType | string): string {
  return createHash('sha256').update(`${deviceId}\n${causeId}\n${action}`).digest('hex').slice(0, 32);
}

/** What an ActionEvent keeps of the anomaly behind it. */
export function anomalyRef(e: AnomalyEvent): NonNullable<ActionEvent['anomaly']> {
  return { event_id: e.event_id, behavior: e.behavior, detector: e.detector, severity: e.severity, metric: e.metric, observed: e.observed, threshold: e.threshold, '@timestamp': e['@timestamp'] };
}
