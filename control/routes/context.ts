// What every route plugin is given, and who a change is made for.

import type { FastifyRequest } from 'fastify';
import type { EnforcementRunner } from '../enforcement/enforcement.js';
import type { ControlMetrics } from '../metrics.js';
import type { ChangeContext, Store } from '../store.js';

export interface RouteDeps {
  store: Store;
  runner: EnforcementRunner;
  metrics: ControlMetrics;
}

/** Optional header carrying why a change is made; percent-encoded if it is not ASCII
 *  (HTTP header values are Latin-1), the way SoracomClient sends it. */
const REASON_HEADER = 'x-tapwatch-reason';

export const reasonHeaderSchema = { [REASON_HEADER]: { type: 'string', maxLength: 1000 } };

/** The actor (the caller's key) and reason an audit row records. */
export function changeContext(req: FastifyRequest): ChangeContext {
  const raw = req.headers[REASON_HEADER];
  let reason: string | null = typeof raw === 'string' && raw !== '' ? raw : null;
  if (reason?.includes('%')) {
    try {
      reason = decodeURIComponent(reason);
    } catch {
      // Not percent-encoding after all: keep the text as sent.
    }
  }
  return { actor: req.principal!.authKeyId, reason };
}
