// The store on its own: migrations, changes with their audit rows in one transaction, idempotency,
// import, tokens and their expiry, and everything surviving a close and reopen of the file.

import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS, migrate } from './store/migrations.js';
import { Store, StoreError } from './store.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tapwatch-store-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 })); // a worker may still be ending

const local = { actor: 'local' };
const registry = [
  { ip: '10.128.0.1', id: 'meter-1', imsi: '440100000000001', imei: '356938030000001', group: 'meters' },
  { ip: '10.128.0.2', id: 'meter-2', imsi: '440100000000002' },
];

function auditCount(store: Store): number {
  return store.listAudit({ limit: 1000 }).items.length;
}

describe('migrations', () => {
  it('are applied once, recorded, and a newer database is refused', () => {
    const path = join(dir, 'migrations.db');
    Store.open(path, { create: true }).close();
    Store.open(path).close();
    const db = new BetterSqlite3(path);
    expect(db.prepare('SELECT version FROM schema_migrations ORDER BY version').all()).toEqual(MIGRATIONS.map((m) => ({ version: m.version })));
    db.prepare('INSERT INTO schema_migrations (version, name, applied_time) VALUES (999, ?, 0)').run('from the future');
    db.close();
    expect(() => Store.open(path)).toThrow(/schema version 999/);
  });

  it('version 3 upgrades a database of version 2 in place, its subscribers as they were, owning what only an action can have set', () => {
    const path = join(dir, 'version-2.db');
    const old = new BetterSqlite3(path);
    migrate(old, MIGRATIONS.filter((m) => m.version <= 2));
    const insert = old.prepare(`INSERT INTO subscribers (imsi, imei, ip_address, status, speed_class, group_id, tags, created_time, last_modified_time)
      VALUES (?, NULL, ?, ?, ?, ?, '{}', 0, 0)`);
    old.prepare(`INSERT INTO groups (group_id, tags, configuration, created_time, last_modified_time) VALUES ('quarantine', '{}', '{}', 0, 0)`).run();
    old.prepare(`INSERT INTO groups (group_id, tags, configuration, created_time, last_modified_time) VALUES ('meters', '{}', '{}', 0, 0)`).run();
    insert.run('440100000000001', '10.128.0.1', 'inactive', 's1.8xfast', 'meters'); // blocked: only an action deactivates
    insert.run('440100000000002', '10.128.0.2', 'active', 's1.minimum', 'quarantine'); // throttled and quarantined
    insert.run('440100000000003', '10.128.0.3', 'active', 's1.8xfast', 'meters'); // quarantined once and released
    insert.run('440100000000004', '10.128.0.4', 'active', 's1.8xfast', 'quarantine'); // in the registry's quarantine group, never acted on
    const audit = old.prepare(`INSERT INTO audit (time, actor, action, target_type, target_id, reason, before, after) VALUES (0, 'analyzer', ?, 'subscriber', ?, NULL, ?, NULL)`);
    audit.run('set_group', '440100000000002', JSON.stringify({ groupId: 'meters' }));
    audit.run('set_group', '440100000000003', JSON.stringify({ groupId: 'meters' }));
    audit.run('set_group', '440100000000003', JSON.stringify({ groupId: 'quarantine' }));
    old.close();

    const store = Store.open(path);
    const state = store.enforcementState();
    expect(state.subscribers.map((s) => [s.imsi, s.status, s.speedClass, s.groupId])).toEqual([
      ['440100000000001', 'inactive', 's1.8xfast', 'meters'],
      ['440100000000002', 'active', 's1.minimum', 'quarantine'],
      ['440100000000003', 'active', 's1.8xfast', 'meters'],
      ['440100000000004', 'active', 's1.8xfast', 'quarantine'],
    ]);
    expect(state.owned).toEqual(new Map([
      ['440100000000001', new Set(['status'])],
      ['440100000000002', new Set(['speedClass', 'groupId'])],
    ]));
    // Put back as it was before the first action (the audit's before, or an import's active): given up.
    store.act('440100000000001', { type: 'activate' }, local);
    store.act('440100000000002', { type: 'set_group', groupId: 'meters' }, local);
    expect(store.enforcementState().owned).toEqual(new Map([['440100000000002', new Set(['speedClass'])]]));
    store.close();
  });
});

