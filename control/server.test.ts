// The control API through fastify's inject(): every route's happy path, and every kind of bad
// request answered with a clear 4xx {code, message} that changes nothing and audits nothing.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Enforcer, Role, Subscriber } from './model.js';
import { buildControlServer, type ControlServer, type ControlServerOptions } from './server.js';
import { loginHeaders } from '../test/helpers/control-login.js';

const IMSI = '440100000000001';
const REGISTRY_CSV = 'ip,id,imsi,imei,group\n10.128.0.1,meter-1,440100000000001,356938030000001,meters\n10.128.0.2,meter-2,440100000000002,,trackers\n10.128.0.3,meter-3,440100000000003,,\n';

let servers: ControlServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

/** Logins as often as these tests make them, from one address (hardening.test.ts tests the real limits). */
const LENIENT_LOGINS = { perAddress: { perSecond: 100, burst: 100 }, perKeyId: { perSecond: 100, burst: 100 }, concurrency: 1, queue: 16 };

async function setup(opts: Partial<ControlServerOptions> = {}) {
  const server = await buildControlServer({ db: ':memory:', loginLimits: LENIENT_LOGINS, ...opts });
  servers.push(server);
  const as: Record<Role, Record<string, string>> = {
    operator: await loginHeaders(server, 'operator'),
    analyzer: await loginHeaders(server, 'analyzer'),
    'read-only': await loginHeaders(server, 'read-only'),
  };
  const res = await server.app.inject({ method: 'POST', url: '/v1/devices/import', headers: { ...as.operator, 'content-type': 'text/csv' }, payload: REGISTRY_CSV });
  expect(res.statusCode).toBe(200);
  const inject = server.app.inject.bind(server.app);
  /** Everything a refused request must leave as it was. */
  const snapshot = () => ({ state: server.store.enforcementState(), audit: server.store.listAudit({ limit: 1000 }).items.length });
  return { server, as, inject, snapshot };
}

