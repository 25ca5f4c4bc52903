// GET /healthz and GET /metrics: no credentials, so a load balancer and Prometheus can call them.
// /healthz says only ok, degraded or failing to a caller without a key: the enforcer's errors can
// name gateways, commands and URLs, which are none of an anonymous caller's business. A caller
// that sends a valid key (any role) also gets the details: the database, the enforcer, and every
// subscriber or group the enforcement point does not follow as asked, and why.

import type { FastifyPluginAsync } from 'fastify';
import { HealthSchema, NoQuerySchema, type Health } from '../../contracts/control-api.js';
import type { RouteDeps } from './context.js';
import { errorResponses } from './schemas.js';

/** Details list at most this many not-enforced entries (notEnforcedTotal counts them all). */
const MAX_LISTED = 100;

export const healthRoutes: FastifyPluginAsync<RouteDeps> = async (app, { store, runner, metrics }) => {
  app.get('/healthz', {
    config: { access: 'public' },
    schema: {
      summary: '200 while the database answers (degraded if the enforcer is failing or does not enforce everything), else 503; details with a key',
      querystring: NoQuerySchema,
      response: { 200: HealthSchema, 503: HealthSchema, ...errorResponses },
    },
  }, async (req, reply): Promise<Health> => {
    let db = 'ok';
    try {
      store.ping();
    } catch (err) {
      db = (err as Error).message;
    }
    const e = runner.status();
    const status = db !== 'ok' ? 'failing' : e.healthy && e.notEnforced.length === 0 ? 'ok' : 'degraded';
    if (db !== 'ok') reply.code(503);
    if (!req.principal) return { status };
    return { status, db, enforcer: { ...e, notEnforced: e.notEnforced.slice(0, MAX_LISTED), notEnforcedTotal: e.notEnforced.length } };
  });

  app.get('/metrics', {
    config: { access: 'public' },
    schema: { summary: 'Prometheus text format', querystring: NoQuerySchema, response: { 200: { type: 'string' }, ...errorResponses } },
  }, async (_req, reply) => {
    reply.type('text/plain; version=0.0.4; charset=utf-8');
    return metrics.registry.render();
  });
};
