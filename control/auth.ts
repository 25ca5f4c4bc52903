// Who may call what. Each route says in its config which access it needs; a key's role grants a
// set of accesses. The hook runs at onRequest, before the body is read, so a refused caller costs
// one indexed token lookup and nothing more. 401 means the credentials are missing, wrong or
// expired; 403 that they are good but the role does not allow the call (the message names the roles
// that would); 429 that the caller is over its rate.
//
// Budgets: a key has its own (--rate-limit). A caller without valid credentials is counted by its
// address: public routes, and every request with missing or bad credentials, spend from it, so a
// flood of bad tokens ends in cheap 429s instead of unbounded 401s. A 429 for an address is held
// back before it is sent (tarpit.ts): a flooding client that waits for each answer then makes about
// one request a second per connection, whatever its speed, and the server's time goes to the callers
// with keys.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ROLES, type Role } from '../contracts/control-api.js';
import { ApiError } from './errors.js';
import type { ControlMetrics } from './metrics.js';
import type { RateLimiter } from './rate-limit.js';
import type { Tarpit } from './tarpit.js';
import type { Principal, Store } from './store.js';

/** public: no credentials (a valid key, if sent, is recognised); read: GET; act: the subscriber actions; admin: keys, groups, import. */
export type Access = 'public' | 'read' | 'act' | 'admin';

const ALLOWED: Record<Role, ReadonlySet<Access>> = {
  'read-only': new Set(['public', 'read']),
  analyzer: new Set(['public', 'read', 'act']),
  operator: new Set(['public', 'read', 'act', 'admin']),
};

/** The roles that may use each access, for the 403's message. */
const ROLES_FOR = (access: Access): string => {
  const roles = ROLES.filter((r) => ALLOWED[r].has(access));
  return roles.length === 1 ? `the ${roles[0]} role` : `the ${roles.slice(0, -1).join(', ')} or ${roles.at(-1)} role`;
};

/** How long an address's 429 is held back, at least (tarpit.ts). */
export const TARPIT_MS = 1000;

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
  /** Per key, and per address (`ip:…`) for callers without a key. */
  limiter: RateLimiter;
  metrics: ControlMetrics;
  /** Where 429s to addresses wait. */
  tarpit: Tarpit;
}

/** Adds `request.principal` and the onRequest check to the whole server (call before the routes). */
export function registerAuth(app: FastifyInstance, deps: AuthDeps): void {
  const { store, limiter, metrics, tarpit } = deps;
  app.decorateRequest('principal', null);

  const overRate = (caller: string, reply: FastifyReply): ApiError | null => {
    const wait = limiter.take(caller);
    if (wait === 0) return null;
    metrics.rateLimited.inc([]);
    reply.header('retry-after', String(wait));
    return new ApiError('TWA0005', `Too many requests: retry in ${wait} s`);
  };
  const refuse = (reason: string, code: 'TWA0001' | 'TWA0002' | 'TWA0004', message?: string): ApiError => {
    metrics.authFailures.inc([reason]);
    return new ApiError(code, message);
  };

  /** A public route answers even when the database does not (/healthz must say so): a key that cannot be looked up is no key. */
  const recognised = (apiKey: string, token: string): Principal | null => {
    try {
      return store.principal(apiKey, token);
    } catch {
      return null;
    }
  };

  app.addHook('onRequest', (req: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => {
    const access = req.routeOptions.config.access;
    /** A caller without a valid key: its address pays, and a 429 waits in the tarpit. */
    const anonymous = (err: ApiError | null) => {
      const limited = overRate(`ip:${req.ip}`, reply);
      if (limited) void tarpit.hold(req.ip).then(() => done(limited));
      else done(err ?? undefined);
    };
    const apiKey = req.headers['x-soracom-api-key'];
    const token = req.headers['x-soracom-token'];
    const presented = typeof apiKey === 'string' && typeof token === 'string' && apiKey !== '' && token !== '';
    // No access configured: an unknown route, answered 404 by the not-found handler.
    if (access === undefined || access === 'public') {
      // A key sent to a public route is recognised (/healthz shows its details to key holders).
      if (presented && access === 'public') req.principal = recognised(apiKey, token);
      return anonymous(null);
    }
    if (!presented) return anonymous(refuse('missing_credentials', 'TWA0001'));
    const principal = store.principal(apiKey, token);
    if (!principal) return anonymous(refuse('invalid_token', 'TWA0002'));
    const limited = overRate(principal.authKeyId, reply);
    if (limited) return done(limited);
    if (!ALLOWED[principal.role].has(access)) {
      return done(refuse('role_not_allowed', 'TWA0004', `This key's role (${principal.role}) does not allow ${req.method} ${req.routeOptions.url}: it needs ${ROLES_FOR(access)}`));
    }
    req.principal = principal;
    done();
  });
}