describe('subscriber actions', () => {
  it('change the subscriber and write one audit row with actor, reason, before and after', () => {
    const store = Store.open(':memory:');
    store.importDevices(registry, local);
    const before = store.getSubscriber('440100000000001')!;
    const n = auditCount(store);
    const { subscriber, replayed } = store.act('440100000000001', { type: 'update_speed_class', speedClass: 's1.minimum' }, { actor: 'keyId-a', reason: 'scan' });
    expect(replayed).toBe(false);
    expect(subscriber.speedClass).toBe('s1.minimum');
    expect(store.getSubscriber('440100000000001')).toEqual(subscriber);
    const [row] = store.listAudit({ limit: 1, imsi: '440100000000001' }).items;
    expect(auditCount(store)).toBe(n + 1);
    expect(row).toMatchObject({ actor: 'keyId-a', action: 'update_speed_class', targetType: 'subscriber', targetId: '440100000000001', reason: 'scan', before, after: subscriber });
    store.close();
  });

  it('a refused action (unknown IMSI, unknown group) changes nothing and writes no audit row', () => {
    const store = Store.open(':memory:');
    store.importDevices(registry, local);
    const n = auditCount(store);
    const state = store.enforcementState();
    // Storage says what is wrong in its own terms; the route layer makes HTTP of it (errors.ts).
    expect(() => store.act('440100000000009', { type: 'deactivate' }, local)).toThrow(expect.objectContaining({ kind: 'subscriber-not-found' }));
    expect(() => store.act('440100000000001', { type: 'set_group', groupId: 'nope' }, local)).toThrow(expect.objectContaining({ kind: 'target-group-not-found' }));
    expect(auditCount(store)).toBe(n);
    expect(store.enforcementState()).toEqual(state);
    store.close();
  });

  it('set_group and unset_group move the subscriber in and out of a group', () => {
    const store = Store.open(':memory:');
    store.importDevices(registry, local);
    store.createGroup({ groupId: 'quarantine' }, local);
    expect(store.act('440100000000002', { type: 'set_group', groupId: 'quarantine' }, local).subscriber.groupId).toBe('quarantine');
    expect(store.listSubscribers({ limit: 10, groupId: 'quarantine' }).items.map((s) => s.imsi)).toEqual(['440100000000002']);
    expect(store.act('440100000000002', { type: 'unset_group' }, local).subscriber.groupId).toBeNull();
    store.close();
  });

  it('an Idempotency-Key replays the first result without acting; reused for another request it is refused', () => {
    const store = Store.open(':memory:');
    store.importDevices(registry, local);
    const ctx = { actor: 'keyId-a', idempotency: { key: 'k1', fingerprint: 'deactivate 1' } };
    const first = store.act('440100000000001', { type: 'deactivate' }, ctx);
    store.act('440100000000001', { type: 'activate' }, local);
    const n = auditCount(store);
    const again = store.act('440100000000001', { type: 'deactivate' }, ctx);
    expect(again).toEqual({ subscriber: first.subscriber, replayed: true, changed: false });
    expect(store.getSubscriber('440100000000001')!.status).toBe('active'); // the replay did not deactivate again
    expect(auditCount(store)).toBe(n);
    // Keys are per caller: another key may use the same one.
    expect(store.act('440100000000001', { type: 'deactivate' }, { ...ctx, actor: 'keyId-b' }).replayed).toBe(false);
    expect(() => store.act('440100000000002', { type: 'deactivate' }, { ...ctx, idempotency: { key: 'k1', fingerprint: 'other' } })).toThrow(
      expect.objectContaining({ kind: 'idempotency-key-reused' }),
    );
    store.close();
  });
});

