// Automated response: an AnomalyEvent in, the policy's decision, a call to the control API, and an
// ActionEvent out for every decision, including the ones not to act. The same responder runs in
// process (tapwatch demo) and on Kafka (responder-service.ts, which only feeds it and publishes).
// Time is what the caller passes, never the wall clock here, so a run is reproducible: the Kafka
// service passes wall time, an offline replay the events' own time.

import type { Logger } from 'pino';
import type { ControlClient, Subscriber, SubscriberAction } from '../control/model.js';
import { ACTION_RESULTS, ACTION_SCHEMA_ID, actionId, anomalyRef, type ActionEvent, type ActionResult, type PreviousState } from '../contracts/action-event.js';
import { actionReason, releaseReason, type Because, type ReleaseBecause, type ReleaseTrigger } from './action-reason.js';
import type { AnomalyEvent } from '../contracts/anomaly-event.js';
import { breakerOpen } from './breaker.js';
import { ActionLedger, type ActiveAction } from './ledger.js';
import { allowlisted, decide, validatePolicy, type Decision, type Policy } from './policy.js';

export interface ResponderOptions {
  policy: Policy;
  client: ControlClient;
  /** Called for every ActionEvent before the responder counts it as decided; a throw leaves it undecided. */
  publish(ev: ActionEvent): Promise<void> | void;
  /** The clock for handle() and releaseDue() when they are not given a time. */
  now?: () => Date;
  /** Gets the one error line per circuit-breaker trip. */
  log?: Pick<Logger, 'error'>;
  actor?: string;
  enforcer?: string;
}

export class ResponderStats {
  anomalies = 0;
  /** Anomalies already decided (redelivered, or replayed after a restart): nothing done, nothing emitted. */
  duplicates = 0;
  /** Actions held back by an open breaker after its one alert. */
  suppressed = 0;
  /** ActionEvents emitted, by result. */
  readonly results = Object.fromEntries(ACTION_RESULTS.map((r) => [r, 0])) as Record<ActionResult, number>;
}

export interface Responder {
  readonly stats: ResponderStats;
  /** Decides on one anomaly and acts; returns the ActionEvents emitted (none for a duplicate, or while the breaker is open after its alert). */
  handle(event: AnomalyEvent, now?: Date): Promise<ActionEvent[]>;
  /** Releases the actions whose TTL has run out by `now`. */
  releaseDue(now?: Date): Promise<ActionEvent[]>;
  /** An ActionEvent emitted elsewhere (tapwatch.actions read back at start, another responder): into the ledger. */
  observe(ev: ActionEvent): void;
  /** Adds the control API's subscribers to the fleet the breaker's share is taken of; returns how many it listed. */
  refreshFleet(): Promise<number>;
  /** Resolves when nothing is in progress (for a clean shutdown). */
  idle(): Promise<void>;
}

