// Enforcement by another SORACOM-compatible API (SORACOM itself, or a second tapwatch): each
// action is forwarded as the same call. Reconcile pushes, per subscriber, what tapwatch's actions set
// (EnforcementState.owned) and differs upstream; the rest is the upstream operator's, not overwritten
// with an import's defaults (an active status would re-activate a SIM deactivated there).
// Subscribers and groups are not created upstream (SORACOM has no call for the first): a
// subscriber missing there is reported and skipped, and a group must exist there under the same id.
// A call that fails leaves that subscriber not enforced (reported, retried by the runner), not the fleet.

import type { Logger } from 'pino';
import { SoracomClient } from '../client.js';
import type { NotEnforced } from '../../contracts/control-api.js';
import type { ActionField, EnforcementReport, EnforcementState, Enforcer, Subscriber, SubscriberAction } from '../model.js';

export interface UpstreamEnforcerOptions {
  baseUrl: string;
  authKeyId: string;
  authKey: string;
  log: Logger;
  /** Client retries per call. Default 2: a failure is retried again by the runner's reconcile,
   *  and meanwhile the request that caused it is waiting. */
  retries?: number;
}

/** Upstream calls in flight at once during a reconcile. */
const CONCURRENCY = 8;
const REASON = 'tapwatch upstream enforcer';
const NOTHING_OWNED: ReadonlySet<ActionField> = new Set();

export class UpstreamEnforcer implements Enforcer {
  readonly name = 'upstream';
  private readonly client: SoracomClient;
  private readonly log: Logger;

  constructor(opts: UpstreamEnforcerOptions) {
    this.client = new SoracomClient({ baseUrl: opts.baseUrl, authKeyId: opts.authKeyId, authKey: opts.authKey, retries: opts.retries ?? 2, timeoutMs: 5000 });
    this.log = opts.log;
  }

  async apply(subscriber: Subscriber, action: SubscriberAction): Promise<void> {
    await this.client.act(subscriber.imsi, action, { reason: REASON });
  }

  async reconcile(state: EnforcementState): Promise<EnforcementReport> {
    const upstream = new Map((await this.client.listSubscribers()).map((s) => [s.imsi, s]));
    const notEnforced: NotEnforced[] = [];
    const work: Array<{ imsi: string; action: SubscriberAction }> = [];
    for (const s of state.subscribers) {
      const up = upstream.get(s.imsi);
      if (!up) notEnforced.push({ imsi: s.imsi, reason: 'unknown to the upstream API: not enforced there' });
      else for (const action of differences(s, up, state.owned?.get(s.imsi) ?? NOTHING_OWNED)) work.push({ imsi: s.imsi, action });
    }
    let failed = 0;
    const next = work[Symbol.iterator]();
    const worker = async () => {
      for (const { imsi, action } of next) {
        try {
          await this.client.act(imsi, action, { reason: REASON });
        } catch (err) {
          failed++;
          notEnforced.push({ imsi, reason: `upstream ${action.type} failed: ${(err as Error).message}` });
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const missing = notEnforced.length - failed;
    if (missing) this.log.warn({ count: missing, first: notEnforced.slice(0, 10).map((n) => n.imsi) }, 'subscribers unknown upstream: not enforced there');
    this.log.info({ subscribers: state.subscribers.length, pushed: work.length - failed, failed, missing }, 'upstream reconciled');
    return { notEnforced, retry: failed > 0 };
  }

  async close(): Promise<void> {}
}

/** The calls that make the `owned` fields of `up` match `want`; the others are left as they are there.
 *  A block (inactive) is pushed whatever the SIM's status there, so a failed forward is repaired for a
 *  SIM in ready or standby too, which would go active on its next session; activate only undoes a
 *  deactivation: a SIM in standby, ready or suspended upstream (SORACOM's own life cycle, and billing)
 *  is not activated because the store has it active. Terminated is final. */
export function differences(want: Subscriber, up: Subscriber, owned: ReadonlySet<ActionField>): SubscriberAction[] {
  const actions: SubscriberAction[] = [];
  if (owned.has('status')) {
    if (want.status === 'active' && up.status === 'inactive') actions.push({ type: 'activate' });
    else if (want.status === 'inactive' && up.status !== 'inactive' && up.status !== 'terminated') actions.push({ type: 'deactivate' });
  }
  if (owned.has('speedClass') && want.speedClass !== up.speedClass) actions.push({ type: 'update_speed_class', speedClass: want.speedClass });
  if (owned.has('groupId') && want.groupId !== up.groupId) actions.push(want.groupId === null ? { type: 'unset_group' } : { type: 'set_group', groupId: want.groupId });
  return actions;
}
