// The control API's boundary, defined once: every body, response, parameter and query the API takes
// or gives, as TypeBox schemas from which the TypeScript types are derived. The server's routes use
// these schemas (so fastify validates with them and the OpenAPI document shows them), the client
// validates what it receives with them (contracts/validate.ts), and the inventory and the policy take
// their group id and IMSI patterns from here. SORACOM's shapes (shared/notes/spec.md §1d), the subset
// tapwatch keeps, plus what tapwatch adds (groups' tapwatch configuration, audit, import, keys).

import { Type, type Static } from 'typebox';
import { validator } from './validate.js';
import { GROUP_ID_PATTERN, IMSI_PATTERN } from './identifiers.js';

/** Where `tapwatch control serve` listens unless told otherwise, and where `tapwatch respond` looks for it. */
export const DEFAULT_CONTROL_PORT = 8700;

/** SORACOM's subscriber statuses; `inactive` is what deactivate sets (no data), `active` what activate sets. */
export const SUBSCRIBER_STATUSES = ['ready', 'active', 'inactive', 'standby', 'suspended', 'terminated'] as const;
export type SubscriberStatus = (typeof SUBSCRIBER_STATUSES)[number];

/** SORACOM speed classes (plan-US s1.*, plan-DU u1.*). */
export const SPEED_CLASSES = ['s1.minimum', 's1.slow', 's1.standard', 's1.fast', 's1.4xfast', 's1.8xfast', 'u1.slow', 'u1.standard'] as const;
export type SpeedClass = (typeof SPEED_CLASSES)[number];
/** The rate each class allows, in kbit/s, as the nftables enforcer applies them (SORACOM's published speeds). */
export const SPEED_CLASS_KBPS: Readonly<Record<SpeedClass, number>> = {
  's1.minimum': 32,
  's1.slow': 128,
  's1.standard': 512,
  's1.fast': 2048,
  's1.4xfast': 8192,
  's1.8xfast': 16384,
  'u1.slow': 1024,
  'u1.standard': 16384,
};
/** The class a subscriber has unless throttled: the fastest, which the enforcer does not limit. */
export const UNTHROTTLED_SPEED_CLASS: SpeedClass = 's1.8xfast';

/** Roles in the manner of SORACOM SAM: read-only reads, analyzer also acts on subscribers, operator does everything. */
export const ROLES = ['read-only', 'operator', 'analyzer'] as const;
export type Role = (typeof ROLES)[number];

export { GROUP_ID_PATTERN, IMSI_PATTERN };

/** `type: [T, 'null']` rather than anyOf: one type check, and fastify's serializer stays on its fast path. */
const NullableString = (opts: object = {}) => Type.Unsafe<string | null>({ type: ['string', 'null'], ...opts });
const Millis = (description: string) => Type.Integer({ description: `${description}, ms since the epoch` });

export const Imsi = Type.String({ pattern: IMSI_PATTERN });
export const GroupId = Type.String({ pattern: GROUP_ID_PATTERN });
export const SubscriberStatusSchema = Type.Enum(SUBSCRIBER_STATUSES, { type: 'string' });
export const SpeedClassSchema = Type.Enum(SPEED_CLASSES, { type: 'string' });
export const RoleSchema = Type.Enum(ROLES, { type: 'string' });
const Tags = Type.Record(Type.String(), Type.String());

// ---- resources (registered as shared schemas: the OpenAPI document's components) ----

export const ErrorBodySchema = Type.Object(
  { code: Type.String({ description: 'a code from contracts/errors.ts (TWA0001 …)' }), message: Type.String() },
  { $id: 'Error', description: 'Every error: a code and what went wrong.' },
);
export type ErrorBody = Static<typeof ErrorBodySchema>;

export const SubscriberSchema = Type.Object(
  {
    imsi: Type.String(),
    imei: NullableString(),
    ipAddress: NullableString({ description: 'canonical text (net/address.ts)' }),
    status: SubscriberStatusSchema,
    speedClass: SpeedClassSchema,
    groupId: NullableString(),
    operatorId: Type.String(),
    tags: Type.Record(Type.String(), Type.String(), { description: 'tags.name carries the device id' }),
    createdTime: Millis('created'),
    lastModifiedTime: Millis('last changed'),
  },
  { $id: 'Subscriber', description: "A subscriber as SORACOM's API returns it (the subset tapwatch keeps)." },
);
export type Subscriber = Static<typeof SubscriberSchema>;

