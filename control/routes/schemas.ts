// JSON Schemas of the control API, defined once: the response shapes are registered as shared
// schemas (and so become the OpenAPI document's components); request parts are inlined in each
// route, because requests are checked by our own strict Ajv (server.ts), which does not see
// shared schemas.

import { ERROR_CODES } from '../../contracts/errors.js';
import { ROLES, SPEED_CLASSES, SUBSCRIBER_STATUSES } from '../model.js';

const tags = { type: 'object', additionalProperties: { type: 'string' } } as const;

export const SHARED_SCHEMAS = [
  {
    $id: 'Error',
    type: 'object',
    description: `Every error: a code from control/README.md (${Object.entries(ERROR_CODES).filter(([, e]) => e.status > 0).map(([c]) => c).join(', ')}) and what went wrong.`,
    properties: { code: { type: 'string' }, message: { type: 'string' } },
    required: ['code', 'message'],
  },
  {
    $id: 'Subscriber',
    type: 'object',
    properties: {
      imsi: { type: 'string' },
      imei: { type: ['string', 'null'] },
      ipAddress: { type: ['string', 'null'] },
      status: { type: 'string', enum: SUBSCRIBER_STATUSES },
      speedClass: { type: 'string', enum: SPEED_CLASSES },
      groupId: { type: ['string', 'null'] },
      operatorId: { type: 'string' },
      tags,
      createdTime: { type: 'integer' },
      lastModifiedTime: { type: 'integer' },
    },
    required: ['imsi', 'imei', 'ipAddress', 'status', 'speedClass', 'groupId', 'operatorId', 'tags', 'createdTime', 'lastModifiedTime'],
  },
  {
    $id: 'Group',
    type: 'object',
    properties: {
      groupId: { type: 'string' },
      operatorId: { type: 'string' },
      tags,
      configuration: {
        type: 'object',
        properties: {
          tapwatch: {
            type: 'object',
            properties: { quarantine: { type: 'boolean' }, redirectGateway: { type: ['string', 'null'] } },
            required: ['quarantine', 'redirectGateway'],
          },
        },
      },
      createdTime: { type: 'integer' },
      lastModifiedTime: { type: 'integer' },
    },
    required: ['groupId', 'operatorId', 'tags', 'configuration', 'createdTime', 'lastModifiedTime'],
  },
  {
    $id: 'AuditEntry',
    type: 'object',
    properties: {
      id: { type: 'integer' },
      time: { type: 'integer' },
      actor: { type: 'string' },
      action: { type: 'string' },
      targetType: { type: 'string', enum: ['subscriber', 'group', 'auth_key'] },
      targetId: { type: 'string' },
      reason: { type: ['string', 'null'] },
      before: { type: ['object', 'null'], additionalProperties: true },
      after: { type: ['object', 'null'], additionalProperties: true },
    },
    required: ['id', 'time', 'actor', 'action', 'targetType', 'targetId', 'reason', 'before', 'after'],
  },
  {
    $id: 'AuthKey',
    type: 'object',
    properties: { authKeyId: { type: 'string' }, name: { type: 'string' }, role: { type: 'string', enum: ROLES }, createdTime: { type: 'integer' } },
    required: ['authKeyId', 'name', 'role', 'createdTime'],
  },
];

export const ref = (id: string) => ({ $ref: `${id}#` });

/** Added to every route's responses. */
export const errorResponses = { '4xx': ref('Error'), '5xx': ref('Error') };

/** Routes that need X-Soracom-API-Key and X-Soracom-Token (the OpenAPI security requirement). */
export const authenticated = [{ soracomApiKey: [], soracomToken: [] }];

export const imsiParams = {
  type: 'object',
  properties: { imsi: { type: 'string', pattern: '^[0-9]{5,15}$' } },
  required: ['imsi'],
} as const;

export const groupIdPattern = '^[A-Za-z0-9._-]{1,64}$';

/** limit and last_evaluated_key, as SORACOM's list calls take them. */
export function pageQuery(extra: Record<string, object>, keySchema: object = { type: 'string', maxLength: 64 }) {
  return {
    type: 'object',
    properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 }, last_evaluated_key: keySchema, ...extra },
    additionalProperties: false,
  } as const;
}

/** A '|'-separated list of some of `values`, as SORACOM's status_filter. */
export function pipeList(values: readonly string[]): { type: 'string'; pattern: string } {
  const one = `(${values.map((v) => v.replace(/\./g, '\\.')).join('|')})`;
  return { type: 'string', pattern: `^${one}(\\|${one})*$` };
}
