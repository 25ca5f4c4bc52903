// POST /v1/auth (SORACOM's: an authKeyId/authKey pair for an apiKey and token) and the operators'
// key management. Logins are rate limited per address like every public route, and each costs a
// scrypt on the libuv pool, which bounds guessing further.

import type { FastifyPluginAsync } from 'fastify';
import { ApiError } from '../errors.js';
import { ROLES, type Role } from '../model.js';
import { changeContext, reasonHeaderSchema, type RouteDeps } from './context.js';
import { authenticated, errorResponses, ref } from './schemas.js';

const DEFAULT_TOKEN_TIMEOUT_S = 86_400;
const MAX_TOKEN_TIMEOUT_S = 172_800;

const reasonHeaders = { type: 'object', properties: reasonHeaderSchema } as const;
const newKeyResponse = {
  type: 'object',
  properties: { authKeyId: { type: 'string' }, authKey: { type: 'string' } },
  required: ['authKeyId', 'authKey'],
} as const;

export const authRoutes: FastifyPluginAsync<RouteDeps> = async (app, { store, metrics }) => {
  app.post<{ Body: { authKeyId: string; authKey: string; tokenTimeoutSeconds: number } }>(
    '/v1/auth',
    {
      config: { access: 'public' },
      schema: {
        summary: 'Log in with an auth key: returns the apiKey and token to send as X-Soracom-API-Key and X-Soracom-Token',
        body: {
          type: 'object',
          properties: {
            authKeyId: { type: 'string', minLength: 1, maxLength: 128 },
            authKey: { type: 'string', minLength: 1, maxLength: 256 },
            // SORACOM's bounds: at least 180 s, at most two days.
            tokenTimeoutSeconds: { type: 'integer', minimum: 180, maximum: MAX_TOKEN_TIMEOUT_S, default: DEFAULT_TOKEN_TIMEOUT_S },
          },
          required: ['authKeyId', 'authKey'],
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: { apiKey: { type: 'string' }, token: { type: 'string' }, operatorId: { type: 'string' } },
            required: ['apiKey', 'token', 'operatorId'],
          },
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const session = await store.login(req.body.authKeyId, req.body.authKey, req.body.tokenTimeoutSeconds);
      if (!session) {
        metrics.authFailures.inc(['bad_auth_key']);
        throw new ApiError('TWA0003');
      }
      return session;
    },
  );

  app.post<{ Body: { role: Role; name?: string } }>(
    '/v1/auth_keys',
    {
      config: { access: 'admin' },
      schema: {
        summary: 'Create an auth key with a role; the authKey is shown this once',
        security: authenticated,
        headers: reasonHeaders,
        body: {
          type: 'object',
          properties: { role: { type: 'string', enum: ROLES }, name: { type: 'string', maxLength: 128 } },
          required: ['role'],
          additionalProperties: false,
        },
        response: { 201: newKeyResponse, ...errorResponses },
      },
    },
    async (req, reply) => {
      reply.code(201);
      return store.createKey(req.body.role, req.body.name ?? '', changeContext(req));
    },
  );

  app.get('/v1/auth_keys', {
    config: { access: 'admin' },
    schema: { summary: 'The auth keys (never their secrets)', security: authenticated, response: { 200: { type: 'array', items: ref('AuthKey') }, ...errorResponses } },
  }, async () => store.listKeys());

  app.delete<{ Params: { authKeyId: string } }>('/v1/auth_keys/:authKeyId', {
    config: { access: 'admin' },
    schema: {
      summary: 'Delete an auth key; its tokens stop working at once',
      security: authenticated,
      params: { type: 'object', properties: { authKeyId: { type: 'string', maxLength: 128 } }, required: ['authKeyId'] },
      headers: reasonHeaders,
      response: { 204: { type: 'null', description: 'Deleted' }, ...errorResponses },
    },
  }, async (req, reply) => {
    store.deleteKey(req.params.authKeyId, changeContext(req));
    return reply.code(204).send();
  });
};
