// The responder's memory, rebuilt from its own ActionEvents (event sourcing): which decisions were
// made, when each device was last acted on, which actions are in force and when they expire, how many
// actions the last minute saw and whether the circuit breaker is open. observe() is the way in, for
// events just published and for events read back from tapwatch.actions at start alike, so a restarted
// responder knows what the one before it knew; the exceptions, which no ActionEvent records, are a clear
// that leaves an action held by another alarm (cleared()) and the breaker's silent suppressions
// (holdAll()); a rebuilt ledger then holds more than the live one did, never less. observe() is idempotent and does not
// depend on the order of events of different devices (partitions are read in parallel): a device's
// events arrive in order (one partition), everything fleet-wide is kept by time.

import type { ActionEvent, PreviousState } from '../contracts/action-event.js';
import type { SpeedClass } from '../contracts/control-api.js';
import type { Enforcement } from './policy.js';

/** An action in force, until its release. */
export interface ActiveAction {
  action_id: string;
  action: Enforcement;
  device: ActionEvent['device'];
  rule?: string;
  /**
   * The alarms that hold it, for a release when they have all cleared: by behavior, the time (ms) of the
   * latest anomaly of that behavior behind the action, so that a clear older than it (a clear delivered again
   * after a newer alarm) leaves it held.
   */
  alarms: Map<string, number>;
  /** A throttle's class, which a second throttle must not loosen. */
  speedClass?: SpeedClass;
  /** Unknown for an action only recorded in a dry run. */
  previous?: PreviousState;
  dryRun: boolean;
  at: number; // ms
  expiresAt: number | null;
}

/** How long decisions are remembered: a week, Kafka's default retention, beyond which a restart could not know them either. */
export const LEDGER_HORIZON_MS = 7 * 86_400_000;
export const BREAKER_WINDOW_MS = 60_000;

const isEnforcement = (a: ActionEvent['action']): a is Enforcement => a === 'throttle' || a === 'redirect' || a === 'block';
/** In force: applied, or recorded in a dry run (so a dry run makes the decisions a live run would). */
const inForce = (r: ActionEvent['result']) => r === 'applied' || r === 'dry-run';

/**
 * The alarms holding an action, with the one behind `ev` added: a second action of a kind in force takes the
 * first one's place, and the alarms of both hold it. Timed by the anomaly, not the decision: a responder
 * catching up decides long after the traffic, and the alarm's clear must still come after. An event written
 * before anomaly refs had a time counts from its decision, which is never before its anomaly: a clear then
 * releases it no earlier than it should.
 */
function withAlarm(alarms: ReadonlyMap<string, number> | undefined, ev: Pick<ActionEvent, 'anomaly'>, decidedAt: number): Map<string, number> {
  const out = new Map(alarms);
  const a = ev.anomaly;
  if (a) out.set(a.behavior, Math.max(out.get(a.behavior) ?? -Infinity, a['@timestamp'] ? Date.parse(a['@timestamp']) : decidedAt));
  return out;
}

export class ActionLedger {
  /** action_id/result seen: observe() twice (published, then read back) counts once. */
  private readonly seen = new Map<string, number>();
  /** action_id → when first decided, whatever the result. */
  private readonly decisions = new Map<string, number>();
  private readonly lastAction = new Map<string, { at: number; action: Enforcement }>();
  private readonly active = new Map<string, Map<Enforcement, ActiveAction>>();
  /** Times of the actions put in force, for the rate limit. */
  private recent: number[] = [];
  private breakerTrippedAt: number | null = null;
  /** When an action last went through the breaker: a trip ends there. */
  private breakerPassedAt = -Infinity;
  private readonly fleet = new Set<string>();

  observe(ev: ActionEvent): void {
    const key = `${ev.action_id}/${ev.result}`;
    if (this.seen.has(key)) return;
    const at = Date.parse(ev['@timestamp']);
    this.seen.set(key, at);
    if (!this.decisions.has(ev.action_id)) this.decisions.set(ev.action_id, at);
    this.fleet.add(ev.device.id);
    if (ev.action === 'release') {
      // Applied, dry-run or failed alike: a release is tried once (a failed one is left to a person).
      const forDevice = this.active.get(ev.device.id);
      if (ev.releases && forDevice?.get(ev.releases.action)?.action_id === ev.releases.action_id) forDevice.delete(ev.releases.action);
      return;
    }
    if (!isEnforcement(ev.action)) return;
    if (ev.result === 'suppressed-breaker') this.breakerTrippedAt = Math.max(this.breakerTrippedAt ?? -Infinity, at);
    if (ev.result === 'failed' || inForce(ev.result)) this.breakerPassedAt = Math.max(this.breakerPassedAt, at);
    if (!inForce(ev.result)) {
      if (ev.result === 'skipped-cooldown' || ev.result === 'suppressed-breaker' || ev.result === 'failed') this.holdAll(ev.device.id, ev, at);
      return;
    }
    this.recent.push(at);
    if ((this.lastAction.get(ev.device.id)?.at ?? -Infinity) <= at) this.lastAction.set(ev.device.id, { at, action: ev.action });
    let forDevice = this.active.get(ev.device.id);
    if (!forDevice) this.active.set(ev.device.id, (forDevice = new Map()));
    forDevice.set(ev.action, {
      action_id: ev.action_id,
      action: ev.action,
      device: ev.device,
      rule: ev.rule,
      alarms: withAlarm(forDevice.get(ev.action)?.alarms, ev, at),
      speedClass: ev.speed_class,
      previous: ev.previous,
      dryRun: ev.result === 'dry-run',
      at,
      expiresAt: ev.expires_at ? Date.parse(ev.expires_at) : null,
    });
  }

