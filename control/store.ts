// The control API's state in one SQLite file (better-sqlite3: synchronous, so a change and its
// audit row commit together without interleaving). The store is the desired state: enforcers
// follow it. Every change writes its audit row in the same transaction; every statement is
// prepared once, here.

import { createHash, randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import BetterSqlite3, { type Database, type Statement } from 'better-sqlite3';
import type { Logger } from 'pino';
import type { InventoryRow } from '../inventory/inventory.js';
import { Checkpointer } from './checkpointer.js';
import { ApiError } from './errors.js';
import { migrate } from './migrations.js';
import {
  UNTHROTTLED_SPEED_CLASS,
  type AuditEntry,
  type EnforcementState,
  type Group,
  type Role,
  type SpeedClass,
  type Subscriber,
  type SubscriberAction,
  type SubscriberStatus,
} from './model.js';
import { decoyAuthKey, hashAuthKey, newAuthKey, newAuthKeyId, newToken, tokenHash, verifyAuthKey } from './secrets.js';

/** Who is calling: the key a valid token belongs to. */
export interface Principal {
  authKeyId: string;
  role: Role;
}

export interface AuthKeyInfo {
  authKeyId: string;
  name: string;
  role: Role;
  createdTime: number;
}

/** Who asked for a change and why; `actor` is an authKeyId, or 'local' for the CLI and in-process callers. */
export interface ChangeContext {
  actor: string;
  reason?: string | null;
}

export interface ActResult {
  subscriber: Subscriber;
  /** The Idempotency-Key had been seen: this is the first call's result, and nothing was done. */
  replayed: boolean;
}

export interface Page<T> {
  items: T[];
  /** Pass as last_evaluated_key for the next page; null on the last page. */
  nextKey: string | null;
}

export interface ImportResult {
  created: number;
  updated: number;
  unchanged: number;
  groupsCreated: number;
}

export interface StoreOptions {
  /** ms since the epoch; tests move it to expire tokens. */
  clock?: () => number;
  /** Told if background checkpointing fails (the store then checkpoints on its own connection). */
  log?: Logger;
}

/** Idempotency keys are kept this long: long enough for any client's retries. */
const IDEMPOTENCY_TTL_MS = 24 * 3600_000;
const IMSI = /^[0-9]{5,15}$/;

/** How often the background thread checkpoints the WAL into the database file. */
const CHECKPOINT_INTERVAL_MS = 250;
/** WAL frames past which the store finishes a background checkpoint itself, so that the WAL
 *  restarts (checkpointer.ts); 16 MiB of 4 KiB pages. */
const FINISH_CHECKPOINT_FRAMES = 4096;
/** The last resort, should the background thread stall: SQLite's own checkpoint in the commit
 *  that takes the WAL past this many pages (its default is 1000). */
const INLINE_CHECKPOINT_PAGES = 16_384;

interface SubscriberRow {
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

interface GroupRow {
  group_id: string;
  tags: string;
  configuration: string;
  created_time: number;
  last_modified_time: number;
}

interface AuditRow {
  id: number;
  time: number;
  actor: string;
  action: string;
  target_type: AuditEntry['targetType'];
  target_id: string;
  reason: string | null;
  before: string | null;
  after: string | null;
}

export class Store {
  readonly operatorId: string;
  private readonly now: () => number;
  private readonly s: ReturnType<typeof prepare>;
  private checkpointer: Checkpointer | null = null;

  private constructor(private readonly db: Database, opts: StoreOptions) {
    this.now = opts.clock ?? Date.now;
    this.s = prepare(db);
    this.operatorId = (this.s.setting.get('operator_id') as { value: string }).value;
  }

  /** Opens (creating if needed) and migrates the database; ':memory:' for a throwaway one. */
  static open(path: string, opts: StoreOptions = {}): Store {
    const db = new BetterSqlite3(path);
    try {
      // WAL: readers never wait for the writer. NORMAL: commits do not fsync (checkpoints do), so a
      // power cut can lose the last commits but never corrupts the file.
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      db.pragma('journal_size_limit = 67108864'); // truncate the WAL back to 64 MiB after a burst
      migrate(db);
      const store = new Store(db, opts);
      if (db.memory) return store;
      db.pragma(`wal_autocheckpoint = ${INLINE_CHECKPOINT_PAGES}`);
      store.checkpointer = new Checkpointer(path, {
        intervalMs: CHECKPOINT_INTERVAL_MS,
        finishAtFrames: FINISH_CHECKPOINT_FRAMES,
        finish: () => {
          try {
            if (db.open) db.pragma('wal_checkpoint(PASSIVE)');
          } catch (err) {
            // Harmless (the WAL restarts after a later one); it must not escape into the event loop.
            opts.log?.warn({ err: (err as Error).message }, 'WAL checkpoint failed');
          }
        },
        failed: (message) => {
          opts.log?.warn({ err: message }, 'background WAL checkpoints failed; checkpointing inline');
          if (db.open) db.pragma('wal_autocheckpoint = 1000');
        },
      });
      return store;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  close(): void {
    this.checkpointer?.stop();
    this.db.close();
  }

  /** Checkpoints the background thread has made (0 for ':memory:'). */
  get backgroundCheckpoints(): number {
    return this.checkpointer?.passes ?? 0;
  }

  /** Throws if the database cannot be read (what /healthz reports). */
  ping(): void {
    this.s.ping.get();
  }

  // ---- keys and tokens ----

  /** A new API key; the secret is returned once and kept only as a scrypt hash. */
  createKey(role: Role, name = '', ctx: ChangeContext = { actor: 'local' }): { authKeyId: string; authKey: string } {
    const authKeyId = newAuthKeyId();
    const authKey = newAuthKey();
    const { salt, hash } = hashAuthKey(authKey);
    const info: AuthKeyInfo = { authKeyId, name, role, createdTime: this.now() };
    this.db.transaction(() => {
      this.s.insertKey.run({ auth_key_id: authKeyId, name, role, salt, hash, created_time: info.createdTime });
      this.audit(ctx, 'create_auth_key', 'auth_key', authKeyId, null, info);
    })();
    return { authKeyId, authKey };
  }

  listKeys(): AuthKeyInfo[] {
    return (this.s.listKeys.all() as { auth_key_id: string; name: string; role: Role; created_time: number }[]).map((r) => ({
      authKeyId: r.auth_key_id,
      name: r.name,
      role: r.role,
      createdTime: r.created_time,
    }));
  }

  /** Deletes the key and, by cascade, every token it was issued. */
  deleteKey(authKeyId: string, ctx: ChangeContext): void {
    this.db.transaction(() => {
      const before = this.listKeys().find((k) => k.authKeyId === authKeyId);
      if (!before) throw new ApiError('TWK0001');
      this.s.deleteKey.run(authKeyId);
      this.audit(ctx, 'delete_auth_key', 'auth_key', authKeyId, before, null);
    })();
  }

  /** A token for a valid authKeyId/authKey pair, or null. Logins are not audited: they change no
   *  state the API manages (they are counted in /metrics). */
  async login(authKeyId: string, authKey: string, timeoutSeconds: number): Promise<{ apiKey: string; token: string; operatorId: string } | null> {
    const key = this.s.getKeySecret.get(authKeyId) as { salt: Buffer; hash: Buffer } | undefined;
    const { salt, hash } = key ?? decoyAuthKey();
    const ok = await verifyAuthKey(authKey, salt, hash);
    if (!key || !ok) return null;
    const { apiKey, token } = newToken();
    // The key may have been deleted while scrypt ran: the foreign key then refuses the token.
    try {
      this.s.insertToken.run(tokenHash(token), apiKey, authKeyId, this.now() + timeoutSeconds * 1000);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_FOREIGNKEY') return null;
      throw err;
    }
    return { apiKey, token, operatorId: this.operatorId };
  }

  /** The key behind an unexpired token whose apiKey matches, or null. One indexed lookup: this
   *  runs on every request. */
  principal(apiKey: string, token: string): Principal | null {
    const row = this.s.getToken.get(tokenHash(token)) as { api_key: string; expires_at: number; auth_key_id: string; role: Role } | undefined;
    if (!row || row.api_key !== apiKey || row.expires_at <= this.now()) return null;
    return { authKeyId: row.auth_key_id, role: row.role };
  }

  /** Drops expired tokens and idempotency keys past their time. */
  purgeExpired(): { tokens: number; idempotencyKeys: number } {
    const now = this.now();
    return {
      tokens: this.s.purgeTokens.run(now).changes,
      idempotencyKeys: this.s.purgeIdempotency.run(now - IDEMPOTENCY_TTL_MS).changes,
    };
  }

  // ---- subscribers ----

  getSubscriber(imsi: string): Subscriber | null {
    const row = this.s.getSubscriber.get(imsi) as SubscriberRow | undefined;
    return row ? this.toSubscriber(row) : null;
  }

  /** In IMSI order, after `after` (exclusive); filters are ANDed, each list ORed. */
  listSubscribers(q: { limit: number; after?: string; statuses?: SubscriberStatus[]; speedClasses?: SpeedClass[]; groupId?: string }): Page<Subscriber> {
    const rows = this.s.listSubscribers.all({
      after: q.after ?? '',
      statuses: q.statuses?.length ? q.statuses.join('|') : null,
      speedClasses: q.speedClasses?.length ? q.speedClasses.join('|') : null,
      groupId: q.groupId ?? null,
      limit: q.limit + 1,
    }) as SubscriberRow[];
    return page(rows.map((r) => this.toSubscriber(r)), q.limit, (s) => s.imsi);
  }

  /**
   * Applies an action, with its audit row and (given an idempotency key) the stored result, in one
   * transaction. A key seen before returns the first result and does nothing; the same key for a
   * different request (`fingerprint`) is refused. Only successes are stored: a failed request
   * changed nothing, so repeating it is safe as it is.
   */
  act(imsi: string, action: SubscriberAction, ctx: ChangeContext & { idempotency?: { key: string; fingerprint: string } }): ActResult {
    return this.db.transaction((): ActResult => {
      const idem = ctx.idempotency;
      if (idem) {
        const seen = this.s.getIdempotency.get(ctx.actor, idem.key) as { fingerprint: string; body: string } | undefined;
        if (seen) {
          if (seen.fingerprint !== idem.fingerprint) throw new ApiError('TWR0005');
          return { subscriber: JSON.parse(seen.body), replayed: true };
        }
      }
      const row = this.s.getSubscriber.get(imsi) as SubscriberRow | undefined;
      if (!row) throw new ApiError('TWS0001');
      const before = this.toSubscriber(row);
      const after = { ...before, ...actionChange(action) };
      if (action.type === 'set_group' && !this.s.getGroup.get(action.groupId)) throw new ApiError('TWS0002', `No such group: ${action.groupId}`);
      if (after.status !== before.status || after.speedClass !== before.speedClass || after.groupId !== before.groupId) {
        after.lastModifiedTime = this.now();
        this.s.updateSubscriberState.run(after.status, after.speedClass, after.groupId, after.lastModifiedTime, imsi);
      }
      // A request that changes nothing is still audited: that it was asked for, by whom and why, matters.
      this.audit(ctx, action.type, 'subscriber', imsi, before, after);
      if (idem) this.s.insertIdempotency.run(ctx.actor, idem.key, idem.fingerprint, 200, JSON.stringify(after), this.now());
      return { subscriber: after, replayed: false };
    })();
  }

  /**
   * Creates or updates subscribers from registry rows (collector/inventory.ts), creating the groups
   * they name. An existing subscriber gets its identity (IMEI, IP, name) refreshed but keeps its
   * status, speed class and group: those are what actions set, and a re-import must not undo a block.
   * All or nothing: one bad row rejects the import.
   */
  importDevices(rows: readonly InventoryRow[], ctx: ChangeContext): ImportResult {
    const seen = new Set<string>();
    rows.forEach((r, i) => {
      if (!r.imsi || !IMSI.test(r.imsi)) throw new ApiError('TWI0001', `entry ${i + 1} (ip ${r.ip}): imsi must be 5 to 15 digits, got '${r.imsi ?? ''}'`);
      if (!isIP(r.ip)) throw new ApiError('TWI0001', `entry ${i + 1}: '${r.ip}' is not an IP address`);
      if (seen.has(r.imsi)) throw new ApiError('TWI0001', `entry ${i + 1}: imsi ${r.imsi} appears twice`);
      seen.add(r.imsi);
    });
    return this.db.transaction(() => {
      const result: ImportResult = { created: 0, updated: 0, unchanged: 0, groupsCreated: 0 };
      const now = this.now();
      for (const r of rows) {
        if (r.group && !this.s.getGroup.get(r.group)) {
          this.insertGroup({ groupId: r.group, operatorId: this.operatorId, tags: { name: r.group }, configuration: {}, createdTime: now, lastModifiedTime: now }, ctx);
          result.groupsCreated++;
        }
        const row = this.s.getSubscriber.get(r.imsi) as SubscriberRow | undefined;
        if (!row) {
          const created: Subscriber = {
            imsi: r.imsi!,
            imei: r.imei ?? null,
            ipAddress: r.ip,
            status: 'active',
            speedClass: UNTHROTTLED_SPEED_CLASS,
            groupId: r.group ?? null,
            operatorId: this.operatorId,
            tags: { name: r.id },
            createdTime: now,
            lastModifiedTime: now,
          };
          this.s.insertSubscriber.run(subscriberRow(created));
          this.audit(ctx, 'import', 'subscriber', created.imsi, null, created);
          result.created++;
          continue;
        }
        const before = this.toSubscriber(row);
        const after: Subscriber = { ...before, imei: r.imei ?? before.imei, ipAddress: r.ip, tags: { ...before.tags, name: r.id } };
        if (after.imei === before.imei && after.ipAddress === before.ipAddress && after.tags.name === before.tags.name) {
          result.unchanged++;
          continue;
        }
        after.lastModifiedTime = now;
        this.s.updateSubscriberIdentity.run(after.imei, after.ipAddress, JSON.stringify(after.tags), now, after.imsi);
        this.audit(ctx, 'import', 'subscriber', after.imsi, before, after);
        result.updated++;
      }
      return result;
    })();
  }

  // ---- groups ----

  getGroup(groupId: string): Group | null {
    const row = this.s.getGroup.get(groupId) as GroupRow | undefined;
    return row ? this.toGroup(row) : null;
  }

  listGroups(): Group[] {
    return (this.s.listGroups.all() as GroupRow[]).map((r) => this.toGroup(r));
  }

  createGroup(spec: { groupId?: string; tags?: Record<string, string> }, ctx: ChangeContext): Group {
    const now = this.now();
    const group: Group = { groupId: spec.groupId ?? randomUUID(), operatorId: this.operatorId, tags: spec.tags ?? {}, configuration: {}, createdTime: now, lastModifiedTime: now };
    this.db.transaction(() => {
      if (this.s.getGroup.get(group.groupId)) throw new ApiError('TWG0002');
      this.insertGroup(group, ctx);
    })();
    return group;
  }

  /** Only an empty group can go: deleting one with members would move them without an action. */
  deleteGroup(groupId: string, ctx: ChangeContext): void {
    this.db.transaction(() => {
      const before = this.getGroup(groupId);
      if (!before) throw new ApiError('TWG0001');
      const members = (this.s.countGroupMembers.get(groupId) as { n: number }).n;
      if (members > 0) throw new ApiError('TWG0003', `The group still has ${members} subscriber(s): move them first`);
      this.s.deleteGroup.run(groupId);
      this.audit(ctx, 'delete_group', 'group', groupId, before, null);
    })();
  }

  setGroupTapwatchConfiguration(groupId: string, config: { quarantine: boolean; redirectGateway: string | null }, ctx: ChangeContext): Group {
    return this.db.transaction(() => {
      const before = this.getGroup(groupId);
      if (!before) throw new ApiError('TWG0001');
      const after: Group = { ...before, configuration: { ...before.configuration, tapwatch: config }, lastModifiedTime: this.now() };
      this.s.updateGroupConfiguration.run(JSON.stringify(after.configuration), after.lastModifiedTime, groupId);
      this.audit(ctx, 'set_group_configuration', 'group', groupId, before, after);
      return after;
    })();
  }

  // ---- audit and enforcement ----

  /** Newest first, before id `before` (exclusive); `imsi` narrows to one subscriber's rows. */
  listAudit(q: { limit: number; before?: number; imsi?: string }): Page<AuditEntry> {
    const params = { before: q.before ?? Number.MAX_SAFE_INTEGER, limit: q.limit + 1, imsi: q.imsi };
    const rows = (q.imsi === undefined ? this.s.listAudit.all(params) : this.s.listAuditForSubscriber.all(params)) as AuditRow[];
    return page(rows.map(toAuditEntry), q.limit, (e) => String(e.id));
  }

  /** The whole desired state, for an enforcer to render. */
  enforcementState(): EnforcementState {
    return {
      subscribers: (this.s.allSubscribers.all() as SubscriberRow[]).map((r) => this.toSubscriber(r)),
      groups: this.listGroups(),
    };
  }

  private insertGroup(group: Group, ctx: ChangeContext): void {
    this.s.insertGroup.run(group.groupId, JSON.stringify(group.tags), JSON.stringify(group.configuration), group.createdTime, group.lastModifiedTime);
    this.audit(ctx, 'create_group', 'group', group.groupId, null, group);
  }

  private audit(ctx: ChangeContext, action: string, targetType: AuditEntry['targetType'], targetId: string, before: unknown, after: unknown): void {
    this.s.insertAudit.run(this.now(), ctx.actor, action, targetType, targetId, ctx.reason ?? null, json(before), json(after));
  }

  private toSubscriber(r: SubscriberRow): Subscriber {
    return {
      imsi: r.imsi,
      imei: r.imei,
      ipAddress: r.ip_address,
      status: r.status,
      speedClass: r.speed_class,
      groupId: r.group_id,
      operatorId: this.operatorId,
      tags: JSON.parse(r.tags),
      createdTime: r.created_time,
      lastModifiedTime: r.last_modified_time,
    };
  }

  private toGroup(r: GroupRow): Group {
    return {
      groupId: r.group_id,
      operatorId: this.operatorId,
      tags: JSON.parse(r.tags),
      configuration: JSON.parse(r.configuration),
      createdTime: r.created_time,
      lastModifiedTime: r.last_modified_time,
    };
  }
}

/** What a request is, for telling a reused Idempotency-Key apart from a repeated request. */
export function requestFingerprint(method: string, path: string, body: unknown): string {
  return createHash('sha256').update(`${method} ${path} ${JSON.stringify(body ?? null)}`).digest('base64url');
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

function page<T>(items: T[], limit: number, keyOf: (item: T) => string): Page<T> {
  if (items.length <= limit) return { items, nextKey: null };
  items.length = limit;
  return { items, nextKey: keyOf(items[limit - 1]) };
}

function json(v: unknown): string | null {
  return v === null || v === undefined ? null : JSON.stringify(v);
}

function subscriberRow(s: Subscriber): SubscriberRow {
  return {
    imsi: s.imsi,
    imei: s.imei,
    ip_address: s.ipAddress,
    status: s.status,
    speed_class: s.speedClass,
    group_id: s.groupId,
    tags: JSON.stringify(s.tags),
    created_time: s.createdTime,
    last_modified_time: s.lastModifiedTime,
  };
}

function toAuditEntry(r: AuditRow): AuditEntry {
  return {
    id: r.id,
    time: r.time,
    actor: r.actor,
    action: r.action,
    targetType: r.target_type,
    targetId: r.target_id,
    reason: r.reason,
    before: r.before === null ? null : JSON.parse(r.before),
    after: r.after === null ? null : JSON.parse(r.after),
  };
}

function prepare(db: Database) {
  const p = (sql: string): Statement => db.prepare(sql);
  return {
    ping: p('SELECT 1'),
    setting: p('SELECT value FROM settings WHERE name = ?'),
    insertKey: p('INSERT INTO api_keys (auth_key_id, name, role, salt, hash, created_time) VALUES (@auth_key_id, @name, @role, @salt, @hash, @created_time)'),
    listKeys: p('SELECT auth_key_id, name, role, created_time FROM api_keys ORDER BY created_time, auth_key_id'),
    deleteKey: p('DELETE FROM api_keys WHERE auth_key_id = ?'),
    getKeySecret: p('SELECT salt, hash FROM api_keys WHERE auth_key_id = ?'),
    insertToken: p('INSERT INTO tokens (token_hash, api_key, auth_key_id, expires_at) VALUES (?, ?, ?, ?)'),
    getToken: p('SELECT t.api_key, t.expires_at, k.auth_key_id, k.role FROM tokens t JOIN api_keys k ON k.auth_key_id = t.auth_key_id WHERE t.token_hash = ?'),
    purgeTokens: p('DELETE FROM tokens WHERE expires_at <= ?'),
    purgeIdempotency: p('DELETE FROM idempotency WHERE created_time < ?'),
    getIdempotency: p('SELECT fingerprint, body FROM idempotency WHERE auth_key_id = ? AND key = ?'),
    insertIdempotency: p('INSERT INTO idempotency (auth_key_id, key, fingerprint, status, body, created_time) VALUES (?, ?, ?, ?, ?, ?)'),
    getSubscriber: p('SELECT * FROM subscribers WHERE imsi = ?'),
    allSubscribers: p('SELECT * FROM subscribers ORDER BY imsi'),
    // A '|'-joined list parameter instead of one statement per filter combination; the IMSI
    // primary key still drives the scan.
    listSubscribers: p(`SELECT * FROM subscribers WHERE imsi > @after
      AND (@statuses IS NULL OR instr('|' || @statuses || '|', '|' || status || '|') > 0)
      AND (@speedClasses IS NULL OR instr('|' || @speedClasses || '|', '|' || speed_class || '|') > 0)
      AND (@groupId IS NULL OR group_id = @groupId)
      ORDER BY imsi LIMIT @limit`),
    insertSubscriber: p(`INSERT INTO subscribers (imsi, imei, ip_address, status, speed_class, group_id, tags, created_time, last_modified_time)
      VALUES (@imsi, @imei, @ip_address, @status, @speed_class, @group_id, @tags, @created_time, @last_modified_time)`),
    updateSubscriberState: p('UPDATE subscribers SET status = ?, speed_class = ?, group_id = ?, last_modified_time = ? WHERE imsi = ?'),
    updateSubscriberIdentity: p('UPDATE subscribers SET imei = ?, ip_address = ?, tags = ?, last_modified_time = ? WHERE imsi = ?'),
    getGroup: p('SELECT * FROM groups WHERE group_id = ?'),
    listGroups: p('SELECT * FROM groups ORDER BY group_id'),
    insertGroup: p('INSERT INTO groups (group_id, tags, configuration, created_time, last_modified_time) VALUES (?, ?, ?, ?, ?)'),
    deleteGroup: p('DELETE FROM groups WHERE group_id = ?'),
    countGroupMembers: p('SELECT count(*) AS n FROM subscribers WHERE group_id = ?'),
    updateGroupConfiguration: p('UPDATE groups SET configuration = ?, last_modified_time = ? WHERE group_id = ?'),
    insertAudit: p('INSERT INTO audit (time, actor, action, target_type, target_id, reason, before, after) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
    listAudit: p('SELECT * FROM audit WHERE id < @before ORDER BY id DESC LIMIT @limit'),
    listAuditForSubscriber: p(`SELECT * FROM audit WHERE target_type = 'subscriber' AND target_id = @imsi AND id < @before ORDER BY id DESC LIMIT @limit`),
  };
}