export const GroupTapwatchConfigSchema = Type.Object(
  {
    quarantine: Type.Boolean({ description: 'members get no traffic but to the redirect gateway, if any' }),
    redirectGateway: NullableString({ maxLength: 64, description: 'IPv4 or IPv6 next hop for the members; null: members are blocked' }),
  },
  { additionalProperties: false },
);
export type GroupTapwatchConfig = Static<typeof GroupTapwatchConfigSchema>;

export const GroupSchema = Type.Object(
  {
    groupId: Type.String(),
    operatorId: Type.String(),
    tags: Tags,
    configuration: Type.Object({ tapwatch: Type.Optional(GroupTapwatchConfigSchema) }, { description: "tapwatch's settings live under configuration.tapwatch, the way SORACOM namespaces group configuration per service" }),
    createdTime: Millis('created'),
    lastModifiedTime: Millis('last changed'),
  },
  { $id: 'Group' },
);
export type Group = Static<typeof GroupSchema>;

export const AUDIT_TARGET_TYPES = ['subscriber', 'group', 'auth_key'] as const;
const Snapshot = () => Type.Unsafe<unknown>({ type: ['object', 'null'], additionalProperties: true });

export const AuditEntrySchema = Type.Object(
  {
    id: Type.Integer(),
    time: Millis('when'),
    actor: Type.String({ description: "the authKeyId that asked, or 'local' for the CLI and in-process callers" }),
    action: Type.String({ description: "e.g. 'update_speed_class', 'create_group', 'import', 'create_auth_key'" }),
    targetType: Type.Enum(AUDIT_TARGET_TYPES, { type: 'string' }),
    targetId: Type.String(),
    reason: NullableString({ description: 'the X-Tapwatch-Reason header' }),
    before: Snapshot(),
    after: Snapshot(),
  },
  { $id: 'AuditEntry', description: 'One change: who, what, why, and the object before and after (null when created or deleted).' },
);
export type AuditEntry = Static<typeof AuditEntrySchema>;

export const AuthKeySchema = Type.Object({ authKeyId: Type.String(), name: Type.String(), role: RoleSchema, createdTime: Millis('created') }, { $id: 'AuthKey' });
export type AuthKeyInfo = Static<typeof AuthKeySchema>;

/** The components every route refers to by $ref. */
export const SHARED_SCHEMAS = [ErrorBodySchema, SubscriberSchema, GroupSchema, AuditEntrySchema, AuthKeySchema];

// ---- request bodies ----

export const DEFAULT_TOKEN_TIMEOUT_S = 86_400;
export const AuthRequestSchema = Type.Object(
  {
    authKeyId: Type.String({ minLength: 1, maxLength: 128 }),
    authKey: Type.String({ minLength: 1, maxLength: 256 }),
    // SORACOM's bounds: at least 180 s, at most two days.
    tokenTimeoutSeconds: Type.Optional(Type.Integer({ minimum: 180, maximum: 172_800, default: DEFAULT_TOKEN_TIMEOUT_S })),
  },
  { additionalProperties: false },
);
export type AuthRequest = Static<typeof AuthRequestSchema>;

export const AuthResponseSchema = Type.Object({ apiKey: Type.String(), token: Type.String(), operatorId: Type.String() });
export type AuthResponse = Static<typeof AuthResponseSchema>;

export const CreateKeyBodySchema = Type.Object({ role: RoleSchema, name: Type.Optional(Type.String({ maxLength: 128 })) }, { additionalProperties: false });
export const NewAuthKeySchema = Type.Object({ authKeyId: Type.String(), authKey: Type.String({ description: 'shown this once; only its hash is kept' }) });
export type NewAuthKey = Static<typeof NewAuthKeySchema>;

export const SpeedClassBodySchema = Type.Object({ speedClass: SpeedClassSchema }, { additionalProperties: false });
export const SetGroupBodySchema = Type.Object({ groupId: GroupId }, { additionalProperties: false });

export const CreateGroupBodySchema = Type.Object(
  { groupId: Type.Optional(GroupId), tags: Type.Optional(Type.Record(Type.String(), Type.String({ maxLength: 256 }), { maxProperties: 32 })) },
  { additionalProperties: false },
);
export type CreateGroupBody = Static<typeof CreateGroupBodySchema>;

