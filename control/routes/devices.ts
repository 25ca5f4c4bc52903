// POST /v1/devices/import: the device registry (the collector's inventory format: CSV with a header,
// or a JSON array of {ip, id, imsi, imei, group}) becomes subscribers, parsed and checked by the same
// code as `tapwatch collect --inventory` (inventory/). Followed by a full reconcile: new subscribers
// bring addresses the enforcer has not seen.

import type { FastifyPluginAsync } from 'fastify';
import { ImportJsonBodySchema, ImportResultSchema, ImportTextBodySchema, NoQuerySchema, ReasonHeadersSchema } from '../../contracts/control-api.js';
import { inventoryFromJson, parseInventory } from '../../inventory/inventory.js';
import { changeContext, type RouteDeps } from './context.js';
import { enforcementHeaders } from './subscribers.js';
import { authenticated, errorResponses } from './schemas.js';

const IMPORT_BODY_LIMIT = 1024 * 1024;

export const deviceRoutes: FastifyPluginAsync<RouteDeps> = async (app, { store, runner }) => {
  app.addContentTypeParser('text/csv', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  app.post<{ Body: string | unknown[] }>(
    '/v1/devices/import',
    {
      bodyLimit: IMPORT_BODY_LIMIT,
      config: { access: 'admin' },
      schema: {
        summary: 'Import the device registry as subscribers (all or nothing); existing ones keep their status, speed class and group',
        security: authenticated,
        querystring: NoQuerySchema,
        headers: ReasonHeadersSchema,
        body: {
          content: {
            'application/json': { schema: ImportJsonBodySchema },
            'text/csv': { schema: ImportTextBodySchema },
            'text/plain': { schema: ImportTextBodySchema },
          },
        },
        response: { 200: ImportResultSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const opts = { requireImsi: true };
      const rows = typeof req.body === 'string' ? parseInventory(req.body, 'request body', opts) : inventoryFromJson(req.body, 'request body', opts);
      const result = store.importDevices(rows, changeContext(req));
      enforcementHeaders(reply, await runner.reconcile());
      return result;
    },
  );
};
