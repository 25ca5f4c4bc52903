// The control API's boundary types, defined once: the SORACOM-compatible Subscriber and Group
// shapes (../shared/notes/spec.md §1d), the actions that change a subscriber, the enforcers that
// make a gateway follow the store, and the client that the analyzer's responder and the upstream
// enforcer both use to call a SORACOM-compatible API.

/** SORACOM's subscriber statuses; `inactive` is what deactivate sets (no data), `active` what activate sets. */
export const SUBSCRIBER_STATUSES = ['ready', 'active', 'inactive', 'standby', 'suspended', 'terminated'] as const;
export type SubscriberStatus = (typeof SUBSCRIBER_STATUSES)[number];

/** SORACOM speed classes (plan-US s1.*, plan-DU u1.*) and the rate each allows, in kbit/s, as the
 *  nftables enforcer applies them. Rates follow SORACOM's published class speeds. */
export const SPEED_CLASS_KBPS = {
  's1.minimum': 32,
  's1.slow': 128,
  's1.standard': 512,
  's1.fast': 2048,
  's1.4xfast': 8192,
  's1.8xfast': 16384,
  'u1.slow': 1024,
  'u1.standard': 16384,
} as const;
export type SpeedClass = keyof typeof SPEED_CLASS_KBPS;
export const SPEED_CLASSES = Object.keys(SPEED_CLASS_KBPS) as SpeedClass[];
/** The class a subscriber has unless throttled: the fastest, which the enforcer does not limit. */
export const UNTHROTTLED_SPEED_CLASS: SpeedClass = 's1.8xfast';

/** A subscriber as SORACOM's API returns it (the subset tapwatch keeps), plus the device fields the
 *  registry knows (`tags.name` carries the device id, as SORACOM users commonly do). */
export interface Subscriber {
  imsi: string;
  imei: string | null;
  ipAddress: string | null;
  status: SubscriberStatus;
  speedClass: SpeedClass;
  groupId: string | null;
  operatorId: string;
  tags: Record<string, string>;
  createdTime: number; // ms since the epoch, as SORACOM
  lastModifiedTime: number;
}

/** A SORACOM group; tapwatch's own settings live under configuration.tapwatch, the way SORACOM
 *  namespaces group configuration per service. */
export interface Group {
  groupId: string;
  operatorId: string;
  tags: Record<string, string>;
  configuration: { tapwatch?: { quarantine: boolean; redirectGateway: string | null } };
  createdTime: number;
  lastModifiedTime: number;
}

/** The calls that change a subscriber, named as SORACOM's API paths. */
export type SubscriberAction =
  | { type: 'deactivate' }
  | { type: 'activate' }
  | { type: 'update_speed_class'; speedClass: SpeedClass }
  | { type: 'set_group'; groupId: string }
  // SORACOM's POST /subscribers/{imsi}/unset_group: how a release puts back a subscriber that had no group.
  | { type: 'unset_group' };

/** Everything an enforcer needs to know: the store's desired state. */
export interface EnforcementState {
  subscribers: readonly Subscriber[];
  groups: readonly Group[];
}

export interface Enforcer {
  readonly name: string;
  /** At start (and after a failure): make the enforcement point match the whole state. Idempotent. */
  reconcile(state: EnforcementState): Promise<void>;
  /** After a committed change. `state` gives the whole desired state after it, read only if needed
   *  (an enforcer that renders state calls it once per coalesced batch; one that forwards calls does not). */
  apply(subscriber: Subscriber, action: SubscriberAction, state: () => EnforcementState): Promise<void>;
  close(): Promise<void>;
}

/** An API error body, as SORACOM returns them. */
export interface ApiErrorBody {
  code: string;
  message: string;
}

/** Roles in the manner of SORACOM SAM: what a key may do. */
export const ROLES = ['read-only', 'operator', 'analyzer'] as const;
export type Role = (typeof ROLES)[number];

/** Calls a SORACOM-compatible API (this server, a second instance, or SORACOM itself). */
export interface ControlClient {
  getSubscriber(imsi: string): Promise<Subscriber | null>;
  listSubscribers(): Promise<Subscriber[]>;
  /** `idempotencyKey`: the same key twice applies the action once; the second call returns the first's result. */
  act(imsi: string, action: SubscriberAction, opts?: { idempotencyKey?: string; reason?: string }): Promise<Subscriber>;
}

/** One audit row: who changed what, why, and the object before and after (null when created or
 *  deleted). Written in the same transaction as the change it records. */
export interface AuditEntry {
  id: number;
  time: number; // ms since the epoch
  actor: string; // the authKeyId that asked, or 'local' for the CLI and in-process callers
  action: string; // e.g. 'update_speed_class', 'create_group', 'import', 'create_auth_key'
  targetType: 'subscriber' | 'group' | 'auth_key';
  targetId: string;
  reason: string | null; // the X-Tapwatch-Reason header
  before: unknown;
  after: unknown;
}
