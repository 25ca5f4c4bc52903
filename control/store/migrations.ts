// The store's schema as numbered migrations, applied in order, each in its own transaction and
// recorded in schema_migrations, so a database made by an older tapwatch is brought up to date at
// open and one made by a newer tapwatch is refused rather than misread. Append; never edit one
// that has shipped.

import { randomInt } from 'node:crypto';
import type { Database } from 'better-sqlite3';
import type { ErrorCode } from '../../contracts/errors.js';

export const MIGRATIONS: ReadonlyArray<{ version: number; name: string; up(db: Database): void }> = [
  {
    version: 1,
    name: 'subscribers, groups, keys, tokens, audit, idempotency',
    up(db) {
      db.exec(`
        CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE groups (
          group_id TEXT PRIMARY KEY,
          tags TEXT NOT NULL,
          configuration TEXT NOT NULL,
          created_time INTEGER NOT NULL,
          last_modified_time INTEGER NOT NULL
        );
        CREATE TABLE subscribers (
          imsi TEXT PRIMARY KEY,
          imei TEXT,
          ip_address TEXT,
          status TEXT NOT NULL,
          speed_class TEXT NOT NULL,
          group_id TEXT REFERENCES groups (group_id),
          tags TEXT NOT NULL,
          created_time INTEGER NOT NULL,
          last_modified_time INTEGER NOT NULL
        );
        CREATE INDEX subscribers_by_group ON subscribers (group_id, imsi);
        CREATE TABLE api_keys (
          auth_key_id TEXT PRIMARY KEY,
          name TEXT NOT NULL,
          role TEXT NOT NULL,
          salt BLOB NOT NULL,
          hash BLOB NOT NULL,
          created_time INTEGER NOT NULL
        );
        CREATE TABLE tokens (
          token_hash BLOB PRIMARY KEY,
          api_key TEXT NOT NULL,
          auth_key_id TEXT NOT NULL REFERENCES api_keys (auth_key_id) ON DELETE CASCADE,
          expires_at INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX tokens_by_key ON tokens (auth_key_id);
        CREATE INDEX tokens_by_expiry ON tokens (expires_at);
        -- No AUTOINCREMENT (an extra write per row): rows are never deleted, so rowids only grow
        -- and id order is time order without it.
        CREATE TABLE audit (
          id INTEGER PRIMARY KEY,
          time INTEGER NOT NULL,
          actor TEXT NOT NULL,
          action TEXT NOT NULL,
          target_type TEXT NOT NULL,
          target_id TEXT NOT NULL,
          reason TEXT,
          before TEXT,
          after TEXT
        );
        CREATE INDEX audit_by_target ON audit (target_type, target_id, id);
        CREATE TABLE idempotency (
          auth_key_id TEXT NOT NULL,
          key TEXT NOT NULL,
          fingerprint TEXT NOT NULL,
          status INTEGER NOT NULL,
          body TEXT NOT NULL,
          created_time INTEGER NOT NULL,
          PRIMARY KEY (auth_key_id, key)
        ) WITHOUT ROWID;
        CREATE INDEX idempotency_by_time ON idempotency (created_time);
      `);
      // SORACOM operator ids are OP followed by ten digits; one per database, returned by /v1/auth
      // and on every subscriber and group.
      db.prepare(`INSERT INTO settings (name, value) VALUES ('operator_id', ?)`).run(`OP${String(randomInt(1e9)).padStart(10, '0')}`);
    },
  },
  {
    version: 2,
    name: 'audit retention: rows found by time',
    up(db) {
      // Audit rows older than the retention are deleted hourly (audit.ts); without this index each
      // purge would read the whole table. Rowids still only grow: only the oldest rows go.
      db.exec('CREATE INDEX audit_by_time ON audit (time)');
    },
  },
  {
    version: 3,
    name: 'subscriber fields set by actions',
    up(db) {
      // The fields (model.ts ActionField) that tapwatch's own actions have set, as against what an
      // import gave a subscriber: the upstream enforcer pushes only these. A database from before owns
      // none, though its actions set some: their only record, the audit, keeps just the retention's
      // days, and owning nothing is the safe reading of that past. Nothing is then pushed over what the
      // operator set upstream (a SIM deactivated there stays so); a field is owned from the next action
      // that changes it.
      db.exec(`
        CREATE TABLE owned_fields (
          imsi TEXT NOT NULL REFERENCES subscribers (imsi),
          field TEXT NOT NULL CHECK (field IN ('status', 'speedClass', 'groupId')),
          PRIMARY KEY (imsi, field)
        ) WITHOUT ROWID;
      `);
    },
  },
];

export class MigrationError extends Error {
  readonly code: ErrorCode = 'TWB0001';
}

/** Applies the migrations the database lacks; returns the versions applied. `migrations`: a prefix of
 *  MIGRATIONS makes a database as an older tapwatch left it (the upgrade tests). */
export function migrate(db: Database, migrations = MIGRATIONS): number[] {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_time INTEGER NOT NULL)');
  const current = (db.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0;
  const latest = migrations[migrations.length - 1].version;
  if (current > latest) throw new MigrationError(`the database is at schema version ${current}, this tapwatch knows up to ${latest}: use a newer tapwatch`);
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_time) VALUES (?, ?, ?)');
  const applied: number[] = [];
  for (const m of migrations) {
    if (m.version <= current) continue;
    db.transaction(() => {
      m.up(db);
      record.run(m.version, m.name, Date.now());
    })();
    applied.push(m.version);
  }
  return applied;
}
