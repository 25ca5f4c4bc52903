// GET /v1/audit: every change, newest first, paged like SORACOM's lists. The read-only role does not
// see the rows about auth keys (their ids, names and roles): enumerating the keys is an operator's.

import type { FastifyPluginAsync } from 'fastify';
import { AuditQuerySchema, type AuditQuery } from '../../contracts/control-api.js';
import type { RouteDeps } from './context.js';
import { authenticated, errorResponses, ref } from './schemas.js';

export const auditRoutes: FastifyPluginAsync<RouteDeps> = async (app, { store }) => {
  app.get<{ Querystring: AuditQuery }>(
    '/v1/audit',
    {
      config: { access: 'read' },
      schema: {
        summary: 'Audit rows, newest first; imsi narrows to one subscriber; more pages are announced in x-soracom-next-key. The read-only role does not see the rows about auth keys',
        security: authenticated,
        querystring: AuditQuerySchema,
        response: { 200: { type: 'array', items: ref('AuditEntry') }, ...errorResponses },
      },
    },
    async (req, reply) => {
      const q = req.query;
      const page = store.listAudit({ limit: q.limit, before: q.last_evaluated_key, imsi: q.imsi, withoutKeys: req.principal!.role === 'read-only' });
      if (page.nextKey !== null) reply.header('x-soracom-next-key', page.nextKey);
      return page.items;
    },
  );
};
