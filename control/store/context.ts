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

const camel = new Map<string, string>();

/**
 * A row as the API's object: snake_case columns become camelCase fields (ip_address → ipAddress), the
 * `json` columns are parsed (NULL stays null), and `extra` adds what is not a column (the operator id).
 * One mapping for every table, so a column added to one cannot be forgotten in a hand-written copy.
 */
export function fromRow<T>(row: object, json: readonly string[] = [], extra: object = {}): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    let name = camel.get(k);
    if (name === undefined) camel.set(k, (name = k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())));
    out[name] = json.includes(k) && typeof v === 'string' ? JSON.parse(v) : v;
  }
  return Object.assign(out, extra) as T;
}