export function createResponder(o: ResponderOptions): Responder {
  const policy = validatePolicy(o.policy);
  const clock = o.now ?? (() => new Date());
  const actor = o.actor ?? 'tapwatch-responder';
  const enforcer = o.enforcer ?? 'control-api';
  const ledger = new ActionLedger();
  const stats = new ResponderStats();

  // One decision at a time: a release and a new action on the same device must not interleave their API calls.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn);
    queue = run.catch(() => undefined);
    return run;
  };

  async function emit(ev: ActionEvent): Promise<ActionEvent> {
    await o.publish(ev);
    ledger.observe(ev);
    stats.results[ev.result]++;
    return ev;
  }

  async function respond(event: AnomalyEvent, now: Date): Promise<ActionEvent[]> {
    const t = now.getTime();
    ledger.prune(t);
    ledger.see(event.device.id);
    stats.anomalies++;
    if (event.alarm === 'alarm-cleared') {
      if (!policy.releaseOnClear) return [];
      const released = ledger.activeOn(event.device.id).filter((a) => a.behavior === event.behavior);
      return present(await inOrder(released, (a) => release(a, now, { cleared: event })));
    }
    const d = decide(policy, event);
    const id = actionId(event.device.id, event.event_id, d.action);
    if (ledger.decided(id)) {
      stats.duplicates++;
      return [];
    }
    const target = {
      action: d.action,
      device: event.device,
      ...(d.action === 'throttle' && { speed_class: d.speedClass }),
      ...(d.action === 'redirect' && { group_id: d.groupId }),
    };
    const expires_at = d.releaseAfterSeconds !== null ? new Date(t + d.releaseAfterSeconds * 1000).toISOString() : undefined;
    const record = (because: Because, previous?: PreviousState): Promise<ActionEvent> => {
      const inForce = because.result === 'applied' || because.result === 'dry-run';
      return emit({
        schema: ACTION_SCHEMA_ID,
        action_id: id,
        '@timestamp': now.toISOString(),
        ...target,
        result: because.result,
        reason: actionReason({ ...target, expires_at: inForce ? expires_at : undefined }, because, event, d.rule.name, d.action === 'block' ? d.instead : undefined),
        rule: d.rule.name,
        anomaly: anomalyRef(event),
        ...(previous && { previous }),
        ...(inForce && expires_at && d.action !== 'notify' && { expires_at }),
        actor,
        ...(d.action !== 'notify' && { enforcer }),
        dry_run: policy.dryRun,
        ...(because.result === 'failed' && { error: { message: because.error } }),
      });
    };

    // notify changes nothing, so it needs no IMSI and is never held back.
    if (d.action === 'notify') return [await record({ result: policy.dryRun ? 'dry-run' : 'applied' })];
    const entry = allowlisted(policy, event.device);
    if (entry !== null) return [await record({ result: 'skipped-allowlist', entry })];
    const imsi = event.device.imsi;
    if (!imsi) return [await record({ result: 'skipped-no-imsi' })];
    const last = ledger.lastActionOn(event.device.id);
    if (last && t - last.at < policy.cooldownSeconds * 1000) return [await record({ result: 'skipped-cooldown', last, cooldownSeconds: policy.cooldownSeconds })];
    const why = breakerOpen(policy.breaker, ledger, event.device.id, t);
    if (why !== null) {
      if (ledger.breakerTripped()) {
        stats.suppressed++;
        return [];
      }
      o.log?.error({ device: event.device.id, action: d.action, anomaly: event.event_id, why }, 'circuit breaker open: automated response suspended until it closes');
      return [await record({ result: 'suppressed-breaker', why })];
    }
    if (policy.dryRun) return [await record({ result: 'dry-run' })];
    // A second action of a kind already in force keeps the state from before the first: that is what to restore.
    let previous = ledger.activeOf(event.device.id, d.action)?.previous;
    try {
      previous ??= stateOf(await o.client.getSubscriber(imsi), imsi);
      await o.client.act(imsi, enforce(d), { idempotencyKey: id, reason: `policy rule '${d.rule.name}', anomaly ${event.event_id}` });
      return [await record({ result: 'applied' }, previous)];
    } catch (err) {
      return [await record({ result: 'failed', error: message(err) }, previous)];
    }
  }

  /** Undoes an action in force; null when a dry run would have to undo a live action (it leaves it to a live run). */
  async function release(a: ActiveAction, now: Date, trigger: ReleaseTrigger): Promise<ActionEvent | null> {
    if (policy.dryRun && !a.dryRun) return null;
    const id = actionId(a.device.id, a.action_id, 'release');
    const p = a.previous;
    const ev = (because: ReleaseBecause): Promise<ActionEvent> =>
      emit({
        schema: ACTION_SCHEMA_ID,
        action_id: id,
        '@timestamp': now.toISOString(),
        device: a.device,
        action: 'release',
        result: because.result,
        reason: releaseReason(a, because, trigger),
        ...(a.rule && { rule: a.rule }),
        ...('cleared' in trigger && { anomaly: anomalyRef(trigger.cleared) }),
        ...(p && a.action === 'throttle' && { speed_class: p.speed_class }),
        ...(p?.group_id && a.action === 'redirect' && { group_id: p.group_id }),
        ...(p && { previous: p }),
        releases: { action_id: a.action_id, action: a.action },
        actor,
        enforcer,
        dry_run: a.dryRun,
        ...(because.result === 'failed' && { error: { message: because.error } }),
      });
    if (a.dryRun) return ev({ result: 'dry-run' });
    try {
      const undo = restore(a);
      if (undo !== null) await o.client.act(a.device.imsi!, undo, { idempotencyKey: id, reason: `release of action ${a.action_id}` });
      return await ev({ result: 'applied' });
    } catch (err) {
      return ev({ result: 'failed', error: message(err) });
    }
  }

  return {
    stats,
    handle: (event, now = clock()) => serial(() => respond(event, now)),
    releaseDue: (now = clock()) =>
      serial(async () => {
        ledger.prune(now.getTime());
        return present(await inOrder(ledger.due(now.getTime()), (a) => release(a, now, { expiredAt: a.expiresAt! })));
      }),
    observe: (ev) => ledger.observe(ev),
    refreshFleet: async () => {
      const subscribers = await o.client.listSubscribers();
      // tags.name carries the device id (control/model.ts), so a listed device and one seen in events count once.
      for (const s of subscribers) ledger.see(s.tags.name ?? s.imsi);
      return subscribers.length;
    },
    idle: () => queue.then(() => undefined),
  };
}

function enforce(d: Decision): SubscriberAction {
  switch (d.action) {
    case 'throttle':
      return { type: 'update_speed_class', speedClass: d.speedClass };
    case 'redirect':
      return { type: 'set_group', groupId: d.groupId };
    case 'block':
      return { type: 'deactivate' };
    case 'notify':
      throw new Error('notify calls nothing');
  }
}

/** The call that puts back what an action changed; null when there is nothing to put back. */
function restore(a: ActiveAction): SubscriberAction | null {
  const p = a.previous;
  if (!p) throw new Error(`the state of device ${a.device.id} before action ${a.action_id} is not known`);
  switch (a.action) {
    case 'throttle':
      return { type: 'update_speed_class', speedClass: p.speed_class };
    case 'redirect':
      return p.group_id === null ? { type: 'unset_group' } : { type: 'set_group', groupId: p.group_id };
    case 'block':
      // Only an active SIM is reactivated: a release never gives a device more than it had.
      return p.status === 'active' ? { type: 'activate' } : null;
  }
}

function stateOf(s: Subscriber | null, imsi: string): PreviousState {
  if (s === null) throw new Error(`the control API has no subscriber with IMSI ${imsi}`);
  return { status: s.status, speed_class: s.speedClass, group_id: s.groupId };
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err)) || 'unknown error';

/** One after the other: each step's event is in the ledger before the next decision. */
async function inOrder<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (const item of items) out.push(await fn(item));
  return out;
}

const present = <T>(xs: (T | null)[]): T[] => xs.filter((x): x is T => x !== null);
