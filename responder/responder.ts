// Automated response: an AnomalyEvent in, the policy's decision, a call to the control API (or, for
// notify, a delivery to the notification channels), and an ActionEvent out for every decision,
// including the ones not to act. The same responder runs in process (tapwatch demo) and on Kafka
// (service.ts, which only feeds it and publishes). Time is what the caller passes, never the wall
// clock here, so a run is reproducible: the Kafka service passes wall time, an offline replay the
// events' own time.
//
// Each step is a function of the responder's state (Responding): what an in-alarm anomaly leads to
// (outcome), what a release does (undo), and the one place an ActionEvent is built (actionEvent).

import type { Logger } from 'pino';
import { counts } from '../net/counts.js';
import type { Subscriber } from '../contracts/control-api.js';
import { ACTION_RESULTS, ACTION_SCHEMA_ID, actionId, anomalyRef, type ActionEvent, type ActionResult, type PreviousState } from '../contracts/action-event.js';
import type { AnomalyEvent } from '../contracts/anomaly-event.js';
import type { ControlClient, SubscriberAction } from '../control/model.js';
import { actionReason, releaseReason, type Because, type ReleaseBecause, type ReleaseTrigger } from './action-reason.js';
import { breakerOpen } from './breaker.js';
import { ActionLedger, type ActiveAction } from './ledger.js';
import { notification, type Notifier } from './notify.js';
import { allowlisted, decide, stricter, validatePolicy, type Decision, type Policy } from './policy.js';

export interface ResponderOptions {
  policy: Policy;
  client: ControlClient;
  /** Called for every ActionEvent before the responder counts it as decided; a throw leaves it undecided. */
  publish(ev: ActionEvent): Promise<void> | void;
  /** Where notify decisions are delivered (webhook, syslog); none: notify is a record on tapwatch.actions only. */
  notifiers?: readonly Notifier[];
  /** The clock for handle() and releaseDue() when they are not given a time. */
  now?: () => Date;
  /** Gets the one error line per circuit-breaker trip. */
  log?: Pick<Logger, 'error'>;
  actor?: string;
  enforcer?: string;
}

/**
 * Anomalies handled; duplicates: anomalies already decided (redelivered, or replayed after a restart), nothing
 * done, nothing emitted; suppressed: actions held back by an open breaker after its one alert; ActionEvents
 * emitted, by result.
 */
function responderStats() {
  return Object.assign(counts('anomalies', 'duplicates', 'suppressed'), { results: counts(...ACTION_RESULTS) });
}
export type ResponderStats = ReturnType<typeof responderStats>;

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

/** What every step works with. */
interface Responding {
  policy: Policy;
  client: ControlClient;
  notifiers: readonly Notifier[];
  publish: ResponderOptions['publish'];
  log?: ResponderOptions['log'];
  actor: string;
  enforcer: string;
  ledger: ActionLedger;
  stats: ResponderStats;
}

export function createResponder(o: ResponderOptions): Responder {
  const r: Responding = {
    policy: validatePolicy(o.policy),
    client: o.client,
    notifiers: o.notifiers ?? [],
    publish: o.publish,
    log: o.log,
    actor: o.actor ?? 'tapwatch-responder',
    enforcer: o.enforcer ?? 'control-api',
    ledger: new ActionLedger(),
    stats: responderStats(),
  };
  const clock = o.now ?? (() => new Date());
  const serial = oneAtATime();
  return {
    stats: r.stats,
    handle: (event, now = clock()) => serial.run(() => respond(r, event, now)),
    releaseDue: (now = clock()) => serial.run(() => releaseDue(r, now)),
    observe: (ev) => r.ledger.observe(ev),
    refreshFleet: () => refreshFleet(r),
    idle: serial.idle,
  };
}

/** One decision at a time: a release and a new action on the same device must not interleave their API calls. */
function oneAtATime() {
  let queue: Promise<unknown> = Promise.resolve();
  return {
    run<T>(fn: () => Promise<T>): Promise<T> {
      const run = queue.then(fn);
      queue = run.catch(() => undefined);
      return run;
    },
    idle: () => queue.then(() => undefined),
  };
}