describe('import', () => {
  it('creates subscribers and groups, refreshes identity on re-import, keeps what actions set', () => {
    const store = Store.open(':memory:');
    expect(store.importDevices(registry, local)).toEqual({ created: 2, updated: 0, unchanged: 0, groupsCreated: 1 });
    expect(store.getSubscriber('440100000000001')).toMatchObject({ ipAddress: '10.128.0.1', imei: '356938030000001', groupId: 'meters', status: 'active', speedClass: 's1.8xfast', tags: { name: 'meter-1' } });
    store.act('440100000000001', { type: 'deactivate' }, local);
    store.act('440100000000001', { type: 'unset_group' }, local);
    const moved = [{ ...registry[0], ip: '10.128.0.99' }, registry[1]];
    expect(store.importDevices(moved, local)).toEqual({ created: 0, updated: 1, unchanged: 1, groupsCreated: 0 });
    expect(store.getSubscriber('440100000000001')).toMatchObject({ ipAddress: '10.128.0.99', status: 'inactive', groupId: null });
    store.close();
  });

  it('owns none of the fields it creates; an action that changes a field owns it until one puts it back, and a re-import keeps that', () => {
    const store = Store.open(':memory:');
    store.importDevices(registry, local);
    expect(store.enforcementState().owned).toEqual(new Map());
    store.act('440100000000001', { type: 'activate' }, local); // active already: no change, nothing decided
    store.act('440100000000001', { type: 'update_speed_class', speedClass: 's1.minimum' }, local);
    store.act('440100000000001', { type: 'update_speed_class', speedClass: 's1.slow' }, local); // still tapwatch's
    expect(store.enforcementState().owned).toEqual(new Map([['440100000000001', new Set(['speedClass'])]]));
    store.act('440100000000001', { type: 'update_speed_class', speedClass: 's1.8xfast' }, local); // a release: given up
    store.act('440100000000002', { type: 'deactivate' }, local);
    store.act('440100000000002', { type: 'update_speed_class', speedClass: 's1.minimum' }, local);
    const owned = new Map([['440100000000002', new Set(['status', 'speedClass'])]]);
    expect(store.enforcementState().owned).toEqual(owned);
    store.importDevices([...registry, { ip: '10.128.0.3', id: 'meter-3', imsi: '440100000000003' }], local);
    expect(store.enforcementState().owned).toEqual(owned);
    store.close();
  });

  it('is all or nothing: one bad row rejects the whole import', () => {
    const store = Store.open(':memory:');
    for (const bad of [
      [...registry, { ip: '10.128.0.3', id: 'x' }],
      [...registry, { ip: '10.128.0.3', id: 'x', imsi: '12ab' }],
      [...registry, { ip: 'not-an-ip', id: 'x', imsi: '440100000000003' }],
      [...registry, { ...registry[0], ip: '10.128.0.3' }],
    ]) {
      expect(() => store.importDevices(bad, local)).toThrow(StoreError);
    }
    expect(store.enforcementState()).toEqual({ subscribers: [], groups: [], owned: new Map() });
    expect(auditCount(store)).toBe(0);
    store.close();
  });
});

describe('keys and tokens', () => {
  it('a token is found by its hash, expires, and dies with its key; secrets are not stored', async () => {
    let now = Date.UTC(2026, 0, 1);
    const path = join(dir, 'keys.db');
    const store = Store.open(path, { clock: () => now, create: true });
    const { authKeyId, authKey } = store.createKey('analyzer', 'responder');
    expect(await store.login(authKeyId, 'secret-wrong', 3600)).toBeNull();
    expect(await store.login('keyId-unknown', authKey, 3600)).toBeNull();
    const session = (await store.login(authKeyId, authKey, 3600))!;
    expect(session.operatorId).toMatch(/^OP\d{10}$/);
    expect(store.principal(session.apiKey, session.token)).toEqual({ authKeyId, role: 'analyzer' });
    expect(store.principal('api-other', session.token)).toBeNull();
    now += 3600_000;
    expect(store.principal(session.apiKey, session.token)).toBeNull();
    expect(store.purgeExpired().tokens).toBe(1);
    const fresh = (await store.login(authKeyId, authKey, 3600))!;
    store.deleteKey(authKeyId, local);
    expect(store.principal(fresh.apiKey, fresh.token)).toBeNull();
    expect(() => store.deleteKey(authKeyId, local)).toThrow(expect.objectContaining({ kind: 'key-not-found' }));
    store.close();
    const db = new BetterSqlite3(path);
    const dump = JSON.stringify(db.prepare('SELECT * FROM api_keys').all()) + JSON.stringify(db.prepare('SELECT * FROM tokens').all());
    db.close();
    expect(dump).not.toContain(authKey);
    expect(dump).not.toContain(fresh.token);
  });
});

