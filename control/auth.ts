// Who may call what. Each route says in its config which access it needs; a key's role grants a
// set of accesses. The hook runs at onRequest, before the body is read, so a refused caller costs
// one indexed token lookup and nothing more. 401 means the credentials are missing, wrong or
// expired; 403 that they are good but the role does not allow the call; 429 that the caller
// (its key, or its address on public routes) is over its rate.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from './errors.js';
import type { ControlMetrics } from './metrics.js';
import type { Role } from './model.js';
import type { RateLimiter } from './rate-limit.js';
import type { Principal, Store } from './store.js';

/** public: no credentials; read: GET; act: the four subscriber actions; admin: keys, groups, import. */
export type Access = 'public' | 'read' | 'act' | 'admin';

const ALLOWED: Record<Role, ReadonlySet<Access>> = {
  'read-only': new Set(['public', 'read']),
  analyzer: new Set(['public', 'read', 'act']),
  operator: new Set(['public', 'read', 'act', 'admin']),
};

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

export interface AuthDeps {
  store: Store;
  limiter: RateLimiter;
  metrics: ControlMetrics;
}

/** Adds `request.principal` and the onRequest check to the whole server (call before the routes). */
export function registerAuth(app: FastifyInstance, deps: AuthDeps): void {
  const { store, limiter, metrics } = deps;
  app.decorateRequest('principal', null);

  const limit = (caller: string, reply: FastifyReply): ApiError | null => {
    const wait = limiter.take(caller);
    if (wait === 0) return null;
    metrics.rateLimited.inc([]);
    reply.header('retry-after', String(wait));
    return new ApiError('TWA0005', `Too many requests: retry in ${wait} s`);
  };
  const refuse = (reason: string, code: 'TWA0001' | 'TWA0002' | 'TWA0004'): ApiError => {
    metrics.authFailures.inc([reason]);
    return new ApiError(code);
  };

  app.addHook('onRequest', (req: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => {
    const access = req.routeOptions.config.access;
    // No access configured: an unknown route, answered 404 by the not-found handler.
    if (access === undefined || access === 'public') return done(limit(`ip:${req.ip}`, reply) ?? undefined);
    const apiKey = req.headers['x-soracom-api-key'];
    const token = req.headers['x-soracom-token'];
    if (typeof apiKey !== 'string' || typeof token !== 'string' || !apiKey || !token) return done(refuse('missing_credentials', 'TWA0001'));
    const principal = store.principal(apiKey, token);
    if (!principal) return done(refuse('invalid_token', 'TWA0002'));
    const limited = limit(principal.authKeyId, reply);
    if (limited) return done(limited);
    if (!ALLOWED[principal.role].has(access)) return done(refuse('role_not_allowed', 'TWA0004'));
    req.principal = principal;
    done();
  });
}
