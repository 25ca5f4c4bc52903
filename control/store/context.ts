// What every part of the store shares: the connection, the clock, the operator id, and the audit
// writer, so that a change in any part commits with its audit row in one transaction.

import type { Database, Statement } from 'better-sqlite3';
import type { AuditEntry } from '../../contracts/control-api.js';

/** Who asked for a change and why; `actor` is an authKeyId, or 'local' for the CLI and in-process callers. */
export interface ChangeContext {
  actor: string;
  reason?: string | null;
}

export interface StoreContext {
  db: Database;
  now(): number;
  operatorId: string;
  audit(ctx: ChangeContext, action: string, targetType: AuditEntry['targetType'], targetId: string, before: unknown, after: unknown): void;
}

export interface Page<T> {
  items: T[];
  /** Pass as last_evaluated_key for the next page; null on the last page. */
  nextKey: string | null;
}

/** `items` holds up to limit + 1 rows: the extra one only says that there is a next page. */
export function page<T>(items: T[], limit: number, keyOf: (item: T) => string): Page<T> {
  if (items.length <= limit) return { items, nextKey: null };
  items.length = limit;
  return { items, nextKey: keyOf(items[limit - 1]) };
}

/** Prepares each of `sql` once, by name. */
export function statements<K extends string>(db: Database, sql: Record<K, string>): Record<K, Statement> {
  return Object.fromEntries(Object.entries(sql).map(([k, q]) => [k, db.prepare(q as string)])) as Record<K, Statement>;
}

export function json(v: unknown): string | null {
  return v === null || v === undefined ? null : JSON.stringify(v);
}
