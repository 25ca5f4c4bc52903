// JSON Schema (draft-07) of the response policy file (policy.default.json is the default): what the
// responder does about an anomaly. policy.ts adds the checks a schema cannot express (rule names
// unique, a fallback rule for every severity, options only on the action they belong to).

import { SPEED_CLASSES } from '../control/model.js';
import { ANOMALY_EVENT_SCHEMA } from './anomaly-event.js';
import { SEVERITIES } from './rules.schema.js';

/** What a rule can ask for. notify records the anomaly for a person and calls nothing. */
export const RESPONSE_ACTIONS = ['notify', 'throttle', 'redirect', 'block'] as const;

const seconds = { type: 'integer', minimum: 1, maximum: 604_800 } as const; // a week: the ledger's horizon (ledger.ts)
const ttl = { anyOf: [seconds, { type: 'null' }] } as const;
const nonEmpty = { type: 'string', minLength: 1 } as const;
const listOf = (item: object) => ({ type: 'array', minItems: 1, uniqueItems: true, items: item }) as const;

export const POLICY_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://tapwatch.dev/schema/response-policy.v1.json',
  title: 'tapwatch response policy',
  type: 'object',
  additionalProperties: false,
  required: ['dryRun', 'throttleSpeedClass', 'quarantineGroupId', 'cooldownSeconds', 'releaseAfterSeconds', 'releaseOnClear', 'allowlist', 'breaker', 'rules'],
  properties: {
    $comment: { type: 'string' },
    dryRun: { type: 'boolean', description: 'decide and record, never call the control API' },
    throttleSpeedClass: { enum: [...SPEED_CLASSES], description: 'the speed class throttle sets, unless a rule says otherwise' },
    quarantineGroupId: { anyOf: [nonEmpty, { type: 'null' }], description: 'the group redirect moves a subscriber to; without one, redirect blocks' },
    cooldownSeconds: { type: 'integer', minimum: 0, maximum: 604_800, description: 'no second action on a device within this long of the last one' },
    releaseAfterSeconds: { ...ttl, description: 'undo an action this long after it (null: only on clear, or by hand)' },
    releaseOnClear: { type: 'boolean', description: "undo an action when the alarm that caused it clears" },
    allowlist: { type: 'array', uniqueItems: true, items: nonEmpty, description: 'device ids, IMSIs and IP addresses never acted on' },
    breaker: {
      type: 'object',
      additionalProperties: false,
      required: ['maxActionsPerMinute', 'maxFleetPercent'],
      properties: {
        maxActionsPerMinute: { type: 'integer', minimum: 1 },
        maxFleetPercent: { type: 'number', exclusiveMinimum: 0, maximum: 100, description: 'of the known fleet under action at once' },
      },
    },
    rules: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'action'],
        properties: {
          name: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]*$', maxLength: 64 },
          description: { type: 'string' },
          // A rule matches an event when every list it has contains the event's value; the first match wins.
          severity: listOf({ enum: [...SEVERITIES] }),
          behavior: listOf(nonEmpty),
          detector: listOf(ANOMALY_EVENT_SCHEMA.properties.detector),
          action: { enum: [...RESPONSE_ACTIONS] },
          speedClass: { enum: [...SPEED_CLASSES], description: 'throttle only: instead of throttleSpeedClass' },
          groupId: { ...nonEmpty, description: 'redirect only: instead of quarantineGroupId' },
          releaseAfterSeconds: { ...ttl, description: "instead of the policy's releaseAfterSeconds" },
        },
      },
    },
  },
} as const;
