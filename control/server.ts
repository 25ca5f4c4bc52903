// The control API server: fastify with one plugin per concern (auth, subscribers, groups, devices,
// audit, health and metrics), the store, and the runner that makes the enforcer follow it.
// buildControlServer() is what `tapwatch control serve`, `tapwatch demo` and the tests use; it
// does not listen, the caller does.

import { readFileSync } from 'node:fs';
import swagger from '@fastify/swagger';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { pino, type Logger } from 'pino';
import { SHARED_SCHEMAS } from '../contracts/control-api.js';
import type { ErrorCode } from '../contracts/errors.js';
import { registerAuth, TARPIT_MS } from './auth.js';
import { EnforcementRunner, NoopEnforcer, type RetryOptions } from './enforcement/enforcement.js';
import { ApiError, apiErrorOf } from './errors.js';
import { DEFAULT_LOGIN_LIMITS, LoginGuard, type LoginLimits } from './login-guard.js';
import { controlMetrics } from './metrics.js';
import type { Enforcer } from './model.js';
import { DEFAULT_RATE_LIMIT, RateLimiter, type RateLimitOptions } from './rate-limit.js';
import { redactUrl } from './redact.js';
import { prepareDecoy } from './secrets.js';
import { auditRoutes } from './routes/audit.js';
import { authRoutes } from './routes/auth.js';
import type { RouteDeps } from './routes/context.js';
import { deviceRoutes } from './routes/devices.js';
import { groupRoutes } from './routes/groups.js';
import { healthRoutes } from './routes/health.js';
import { subscriberRoutes } from './routes/subscribers.js';
import { Store } from './store.js';
import { Tarpit } from './tarpit.js';

/** Every body but an import's: the largest legitimate one (a group with 32 tags) is far below. */
const BODY_LIMIT = 16 * 1024;
const PURGE_INTERVAL_MS = 3600_000;

/** How long one request may take, body included: a slow-body client (slowloris) is cut off here
 *  instead of holding its socket forever. Generous for a 1 MiB import on a slow link. */
export const REQUEST_TIMEOUT_MS = 10_000;
/** A connection that sends nothing for this long is closed (between keep-alive requests too). */
export const CONNECTION_TIMEOUT_MS = 30_000;

