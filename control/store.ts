// The control API's state in one SQLite file (better-sqlite3: synchronous, so a change and its audit
// row commit together without interleaving). The store is the desired state: enforcers follow it.
// Each concern lives in its own module under store/ (database and migrations, keys and tokens,
// subscribers, groups, idempotency, imports, audit); this class opens the database, wires them to one
// connection, clock and audit writer, and is what the routes, the CLI and in-process callers use.
// Storage knows nothing of HTTP: it throws StoreError kinds, which the route layer maps to API errors.

import type { Logger } from 'pino';
import type { AuditEntry, AuthKeyInfo, AuthResponse, CreateGroupBody, Group, GroupTapwatchConfig, ImportResult, NewAuthKey, Role, Subscriber } from '../contracts/control-api.js';
import type { InventoryRow } from '../inventory/inventory.js';
import type { EnforcementState, SubscriberAction } from './model.js';
import { Audit, DEFAULT_AUDIT_RETENTION_DAYS, type AuditQuery } from './store/audit.js';
import type { Checkpointer } from './store/checkpointer.js';
import type { ChangeContext, Page, StoreContext } from './store/context.js';
import { openDatabase } from './store/database.js';
import { Groups } from './store/groups.js';
import { Idempotency, type IdempotencyKey } from './store/idempotency.js';
import { importDevices } from './store/imports.js';
import { Keys, type Principal } from './store/keys.js';
import { Subscribers, type ActResult, type SubscriberQuery } from './store/subscribers.js';

export type { ActResult, ChangeContext, Page, Principal };
export { requestFingerprint } from './store/idempotency.js';
export { StoreError, type StoreErrorKind } from './store/errors.js';

export interface StoreOptions {
  /** ms since the epoch; tests move it to expire tokens. */
  clock?: () => number;
  /** Told if background checkpointing fails (the store then checkpoints on its own connection). */
  log?: Logger;
  /** Create the database file when it does not exist. Without it a missing file is refused: a wrong
   *  path must not become an empty store (whose reconcile would lift every block on the gateway). */
  create?: boolean;
  /** Audit rows older than this are deleted by purgeExpired(). Default 90. */
  auditRetentionDays?: number;
}

export class Store {
  readonly operatorId: string;
  private readonly keys: Keys;
  private readonly subscribers: Subscribers;
  private readonly groups: Groups;
  private readonly idempotency: Idempotency;
  private readonly auditLog: Audit;
  private readonly ctx: StoreContext;
  private readonly retentionDays: number;

  private constructor(private readonly handle: ReturnType<typeof openDatabase>, opts: StoreOptions) {
    const { db } = handle;
    const now = opts.clock ?? Date.now;
    this.retentionDays = opts.auditRetentionDays ?? DEFAULT_AUDIT_RETENTION_DAYS;
    this.operatorId = (db.prepare("SELECT value FROM settings WHERE name = 'operator_id'").get() as { value: string }).value;
    this.auditLog = new Audit(db, now);
    this.ctx = { db, now, operatorId: this.operatorId, audit: (...a) => this.auditLog.write(...a) };
    this.keys = new Keys(this.ctx);
    this.groups = new Groups(this.ctx);
    this.idempotency = new Idempotency(db, now);
    this.subscribers = new Subscribers(this.ctx, this.groups, this.idempotency);
  }

  /** Opens and migrates the database (`create` to make a new one); ':memory:' for a throwaway one. */
  static open(path: string, opts: StoreOptions = {}): Store {
    const handle = openDatabase(path, { create: opts.create, log: opts.log });
    try {
      return new Store(handle, opts);
    } catch (err) {
      void handle.checkpointer?.stop();
      handle.db.close();
      throw err;
    }
  }

  /** Closes the database now; resolves when the background checkpointer has ended too. */
  close(): Promise<void> {
    const stopped = this.handle.checkpointer?.stop() ?? Promise.resolve();
    this.handle.db.close();
    return stopped;
  }

  /** Checkpoints the background thread has made (0 for ':memory:'). */
  get backgroundCheckpoints(): number {
    return (this.handle.checkpointer as Checkpointer | null)?.passes ?? 0;
  }

  /** Throws if the database cannot be read (what /healthz reports). */
  ping(): void {
    this.handle.db.prepare('SELECT 1').get();
  }

  // ---- keys and tokens (store/keys.ts) ----

  createKey(role: Role, name = '', ctx: ChangeContext = { actor: 'local' }): NewAuthKey {
    return this.keys.create(role, name, ctx);
  }

  listKeys(): AuthKeyInfo[] {
    return this.keys.list();
  }

  deleteKey(authKeyId: string, ctx: ChangeContext): void {
    this.keys.delete(authKeyId, ctx);
  }

  login(authKeyId: string, authKey: string, timeoutSeconds: number): Promise<AuthResponse | null> {
    return this.keys.login(authKeyId, authKey, timeoutSeconds);
  }

  principal(apiKey: string, token: string): Principal | null {
    return this.keys.principal(apiKey, token);
  }

  /** Drops expired tokens, idempotency keys past their time and audit rows past the retention. */
  purgeExpired(): { tokens: number; idempotencyKeys: number; auditRows: number } {
    return { tokens: this.keys.purgeTokens(), idempotencyKeys: this.idempotency.purge(), auditRows: this.auditLog.purge(this.retentionDays) };
  }

  // ---- subscribers (store/subscribers.ts) ----

  getSubscriber(imsi: string): Subscriber | null {
    return this.subscribers.get(imsi);
  }

  listSubscribers(q: SubscriberQuery): Page<Subscriber> {
    return this.subscribers.list(q);
  }

  subscriberCount(): number {
    return this.subscribers.count();
  }

  act(imsi: string, action: SubscriberAction, ctx: ChangeContext & { idempotency?: IdempotencyKey }): ActResult {
    return this.subscribers.act(imsi, action, ctx);
  }

  // ---- imports (store/imports.ts) ----

  importDevices(rows: readonly InventoryRow[], ctx: ChangeContext): ImportResult {
    return importDevices(this.ctx, this.subscribers, this.groups, rows, ctx);
  }

  // ---- groups (store/groups.ts) ----

  getGroup(groupId: string): Group | null {
    return this.groups.get(groupId);
  }

  listGroups(): Group[] {
    return this.groups.list();
  }

  createGroup(spec: CreateGroupBody, ctx: ChangeContext): Group {
    return this.groups.create(spec, ctx);
  }

  deleteGroup(groupId: string, ctx: ChangeContext): void {
    this.groups.delete(groupId, ctx);
  }

  setGroupTapwatchConfiguration(groupId: string, config: GroupTapwatchConfig, ctx: ChangeContext): Group {
    return this.groups.setTapwatchConfiguration(groupId, config, ctx);
  }

  // ---- audit and enforcement ----

  listAudit(q: AuditQuery): Page<AuditEntry> {
    return this.auditLog.list(q);
  }

  /** The whole desired state, for an enforcer to render, and which of it tapwatch's actions set. */
  enforcementState(): EnforcementState {
    return { subscribers: this.subscribers.all(), groups: this.groups.list(), owned: this.subscribers.owned() };
  }
}
