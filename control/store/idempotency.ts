// Idempotency keys: the first successful result of a request, per caller and key, so a retry after a
// lost reply gets that result instead of acting again. Kept 24 hours: long enough for any client's retries.

import { createHash } from 'node:crypto';
import type { Database } from 'better-sqlite3';
import { statements } from './context.js';
import { StoreError } from './errors.js';

export const IDEMPOTENCY_TTL_MS = 24 * 3600_000;

export interface IdempotencyKey {
  key: string;
  /** What the request was (requestFingerprint): the same key for another request is refused. */
  fingerprint: string;
}

export class Idempotency {
  private readonly s;

  constructor(db: Database, private readonly now: () => number) {
    this.s = statements(db, {
      get: 'SELECT fingerprint, body FROM idempotency WHERE auth_key_id = ? AND key = ?',
      insert: 'INSERT INTO idempotency (auth_key_id, key, fingerprint, status, body, created_time) VALUES (?, ?, ?, ?, ?, ?)',
      purge: 'DELETE FROM idempotency WHERE created_time < ?',
    });
  }

  /** The stored result of `actor`'s request under `idem.key`, or undefined when the key is new. */
  seen<T>(actor: string, idem: IdempotencyKey): T | undefined {
    const row = this.s.get.get(actor, idem.key) as { fingerprint: string; body: string } | undefined;
    if (!row) return undefined;
    if (row.fingerprint !== idem.fingerprint) throw new StoreError('idempotency-key-reused', `Idempotency-Key '${idem.key}' was used for a different request`);
    return JSON.parse(row.body) as T;
  }

  remember(actor: string, idem: IdempotencyKey, result: unknown): void {
    this.s.insert.run(actor, idem.key, idem.fingerprint, 200, JSON.stringify(result), this.now());
  }

  purge(): number {
    return this.s.purge.run(this.now() - IDEMPOTENCY_TTL_MS).changes;
  }
}

/** What a request is, for telling a reused Idempotency-Key apart from a repeated request. */
export function requestFingerprint(method: string, path: string, body: unknown): string {
  return createHash('sha256').update(`${method} ${path} ${JSON.stringify(body ?? null)}`).digest('base64url');
}
