// POST /v1/auth (SORACOM's: an authKeyId/authKey pair for an apiKey and token) and the operators'
// key management. A login passes the login guard (login-guard.ts: per address, per authKeyId, and a
// cap on scrypts at once) before its scrypt runs.

import type { FastifyPluginAsync } from 'fastify';
import {
  AuthKeyIdParamsSchema,
  AuthRequestSchema,
  AuthResponseSchema,
  CreateKeyBodySchema,
  DEFAULT_TOKEN_TIMEOUT_S,
  NewAuthKeySchema,
  NoQuerySchema,
  ReasonHeadersSchema,
  type AuthRequest,
  type Role,
} from '../../contracts/control-api.js';
import { ApiError } from '../errors.js';
import { LoginBusyError } from '../login-guard.js';
import { changeContext, type RouteDeps } from './context.js';
import { authenticated, errorResponses, ref } from './schemas.js';

export const authRoutes: FastifyPluginAsync<RouteDeps> = async (app, { store, metrics, login, tarpit }) => {
  const tooMany = async (address: string, wait: number, reply: { header(k: string, v: string): unknown }): Promise<never> => {
    metrics.rateLimited.inc([]);
    reply.header('retry-after', String(wait));
    await tarpit.hold(address); // held back, as every 429 to an address is (auth.ts)
    throw new ApiError('TWA0005', `Too many logins: retry in ${wait} s`);
  };

  app.post<{ Body: AuthRequest }>(
    '/v1/auth',
    {
      config: { access: 'public' },
      schema: {
        summary: 'Log in with an auth key: returns the apiKey and token to send as X-Soracom-API-Key and X-Soracom-Token',
        querystring: NoQuerySchema,
        body: AuthRequestSchema,
        response: { 200: AuthResponseSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const { authKeyId, authKey, tokenTimeoutSeconds = DEFAULT_TOKEN_TIMEOUT_S } = req.body;
      const wait = login.admit(`ip:${req.ip}`, authKeyId);
      if (wait > 0) return tooMany(req.ip, wait, reply);
      let session;
      try {
        session = await login.run(req.ip, () => store.login(authKeyId, authKey, tokenTimeoutSeconds));
      } catch (err) {
        if (err instanceof LoginBusyError) return tooMany(req.ip, 1, reply);
        throw err;
      }
      if (!session) {
        login.failed(req.ip);
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
        querystring: NoQuerySchema,
        headers: ReasonHeadersSchema,
        body: CreateKeyBodySchema,
        response: { 201: NewAuthKeySchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      reply.code(201);
      return store.createKey(req.body.role, req.body.name ?? '', changeContext(req));
    },
  );

  app.get('/v1/auth_keys', {
    config: { access: 'admin' },
    schema: { summary: 'The auth keys (never their secrets)', security: authenticated, querystring: NoQuerySchema, response: { 200: { type: 'array', items: ref('AuthKey') }, ...errorResponses } },
  }, async () => store.listKeys());

  app.delete<{ Params: { authKeyId: string } }>('/v1/auth_keys/:authKeyId', {
    config: { access: 'admin' },
    schema: {
      summary: 'Delete (revoke) an auth key; its tokens stop working at once',
      security: authenticated,
      params: AuthKeyIdParamsSchema,
      querystring: NoQuerySchema,
      headers: ReasonHeadersSchema,
      response: { 204: { type: 'null', description: 'Deleted' }, ...errorResponses },
    },
  }, async (req, reply) => {
    store.deleteKey(req.params.authKeyId, changeContext(req));
    return reply.code(204).send();
  });
};
