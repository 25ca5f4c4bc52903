// The response policy file (responder/policy.default.json is the default): what the responder does
// about an anomaly. Defined once, as a TypeBox schema from which the Policy type is derived and with
// which the file is validated (contracts/validate.ts); responder/policy.ts adds the checks a schema
// cannot express (rule names unique, a fallback rule for every severity, options only on the action
// they belong to, addresses in the allowlist in canonical form).

import { Type, type Static } from 'typebox';
import { GROUP_ID_PATTERN, SPEED_CLASSES } from './control-api.js';
import { AnomalyEventSchema, type Detector } from './anomaly-event.js';
import { SEVERITIES } from './rules.schema.js';
import { validator } from './validate.js';

/** What a rule can ask for. notify records the anomaly and delivers it to the notification channels; it changes nothing. */
export const RESPONSE_ACTIONS = ['notify', 'throttle', 'redirect', 'block'] as const;
export type ResponseAction = (typeof RESPONSE_ACTIONS)[number];
/** What redirect does when no quarantine group is configured. Never block by default: deactivating a SIM
 *  is for an operator to choose (AWS Device Defender, likewise, mitigates only as an operator set it up). */
export const REDIRECT_FALLBACKS = ['throttle', 'notify', 'block'] as const;

const Seconds = Type.Integer({ minimum: 1, maximum: 604_800 }); // a week: the ledger's horizon (ledger.ts)
const Ttl = (description: string) => Type.Union([Seconds, Type.Null()], { description });
const NonEmpty = Type.String({ minLength: 1 });
const ListOf = <T extends Parameters<typeof Type.Array>[0]>(item: T) => Type.Array(item, { minItems: 1, uniqueItems: true });
const GroupId = (description: string) => Type.String({ pattern: GROUP_ID_PATTERN, description });

export const PolicyRuleSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z0-9][a-z0-9-]*$', maxLength: 64 }),
    description: Type.Optional(Type.String()),
    // A rule matches an event when every list it has contains the event's value; the first match wins.
    severity: Type.Optional(ListOf(Type.Enum(SEVERITIES))),
    behavior: Type.Optional(ListOf(NonEmpty)),
    detector: Type.Optional(ListOf(Type.Unsafe<Detector>(AnomalyEventSchema.properties.detector))),
    action: Type.Enum(RESPONSE_ACTIONS),
    speedClass: Type.Optional(Type.Enum(SPEED_CLASSES, { description: 'throttle only: instead of throttleSpeedClass' })),
    groupId: Type.Optional(GroupId('redirect only: instead of quarantineGroupId')),
    releaseAfterSeconds: Type.Optional(Ttl("instead of the policy's releaseAfterSeconds")),
  },
  { additionalProperties: false },
);
export type PolicyRule = Static<typeof PolicyRuleSchema>;

export const PolicySchema = Type.Object(
  {
    $comment: Type.Optional(Type.String()),
    dryRun: Type.Boolean({ description: 'decide and record, never call the control API' }),
    throttleSpeedClass: Type.Enum(SPEED_CLASSES, { description: 'the speed class throttle sets, unless a rule says otherwise' }),
    quarantineGroupId: Type.Union([GroupId('the group redirect moves a subscriber to'), Type.Null()]),
    redirectFallback: Type.Optional(Type.Enum(REDIRECT_FALLBACKS, { description: 'what redirect does when it has no group (default throttle)' })),
    cooldownSeconds: Type.Integer({ minimum: 0, maximum: 604_800, description: 'no second action on a device within this long of the last one' }),
    releaseAfterSeconds: Ttl('undo an action this long after it (null: only on clear, or by hand)'),
    releaseOnClear: Type.Boolean({ description: 'undo an action when the alarm that caused it clears' }),
    allowlist: Type.Array(NonEmpty, { uniqueItems: true, description: 'device ids, IMSIs and IP addresses never acted on' }),
    breaker: Type.Object(
      {
        maxActionsPerMinute: Type.Integer({ minimum: 1 }),
        maxFleetPercent: Type.Number({ exclusiveMinimum: 0, maximum: 100, description: 'of the known fleet under action at once' }),
      },
      { additionalProperties: false },
    ),
    rules: Type.Array(PolicyRuleSchema, { minItems: 1 }),
  },
  { additionalProperties: false, $id: 'https://tapwatch.dev/schema/response-policy.v1.json', title: 'tapwatch response policy' },
);
export type Policy = Static<typeof PolicySchema>;

export const policyValidator = validator(PolicySchema);