describe('subscribers', () => {
  it('lists with SORACOM paging and filters, and gets one', async () => {
    const { as, inject } = await setup();
    const first = await inject({ url: '/v1/subscribers?limit=2', headers: as['read-only'] });
    expect(first.statusCode).toBe(200);
    expect(first.json().map((s: Subscriber) => s.imsi)).toEqual(['440100000000001', '440100000000002']);
    expect(first.headers['x-soracom-next-key']).toBe('440100000000002');
    const second = await inject({ url: '/v1/subscribers?limit=2&last_evaluated_key=440100000000002', headers: as['read-only'] });
    expect(second.json().map((s: Subscriber) => s.imsi)).toEqual(['440100000000003']);
    expect(second.headers['x-soracom-next-key']).toBeUndefined();
    const meters = await inject({ url: '/v1/subscribers?group_id=meters', headers: as['read-only'] });
    expect(meters.json().map((s: Subscriber) => s.imsi)).toEqual([IMSI]);
    await inject({ method: 'POST', url: `/v1/subscribers/${IMSI}/deactivate`, headers: as.analyzer });
    const inactive = await inject({ url: '/v1/subscribers?status_filter=inactive|suspended', headers: as['read-only'] });
    expect(inactive.json().map((s: Subscriber) => s.imsi)).toEqual([IMSI]);
    const one = await inject({ url: `/v1/subscribers/${IMSI}`, headers: as['read-only'] });
    expect(one.json()).toMatchObject({ imsi: IMSI, imei: '356938030000001', ipAddress: '10.128.0.1', status: 'inactive', groupId: 'meters', tags: { name: 'meter-1' } });
  });

  it('each action returns the updated subscriber and writes its audit row with the reason header', async () => {
    const { server, as, inject } = await setup();
    const reason = 'port scan: 412 destinations (baseline 3) — ünïcode';
    const steps: Array<[string, object | undefined, Partial<Subscriber>]> = [
      ['deactivate', undefined, { status: 'inactive' }],
      ['activate', undefined, { status: 'active' }],
      ['update_speed_class', { speedClass: 's1.minimum' }, { speedClass: 's1.minimum' }],
      ['set_group', { groupId: 'trackers' }, { groupId: 'trackers' }],
      ['unset_group', undefined, { groupId: null }],
    ];
    for (const [action, body, change] of steps) {
      const res = await inject({ method: 'POST', url: `/v1/subscribers/${IMSI}/${action}`, headers: { ...as.analyzer, 'x-tapwatch-reason': encodeURIComponent(reason) }, payload: body });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject(change);
      expect(res.headers['x-tapwatch-enforced']).toBe('true');
      const [row] = server.store.listAudit({ limit: 1 }).items;
      expect(row).toMatchObject({ action, targetId: IMSI, reason, after: res.json() });
    }
  });

  it('an unknown IMSI is 404, bad bodies are 400 — each saying why — and change nothing', async () => {
    const { as, inject, snapshot } = await setup();
    const before = snapshot();
    const cases: Array<[string, string | object | undefined, Record<string, string>, number, string, RegExp]> = [
      ['/v1/subscribers/440100000000009/deactivate', undefined, {}, 404, 'TWS0001', /No such subscriber/],
      [`/v1/subscribers/${IMSI}/update_speed_class`, { speedClass: 's1.warp' }, {}, 400, 'TWR0001', /speedClass must be equal to one of the allowed values: s1\.minimum/],
      [`/v1/subscribers/${IMSI}/update_speed_class`, { speedClass: 5 }, {}, 400, 'TWR0001', /speedClass must be string/],
      [`/v1/subscribers/${IMSI}/update_speed_class`, {}, {}, 400, 'TWR0001', /must have required property 'speedClass'/],
      [`/v1/subscribers/${IMSI}/update_speed_class`, { speedClass: 's1.slow', extra: 1 }, {}, 400, 'TWR0001', /additional properties/],
      [`/v1/subscribers/${IMSI}/update_speed_class`, undefined, {}, 400, 'TWR0001', /body must be object/],
      [`/v1/subscribers/${IMSI}/set_group`, { groupId: 'no-such-group' }, {}, 400, 'TWS0002', /No such group: no-such-group/],
      [`/v1/subscribers/${IMSI}/set_group`, { groupId: ['meters'] }, {}, 400, 'TWR0001', /groupId must be string/],
      [`/v1/subscribers/${IMSI}/set_group`, '{"groupId": "meters"', { 'content-type': 'application/json' }, 400, 'TWR0001', /not valid JSON/],
      [`/v1/subscribers/${IMSI}/set_group`, { groupId: 'x'.repeat(17 * 1024) }, {}, 413, 'TWR0002', /too large/],
      [`/v1/subscribers/${IMSI}/set_group`, 'groupId=meters', { 'content-type': 'application/x-www-form-urlencoded' }, 415, 'TWR0003', /Unsupported Media Type/i],
      ['/v1/subscribers/not-an-imsi/deactivate', undefined, {}, 400, 'TWR0001', /params\/imsi must match pattern/],
    ];
    for (const [url, payload, headers, status, code, message] of cases) {
      const res = await inject({ method: 'POST', url, headers: { ...as.operator, ...headers }, payload });
      expect(res.statusCode, `${url} ${JSON.stringify(payload)}: ${res.body}`).toBe(status);
      expect(res.json()).toEqual({ code, message: expect.stringMatching(message) });
    }
    expect(snapshot()).toEqual(before);
  });

  it('Idempotency-Key: the same key again returns the first status and body, and does nothing', async () => {
    const applied: string[] = [];
    const enforcer: Enforcer = {
      name: 'recording',
      reconcile: async () => {},
      apply: async (s, a) => void applied.push(`${s.imsi} ${a.type}`),
      close: async () => {},
    };
    const { server, as, inject } = await setup({ enforcer });
    const call = (key: string, speedClass: string) =>
      inject({ method: 'POST', url: `/v1/subscribers/${IMSI}/update_speed_class`, headers: { ...as.analyzer, 'idempotency-key': key }, payload: { speedClass } });
    const first = await call('incident-42', 's1.slow');
    await inject({ method: 'POST', url: `/v1/subscribers/${IMSI}/update_speed_class`, headers: as.operator, payload: { speedClass: 's1.fast' } });
    const audit = server.store.listAudit({ limit: 1000 }).items.length;
    const again = await call('incident-42', 's1.slow');
    expect(again.statusCode).toBe(first.statusCode);
    expect(again.body).toBe(first.body);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(server.store.getSubscriber(IMSI)!.speedClass).toBe('s1.fast');
    expect(server.store.listAudit({ limit: 1000 }).items.length).toBe(audit);
    expect(applied).toEqual([`${IMSI} update_speed_class`, `${IMSI} update_speed_class`]);
    const misuse = await call('incident-42', 's1.minimum');
    expect(misuse.statusCode).toBe(422);
    expect(misuse.json().code).toBe('TWR0005');
  });
});

