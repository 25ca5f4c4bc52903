// Subscribers: read, listed in IMSI order, and changed by the actions (with their audit row, the mark
// that tapwatch now owns the field the action set, and, given an Idempotency-Key, the stored result,
// in one transaction).

import type { SpeedClass, Subscriber, SubscriberStatus } from '../../contracts/control-api.js';
import { ACTION_FIELD, type ActionField, type SubscriberAction } from '../model.js';
import { fromRow, page, statements, type ChangeContext, type Page, type StoreContext } from './context.js';
import { StoreError } from './errors.js';
import type { Groups } from './groups.js';
import type { Idempotency, IdempotencyKey } from './idempotency.js';

export interface SubscriberRow {
  imsi: string;
  imei: string | null;
  ip_address: string | null;
  status: SubscriberStatus;
  speed_class: SpeedClass;
  group_id: string | null;
  tags: string;
  created_time: number;
  last_modified_time: number;
}

export interface ActResult {
  subscriber: Subscriber;
  /** The Idempotency-Key had been seen: this is the first call's result, and nothing was done. */
  replayed: boolean;
  /** False when the subscriber already was as asked: nothing changed, nothing was audited. */
  changed: boolean;
}

export interface SubscriberQuery {
  limit: number;
  after?: string;
  statuses?: readonly SubscriberStatus[];
  speedClasses?: readonly SpeedClass[];
  groupId?: string;
}

export class Subscribers {
  private readonly s;

  constructor(private readonly c: StoreContext, private readonly groups: Groups, private readonly idempotency: Idempotency) {
    this.s = statements(c.db, {
      get: 'SELECT * FROM subscribers WHERE imsi = ?',
      all: 'SELECT * FROM subscribers ORDER BY imsi',
      count: 'SELECT count(*) AS n FROM subscribers',
      // A '|'-joined list parameter instead of one statement per filter combination; the IMSI
      // primary key still drives the scan.
      list: `SELECT * FROM subscribers WHERE imsi > @after
        AND (@statuses IS NULL OR instr('|' || @statuses || '|', '|' || status || '|') > 0)
        AND (@speedClasses IS NULL OR instr('|' || @speedClasses || '|', '|' || speed_class || '|') > 0)
        AND (@groupId IS NULL OR group_id = @groupId)
        ORDER BY imsi LIMIT @limit`,
      insert: `INSERT INTO subscribers (imsi, imei, ip_address, status, speed_class, group_id, tags, created_time, last_modified_time)
        VALUES (@imsi, @imei, @ip_address, @status, @speed_class, @group_id, @tags, @created_time, @last_modified_time)`,
      setState: 'UPDATE subscribers SET status = ?, speed_class = ?, group_id = ?, last_modified_time = ? WHERE imsi = ?',
      setIdentity: 'UPDATE subscribers SET imei = ?, ip_address = ?, tags = ?, last_modified_time = ? WHERE imsi = ?',
      ownedBefore: 'SELECT before FROM owned_fields WHERE imsi = ? AND field = ?',
      own: 'INSERT INTO owned_fields (imsi, field, before) VALUES (?, ?, ?)',
      disown: 'DELETE FROM owned_fields WHERE imsi = ? AND field = ?',
      owned: 'SELECT imsi, field FROM owned_fields',
    });
  }

  get(imsi: string): Subscriber | null {
    const row = this.s.get.get(imsi) as SubscriberRow | undefined;
    return row ? this.toSubscriber(row) : null;
  }

  all(): Subscriber[] {
    return (this.s.all.all() as SubscriberRow[]).map((r) => this.toSubscriber(r));
  }

  count(): number {
    return (this.s.count.get() as { n: number }).n;
  }

  /**
   * The first action that changes a field makes it tapwatch's, remembering the value from before; the one that
   * puts that value back (a release, or a person undoing it) gives it up, so that what the operator sets
   * upstream afterwards is theirs again.
   */
  private own(imsi: string, field: ActionField, before: Subscriber, after: Subscriber): void {
    const mark = this.s.ownedBefore.get(imsi, field) as { before: string } | undefined;
    if (!mark) this.s.own.run(imsi, field, JSON.stringify(before[field]));
    else if (mark.before === JSON.stringify(after[field])) this.s.disown.run(imsi, field);
  }

