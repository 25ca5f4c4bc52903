// The control API's internal model: the actions that change a subscriber, the enforcers that make a
// gateway follow the store, and the client the responder and the upstream enforcer call a
// SORACOM-compatible API with. The boundary types (Subscriber, Group, AuditEntry, ...) are defined
// once, in contracts/control-api.ts; they are re-exported here for the callers that import them
// from the control module.

import type { Group, NotEnforced, SpeedClass, Subscriber } from '../contracts/control-api.js';

export type { AuditEntry, Group, NotEnforced, Role, SpeedClass, Subscriber, SubscriberStatus } from '../contracts/control-api.js';
export { ROLES, SPEED_CLASS_KBPS, SPEED_CLASSES, SUBSCRIBER_STATUSES, UNTHROTTLED_SPEED_CLASS } from '../contracts/control-api.js';

/** The calls that change a subscriber, named as SORACOM's API paths. */
export type SubscriberAction =
  | { type: 'deactivate' }
  | { type: 'activate' }
  | { type: 'update_speed_class'; speedClass: SpeedClass }
  | { type: 'set_group'; groupId: string }
  // SORACOM's POST /subscribers/{imsi}/unset_group: how a release puts back a subscriber that had no group.
  | { type: 'unset_group' };

/** The subscriber fields the actions set. */
export type ActionField = 'status' | 'speedClass' | 'groupId';

/** The field each action sets. */
export const ACTION_FIELD: Record<SubscriberAction['type'], ActionField> = {
  deactivate: 'status',
  activate: 'status',
  update_speed_class: 'speedClass',
  set_group: 'groupId',
  unset_group: 'groupId',
};

/** Everything an enforcer needs to know: the store's desired state. */
export interface EnforcementState {
  subscribers: readonly Subscriber[];
  groups: readonly Group[];
  /**
   * Per IMSI, the fields tapwatch's own actions have set; the others hold what an import gave them
   * (active, unthrottled, the registry's group), which tapwatch never decided. An enforcer that is
   * the whole truth for its gateway (nft) renders every field; one that shares the SIMs with their
   * operator (upstream) pushes only these. A subscriber without an entry, or a state without this
   * (one built for an enforcer that renders all), owns nothing.
   */
  owned?: ReadonlyMap<string, ReadonlySet<ActionField>>;
}

/**
 * What an enforcer did not do as the store asks, and why, while it did all the rest: a failure is
 * kept to what it must affect (a quarantine group whose route cannot be installed has its members
 * blocked instead; an upstream call that failed leaves that subscriber only). `retry`: the cause may
 * go away by itself (a route, an upstream call), so the runner reconciles again later.
 */
export interface EnforcementReport {
  notEnforced: NotEnforced[];
  retry?: boolean;
}

export interface Enforcer {
  readonly name: string;
  /** At start (and after a failure): make the enforcement point match the whole state. Idempotent.
   *  Throws only when nothing could be enforced; resolves with what could not be (void: everything was). */
  reconcile(state: EnforcementState): Promise<EnforcementReport | void>;
  /** After a committed change. `state` gives the whole desired state after it, read only if needed
   *  (an enforcer that renders state calls it once per coalesced batch; one that forwards calls does not). */
  apply(subscriber: Subscriber, action: SubscriberAction, state: () => EnforcementState): Promise<EnforcementReport | void>;
  /** How many entries (blocked, quarantined, throttled addresses) the enforcement point holds now, or null
   *  when it cannot tell. Asked at start, so that an empty store never silently replaces a live ruleset. */
  liveEntries?(): Promise<number | null>;
  close(): Promise<void>;
}

/** Calls a SORACOM-compatible API (this server, a second instance, or SORACOM itself). */
export interface ControlClient {
  getSubscriber(imsi: string): Promise<Subscriber | null>;
  listSubscribers(): Promise<Subscriber[]>;
  /** `idempotencyKey`: the same key twice applies the action once; the second call returns the first's result. */
  act(imsi: string, action: SubscriberAction, opts?: { idempotencyKey?: string; reason?: string }): Promise<Subscriber>;
}