describe('groups', () => {
  it('create, list, get, configure, delete; audited', async () => {
    const { server, as, inject } = await setup();
    const created = await inject({ method: 'POST', url: '/v1/groups', headers: as.operator, payload: { groupId: 'quarantine', tags: { name: 'Quarantine' } } });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ groupId: 'quarantine', tags: { name: 'Quarantine' }, configuration: {} });
    const generated = await inject({ method: 'POST', url: '/v1/groups', headers: as.operator, payload: {} });
    expect(generated.json().groupId).toMatch(/^[0-9a-f-]{36}$/);
    expect((await inject({ method: 'POST', url: '/v1/groups', headers: as.operator, payload: { groupId: 'quarantine' } })).statusCode).toBe(409);
    const list = await inject({ url: '/v1/groups', headers: as['read-only'] });
    expect(list.json().map((g: { groupId: string }) => g.groupId).sort()).toEqual(['meters', 'quarantine', 'trackers', generated.json().groupId].sort());
    const configured = await inject({
      method: 'PUT',
      url: '/v1/groups/quarantine/configuration/tapwatch',
      headers: as.operator,
      payload: { quarantine: true, redirectGateway: '192.0.2.10' },
    });
    expect(configured.statusCode).toBe(200);
    expect(configured.json().configuration).toEqual({ tapwatch: { quarantine: true, redirectGateway: '192.0.2.10' } });
    expect((await inject({ url: '/v1/groups/quarantine', headers: as['read-only'] })).json()).toEqual(configured.json());
    for (const payload of [{ quarantine: 'yes', redirectGateway: null }, { quarantine: true, redirectGateway: '10.0.0.300' }, { quarantine: true }]) {
      const bad = await inject({ method: 'PUT', url: '/v1/groups/quarantine/configuration/tapwatch', headers: as.operator, payload });
      expect(bad.statusCode, JSON.stringify(payload)).toBe(400);
    }
    // A group with members cannot go; an empty one can.
    const busy = await inject({ method: 'DELETE', url: '/v1/groups/meters', headers: as.operator });
    expect(busy.statusCode).toBe(409);
    expect(busy.json()).toEqual({ code: 'TWG0003', message: expect.stringMatching(/1 subscriber/) });
    expect((await inject({ method: 'DELETE', url: '/v1/groups/quarantine', headers: as.operator })).statusCode).toBe(204);
    expect((await inject({ url: '/v1/groups/quarantine', headers: as.operator })).json().code).toBe('TWG0001');
    expect(server.store.listAudit({ limit: 3 }).items.map((e) => e.action)).toEqual(['delete_group', 'set_group_configuration', 'create_group']);
  });
});