  /** A device seen in an anomaly or listed by the control API: part of the fleet the breaker's share is taken of. */
  see(deviceId: string): void {
    this.fleet.add(deviceId);
  }

  decided(actionId: string): boolean {
    return this.decisions.has(actionId);
  }

  lastActionOn(deviceId: string): { at: number; action: Enforcement } | undefined {
    return this.lastAction.get(deviceId);
  }

  activeOn(deviceId: string): ActiveAction[] {
    return [...(this.active.get(deviceId)?.values() ?? [])];
  }

  activeOf(deviceId: string, action: Enforcement): ActiveAction | undefined {
    return this.active.get(deviceId)?.get(action);
  }

  /**
   * An alarm held back from acting (the cooldown, the breaker, a failed call) still wants the device restricted: it
   * holds every action in force on the device, whatever the kind it asked for, or the first alarm's clear would lift
   * what this one asks for. `ev`: the ActionEvent that recorded it, or, for the breaker's silent suppressions after
   * its one alert (no ActionEvent), one built for the purpose; those holds are not rebuilt at a restart.
   */
  holdAll(deviceId: string, ev: Pick<ActionEvent, 'anomaly'>, decidedAt: number): void {
    for (const a of this.activeOn(deviceId)) a.alarms = withAlarm(a.alarms, ev, decidedAt);
  }

  /**
   * The device's alarm of `behavior` cleared, with its anomaly at `at` (ms): it no longer holds the actions it
   * asked for before then. The clear's own time is enough to tell its alarm: every anomaly of the alarm it ends
   * comes before it, and a newer alarm of the behavior only after it. Returns the actions no alarm holds any
   * more, to release. When another alarm still holds an action, no ActionEvent records this clear, so a
   * restarted responder still counts the cleared alarm: it keeps the action until its TTL or a person releases
   * it, never lifting a restriction early.
   */
  cleared(deviceId: string, behavior: string, at: number): ActiveAction[] {
    const actions = this.activeOn(deviceId);
    for (const a of actions) if ((a.alarms.get(behavior) ?? Infinity) <= at) a.alarms.delete(behavior);
    return actions.filter((a) => a.alarms.size === 0);
  }

  /** Actions whose TTL has run out by `now`, oldest first (then by id: the same order however the ledger was built). */
  due(now: number): ActiveAction[] {
    const out: ActiveAction[] = [];
    for (const forDevice of this.active.values()) for (const a of forDevice.values()) if (a.expiresAt !== null && a.expiresAt <= now) out.push(a);
    return out.sort((a, b) => a.expiresAt! - b.expiresAt! || (a.action_id < b.action_id ? -1 : 1));
  }

  actionsSince(from: number): number {
    return this.recent.reduce((n, t) => (t > from ? n + 1 : n), 0);
  }

  devicesUnderAction(): number {
    let n = 0;
    for (const forDevice of this.active.values()) if (forDevice.size > 0) n++;
    return n;
  }

  fleetSize(): number {
    return this.fleet.size;
  }

  /**
   * True from a suppressed-breaker event until an action next goes through: that trip has had its one alert.
   * A tie counts as tripped: replayed events share their interval's timestamp, and a trip usually follows the
   * actions that caused it in the same instant, while an action that gets through only comes later.
   */
  breakerTripped(): boolean {
    return this.breakerTrippedAt !== null && this.breakerTrippedAt >= this.breakerPassedAt;
  }

  /** Forgets what no decision at `now` can depend on any more, so a long-running responder stays bounded. */
  prune(now: number): void {
    this.recent = this.recent.filter((t) => t > now - BREAKER_WINDOW_MS);
    const horizon = now - LEDGER_HORIZON_MS;
    for (const [k, t] of this.seen) if (t < horizon) this.seen.delete(k);
    for (const [k, t] of this.decisions) if (t < horizon) this.decisions.delete(k);
    for (const [k, v] of this.lastAction) if (v.at < horizon) this.lastAction.delete(k);
    for (const [k, forDevice] of this.active) if (forDevice.size === 0) this.active.delete(k);
  }
}
