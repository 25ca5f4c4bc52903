// The audit: one row per change, written by every other part of the store in the change's own
// transaction; listed newest first; kept for a retention (default 90 days), then deleted.

import type { AuditEntry } from '../../contracts/control-api.js';
import { fromRow, json, page, statements, type ChangeContext, type Page } from './context.js';
import type { Database } from 'better-sqlite3';

export const DEFAULT_AUDIT_RETENTION_DAYS = 90;

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

export interface AuditQuery {
  limit: number;
  /** Rows with an id below this (exclusive): the previous page's last_evaluated_key. */
  before?: number;
  imsi?: string;
  /** Leave out the rows about auth keys (their ids, names and roles): what the read-only role gets. */
  withoutKeys?: boolean;
}

export class Audit {
  private readonly s;

  constructor(db: Database, private readonly now: () => number) {
    this.s = statements(db, {
      insert: 'INSERT INTO audit (time, actor, action, target_type, target_id, reason, before, after) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      list: `SELECT * FROM audit WHERE id < @before AND (@withoutKeys = 0 OR target_type <> 'auth_key') ORDER BY id DESC LIMIT @limit`,
      listForSubscriber: `SELECT * FROM audit WHERE target_type = 'subscriber' AND target_id = @imsi AND id < @before ORDER BY id DESC LIMIT @limit`,
      purge: 'DELETE FROM audit WHERE time < ?',
    });
  }

  write(ctx: ChangeContext, action: string, targetType: AuditEntry['targetType'], targetId: string, before: unknown, after: unknown): void {
    this.s.insert.run(this.now(), ctx.actor, action, targetType, targetId, ctx.reason ?? null, json(before), json(after));
  }

  /** Newest first, before id `before` (exclusive); `imsi` narrows to one subscriber's rows. */
  list(q: AuditQuery): Page<AuditEntry> {
    const params = { before: q.before ?? Number.MAX_SAFE_INTEGER, limit: q.limit + 1, imsi: q.imsi, withoutKeys: q.withoutKeys ? 1 : 0 };
    const rows = (q.imsi === undefined ? this.s.list.all(params) : this.s.listForSubscriber.all(params)) as AuditRow[];
    return page(rows.map(toAuditEntry), q.limit, (e) => String(e.id));
  }

  /** Deletes the rows older than `days`; returns how many. */
  purge(days: number): number {
    return this.s.purge.run(this.now() - days * 86_400_000).changes;
  }
}

const toAuditEntry = (r: AuditRow): AuditEntry => fromRow(r, ['before', 'after']);