describe('device import', () => {
  it('takes CSV and JSON; a bad registry is a 400 naming the entry and imports nothing', async () => {
    const { server, as, inject, snapshot } = await setup();
    const json = await inject({
      method: 'POST',
      url: '/v1/devices/import',
      headers: as.operator,
      payload: [{ ip: '10.128.0.4', id: 'meter-4', imsi: 440100000000004, group: 'meters' }],
    });
    expect(json.statusCode, json.body).toBe(200);
    expect(json.json()).toEqual({ created: 1, updated: 0, unchanged: 0, groupsCreated: 0 });
    expect(server.store.getSubscriber('440100000000004')).toMatchObject({ ipAddress: '10.128.0.4', groupId: 'meters' });
    const before = snapshot();
    const bad: Array<[string, string, RegExp]> = [
      ['text/csv', 'ip,id,imsi\n10.128.0.5,m5,440100000000005\n10.128.0.6,m6\n', /line 3 has a different number of cells than the header/],
      ['text/csv', 'id,imsi\nm5,440100000000005\n', /'ip' column/],
      ['text/csv', 'ip,id,imsi\n10.128.0.5,m5,\n', /line 2 \(ip 10\.128\.0\.5\): no imsi/],
      ['text/csv', 'ip,id,imsi,group\n10.128.0.5,m5,440100000000005,quarantine zone\n', /line 2: group 'quarantine zone' is not a group id/],
      ['text/csv', 'ip,id,imsi\n10.128.0.5,m5,440100000000005\n10.128.0.6,m6,440100000000005\n', /line 3: imsi 440100000000005 is given again; first on line 2/],
      ['text/csv', 'ip,id,imsi\n10.128.0.5,"=HYPERLINK(""http://x"")",440100000000005\n', /line 2: the id cell .* starts with '=': spreadsheet formulas are refused/],
      ['application/json', '[{"ip": "10.128.0.5", "imsi": "440100000000005"}, {"ip": "10.128.0.6"}]', /body\/1 must have required property 'imsi'/],
      ['application/json', '{"ip": "10.128.0.5"}', /body must be array/],
    ];
    for (const [type, payload, message] of bad) {
      const res = await inject({ method: 'POST', url: '/v1/devices/import', headers: { ...as.operator, 'content-type': type }, payload });
      expect(res.statusCode, payload).toBe(400);
      expect(res.json().message).toMatch(message);
    }
    const huge = await inject({ method: 'POST', url: '/v1/devices/import', headers: { ...as.operator, 'content-type': 'text/csv' }, payload: 'ip,id,imsi\n' + '10.128.0.5,m5,440100000000005\n'.repeat(40_000) });
    expect(huge.statusCode).toBe(413);
    expect(snapshot()).toEqual(before);
  });
});

