// The control API server: fastify with one plugin per concern (auth, subscribers, groups, devices,
// audit, health and metrics), the store, and the runner that makes the enforcer follow it.
// buildControlServer() is what `tapwatch control serve`, `tapwatch demo` and the tests use; it
// does not listen, the caller does.

import swagger from '@fastify/swagger';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { pino, type Logger } from 'pino';
import { registerAuth } from './auth.js';
import { EnforcementRunner, NoopEnforcer, type RetryOptions } from './enforcement/enforcement.js';
import { ApiError } from './errors.js';
import { controlMetrics } from './metrics.js';
import type { Enforcer } from './model.js';
import { DEFAULT_RATE_LIMIT, RateLimiter, type RateLimitOptions } from './rate-limit.js';
import { auditRoutes } from './routes/audit.js';
import { authRoutes } from './routes/auth.js';
import type { RouteDeps } from './routes/context.js';
import { deviceRoutes } from './routes/devices.js';
import { groupRoutes } from './routes/groups.js';
import { healthRoutes } from './routes/health.js';
import { SHARED_SCHEMAS } from './routes/schemas.js';
import { subscriberRoutes } from './routes/subscribers.js';
import { Store } from './store.js';

/** Every body but an import's: the largest legitimate one (a group with 32 tags) is far below. */
const BODY_LIMIT = 16 * 1024;
const PURGE_INTERVAL_MS = 3600_000;

export interface ControlServerOptions {
  /** SQLite file, or ':memory:'. */
  db: string;
  /** Default: none (the store alone). */
  enforcer?: Enforcer;
  /** Default: silent. Requests are logged at debug only. */
  log?: Logger;
  /** Per key (per address on public routes). Default 200/s, bursts of 400. */
  rateLimit?: RateLimitOptions;
  /** Backoff of the reconcile retried after an enforcer failure. Default 1 s doubling to 60 s. */
  enforcementRetry?: RetryOptions;
  /** ms since the epoch; tests move it to expire tokens. */
  clock?: () => number;
}

export interface ControlServer {
  app: FastifyInstance;
  store: Store;
  enforcement: EnforcementRunner;
  /** Stops accepting requests, finishes those in flight, closes the enforcer and the database. */
  close(): Promise<void>;
}

export async function buildControlServer(opts: ControlServerOptions): Promise<ControlServer> {
  const log = opts.log ?? pino({ level: 'silent' });
  const clock = opts.clock ?? Date.now;
  const store = Store.open(opts.db, { clock, log });
  const metrics = controlMetrics();
  const enforcer = opts.enforcer ?? new NoopEnforcer();
  const runner = new EnforcementRunner(enforcer, () => store.enforcementState(), log.child({ component: 'enforcement' }), metrics, opts.enforcementRetry);
  metrics.registry.gauge('tapwatch_control_enforcer_healthy', '1 while the enforcer follows the store; 0 from a failure until a reconcile succeeds.', () =>
    runner.status().healthy ? 1 : 0,
  );
  metrics.registry.gauge('tapwatch_control_last_reconcile_timestamp_seconds', 'When the enforcer was last reconciled with the store (successfully or not).', () => {
    const r = runner.status().lastReconcile;
    return r ? r.time / 1000 : null;
  });
  metrics.registry.gauge('tapwatch_control_last_reconcile_success', '1 if the last reconcile succeeded.', () => {
    const r = runner.status().lastReconcile;
    return r ? Number(r.ok) : null;
  });

  let app: FastifyInstance;
  try {
    app = await buildApp(log, { store, runner, metrics }, new RateLimiter(opts.rateLimit ?? DEFAULT_RATE_LIMIT, clock));
  } catch (err) {
    store.close();
    throw err;
  }
  const purge = () => log.info({ ...store.purgeExpired() }, 'purged expired tokens and idempotency keys');
  purge();
  const purgeTimer = setInterval(purge, PURGE_INTERVAL_MS).unref();
  // Once at start, from the store: whatever the enforcement point holds is made to match it.
  const reconciled = await runner.reconcile();
  log.info({ enforcer: enforcer.name, reconciled }, 'control server ready');

  return {
    app,
    store,
    enforcement: runner,
    async close() {
      clearInterval(purgeTimer);
      await app.close();
      await runner.close();
      store.close();
    },
  };
}