async function respond(r: Responding, event: AnomalyEvent, now: Date): Promise<ActionEvent[]> {
  r.ledger.prune(now.getTime());
  r.ledger.see(event.device.id);
  r.stats.anomalies++;
  if (event.alarm === 'alarm-cleared') {
    if (!r.policy.releaseOnClear) return [];
    const released = r.ledger.cleared(event.device.id, event.behavior, Date.parse(event['@timestamp']));
    return present(await inOrder(released, (a) => release(r, a, now, { cleared: event })));
  }
  const d = notLoosening(decide(r.policy, event), r.ledger.activeOf(event.device.id, 'throttle'));
  const id = actionId(event.device.id, event.event_id, d.action);
  if (r.ledger.decided(id)) {
    r.stats.duplicates++;
    return [];
  }
  const result = await outcome(r, event, d, id, now);
  if (result === null) return [];
  return [await emit(r, decisionEvent(r, event, d, id, now, result.because, result.previous))];
}

/**
 * A second throttle never loosens the one in force: with a laxer class it sets the class in force instead. It
 * stays the new alarm's action rather than a skip, so that alarm holds the throttle too (ledger.ts) and its
 * lifetime counts; its call changes nothing, unless the class was lifted outside the responder.
 */
function notLoosening(d: Decision, inForce: ActiveAction | undefined): Decision {
  if (d.action !== 'throttle' || !inForce?.speedClass || !stricter(inForce.speedClass, d.speedClass)) return d;
  return { ...d, speedClass: inForce.speedClass, ruleSpeedClass: d.speedClass };
}

/**
 * What an in-alarm anomaly comes to, in this order: notify delivers and changes nothing (so it needs no
 * IMSI and is never held back); then the allowlist, the IMSI, the cooldown, the breaker, a dry run;
 * then the call. null: held back silently by a breaker that has already alerted.
 */
async function outcome(r: Responding, event: AnomalyEvent, d: Decision, id: string, now: Date): Promise<{ because: Because; previous?: PreviousState } | null> {
  const t = now.getTime();
  if (d.action === 'notify') return { because: r.policy.dryRun ? { result: 'dry-run' } : await deliver(r, event, d, id, now) };
  const entry = allowlisted(r.policy, event.device);
  if (entry !== null) return { because: { result: 'skipped-allowlist', entry } };
  const imsi = event.device.imsi;
  if (!imsi) return { because: { result: 'skipped-no-imsi' } };
  const last = r.ledger.lastActionOn(event.device.id);
  if (last && t - last.at < r.policy.cooldownSeconds * 1000) return { because: { result: 'skipped-cooldown', last, cooldownSeconds: r.policy.cooldownSeconds } };
  const why = breakerOpen(r.policy.breaker, r.ledger, event.device.id, t);
  if (why !== null) {
    if (r.ledger.breakerTripped()) {
      r.stats.suppressed++;
      r.ledger.holdAll(event.device.id, { anomaly: anomalyRef(event) }, t);
      return null;
    }
    r.log?.error({ device: event.device.id, action: d.action, anomaly: event.event_id, why }, 'circuit breaker open: automated response suspended until it closes');
    return { because: { result: 'suppressed-breaker', why } };
  }
  if (r.policy.dryRun) return { because: { result: 'dry-run' } };
  // A second action of a kind already in force keeps the state from before the first: that is what to restore.
  let previous = r.ledger.activeOf(event.device.id, d.action)?.previous;
  try {
    previous ??= stateOf(await r.client.getSubscriber(imsi), imsi);
    await r.client.act(imsi, enforce(d), { idempotencyKey: id, reason: `policy rule '${d.rule.name}', anomaly ${event.event_id}` });
    return { because: { result: 'applied' }, previous };
  } catch (err) {
    return { because: { result: 'failed', error: message(err) }, previous };
  }
}

/** notify: to every channel; applied when all of them took it, failed (saying which did not) otherwise. */
async function deliver(r: Responding, event: AnomalyEvent, d: Decision, id: string, now: Date): Promise<Because> {
  const n = notification({ action_id: id, at: now, rule: d.rule.name, anomaly: event });
  const failures = (await Promise.all(r.notifiers.map((ch) => ch.deliver(n).then(() => null, (err) => message(err))))).filter((f) => f !== null);
  return failures.length === 0 ? { result: 'applied' } : { result: 'failed', error: failures.join('; ') };
}

async function releaseDue(r: Responding, now: Date): Promise<ActionEvent[]> {
  r.ledger.prune(now.getTime());
  return present(await inOrder(r.ledger.due(now.getTime()), (a) => release(r, a, now, { expiredAt: a.expiresAt! })));
}

/** Undoes an action in force; null when a dry run would have to undo a live action (it leaves it to a live run). */
async function release(r: Responding, a: ActiveAction, now: Date, trigger: ReleaseTrigger): Promise<ActionEvent | null> {
  if (r.policy.dryRun && !a.dryRun) return null;
  const id = actionId(a.device.id, a.action_id, 'release');
  const because = await undo(r, a, id);
  return emit(r, releaseEvent(r, a, id, now, trigger, because));
}