export interface ControlServerOptions {
  /** SQLite file, or ':memory:'. */
  db: string;
  /** Create the database file if it does not exist (`--init`). Default: a missing file is refused. */
  create?: boolean;
  /** Replace the enforcement point's live rules even when the store is empty (`--force`). Default:
   *  refused, since an empty store is far more often a wrong --db than an empty fleet. */
  force?: boolean;
  /** Default: none (the store alone). */
  enforcer?: Enforcer;
  /** Default: silent. Requests are logged at debug only. */
  log?: Logger;
  /** Per key (per address for callers without one). Default 200/s, bursts of 400. */
  rateLimit?: RateLimitOptions;
  /** Logins per address and per authKeyId, and scrypts at once (login-guard.ts). */
  loginLimits?: LoginLimits;
  /** Backoff of the reconcile retried after an enforcer failure. Default 1 s doubling to 60 s. */
  enforcementRetry?: RetryOptions;
  /** Audit rows older than this are deleted (hourly). Default 90. */
  auditRetentionDays?: number;
  /** How long a 429 to an address is held back, at least (tarpit.ts). Default 1 s. */
  tarpitMs?: number;
  /** Connections at once; more are closed as they arrive, before the process runs out of descriptors. */
  maxConnections?: number;
  /** Default REQUEST_TIMEOUT_MS and CONNECTION_TIMEOUT_MS; tests shorten them. */
  requestTimeoutMs?: number;
  connectionTimeoutMs?: number;
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

export class EnforcementRefusedError extends Error {
  readonly code: ErrorCode = 'TWE0003';
}

export async function buildControlServer(opts: ControlServerOptions): Promise<ControlServer> {
  const log = opts.log ?? pino({ level: 'silent' });
  const clock = opts.clock ?? Date.now;
  const store = Store.open(opts.db, { clock, log, create: opts.create, auditRetentionDays: opts.auditRetentionDays });
  const metrics = controlMetrics();
  const enforcer = opts.enforcer ?? new NoopEnforcer();
  const runner = new EnforcementRunner(enforcer, () => store.enforcementState(), log.child({ component: 'enforcement' }), metrics, opts.enforcementRetry);
  metrics.registry.gauge('tapwatch_control_enforcer_healthy', '1 while the enforcer follows the store; 0 from a failure until a reconcile succeeds.', () =>
    runner.status().healthy ? 1 : 0,
  );
  metrics.registry.gauge('tapwatch_control_not_enforced', 'Subscribers and groups the enforcement point does not follow as the store asks.', () => runner.status().notEnforced.length);
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
    await refuseToEmptyLiveRules(store, enforcer, opts);
    const deps: RouteDeps = { store, runner, metrics, login: new LoginGuard(opts.loginLimits ?? DEFAULT_LOGIN_LIMITS, clock), tarpit: new Tarpit(opts.tarpitMs ?? TARPIT_MS) };
    app = await buildApp(log, deps, new RateLimiter(opts.rateLimit ?? DEFAULT_RATE_LIMIT, clock), opts);
  } catch (err) {
    await enforcer.close();
    store.close();
    throw err;
  }
  await prepareDecoy();
  const purge = () => log.info({ ...store.purgeExpired() }, 'purged expired tokens, idempotency keys and audit rows');
  purge();
  const purgeTimer = setInterval(purge, PURGE_INTERVAL_MS).unref();
  // Once at start, from the store: whatever the enforcement point holds is made to match it.
  const reconciled = await runner.reconcile();
  log.info({ enforcer: enforcer.name, enforced: reconciled.enforced, notEnforced: reconciled.reasons.slice(0, 5) }, 'enforcer reconciled with the store');

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

/** A store without subscribers would make the start reconcile remove every rule the gateway holds. That is
 *  what a wrong --db looks like, so it needs --force. */
async function refuseToEmptyLiveRules(store: Store, enforcer: Enforcer, opts: ControlServerOptions): Promise<void> {
  if (opts.force || store.subscriberCount() > 0 || !enforcer.liveEntries) return;
  const live = await enforcer.liveEntries();
  if (live === null || live === 0) return;
  throw new EnforcementRefusedError(
    `the database ${opts.db} has no subscribers, but the ${enforcer.name} enforcer holds ${live} live entr${live === 1 ? 'y' : 'ies'}: ` +
      'starting would remove them all. Check --db; if the fleet really is empty now, pass --force',
  );
}

async function buildApp(log: Logger, deps: RouteDeps, limiter: RateLimiter, opts: ControlServerOptions): Promise<FastifyInstance> {
  const requestTimeout = opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  const app = Fastify({
    // As fastify's base logger type, so the instance is the plain FastifyInstance plugins expect.
    loggerInstance: log as FastifyBaseLogger,
    logController: new RequestLogs(log.isLevelEnabled('debug')),
    exposeHeadRoutes: false,
    bodyLimit: BODY_LIMIT,
    requestTimeout,
    connectionTimeout: opts.connectionTimeoutMs ?? CONNECTION_TIMEOUT_MS,
    // Node checks request timeouts only this often (30 s by default): a slow body would otherwise
    // outlive its timeout by up to that much.
    http: { connectionsCheckingInterval: Math.max(100, Math.min(1000, requestTimeout / 4)) },
  });
  // Headers count against the same limit: a client trickling headers is cut off like one trickling a body.
  app.server.headersTimeout = requestTimeout;
  // Below the process's descriptor limit: past it, accept() fails and every client, /healthz's
  // included, sees resets. Over the cap, new connections are closed at once.
  app.server.maxConnections = opts.maxConnections ?? defaultMaxConnections();

  // Bodies are checked strictly (a number where a string belongs is a 400, not coerced);
  // querystring, params and headers arrive as text and are coerced to the schema's types.
  const bodyAjv = new Ajv({ coerceTypes: false, useDefaults: true, removeAdditional: false, allowUnionTypes: true });
  const textAjv = new Ajv({ coerceTypes: 'array', useDefaults: true, removeAdditional: false, allowUnionTypes: true });
  addFormats.default(bodyAjv);
  addFormats.default(textAjv);
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : textAjv).compile(schema));

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const e = toApiError(err);
    if (e.status >= 500) req.log.error({ err, method: req.method, url: redactUrl(req.url) }, 'request failed');
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

  registerAuth(app, { store: deps.store, limiter, metrics: deps.metrics, tarpit: deps.tarpit });
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
    if (error) reply.log.error({ err: error, method: req.method, url: redactUrl(req.url), status: reply.statusCode }, 'request failed');
    else if (this.debug) reply.log.debug({ method: req.method, url: redactUrl(req.url), status: reply.statusCode, ms: reply.elapsedTime }, 'request');
  }
}

/** Any error a request can end in, as the API's error body. */
function toApiError(err: FastifyError): ApiError {
  const domain = apiErrorOf(err);
  if (domain) return domain;
  if (err.validation) {
    // Ajv's message leaves out what it found wrong: the allowed values, the unknown property.
    const params = err.validation[0]?.params ?? {};
    const allowed = params.allowedValues;
    const extra = params.additionalProperty;
    return new ApiError('TWR0001', Array.isArray(allowed) ? `${err.message}: ${allowed.join(', ')}` : typeof extra === 'string' ? `${err.message}: ${extra}` : err.message);
  }
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new ApiError('TWR0002');
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new ApiError('TWR0003', err.message);
  if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) return new ApiError('TWR0001', err.message);
  return new ApiError('TWX0001');
}

/** 1,000, or fewer when the process may open fewer descriptors (some are the database's, the logs', the enforcer's). */
function defaultMaxConnections(): number {
  try {
    const soft = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
    if (soft && soft !== 'unlimited') return Math.max(16, Math.min(1000, Number(soft) - 64));
  } catch {
    // Not Linux: the default stands.
  }
  return 1000;
}
