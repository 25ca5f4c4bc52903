// SORACOM's subscriber calls: list, get, and the actions (deactivate, activate, update_speed_class,
// set_group, unset_group). An action commits (with its audit
// row) first, then waits for the enforcer, so a 200 means the gateway has it; if the enforcer
// failed the reply is still 200 — the store holds the desired state and the runner will
// reconcile — and says so in X-Tapwatch-Enforced: false.

import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';
import { SPEED_CLASSES, SUBSCRIBER_STATUSES, type SpeedClass, type Subscriber, type SubscriberAction, type SubscriberStatus } from '../model.js';
import { requestFingerprint } from '../store.js';
import { changeContext, reasonHeaderSchema, type RouteDeps } from './context.js';
import { authenticated, errorResponses, groupIdPattern, imsiParams, pageQuery, pipeList, ref } from './schemas.js';

const IDEMPOTENCY_HEADER = 'idempotency-key';

const actionHeaders = {
  type: 'object',
  properties: { [IDEMPOTENCY_HEADER]: { type: 'string', minLength: 1, maxLength: 255 }, ...reasonHeaderSchema },
} as const;

type ActionRequest = FastifyRequest<{ Params: { imsi: string } }>;

export const subscriberRoutes: FastifyPluginAsync<RouteDeps> = async (app, { store, runner, metrics }) => {
  app.get<{ Querystring: { limit: number; last_evaluated_key?: string; status_filter?: string; speed_class_filter?: string; group_id?: string } }>(
    '/v1/subscribers',
    {
      config: { access: 'read' },
      schema: {
        summary: 'List subscribers in IMSI order; more pages are announced in the x-soracom-next-key header',
        security: authenticated,
        querystring: pageQuery({
          status_filter: pipeList(SUBSCRIBER_STATUSES),
          speed_class_filter: pipeList(SPEED_CLASSES),
          group_id: { type: 'string', pattern: groupIdPattern },
        }),
        response: { 200: { type: 'array', items: ref('Subscriber') }, ...errorResponses },
      },
    },
    async (req, reply) => {
      const q = req.query;
      const page = store.listSubscribers({
        limit: q.limit,
        after: q.last_evaluated_key,
        statuses: q.status_filter?.split('|') as SubscriberStatus[] | undefined,
        speedClasses: q.speed_class_filter?.split('|') as SpeedClass[] | undefined,
        groupId: q.group_id,
      });
      if (page.nextKey !== null) reply.header('x-soracom-next-key', page.nextKey);
      return page.items;
    },
  );

  app.get<{ Params: { imsi: string } }>(
    '/v1/subscribers/:imsi',
    {
      config: { access: 'read' },
      schema: { summary: 'One subscriber', security: authenticated, params: imsiParams, response: { 200: ref('Subscriber'), ...errorResponses } },
    },
    async (req) => {
      const s = store.getSubscriber(req.params.imsi);
      if (!s) throw new ApiError('TWS0001');
      return s;
    },
  );

  /** Commit, then enforce; or, for a repeated Idempotency-Key, the first result and nothing else. */
  async function act(req: ActionRequest, reply: FastifyReply, action: SubscriberAction): Promise<Subscriber> {
    const key = req.headers[IDEMPOTENCY_HEADER] as string | undefined;
    let result;
    try {
      result = store.act(req.params.imsi, action, {
        ...changeContext(req),
        idempotency: key === undefined ? undefined : { key, fingerprint: requestFingerprint(req.method, req.url, req.body) },
      });
    } catch (err) {
      if (err instanceof ApiError) metrics.actions.inc([action.type, 'rejected']);
      throw err;
    }
    if (result.replayed) {
      metrics.actions.inc([action.type, 'replayed']);
      reply.header('idempotent-replayed', 'true');
      return result.subscriber;
    }
    const enforced = await runner.apply(result.subscriber, action);
    metrics.actions.inc([action.type, enforced ? 'applied' : 'applied_not_enforced']);
    reply.header('x-tapwatch-enforced', String(enforced));
    return result.subscriber;
  }

  const actionSchema = (summary: string, body?: object) => ({
    config: { access: 'act' as const },
    schema: {
      summary,
      security: authenticated,
      params: imsiParams,
      headers: actionHeaders,
      ...(body && { body }),
      response: { 200: ref('Subscriber'), ...errorResponses },
    },
  });

  // deactivate, activate and unset_group take no body, as SORACOM's: a body schema would refuse
  // the bodyless requests its clients send.
  app.post<{ Params: { imsi: string } }>('/v1/subscribers/:imsi/deactivate', actionSchema('Stop the subscriber’s data (status inactive)'), (req, reply) =>
    act(req, reply, { type: 'deactivate' }),
  );
  app.post<{ Params: { imsi: string } }>('/v1/subscribers/:imsi/activate', actionSchema('Let the subscriber’s data through (status active)'), (req, reply) =>
    act(req, reply, { type: 'activate' }),
  );
  app.post<{ Params: { imsi: string }; Body: { speedClass: SpeedClass } }>(
    '/v1/subscribers/:imsi/update_speed_class',
    actionSchema('Throttle (or release) the subscriber to a speed class', {
      type: 'object',
      properties: { speedClass: { type: 'string', enum: SPEED_CLASSES } },
      required: ['speedClass'],
      additionalProperties: false,
    }),
    (req, reply) => act(req, reply, { type: 'update_speed_class', speedClass: req.body.speedClass }),
  );
  app.post<{ Params: { imsi: string }; Body: { groupId: string } }>(
    '/v1/subscribers/:imsi/set_group',
    actionSchema('Move the subscriber to a group (e.g. a quarantine group)', {
      type: 'object',
      properties: { groupId: { type: 'string', pattern: groupIdPattern } },
      required: ['groupId'],
      additionalProperties: false,
    }),
    (req, reply) => act(req, reply, { type: 'set_group', groupId: req.body.groupId }),
  );
  app.post<{ Params: { imsi: string } }>('/v1/subscribers/:imsi/unset_group', actionSchema('Take the subscriber out of its group'), (req, reply) =>
    act(req, reply, { type: 'unset_group' }),
  );
};