describe('restart', () => {
  it('state, audit and tokens survive closing and reopening the file', async () => {
    const path = join(dir, 'restart.db');
    const store = Store.open(path, { create: true });
    store.importDevices(registry, local);
    const { authKeyId, authKey } = store.createKey('operator');
    const session = (await store.login(authKeyId, authKey, 3600))!;
    store.act('440100000000002', { type: 'update_speed_class', speedClass: 's1.slow' }, { actor: authKeyId, reason: 'restart test' });
    const state = store.enforcementState();
    const audit = store.listAudit({ limit: 1000 });
    const operatorId = store.operatorId;
    store.close();

    const reopened = Store.open(path);
    expect(reopened.operatorId).toBe(operatorId);
    expect(reopened.enforcementState()).toEqual(state);
    expect(reopened.listAudit({ limit: 1000 })).toEqual(audit);
    expect(reopened.principal(session.apiKey, session.token)).toEqual({ authKeyId, role: 'operator' });
    reopened.close();
  });
});

describe('WAL checkpoints', () => {
  it('run in the background thread, not in the commits', async () => {
    const store = Store.open(join(dir, 'checkpoints.db'), { create: true });
    store.importDevices(registry, local);
    for (let i = 0; i < 200; i++) store.act('440100000000001', { type: 'update_speed_class', speedClass: i % 2 ? 's1.slow' : 's1.fast' }, local);
    await expect.poll(() => store.backgroundCheckpoints, { timeout: 5000 }).toBeGreaterThan(0);
    // The worker's last checkpoint touches the files until it ends: removing the folder before raced it (ENOTEMPTY).
    await store.close();
  });
});

describe('paging', () => {
  it('lists subscribers in IMSI order page by page, and audit newest first', () => {
    const store = Store.open(':memory:');
    const rows = Array.from({ length: 25 }, (_, i) => ({ ip: `10.128.1.${i}`, id: `d${i}`, imsi: `4401000000001${String(i).padStart(2, '0')}` }));
    store.importDevices(rows, local);
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = store.listSubscribers({ limit: 10, after });
      seen.push(...page.items.map((s) => s.imsi));
      if (page.nextKey === null) break;
      after = page.nextKey;
    }
    expect(seen).toEqual(rows.map((r) => r.imsi));
    const first = store.listAudit({ limit: 10 });
    const second = store.listAudit({ limit: 10, before: Number(first.nextKey) });
    expect(first.items[0].id).toBeGreaterThan(first.items[9].id);
    expect(second.items[0].id).toBe(first.items[9].id - 1);
    store.close();
  });
});

describe('audit in the same transaction', () => {
  it('a change whose audit row cannot be written does not happen, and the error reaches the caller', () => {
    const path = join(dir, 'audit-fails.db');
    const store = Store.open(path, { create: true });
    store.importDevices(registry, local);
    const before = store.getSubscriber('440100000000001')!;
    const state = store.enforcementState();
    const n = auditCount(store);

    // Another connection to the same file makes every audit insert fail.
    const db = new BetterSqlite3(path);
    db.exec("CREATE TRIGGER audit_refused BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'audit write refused'); END");
    const ctx = { actor: 'keyId-a', reason: 'scan', idempotency: { key: 'k-audit', fingerprint: 'deactivate 1' } };
    expect(() => store.act('440100000000001', { type: 'deactivate' }, ctx)).toThrow(/audit write refused/);
    expect(() => store.act('440100000000001', { type: 'update_speed_class', speedClass: 's1.minimum' }, local)).toThrow(/audit write refused/);
    expect(() => store.createGroup({ groupId: 'quarantine' }, local)).toThrow(/audit write refused/);
    expect(store.getSubscriber('440100000000001')).toEqual(before);
    expect(store.getSubscriber('440100000000001')!.status).toBe('active');
    expect(store.getGroup('quarantine')).toBeNull();
    expect(store.enforcementState()).toEqual(state);
    expect(auditCount(store)).toBe(n);

    // Nothing of the failed request was kept, its idempotency key included: once the audit can be
    // written, the same request acts (it is not a replay of a failure).
    db.exec('DROP TRIGGER audit_refused');
    db.close();
    const retried = store.act('440100000000001', { type: 'deactivate' }, ctx);
    expect(retried.replayed).toBe(false);
    expect(retried.subscriber.status).toBe('inactive');
    expect(auditCount(store)).toBe(n + 1);
    store.close();
  });
});