/** A JSON registry: IMSIs and ids often arrive as numbers. */
const IdLike = Type.Union([Type.String(), Type.Integer()]);
export const ImportJsonBodySchema = Type.Array(
  Type.Object({ ip: Type.String(), id: Type.Optional(IdLike), imsi: IdLike, imei: Type.Optional(IdLike), group: Type.Optional(Type.String()) }),
);
export const ImportTextBodySchema = Type.String({ description: 'CSV with a header row naming ip (required), id, imsi, imei, group' });

export const ImportResultSchema = Type.Object({ created: Type.Integer(), updated: Type.Integer(), unchanged: Type.Integer(), groupsCreated: Type.Integer() });
export type ImportResult = Static<typeof ImportResultSchema>;

// ---- parameters, queries, headers ----

export const ImsiParamsSchema = Type.Object({ imsi: Imsi });
export const GroupIdParamsSchema = Type.Object({ groupId: GroupId });
export const AuthKeyIdParamsSchema = Type.Object({ authKeyId: Type.String({ maxLength: 128 }) });

/** A route that takes no query parameters refuses any: `?dry_run=true` on an action must not be ignored. */
export const NoQuerySchema = Type.Object({}, { additionalProperties: false });

const Limit = Type.Integer({ minimum: 1, maximum: 1000, default: 100 });
/** A '|'-separated list of some of `values`, as SORACOM's status_filter. */
function pipeList(values: readonly string[]) {
  const one = `(${values.map((v) => v.replace(/\./g, '\\.')).join('|')})`;
  return Type.String({ pattern: `^${one}(\\|${one})*$` });
}

export const SubscriberListQuerySchema = Type.Object(
  {
    limit: Limit,
    last_evaluated_key: Type.Optional(Type.String({ maxLength: 64 })),
    status_filter: Type.Optional(pipeList(SUBSCRIBER_STATUSES)),
    speed_class_filter: Type.Optional(pipeList(SPEED_CLASSES)),
    group_id: Type.Optional(GroupId),
  },
  { additionalProperties: false },
);
export type SubscriberListQuery = Static<typeof SubscriberListQuerySchema>;

export const AuditQuerySchema = Type.Object(
  { limit: Limit, last_evaluated_key: Type.Optional(Type.Integer({ minimum: 1 })), imsi: Type.Optional(Imsi) },
  { additionalProperties: false },
);
export type AuditQuery = Static<typeof AuditQuerySchema>;

/** Optional header carrying why a change is made; percent-encoded if it is not ASCII (header values are Latin-1). */
export const REASON_HEADER = 'x-tapwatch-reason';
export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const ReasonHeadersSchema = Type.Object({ [REASON_HEADER]: Type.Optional(Type.String({ maxLength: 1000 })) });
export const ActionHeadersSchema = Type.Object({
  [IDEMPOTENCY_HEADER]: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
  [REASON_HEADER]: Type.Optional(Type.String({ maxLength: 1000 })),
});

// ---- health ----

export const HEALTH_STATUSES = ['ok', 'degraded', 'failing'] as const;
export const NotEnforcedSchema = Type.Object(
  { imsi: Type.Optional(Type.String()), groupId: Type.Optional(Type.String()), reason: Type.String() },
  { description: 'a subscriber or group the enforcement point does not follow as the store asks, and why' },
);
export type NotEnforced = Static<typeof NotEnforcedSchema>;

export const HealthSchema = Type.Object({
  status: Type.Enum(HEALTH_STATUSES, { type: 'string' }),
  // Details only for a caller with a key: without one, /healthz says ok or degraded and nothing that helps an attacker.
  db: Type.Optional(Type.String({ description: "'ok', or why the database did not answer" })),
  enforcer: Type.Optional(
    Type.Object({
      enforcer: Type.String(),
      healthy: Type.Boolean(),
      lastError: NullableString(),
      lastReconcile: Type.Unsafe<{ time: number; ok: boolean } | null>({ type: ['object', 'null'], properties: { time: { type: 'integer' }, ok: { type: 'boolean' } } }),
      notEnforced: Type.Array(NotEnforcedSchema),
      notEnforcedTotal: Type.Integer(),
    }),
  ),
});
export type Health = Static<typeof HealthSchema>;

// ---- what a client checks it received ----

export const subscriberValidator = validator(SubscriberSchema);
export const subscriberListValidator = validator(Type.Array(SubscriberSchema));
export const authResponseValidator = validator(AuthResponseSchema);
export const errorBodyValidator = validator(ErrorBodySchema);