describe('auth', () => {
  it('POST /v1/auth gives a token that works; bad credentials are 401 with distinct codes', async () => {
    const { server, inject } = await setup();
    const { authKeyId, authKey } = server.store.createKey('read-only');
    const ok = await inject({ method: 'POST', url: '/v1/auth', payload: { authKeyId, authKey, tokenTimeoutSeconds: 600 } });
    expect(ok.statusCode).toBe(200);
    const { apiKey, token, operatorId } = ok.json();
    expect(operatorId).toBe(server.store.operatorId);
    expect((await inject({ url: '/v1/subscribers', headers: { 'x-soracom-api-key': apiKey, 'x-soracom-token': token } })).statusCode).toBe(200);
    const refused: Array<[object, Record<string, string>, number, string]> = [
      [{ method: 'POST', url: '/v1/auth', payload: { authKeyId, authKey: 'secret-wrong' } }, {}, 401, 'TWA0003'],
      [{ method: 'POST', url: '/v1/auth', payload: { authKeyId, authKey, tokenTimeoutSeconds: 172_801 } }, {}, 400, 'TWR0001'],
      [{ url: '/v1/subscribers' }, {}, 401, 'TWA0001'],
      [{ url: '/v1/subscribers' }, { 'x-soracom-api-key': apiKey }, 401, 'TWA0001'],
      [{ url: '/v1/subscribers' }, { 'x-soracom-api-key': apiKey, 'x-soracom-token': 'forged' }, 401, 'TWA0002'],
      [{ url: '/v1/subscribers' }, { 'x-soracom-api-key': 'api-other', 'x-soracom-token': token }, 401, 'TWA0002'],
    ];
    for (const [req, headers, status, code] of refused) {
      const res = await inject({ ...req, headers } as never);
      expect(res.statusCode, JSON.stringify(req)).toBe(status);
      expect(res.json()).toEqual({ code, message: expect.any(String) });
    }
  });

  it('an expired token is 401; a deleted key’s token is 401 at once', async () => {
    let now = Date.now();
    const { server, as, inject } = await setup({ clock: () => now });
    const key = await inject({ method: 'POST', url: '/v1/auth_keys', headers: as.operator, payload: { role: 'analyzer', name: 'responder' } });
    expect(key.statusCode).toBe(201);
    const { authKeyId, authKey } = key.json();
    const login = (await inject({ method: 'POST', url: '/v1/auth', payload: { authKeyId, authKey, tokenTimeoutSeconds: 180 } })).json();
    const headers = { 'x-soracom-api-key': login.apiKey, 'x-soracom-token': login.token };
    expect((await inject({ url: '/v1/subscribers', headers })).statusCode).toBe(200);
    now += 181_000;
    expect((await inject({ url: '/v1/subscribers', headers })).json().code).toBe('TWA0002');
    const fresh = (await inject({ method: 'POST', url: '/v1/auth', payload: { authKeyId, authKey } })).json();
    const freshHeaders = { 'x-soracom-api-key': fresh.apiKey, 'x-soracom-token': fresh.token };
    expect((await inject({ url: '/v1/subscribers', headers: freshHeaders })).statusCode).toBe(200);
    const keys = await inject({ url: '/v1/auth_keys', headers: as.operator });
    expect(keys.json().find((k: { authKeyId: string }) => k.authKeyId === authKeyId)).toEqual({ authKeyId, name: 'responder', role: 'analyzer', createdTime: now - 181_000 });
    expect(keys.body).not.toContain(authKey);
    expect((await inject({ method: 'DELETE', url: `/v1/auth_keys/${authKeyId}`, headers: as.operator })).statusCode).toBe(204);
    expect((await inject({ url: '/v1/subscribers', headers: freshHeaders })).statusCode).toBe(401);
    expect((await inject({ method: 'DELETE', url: `/v1/auth_keys/${authKeyId}`, headers: as.operator })).json().code).toBe('TWK0001');
    expect(server.store.listAudit({ limit: 2 }).items.map((e) => [e.action, e.targetId])).toEqual([
      ['delete_auth_key', authKeyId],
      ['create_auth_key', authKeyId],
    ]);
  });

  it('roles: read-only reads, analyzer also acts, only operator manages keys, groups and import (403 otherwise)', async () => {
    const { as, inject, snapshot } = await setup();
    const before = snapshot();
    const writes: Array<[string, string, object | undefined, Role[]]> = [
      ['POST', `/v1/subscribers/${IMSI}/deactivate`, undefined, ['read-only']],
      ['POST', `/v1/subscribers/${IMSI}/update_speed_class`, { speedClass: 's1.slow' }, ['read-only']],
      ['POST', '/v1/groups', { groupId: 'g' }, ['read-only', 'analyzer']],
      ['DELETE', '/v1/groups/meters', undefined, ['read-only', 'analyzer']],
      ['PUT', '/v1/groups/meters/configuration/tapwatch', { quarantine: true, redirectGateway: null }, ['read-only', 'analyzer']],
      ['POST', '/v1/devices/import', [{ ip: '10.128.0.9', imsi: '440100000000009' }], ['read-only', 'analyzer']],
      ['POST', '/v1/auth_keys', { role: 'operator' }, ['read-only', 'analyzer']],
      ['GET', '/v1/auth_keys', undefined, ['read-only', 'analyzer']],
    ];
    for (const [method, url, payload, denied] of writes) {
      for (const role of denied) {
        const res = await inject({ method: method as 'POST', url, headers: as[role], payload });
        expect(res.statusCode, `${role} ${method} ${url}`).toBe(403);
        expect(res.json().code).toBe('TWA0004');
      }
    }
    expect(snapshot()).toEqual(before);
    for (const role of ['read-only', 'analyzer', 'operator'] as const) {
      for (const url of ['/v1/subscribers', `/v1/subscribers/${IMSI}`, '/v1/groups', '/v1/groups/meters', '/v1/audit']) {
        expect((await inject({ url, headers: as[role] })).statusCode, `${role} GET ${url}`).toBe(200);
      }
    }
  });

  it('rate limit: past the burst a key gets 429 with Retry-After, and nothing is applied', async () => {
    const { server, as, inject, snapshot } = await setup({ rateLimit: { perSecond: 1, burst: 5 } });
    // setup() spent none of the analyzer's tokens (its login was a public route, limited by address).
    for (let i = 0; i < 5; i++) expect((await inject({ url: '/v1/subscribers', headers: as.analyzer })).statusCode).toBe(200);
    const before = snapshot();
    const res = await inject({ method: 'POST', url: `/v1/subscribers/${IMSI}/deactivate`, headers: as.analyzer });
    expect(res.statusCode).toBe(429);
    expect(res.json().code).toBe('TWA0005');
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(snapshot()).toEqual(before);
    expect(server.store.getSubscriber(IMSI)!.status).toBe('active');
    // Another key has its own bucket.
    expect((await inject({ url: '/v1/subscribers', headers: as['read-only'] })).statusCode).toBe(200);
  });
});