async function buildApp(log: Logger, deps: RouteDeps, limiter: RateLimiter): Promise<FastifyInstance> {
  const app = Fastify({
    // As fastify's base logger type, so the instance is the plain FastifyInstance plugins expect.
    loggerInstance: log as FastifyBaseLogger,
    logController: new RequestLogs(log.isLevelEnabled('debug')),
    exposeHeadRoutes: false,
    bodyLimit: BODY_LIMIT,
  });

  // Bodies are checked strictly (a number where a string belongs is a 400, not coerced);
  // querystring, params and headers arrive as text and are coerced to the schema's types.
  const bodyAjv = new Ajv({ coerceTypes: false, useDefaults: true, removeAdditional: false, allowUnionTypes: true });
  const textAjv = new Ajv({ coerceTypes: 'array', useDefaults: true, removeAdditional: false, allowUnionTypes: true });
  addFormats.default(bodyAjv);
  addFormats.default(textAjv);
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : textAjv).compile(schema));

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const e = apiError(err);
    if (e.status >= 500) req.log.error({ err }, 'request failed');
    return reply.code(e.status).send(e.body());
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send(new ApiError('TWR0004', `No such route: ${req.method} ${req.url.split('?')[0]}`).body()));

  for (const s of SHARED_SCHEMAS) app.addSchema(s);
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'tapwatch control API', description: 'A SORACOM-API-compatible subset, plus audit, device import, health and metrics.', version: '1' },
      components: {
        securitySchemes: {
          soracomApiKey: { type: 'apiKey', in: 'header', name: 'X-Soracom-API-Key' },
          soracomToken: { type: 'apiKey', in: 'header', name: 'X-Soracom-Token' },
        },
      },
    },
    // Components named by their $id (Subscriber, Group, ...) rather than def-0, def-1.
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });

  registerAuth(app, { store: deps.store, limiter, metrics: deps.metrics });
  app.addHook('onResponse', (req, reply, done) => {
    deps.metrics.requests.inc([req.routeOptions.url ?? 'unmatched', req.method, String(reply.statusCode)]);
    done();
  });

  for (const routes of [authRoutes, subscriberRoutes, groupRoutes, deviceRoutes, auditRoutes, healthRoutes]) await app.register(routes, deps);
  app.get('/openapi.json', {
    config: { access: 'public' },
    schema: { summary: 'This OpenAPI 3 document', response: { 200: { type: 'object', additionalProperties: true } } },
  }, async () => app.swagger());
  await app.ready();
  return app;
}

/** Requests are logged at debug only: at the rates the analyzer can send, a line per request would
 *  cost more than the request. They are counted in /metrics; state changes are in the audit table. */
class RequestLogs extends LogController {
  constructor(private readonly debug: boolean) {
    super();
  }

  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, req: FastifyRequest, reply: FastifyReply): void {
    if (error) reply.log.error({ err: error, method: req.method, url: req.url, status: reply.statusCode }, 'request failed');
    else if (this.debug) reply.log.debug({ method: req.method, url: req.url, status: reply.statusCode, ms: reply.elapsedTime }, 'request');
  }
}

/** Any error a request can end in, as the API's error body. */
function apiError(err: FastifyError): ApiError {
  if (err instanceof ApiError) return err;
  if (err.validation) {
    const allowed = err.validation[0]?.params?.allowedValues;
    return new ApiError('TWR0001', Array.isArray(allowed) ? `${err.message}: ${allowed.join(', ')}` : err.message);
  }
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new ApiError('TWR0002');
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new ApiError('TWR0003', err.message);
  if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) return new ApiError('TWR0001', err.message);
  return new ApiError('TWX0001');
}
