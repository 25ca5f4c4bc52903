// What every route plugin is given, and who a change is made for.

import type { FastifyRequest } from 'fastify';
import { REASON_HEADER } from '../../contracts/control-api.js';
import type { EnforcementRunner } from '../enforcement/enforcement.js';
import type { LoginGuard } from '../login-guard.js';
import type { Tarpit } from '../tarpit.js';
import type { ControlMetrics } from '../metrics.js';
import type { ChangeContext, Store } from '../store.js';

export interface RouteDeps {
  store: Store;
  runner: EnforcementRunner;
  metrics: ControlMetrics;
  login: LoginGuard;
  /** Where 429s to addresses wait (tarpit.ts). */
  tarpit: Tarpit;
}

/** The actor (the caller's key) and reason an audit row records; the reason arrives percent-encoded
 *  when it is not ASCII (HTTP header values are Latin-1), the way SoracomClient sends it. */
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
