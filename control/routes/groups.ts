// Groups, and tapwatch's configuration of a group (quarantine, redirect gateway). A configuration
// change affects every member, so it is followed by a full reconcile rather than per-subscriber calls.

import type { FastifyPluginAsync } from 'fastify';
import {
  CreateGroupBodySchema,
  GroupIdParamsSchema,
  GroupTapwatchConfigSchema,
  NoQuerySchema,
  ReasonHeadersSchema,
  type CreateGroupBody,
  type GroupTapwatchConfig,
} from '../../contracts/control-api.js';
import { ApiError } from '../errors.js';
import { changeContext, type RouteDeps } from './context.js';
import { enforcementHeaders } from './subscribers.js';
import { authenticated, errorResponses, ref } from './schemas.js';

export const groupRoutes: FastifyPluginAsync<RouteDeps> = async (app, { store, runner }) => {
  app.get('/v1/groups', {
    config: { access: 'read' },
    schema: { summary: 'All groups', security: authenticated, querystring: NoQuerySchema, response: { 200: { type: 'array', items: ref('Group') }, ...errorResponses } },
  }, async () => store.listGroups());

  app.post<{ Body: CreateGroupBody }>(
    '/v1/groups',
    {
      config: { access: 'admin' },
      schema: {
        summary: 'Create a group (groupId is a tapwatch addition: SORACOM always generates one; so do we when it is left out)',
        security: authenticated,
        querystring: NoQuerySchema,
        headers: ReasonHeadersSchema,
        body: CreateGroupBodySchema,
        response: { 201: ref('Group'), ...errorResponses },
      },
    },
    async (req, reply) => {
      reply.code(201);
      return store.createGroup(req.body, changeContext(req));
    },
  );

  app.get<{ Params: { groupId: string } }>('/v1/groups/:groupId', {
    config: { access: 'read' },
    schema: { summary: 'One group', security: authenticated, params: GroupIdParamsSchema, querystring: NoQuerySchema, response: { 200: ref('Group'), ...errorResponses } },
  }, async (req) => {
    const g = store.getGroup(req.params.groupId);
    if (!g) throw new ApiError('TWG0001');
    return g;
  });

  app.delete<{ Params: { groupId: string } }>('/v1/groups/:groupId', {
    config: { access: 'admin' },
    schema: {
      summary: 'Delete an empty group',
      security: authenticated,
      params: GroupIdParamsSchema,
      querystring: NoQuerySchema,
      headers: ReasonHeadersSchema,
      response: { 204: { type: 'null', description: 'Deleted' }, ...errorResponses },
    },
  }, async (req, reply) => {
    store.deleteGroup(req.params.groupId, changeContext(req));
    return reply.code(204).send();
  });

  app.put<{ Params: { groupId: string }; Body: GroupTapwatchConfig }>(
    '/v1/groups/:groupId/configuration/tapwatch',
    {
      config: { access: 'admin' },
      schema: {
        summary: 'Set what the enforcer does to the group’s members: quarantine (no traffic but to the redirect gateway, if any)',
        security: authenticated,
        params: GroupIdParamsSchema,
        querystring: NoQuerySchema,
        headers: ReasonHeadersSchema,
        body: GroupTapwatchConfigSchema,
        response: { 200: ref('Group'), ...errorResponses },
      },
    },
    async (req, reply) => {
      const group = store.setGroupTapwatchConfiguration(req.params.groupId, req.body, changeContext(req));
      enforcementHeaders(reply, await runner.reconcile());
      return group;
    },
  );
};