describe('audit', () => {
  it('pages newest first and filters by IMSI', async () => {
    const { as, inject } = await setup();
    for (const speedClass of ['s1.slow', 's1.fast', 's1.minimum']) {
      await inject({ method: 'POST', url: `/v1/subscribers/${IMSI}/update_speed_class`, headers: as.analyzer, payload: { speedClass } });
    }
    const page = await inject({ url: `/v1/audit?imsi=${IMSI}&limit=2`, headers: as['read-only'] });
    expect(page.json().map((e: { after: Subscriber }) => e.after.speedClass)).toEqual(['s1.minimum', 's1.fast']);
    const rest = await inject({ url: `/v1/audit?imsi=${IMSI}&limit=2&last_evaluated_key=${page.headers['x-soracom-next-key']}`, headers: as['read-only'] });
    expect(rest.json().map((e: { action: string }) => e.action)).toEqual(['update_speed_class', 'import']);
    expect(rest.headers['x-soracom-next-key']).toBeUndefined();
    expect((await inject({ url: '/v1/audit?imsi=123', headers: as['read-only'] })).statusCode).toBe(400);
    expect((await inject({ url: '/v1/audit?status=active', headers: as['read-only'] })).json().message).toMatch(/additional properties/);
  });
});

describe('restart', () => {
  it('a server reopened on the same file has the state, the audit and the tokens of the one before', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapwatch-server-restart-'));
    try {
      const db = join(dir, 'control.db');
      const first = await buildControlServer({ db, create: true });
      const headers = await loginHeaders(first, 'operator');
      await first.app.inject({ method: 'POST', url: '/v1/devices/import', headers: { ...headers, 'content-type': 'text/csv' }, payload: REGISTRY_CSV });
      const acted = await first.app.inject({ method: 'POST', url: `/v1/subscribers/${IMSI}/set_group`, headers: { ...headers, 'x-tapwatch-reason': 'before restart' }, payload: { groupId: 'trackers' } });
      const audit = (await first.app.inject({ url: '/v1/audit', headers })).body;
      await first.close();

      const second = await buildControlServer({ db });
      servers.push(second);
      const again = await second.app.inject({ url: `/v1/subscribers/${IMSI}`, headers });
      expect(again.statusCode).toBe(200);
      expect(again.json()).toEqual(acted.json());
      expect((await second.app.inject({ url: '/v1/audit', headers })).body).toBe(audit);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('health, metrics, OpenAPI', () => {
  it('/healthz answers without credentials, with the status only; a key of any role gets the details', async () => {
    const { as, inject } = await setup();
    const res = await inject({ url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
    const detailed = await inject({ url: '/healthz', headers: as['read-only'] });
    expect(detailed.json()).toMatchObject({ status: 'ok', db: 'ok', enforcer: { enforcer: 'none', healthy: true, lastReconcile: { ok: true }, notEnforced: [], notEnforcedTotal: 0 } });
  });

  it('/healthz is 503 when the database does not answer', async () => {
    const { server, as, inject } = await setup();
    server.store.close();
    const res = await inject({ url: '/healthz', headers: as.operator });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ status: 'failing' }); // the key cannot be checked without the database
    servers = servers.filter((s) => s !== server);
    await server.app.close();
  });

  it('/metrics is Prometheus text counting requests, actions, auth failures and rate limiting', async () => {
    // Five requests per caller and no refill to speak of: the three logins, the bad token and the
    // scrape fit the address's bucket, the analyzer's sixth request does not fit its own.
    const { as, inject } = await setup({ rateLimit: { perSecond: 0.001, burst: 5 } });
    await inject({ url: '/v1/subscribers', headers: as.analyzer });
    await inject({ method: 'POST', url: `/v1/subscribers/${IMSI}/deactivate`, headers: as.analyzer });
    await inject({ method: 'POST', url: '/v1/subscribers/440100000000009/deactivate', headers: as.analyzer });
    await inject({ url: '/v1/subscribers', headers: { 'x-soracom-api-key': 'a', 'x-soracom-token': 'b' } });
    await inject({ method: 'POST', url: '/v1/groups', headers: as.analyzer, payload: {} });
    await inject({ url: '/v1/subscribers', headers: as.analyzer });
    await inject({ url: '/v1/subscribers', headers: as.analyzer });
    const res = await inject({ url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const m = parsePrometheus(res.body);
    expect(m.get('tapwatch_control_requests_total{route="/v1/subscribers/:imsi/deactivate",method="POST",status="200"}')).toBe(1);
    expect(m.get('tapwatch_control_requests_total{route="/v1/subscribers/:imsi/deactivate",method="POST",status="404"}')).toBe(1);
    expect(m.get('tapwatch_control_actions_total{type="deactivate",result="applied"}')).toBe(1);
    expect(m.get('tapwatch_control_actions_total{type="deactivate",result="rejected"}')).toBe(1);
    expect(m.get('tapwatch_control_auth_failures_total{reason="invalid_token"}')).toBe(1);
    expect(m.get('tapwatch_control_auth_failures_total{reason="role_not_allowed"}')).toBe(1);
    expect(m.get('tapwatch_control_rate_limited_total')).toBe(1);
    expect(m.get('tapwatch_control_enforcer_healthy')).toBe(1);
    expect(m.get('tapwatch_control_last_reconcile_success')).toBe(1);
  });

  it('/openapi.json documents every route, with its responses and, where it needs them, credentials', async () => {
    const { server, inject } = await setup();
    const doc = (await inject({ url: '/openapi.json' })).json();
    expect(doc.openapi).toMatch(/^3\./);
    const routes = listRoutes(server.app.printRoutes({ commonPrefix: false }));
    expect(routes.length).toBeGreaterThanOrEqual(20);
    for (const { method, path } of routes) {
      const op = doc.paths[path.replace(/:(\w+)/g, '{$1}')]?.[method.toLowerCase()];
      expect(op, `${method} ${path} is not in the OpenAPI document`).toBeDefined();
      expect(Object.keys(op.responses).some((s) => s.startsWith('2')), `${method} ${path} has no 2xx response schema`).toBe(true);
      const isPublic = ['/v1/auth', '/healthz', '/metrics', '/openapi.json'].includes(path);
      expect(op.security === undefined, `${method} ${path} security`).toBe(isPublic);
      for (const param of path.match(/:\w+/g) ?? []) {
        expect(op.parameters.some((p: { in: string; name: string }) => p.in === 'path' && p.name === param.slice(1)), `${method} ${path} ${param}`).toBe(true);
      }
    }
    const documented = Object.values(doc.paths).reduce((n: number, ops) => n + Object.keys(ops as object).length, 0);
    expect(documented).toBe(routes.length);
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['Subscriber', 'Group', 'Error', 'AuditEntry', 'AuthKey']));
  });

  it('an unknown route is a 404 in the API’s error shape', async () => {
    const { inject } = await setup();
    const res = await inject({ url: '/v1/sims' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ code: 'TWR0004', message: 'No such route: GET /v1/sims' });
  });
});

/** name{labels} → value, checking every line against the text exposition format as it goes. */
function parsePrometheus(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const typed = new Set<string>();
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.slice(0, -1).split('\n')) {
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
    if (meta) {
      if (meta[1] === 'TYPE') {
        expect(['counter', 'gauge', 'histogram', 'summary', 'untyped']).toContain(meta[3]);
        typed.add(meta[2]);
      }
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*\})? (-?[0-9.e+]+|NaN|[+-]Inf)$/.exec(line);
    expect(sample, `not a Prometheus sample line: ${line}`).not.toBeNull();
    expect(typed.has(sample![1]), `${sample![1]} has no # TYPE before it`).toBe(true);
    samples.set(sample![1] + (sample![2] ?? ''), Number(sample![3]));
  }
  return samples;
}

/** Method and full path of each route, from fastify's printRoutes tree. */
function listRoutes(tree: string): Array<{ method: string; path: string }> {
  const routes: Array<{ method: string; path: string }> = [];
  const prefix: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^((?:[│ ] {3})*)[├└]── (\S+)(?: \(([^)]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1].length / 4;
    prefix.length = depth;
    prefix.push(m[2]);
    for (const method of m[3]?.split(', ') ?? []) routes.push({ method, path: prefix.join('') });
  }
  return routes;
}