describe('the database file (issue 11: a wrong --db emptied the gateway)', () => {
  it('is never created by accident: a missing file is refused unless asked to create it', () => {
    const path = join(dir, 'missing', '..', 'not-there.db');
    expect(() => Store.open(path)).toThrow(expect.objectContaining({ kind: 'database-missing', code: 'TWB0002', message: expect.stringMatching(/does not exist: give the right --db, or --init/) }));
    expect(existsSync(path)).toBe(false);
    Store.open(path, { create: true }).close();
    expect(existsSync(path)).toBe(true);
  });

  it('is created readable by its owner only, WAL and shared memory included; a looser one is tightened', () => {
    const path = join(dir, 'mode.db');
    const store = Store.open(path, { create: true });
    store.importDevices(registry, local); // writes the WAL
    for (const f of [path, `${path}-wal`, `${path}-shm`]) expect((statSync(f).mode & 0o777).toString(8), f).toBe('600');
    store.close();
    chmodSync(path, 0o644);
    Store.open(path).close();
    expect((statSync(path).mode & 0o777).toString(8)).toBe('600');
  });
});

describe('the audit', () => {
  it('does not record an action that changes nothing (it is answered all the same)', () => {
    const store = Store.open(':memory:');
    store.importDevices(registry, local);
    const n = auditCount(store);
    const first = store.act('440100000000001', { type: 'deactivate' }, local);
    const again = store.act('440100000000001', { type: 'deactivate' }, local);
    expect([first.changed, again.changed]).toEqual([true, false]);
    expect(again.subscriber).toEqual(first.subscriber);
    expect(store.act('440100000000001', { type: 'unset_group' }, local).changed).toBe(true);
    expect(store.act('440100000000002', { type: 'unset_group' }, local).changed).toBe(false); // had no group
    expect(auditCount(store)).toBe(n + 2);
    store.close();
  });

  it('keeps rows for the retention (default 90 days), then deletes them', () => {
    let now = Date.UTC(2026, 0, 1);
    const store = Store.open(':memory:', { clock: () => now });
    store.importDevices(registry, local); // 3 rows: two subscribers, one group
    now += 60 * 86_400_000;
    store.act('440100000000001', { type: 'deactivate' }, local);
    now += 31 * 86_400_000; // the import is 91 days old, the action 31
    expect(store.purgeExpired().auditRows).toBe(3);
    expect(store.listAudit({ limit: 10 }).items.map((e) => e.action)).toEqual(['deactivate']);
    store.close();
    const short = Store.open(':memory:', { clock: () => now, auditRetentionDays: 1 });
    short.importDevices(registry, local);
    now += 2 * 86_400_000;
    expect(short.purgeExpired().auditRows).toBe(3);
    short.close();
  });

  it('can leave out the rows about keys (what the read-only role sees)', () => {
    const store = Store.open(':memory:');
    store.importDevices(registry, local);
    store.createKey('operator', 'ops-laptop');
    const all = store.listAudit({ limit: 10 }).items;
    const without = store.listAudit({ limit: 10, withoutKeys: true }).items;
    expect(all.map((e) => e.targetType)).toContain('auth_key');
    expect(without.length).toBe(all.length - 1);
    expect(JSON.stringify(without)).not.toContain('ops-laptop');
    store.close();
  });
});

describe('import checks', () => {
  it('rows given in process are checked as a file is: canonical addresses, duplicates named, formulas and bad group ids refused', () => {
    const store = Store.open(':memory:');
    expect(store.importDevices([{ ip: '::ffff:10.128.0.50', id: 'm50', imsi: '440100000000050' }], local).created).toBe(1);
    expect(store.getSubscriber('440100000000050')!.ipAddress).toBe('10.128.0.50');
    const refused: Array<[object[], RegExp]> = [
      [[{ ip: '010.128.0.1', id: 'a', imsi: '440100000000001' }], /entry 1: '010\.128\.0\.1' is not an IP address: the zero-padded part '010' is ambiguous/],
      [[{ ip: '10.128.0.1', id: 'a', imsi: '440100000000001' }, { ip: '10.128.0.2', id: 'b', imsi: '440100000000001' }], /entry 2: imsi 440100000000001 is given again; first on entry 1/],
      [[{ ip: '10.128.0.1', id: '=HYPERLINK("x")', imsi: '440100000000001' }], /entry 1: the id cell '=HYPERLINK\("x"\)' starts with '=': spreadsheet formulas are refused/],
      [[{ ip: '10.128.0.1', id: 'a', imsi: '440100000000001', group: 'quarantine zone' }], /group 'quarantine zone' is not a group id/],
    ];
    for (const [rows, why] of refused) expect(() => store.importDevices(rows as never, local)).toThrow(why);
    expect(store.listGroups()).toEqual([]);
    store.close();
  });
});
