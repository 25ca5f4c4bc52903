// The store on its own: migrations, changes with their audit rows in one transaction, idempotency,
// import, tokens and their expiry, and everything surviving a close and reopen of the file.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from './errors.js';
import { MIGRATIONS } from './migrations.js';
import { Store } from './store.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tapwatch-store-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

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
    Store.open(path).close();
    Store.open(path).close();
    const db = new BetterSqlite3(path);
    expect(db.prepare('SELECT version FROM schema_migrations ORDER BY version').all()).toEqual(MIGRATIONS.map((m) => ({ version: m.version })));
    db.prepare('INSERT INTO schema_migrations (version, name, applied_time) VALUES (999, ?, 0)').run('from the future');
    db.close();
    expect(() => Store.open(path)).toThrow(/schema version 999/);
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
    expect(() => store.act('440100000000009', { type: 'deactivate' }, local)).toThrow(expect.objectContaining({ code: 'TWS0001', status: 404 }));
    expect(() => store.act('440100000000001', { type: 'set_group', groupId: 'nope' }, local)).toThrow(expect.objectContaining({ code: 'TWS0002', status: 400 }));
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
    expect(again).toEqual({ subscriber: first.subscriber, replayed: true });
    expect(store.getSubscriber('440100000000001')!.status).toBe('active'); // the replay did not deactivate again
    expect(auditCount(store)).toBe(n);
    // Keys are per caller: another key may use the same one.
    expect(store.act('440100000000001', { type: 'deactivate' }, { ...ctx, actor: 'keyId-b' }).replayed).toBe(false);
    expect(() => store.act('440100000000002', { type: 'deactivate' }, { ...ctx, idempotency: { key: 'k1', fingerprint: 'other' } })).toThrow(
      expect.objectContaining({ code: 'TWR0005' }),
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

  it('is all or nothing: one bad row rejects the whole import', () => {
    const store = Store.open(':memory:');
    for (const bad of [
      [...registry, { ip: '10.128.0.3', id: 'x' }],
      [...registry, { ip: '10.128.0.3', id: 'x', imsi: '12ab' }],
      [...registry, { ip: 'not-an-ip', id: 'x', imsi: '440100000000003' }],
      [...registry, { ...registry[0], ip: '10.128.0.3' }],
    ]) {
      expect(() => store.importDevices(bad, local)).toThrow(ApiError);
    }
    expect(store.enforcementState()).toEqual({ subscribers: [], groups: [] });
    expect(auditCount(store)).toBe(0);
    store.close();
  });
});

describe('keys and tokens', () => {
  it('a token is found by its hash, expires, and dies with its key; secrets are not stored', async () => {
    let now = Date.UTC(2026, 0, 1);
    const path = join(dir, 'keys.db');
    const store = Store.open(path, { clock: () => now });
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
    expect(() => store.deleteKey(authKeyId, local)).toThrow(expect.objectContaining({ code: 'TWK0001' }));
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
    const store = Store.open(path);
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
    const store = Store.open(join(dir, 'checkpoints.db'));
    store.importDevices(registry, local);
    for (let i = 0; i < 200; i++) store.act('440100000000001', { type: 'update_speed_class', speedClass: i % 2 ? 's1.slow' : 's1.fast' }, local);
    await expect.poll(() => store.backgroundCheckpoints, { timeout: 5000 }).toBeGreaterThan(0);
    store.close();
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
    const store = Store.open(path);
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
