// POST /v1/devices/import: the device registry (the collector's inventory format: CSV with a
// header, or a JSON array of {ip, id, imsi, imei, group}) becomes subscribers, parsed by the same
// code as `tapwatch collect --inventory`. Followed by a full reconcile: new subscribers bring IPs
// the enforcer has not seen.

import type { FastifyPluginAsync } from 'fastify';
import { InventoryError, inventoryFromJson, parseInventory, type InventoryRow } from '../../inventory/inventory.js';
import { ApiError } from '../errors.js';
import { changeContext, reasonHeaderSchema, type RouteDeps } from './context.js';
import { authenticated, errorResponses } from './schemas.js';

const IMPORT_BODY_LIMIT = 1024 * 1024;

const id = { type: ['string', 'integer'] } as const; // JSON registries often carry IMSIs as numbers
const registryText = { type: 'string', description: 'CSV with a header row naming ip (required), id, imsi, imei, group' } as const;

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
        headers: { type: 'object', properties: reasonHeaderSchema },
        body: {
          content: {
            'application/json': {
              schema: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: { ip: { type: 'string' }, id, imsi: id, imei: id, group: { type: 'string' } },
                  required: ['ip', 'imsi'],
                },
              },
            },
            'text/csv': { schema: registryText },
            'text/plain': { schema: registryText },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: { created: { type: 'integer' }, updated: { type: 'integer' }, unchanged: { type: 'integer' }, groupsCreated: { type: 'integer' } },
            required: ['created', 'updated', 'unchanged', 'groupsCreated'],
          },
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      let rows: InventoryRow[];
      try {
        rows = typeof req.body === 'string' ? parseInventory(req.body, 'request body') : inventoryFromJson(req.body, 'request body');
      } catch (err) {
        if (err instanceof InventoryError) throw new ApiError('TWI0001', err.message);
        throw err;
      }
      const result = store.importDevices(rows, changeContext(req));
      reply.header('x-tapwatch-enforced', String(await runner.reconcile()));
      return result;
    },
  );
};
