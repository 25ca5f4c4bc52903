// GET /healthz and GET /metrics: no credentials, so a load balancer and Prometheus can call them;
// neither shows anything a read-only key could not.

import type { FastifyPluginAsync } from 'fastify';
import type { RouteDeps } from './context.js';
import { errorResponses } from './schemas.js';

const health = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['ok', 'degraded', 'failing'] },
    db: { type: 'string', description: "'ok', or why the database did not answer" },
    enforcer: {
      type: 'object',
      properties: {
        enforcer: { type: 'string' },
        healthy: { type: 'boolean' },
        lastError: { type: ['string', 'null'] },
        lastReconcile: { type: ['object', 'null'], properties: { time: { type: 'integer' }, ok: { type: 'boolean' } } },
      },
    },
  },
  required: ['status', 'db', 'enforcer'],
} as const;

export const healthRoutes: FastifyPluginAsync<RouteDeps> = async (app, { store, runner, metrics }) => {
  app.get('/healthz', {
    config: { access: 'public' },
    schema: {
      summary: '200 while the database answers (status degraded if the enforcer is failing), else 503',
      response: {
        200: health,
        503: health,
        ...errorResponses,
      },
    },
  }, async (_req, reply) => {
    let db = 'ok';
    try {
      store.ping();
    } catch (err) {
      db = (err as Error).message;
    }
    const enforcer = runner.status();
    if (db !== 'ok') reply.code(503);
    return { status: db !== 'ok' ? 'failing' : enforcer.healthy ? 'ok' : 'degraded', db, enforcer };
  });

  app.get('/metrics', {
    config: { access: 'public' },
    schema: { summary: 'Prometheus text format', response: { 200: { type: 'string' }, ...errorResponses } },
  }, async (_req, reply) => {
    reply.type('text/plain; version=0.0.4; charset=utf-8');
    return metrics.registry.render();
  });
};