async function undo(r: Responding, a: ActiveAction, id: string): Promise<ReleaseBecause> {
  if (a.dryRun) return { result: 'dry-run' };
  try {
    const call = restore(a);
    if (call !== null) await r.client.act(a.device.imsi!, call, { idempotencyKey: id, reason: `release of action ${a.action_id}` });
    return { result: 'applied' };
  } catch (err) {
    return { result: 'failed', error: message(err) };
  }
}

async function refreshFleet(r: Responding): Promise<number> {
  const subscribers = await r.client.listSubscribers();
  // tags.name carries the device id (contracts/control-api.ts), so a listed device and one seen in events count once.
  for (const s of subscribers) r.ledger.see(s.tags.name ?? s.imsi);
  return subscribers.length;
}

async function emit(r: Responding, ev: ActionEvent): Promise<ActionEvent> {
  await r.publish(ev);
  r.ledger.observe(ev);
  r.stats.results[ev.result]++;
  return ev;
}

// ---- the ActionEvent, built in one place ----

/** What every ActionEvent has: the decision's identity, its result, and who made it. */
function actionEvent(r: Responding, fields: Omit<ActionEvent, 'schema' | 'result' | 'actor' | 'error'>, because: Because): ActionEvent {
  return {
    schema: ACTION_SCHEMA_ID,
    ...fields,
    result: because.result,
    actor: r.actor,
    ...(because.result === 'failed' && { error: { message: because.error } }),
  };
}

/**
 * When the action ends (ms), or null for never (a person releases it). A second action of a kind in
 * force takes the first one's place in the ledger (keeping its `previous` and its alarms), so it also
 * keeps the longer of the two lifetimes: a medium alarm's hour-long throttle must not lift, an hour
 * later, the throttle a high alarm left for a person to release.
 */
function lifetime(before: ActiveAction | undefined, d: Decision, now: Date): number | null {
  const own = d.releaseAfterSeconds === null ? null : now.getTime() + d.releaseAfterSeconds * 1000;
  if (before === undefined) return own;
  return own === null || before.expiresAt === null ? null : Math.max(own, before.expiresAt);
}

function decisionEvent(r: Responding, event: AnomalyEvent, d: Decision, id: string, now: Date, because: Because, previous: PreviousState | undefined): ActionEvent {
  const inForce = because.result === 'applied' || because.result === 'dry-run';
  const expiresAt = inForce && d.action !== 'notify' ? lifetime(r.ledger.activeOf(event.device.id, d.action), d, now) : null;
  const expires_at = expiresAt === null ? undefined : new Date(expiresAt).toISOString();
  const target = {
    action: d.action,
    device: event.device,
    ...(d.action === 'throttle' && { speed_class: d.speedClass }),
    ...(d.action === 'redirect' && { group_id: d.groupId }),
  };
  return actionEvent(r, {
    action_id: id,
    '@timestamp': now.toISOString(),
    ...target,
    reason: actionReason({ ...target, expires_at }, because, event, d),
    rule: d.rule.name,
    anomaly: anomalyRef(event),
    ...(previous && { previous }),
    ...(expires_at && { expires_at }),
    ...(d.action !== 'notify' && { enforcer: r.enforcer }),
    dry_run: r.policy.dryRun,
  }, because);
}

function releaseEvent(r: Responding, a: ActiveAction, id: string, now: Date, trigger: ReleaseTrigger, because: ReleaseBecause): ActionEvent {
  const p = a.previous;
  return actionEvent(r, {
    action_id: id,
    '@timestamp': now.toISOString(),
    device: a.device,
    action: 'release',
    reason: releaseReason(a, because, trigger),
    ...(a.rule && { rule: a.rule }),
    ...('cleared' in trigger && { anomaly: anomalyRef(trigger.cleared) }),
    ...(p && a.action === 'throttle' && { speed_class: p.speed_class }),
    ...(p?.group_id && a.action === 'redirect' && { group_id: p.group_id }),
    ...(p && { previous: p }),
    releases: { action_id: a.action_id, action: a.action },
    enforcer: r.enforcer,
    dry_run: a.dryRun,
  }, because);
}

// ---- the API calls ----

function enforce(d: Exclude<Decision, { action: 'notify' }>): SubscriberAction {
  switch (d.action) {
    case 'throttle':
      return { type: 'update_speed_class', speedClass: d.speedClass };
    case 'redirect':
      return { type: 'set_group', groupId: d.groupId };
    case 'block':
      return { type: 'deactivate' };
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