  /** Per IMSI, the fields an action has changed and not put back (EnforcementState.owned). */
  owned(): Map<string, Set<ActionField>> {
    const owned = new Map<string, Set<ActionField>>();
    for (const { imsi, field } of this.s.owned.all() as Array<{ imsi: string; field: ActionField }>) {
      owned.set(imsi, (owned.get(imsi) ?? new Set()).add(field));
    }
    return owned;
  }

  /** In IMSI order, after `after` (exclusive); filters are ANDed, each list ORed. */
  list(q: SubscriberQuery): Page<Subscriber> {
    const rows = this.s.list.all({
      after: q.after ?? '',
      statuses: q.statuses?.length ? q.statuses.join('|') : null,
      speedClasses: q.speedClasses?.length ? q.speedClasses.join('|') : null,
      groupId: q.groupId ?? null,
      limit: q.limit + 1,
    }) as SubscriberRow[];
    return page(rows.map((r) => this.toSubscriber(r)), q.limit, (s) => s.imsi);
  }

  /**
   * Applies an action. A key seen before returns the first result and does nothing; the same key for a
   * different request is refused. Only successes are stored: a failed request changed nothing, so
   * repeating it is safe as it is. An action that changes nothing is not a change: no audit row, and
   * the field stays as owned as it was (the decision that would own it is not in the audit).
   */
  act(imsi: string, action: SubscriberAction, ctx: ChangeContext & { idempotency?: IdempotencyKey }): ActResult {
    return this.c.db.transaction((): ActResult => {
      const idem = ctx.idempotency;
      const seen = idem && this.idempotency.seen<Subscriber>(ctx.actor, idem);
      if (seen) return { subscriber: seen, replayed: true, changed: false };
      const before = this.get(imsi);
      if (!before) throw new StoreError('subscriber-not-found', `No such subscriber: ${imsi}`);
      if (action.type === 'set_group' && !this.groups.exists(action.groupId)) throw new StoreError('target-group-not-found', `No such group: ${action.groupId}`);
      const after = { ...before, ...actionChange(action) };
      const changed = after.status !== before.status || after.speedClass !== before.speedClass || after.groupId !== before.groupId;
      if (changed) {
        after.lastModifiedTime = this.c.now();
        this.s.setState.run(after.status, after.speedClass, after.groupId, after.lastModifiedTime, imsi);
        this.own(imsi, ACTION_FIELD[action.type], before, after);
        this.c.audit(ctx, action.type, 'subscriber', imsi, before, after);
      }
      if (idem) this.idempotency.remember(ctx.actor, idem, after);
      return { subscriber: after, replayed: false, changed };
    })();
  }

  /** Inside the caller's transaction (import). */
  insert(s: Subscriber): void {
    this.s.insert.run({
      imsi: s.imsi,
      imei: s.imei,
      ip_address: s.ipAddress,
      status: s.status,
      speed_class: s.speedClass,
      group_id: s.groupId,
      tags: JSON.stringify(s.tags),
      created_time: s.createdTime,
      last_modified_time: s.lastModifiedTime,
    });
  }

  /** Inside the caller's transaction (import): what the registry says, never what actions set. */
  setIdentity(s: Subscriber): void {
    this.s.setIdentity.run(s.imei, s.ipAddress, JSON.stringify(s.tags), s.lastModifiedTime, s.imsi);
  }

  private toSubscriber(r: SubscriberRow): Subscriber {
    return fromRow(r, ['tags'], { operatorId: this.c.operatorId });
  }
}

function actionChange(action: SubscriberAction): Partial<Subscriber> {
  switch (action.type) {
    case 'deactivate':
      return { status: 'inactive' };
    case 'activate':
      return { status: 'active' };
    case 'update_speed_class':
      return { speedClass: action.speedClass };
    case 'set_group':
      return { groupId: action.groupId };
    case 'unset_group':
      return { groupId: null };
  }
}
