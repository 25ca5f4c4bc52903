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
      // import gave a subscriber, each with its value from before the first of them (JSON): the upstream
      // enforcer pushes only these, and an action that puts the value back gives the field up again.
      // A database from before had no marks; they are rebuilt from what only an action can have made:
      // the earliest action on the field still in the audit (its before), else a status other than
      // active or a speed class other than the unthrottled one (an import gives neither). A field an
      // action changed and put back, or changed past the audit's retention and now reads like an
      // import's, stays unowned, so its value upstream is the operator's.
      db.exec(`
        CREATE TABLE owned_fields (
          imsi TEXT NOT NULL REFERENCES subscribers (imsi),
          field TEXT NOT NULL CHECK (field IN ('status', 'speedClass', 'groupId')),
          before TEXT NOT NULL,
          PRIMARY KEY (imsi, field)
        ) WITHOUT ROWID;
      `);
      const fields = [
        { field: 'status', column: 'status', actions: `'activate', 'deactivate'` },
        { field: 'speedClass', column: 'speed_class', actions: `'update_speed_class'` },
        { field: 'groupId', column: 'group_id', actions: `'set_group', 'unset_group'` },
      ];
      for (const f of fields) {
        db.exec(`
          INSERT INTO owned_fields (imsi, field, before)
          SELECT s.imsi, '${f.field}', json_quote(json_extract(a.before, '$.${f.field}'))
          FROM audit a JOIN subscribers s ON s.imsi = a.target_id
          WHERE a.id IN (SELECT min(id) FROM audit WHERE target_type = 'subscriber' AND action IN (${f.actions}) GROUP BY target_id)
            AND s.${f.column} IS NOT json_extract(a.before, '$.${f.field}')
        `);
      }
      // The class imports gave up to version 2, written out: a migration reads the past, not today's defaults.
      const importedClass = 's1.8xfast';
      const unowned = `NOT EXISTS (SELECT 1 FROM owned_fields o WHERE o.imsi = s.imsi AND o.field = ?)`;
      db.prepare(`INSERT INTO owned_fields (imsi, field, before) SELECT imsi, 'status', json_quote('active') FROM subscribers s WHERE status <> 'active' AND ${unowned}`).run('status');
      db.prepare(`INSERT INTO owned_fields (imsi, field, before) SELECT imsi, 'speedClass', json_quote(?) FROM subscribers s WHERE speed_class <> ? AND ${unowned}`)
        .run(importedClass, importedClass, 'speedClass');
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
