// SORACOM's subscriber calls: list, get, and the actions (deactivate, activate, update_speed_class,
// set_group, unset_group). An action commits (with its audit row) first, then waits for the enforcer,
// so a 200 means the gateway has it; if the enforcer could not do it as asked the reply is still 200
// (the store holds the desired state and the runner reconciles) and says so: X-Tapwatch-Enforced:
// false, and X-Tapwatch-Not-Enforced says why. An action that changes nothing is answered the same,
// but is not audited and not sent to the enforcer again.

import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import {
  ActionHeadersSchema,
  IDEMPOTENCY_HEADER,
  ImsiParamsSchema,
  NoQuerySchema,
  SetGroupBodySchema,
  SpeedClassBodySchema,
  SubscriberListQuerySchema,
  type SpeedClass,
  type Subscriber,
  type SubscriberListQuery,
  type SubscriberStatus,
} from '../../contracts/control-api.js';
import type { Enforcement } from '../enforcement/enforcement.js';
import { ApiError, apiErrorOf } from '../errors.js';
import type { SubscriberAction } from '../model.js';
import { requestFingerprint } from '../store.js';
import { changeContext, type RouteDeps } from './context.js';
import { authenticated, errorResponses, ref } from './schemas.js';

type ActionRequest = FastifyRequest<{ Params: { imsi: string } }>;

/** X-Tapwatch-Enforced, and when false X-Tapwatch-Not-Enforced: why, in printable ASCII (a header value). */
export function enforcementHeaders(reply: FastifyReply, e: Enforcement): void {
  reply.header('x-tapwatch-enforced', String(e.enforced));
  if (!e.enforced) reply.header('x-tapwatch-not-enforced', e.reasons.join('; ').replace(/[^\x20-\x7e]/g, '?').slice(0, 1000));
}

export const subscriberRoutes: FastifyPluginAsync<RouteDeps> = async (app, { store, runner, metrics }) => {
  app.get<{ Querystring: SubscriberListQuery }>(
    '/v1/subscribers',
    {
      config: { access: 'read' },
      schema: {
        summary: 'List subscribers in IMSI order; more pages are announced in the x-soracom-next-key header',
        security: authenticated,
        querystring: SubscriberListQuerySchema,
        response: { 200: { type: 'array', items: ref('Subscriber') }, ...errorResponses },
      },
    },
    async (req, reply) => {
      const q = req.query;
      const page = store.listSubscribers({
        limit: q.limit,
        after: q.last_evaluated_key,
        // The schema's pattern admits only '|'-joined values of the lists.
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
      schema: { summary: 'One subscriber', security: authenticated, params: ImsiParamsSchema, querystring: NoQuerySchema, response: { 200: ref('Subscriber'), ...errorResponses } },
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
      if (apiErrorOf(err)) metrics.actions.inc([action.type, 'rejected']);
      throw err;
    }
    if (result.replayed) {
      metrics.actions.inc([action.type, 'replayed']);
      reply.header('idempotent-replayed', 'true');
      return result.subscriber;
    }
    const enforced = result.changed ? await runner.apply(result.subscriber, action) : runner.enforcementOf(result.subscriber);
    metrics.actions.inc([action.type, !result.changed ? 'unchanged' : enforced.enforced ? 'applied' : 'applied_not_enforced']);
    enforcementHeaders(reply, enforced);
    return result.subscriber;
  }

  const actionSchema = (summary: string, body?: object) => ({
    config: { access: 'act' as const },
    schema: {
      summary,
      security: authenticated,
      params: ImsiParamsSchema,
      // Unknown query parameters are refused: `?dry_run=true` must not perform the action.
      querystring: NoQuerySchema,
      headers: ActionHeadersSchema,
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
    actionSchema('Throttle (or release) the subscriber to a speed class', SpeedClassBodySchema),
    (req, reply) => act(req, reply, { type: 'update_speed_class', speedClass: req.body.speedClass }),
  );
  app.post<{ Params: { imsi: string }; Body: { groupId: string } }>(
    '/v1/subscribers/:imsi/set_group',
    actionSchema('Move the subscriber to a group (e.g. a quarantine group)', SetGroupBodySchema),
    (req, reply) => act(req, reply, { type: 'set_group', groupId: req.body.groupId }),
  );
  app.post<{ Params: { imsi: string } }>('/v1/subscribers/:imsi/unset_group', actionSchema('Take the subscriber out of its group'), (req, reply) =>
    act(req, reply, { type: 'unset_group' }),
  );
};
