// GET /v1/audit: every change, newest first, paged like SORACOM's lists.

import type { FastifyPluginAsync } from 'fastify';
import type { RouteDeps } from './context.js';
import { authenticated, errorResponses, imsiParams, pageQuery, ref } from './schemas.js';

export const auditRoutes: FastifyPluginAsync<RouteDeps> = async (app, { store }) => {
  app.get<{ Querystring: { limit: number; last_evaluated_key?: number; imsi?: string } }>(
    '/v1/audit',
    {
      config: { access: 'read' },
      schema: {
        summary: 'Audit rows, newest first; imsi narrows to one subscriber; more pages are announced in x-soracom-next-key',
        security: authenticated,
        querystring: pageQuery({ imsi: imsiParams.properties.imsi }, { type: 'integer', minimum: 1 }),
        response: { 200: { type: 'array', items: ref('AuditEntry') }, ...errorResponses },
      },
    },
    async (req, reply) => {
      const page = store.listAudit({ limit: req.query.limit, before: req.query.last_evaluated_key, imsi: req.query.imsi });
      if (page.nextKey !== null) reply.header('x-soracom-next-key', page.nextKey);
      return page.items;
    },
  );
};
