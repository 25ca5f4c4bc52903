// SoracomClient and UpstreamEnforcer over real HTTP on 127.0.0.1: the client against a listening
// server (login on first use and after expiry, paging, idempotency, errors, retries), and two
// servers A → B where B is A's upstream enforcer: what A decides shows up on B, also after B was
// down for a while, and only what A decides: an import's defaults do not overwrite what B's operator set.

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ControlApiError, SoracomClient } from './client.js';
import { UpstreamEnforcer } from './enforcement/upstream.js';
import type { Enforcer } from './model.js';
import { buildControlServer, type ControlServer, type ControlServerOptions } from './server.js';
import { Store } from './store.js';
import { loginHeaders } from '../test/helpers/control-login.js';

const silent = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'tapwatch-client-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let running: ControlServer[] = [];
afterEach(async () => {
  await Promise.all(running.map((s) => s.close()));
  running = [];
});

const SUBSCRIBER = { imsi: '440100000000001', imei: null, ipAddress: '10.128.0.1', status: 'active', speedClass: 's1.fast', groupId: null, operatorId: 'OP1', tags: {}, createdTime: 0, lastModifiedTime: 0 };

const registry = (n: number) => Array.from({ length: n }, (_, i) => ({ ip: `10.128.${i >> 8}.${i & 255}`, id: `d${i}`, imsi: String(440100000000000 + i), group: 'meters' }));

/** A listening server with `devices` subscribers, and a key of `role` for the client. */
async function serve(opts: Partial<ControlServerOptions> & { devices?: number; port?: number } = {}) {
  const server = await buildControlServer({ db: ':memory:', create: true, ...opts });
  running.push(server);
  server.store.importDevices(registry(opts.devices ?? 3), { actor: 'local' });
  await server.app.listen({ host: '127.0.0.1', port: opts.port ?? 0 });
  const url = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;
  return { server, url };
}

async function stop(server: ControlServer): Promise<void> {
  running = running.filter((s) => s !== server);
  await server.close();
}

describe('SoracomClient', () => {
  it('logs in on first use, pages through every subscriber, acts with reason and idempotency key', async () => {
    const { server, url } = await serve({ devices: 1201 });
    const client = new SoracomClient({ baseUrl: url, ...server.store.createKey('analyzer') });
    const all = await client.listSubscribers();
    expect(all.map((s) => s.imsi)).toEqual(registry(1201).map((r) => r.imsi));
    expect(await client.getSubscriber('440100000000007')).toMatchObject({ imsi: '440100000000007', ipAddress: '10.128.0.7' });
    expect(await client.getSubscriber('440100000009999')).toBeNull();

    const reason = 'DNS tunnelling: 3,412 queries/min (baseline 12) – “quarantine”';
    const acted = await client.act('440100000000007', { type: 'update_speed_class', speedClass: 's1.minimum' }, { idempotencyKey: 'incident-7', reason });
    expect(acted.speedClass).toBe('s1.minimum');
    const audit = server.store.listAudit({ limit: 10, imsi: '440100000000007' }).items;
    expect(audit[0]).toMatchObject({ action: 'update_speed_class', reason });
    await client.act('440100000000007', { type: 'update_speed_class', speedClass: 's1.fast' });
    const replay = await client.act('440100000000007', { type: 'update_speed_class', speedClass: 's1.minimum' }, { idempotencyKey: 'incident-7', reason });
    expect(replay).toEqual(acted);
    expect(server.store.getSubscriber('440100000000007')!.speedClass).toBe('s1.fast');
    expect(server.store.listAudit({ limit: 10, imsi: '440100000000007' }).items.length).toBe(audit.length + 1);
    expect(await metric(url, 'tapwatch_control_requests_total{route="/v1/auth",method="POST",status="200"}')).toBe(1);
  });

  it('logs in again when its token has expired', async () => {
    let now = Date.now();
    const { server, url } = await serve({ clock: () => now });
    const client = new SoracomClient({ baseUrl: `${url}/v1`, ...server.store.createKey('read-only') });
    expect(await client.getSubscriber('440100000000001')).not.toBeNull();
    now += 2 * 86_400_000;
    expect(await client.getSubscriber('440100000000001')).not.toBeNull();
    expect(await metric(url, 'tapwatch_control_requests_total{route="/v1/subscribers/:imsi",method="GET",status="401"}')).toBe(1);
    expect(await metric(url, 'tapwatch_control_requests_total{route="/v1/auth",method="POST",status="200"}')).toBe(2);
  });

  it('says what went wrong: status, SORACOM code and message', async () => {
    const { server, url } = await serve();
    const client = new SoracomClient({ baseUrl: url, ...server.store.createKey('read-only') });
    const refused = await client.act('440100000000001', { type: 'deactivate' }).catch((e) => e);
    expect(refused).toBeInstanceOf(ControlApiError);
    expect(refused).toMatchObject({ status: 403, code: 'TWA0004', message: expect.stringMatching(/POST .*\/v1\/subscribers\/440100000000001\/deactivate: 403 TWA0004/) });
    const bad = new SoracomClient({ baseUrl: url, authKeyId: 'keyId-nobody', authKey: 'secret-nothing' });
    await expect(bad.listSubscribers()).rejects.toMatchObject({ status: 401, code: 'TWA0003' });
    const operator = new SoracomClient({ baseUrl: url, ...server.store.createKey('operator') });
    await expect(operator.act('440100000000001', { type: 'set_group', groupId: 'nowhere' })).rejects.toMatchObject({ status: 400, code: 'TWS0002' });
  });

  it('retries 429 after Retry-After, and a server that is not up yet', async () => {
    const { server, url } = await serve({ rateLimit: { perSecond: 2, burst: 1 } });
    const client = new SoracomClient({ baseUrl: url, ...server.store.createKey('analyzer') });
    await client.getSubscriber('440100000000001'); // spends the burst
    const t0 = Date.now();
    expect((await client.act('440100000000001', { type: 'deactivate' })).status).toBe('inactive');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(await metric(url, 'tapwatch_control_rate_limited_total')).toBeGreaterThanOrEqual(1);

    // A port that nothing listens on yet: the client keeps trying until the server comes up.
    const port = await freePort();
    const path = join(dir, 'late.db');
    const seed = Store.open(path, { create: true });
    const key = seed.createKey('analyzer');
    seed.close();
    const late = new SoracomClient({ baseUrl: `http://127.0.0.1:${port}`, ...key, retries: 8, backoffMs: 100 });
    const pending = late.listSubscribers();
    await new Promise((r) => setTimeout(r, 300));
    await serve({ db: path, port });
    expect((await pending).length).toBe(3);
  });

  it('checks what it receives: a body that is not what the API promises is an error saying what is wrong', async () => {
    const wrong = createServer((req, res) => {
      const body = req.url === '/v1/auth' ? { apiKey: 'a', token: 't', operatorId: 'OP1' } : req.url?.startsWith('/v1/subscribers?') ? [{ ...SUBSCRIBER, status: 'on fire' }] : '<html>proxy</html>';
      res.writeHead(200, { 'content-type': 'application/json' }).end(typeof body === 'string' ? body : JSON.stringify(body));
    });
    await new Promise<void>((r) => wrong.listen(0, '127.0.0.1', r));
    const client = new SoracomClient({ baseUrl: `http://127.0.0.1:${(wrong.address() as AddressInfo).port}`, authKeyId: 'k', authKey: 's', retries: 0 });
    await expect(client.listSubscribers()).rejects.toMatchObject({ code: 'TWX0004', message: expect.stringMatching(/the answer is not what the API promises: \/0\/status must be equal to one of the allowed values/) });
    await expect(client.getSubscriber('440100000000001')).rejects.toMatchObject({ code: 'TWX0004', message: expect.stringMatching(/the answer is not JSON: <html>proxy/) });
    await close(wrong);
  });

  it('never puts a password from its URL into an error', async () => {
    const port = await freePort();
    const client = new SoracomClient({ baseUrl: `http://ops:hunter2@127.0.0.1:${port}/v1`, authKeyId: 'k', authKey: 's', retries: 0 });
    const err = await client.listSubscribers().catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'TWX0002', message: expect.stringMatching(/POST http:\/\/ops:\*\*\*@127\.0\.0\.1/) });
    expect((err as Error).message).not.toContain('hunter2');
  });

  it('gives up after its retries on 5xx, with the last answer', async () => {
    let hits = 0;
    const failing = createServer((_req, res) => {
      hits++;
      res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'TWX0001', message: 'Internal error' }));
    });
    await new Promise<void>((r) => failing.listen(0, '127.0.0.1', r));
    const client = new SoracomClient({ baseUrl: `http://127.0.0.1:${(failing.address() as AddressInfo).port}`, authKeyId: 'k', authKey: 's', retries: 2, backoffMs: 10 });
    await expect(client.listSubscribers()).rejects.toMatchObject({ status: 503, code: 'TWX0001' });
    expect(hits).toBe(3);
    await close(failing);
    await expect(client.listSubscribers()).rejects.toMatchObject({ status: 0, code: 'TWX0002', message: expect.stringMatching(/after 3 attempts/) });
  });
});

describe('UpstreamEnforcer: server A enforces through server B', () => {
  it('an action on A shows up on B; A reconciles B at start and after B drifts or was down', async () => {
    const b = await serve({ db: join(dir, 'b.db'), devices: 5 });
    b.server.store.createGroup({ groupId: 'quarantine' }, { actor: 'local' });
    const bKey = b.server.store.createKey('analyzer', 'A enforcing');
    const bPort = Number(new URL(b.url).port);

    // A's store already says 440100000000001 is blocked; B does not know yet.
    const aPath = join(dir, 'a.db');
    const seed = Store.open(aPath, { create: true });
    seed.importDevices(registry(5), { actor: 'local' });
    seed.createGroup({ groupId: 'quarantine' }, { actor: 'local' });
    seed.act('440100000000001', { type: 'deactivate' }, { actor: 'local' });
    seed.close();
    const enforcer: Enforcer = new UpstreamEnforcer({ baseUrl: b.url, ...bKey, log: silent });
    const a = await serve({ db: aPath, enforcer, enforcementRetry: { initialMs: 100, maxMs: 400 } });
    expect(b.server.store.getSubscriber('440100000000001')!.status).toBe('inactive');

    const aClient = new SoracomClient({ baseUrl: a.url, ...a.server.store.createKey('analyzer') });
    await aClient.act('440100000000002', { type: 'set_group', groupId: 'quarantine' }, { reason: 'C2 beaconing' });
    await aClient.act('440100000000003', { type: 'update_speed_class', speedClass: 's1.minimum' });
    expect(b.server.store.getSubscriber('440100000000002')!.groupId).toBe('quarantine');
    expect(b.server.store.getSubscriber('440100000000003')!.speedClass).toBe('s1.minimum');
    expect(b.server.store.listAudit({ limit: 1, imsi: '440100000000003' }).items[0]).toMatchObject({ actor: bKey.authKeyId, reason: 'tapwatch upstream enforcer' });

    // B drifts (someone changes it behind A's back); A's next reconcile puts it back.
    b.server.store.act('440100000000001', { type: 'activate' }, { actor: 'local' });
    expect((await a.server.enforcement.reconcile()).enforced).toBe(true);
    expect(b.server.store.getSubscriber('440100000000001')!.status).toBe('inactive');

    // B goes down: A still answers 200 (its store has the change) and says it is not enforced.
    await stop(b.server);
    const res = await fetch(`${a.url}/v1/subscribers/440100000000004/deactivate`, { method: 'POST', headers: await headersFor(a.url, a.server) });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-tapwatch-enforced')).toBe('false');
    expect(res.headers.get('x-tapwatch-not-enforced')).toMatch(/^subscriber 440100000000004: the enforcer failed: POST http:\/\/127\.0\.0\.1:\d+\/v1\/subscribers\/440100000000004\/deactivate: /);
    expect((await (await fetch(`${a.url}/healthz`)).json()).status).toBe('degraded');

    // B comes back on the same port with the same database: A's retried reconcile catches it up.
    const back = await serve({ db: join(dir, 'b.db'), devices: 5, port: bPort });
    await expect.poll(() => back.server.store.getSubscriber('440100000000004')!.status, { timeout: 5000, interval: 100 }).toBe('inactive');
    await expect.poll(async () => (await (await fetch(`${a.url}/healthz`)).json()).status, { timeout: 5000 }).toBe('ok');
  });
});

describe('UpstreamEnforcer after an import', () => {
  it("leaves what B's operator set alone (a deactivated SIM, a speed class, groups) and pushes what A's actions set", async () => {
    const b = await serve({ db: join(dir, 'b-operated.db'), devices: 7 });
    const operator = { actor: 'local', reason: 'the operator, on B' };
    b.server.store.createGroup({ groupId: 'fleet-x' }, operator);
    b.server.store.act('440100000000001', { type: 'deactivate' }, operator); // stolen
    b.server.store.act('440100000000002', { type: 'update_speed_class', speedClass: 's1.slow' }, operator);
    b.server.store.act('440100000000003', { type: 'set_group', groupId: 'fleet-x' }, operator);
    b.server.store.act('440100000000006', { type: 'deactivate' }, operator);
    const bKey = b.server.store.createKey('analyzer', 'A enforcing');

    // A: the registry imported (005 in no group there), and one throttle of its own, not yet on B.
    const aPath = join(dir, 'a-imported.db');
    const seed = Store.open(aPath, { create: true });
    seed.importDevices(registry(6).map((r) => (r.imsi === '440100000000005' ? { ...r, group: undefined } : r)), { actor: 'local' });
    seed.act('440100000000004', { type: 'update_speed_class', speedClass: 's1.minimum' }, { actor: 'local' });
    seed.close();
    const a = await serve({ db: aPath, enforcer: new UpstreamEnforcer({ baseUrl: b.url, ...bKey, log: silent }) });

    // A later import through A's API, and the reconcile after it, leave B's 006 deactivated too.
    const imported = await fetch(`${a.url}/v1/devices/import`, {
      method: 'POST',
      headers: { ...(await loginHeaders(a.server, 'operator')), 'content-type': 'application/json' },
      body: JSON.stringify(registry(7)),
    });
    expect(await imported.json()).toMatchObject({ created: 1 });
    expect(imported.headers.get('x-tapwatch-enforced')).toBe('true');

    const onB = (imsi: string) => b.server.store.getSubscriber(imsi)!;
    expect([1, 2, 3, 4, 5, 6].map((i) => onB(String(440100000000000 + i))).map((s) => [s.status, s.speedClass, s.groupId])).toEqual([
      ['inactive', 's1.8xfast', 'meters'],
      ['active', 's1.slow', 'meters'],
      ['active', 's1.8xfast', 'fleet-x'],
      ['active', 's1.minimum', 'meters'],
      ['active', 's1.8xfast', 'meters'],
      ['inactive', 's1.8xfast', 'meters'],
    ]);
    const byA = b.server.store.listAudit({ limit: 100 }).items.filter((e) => e.actor === bKey.authKeyId);
    expect(byA.map((e) => [e.targetId, e.action])).toEqual([['440100000000004', 'update_speed_class']]);
  });
});

async function headersFor(url: string, server: ControlServer): Promise<Record<string, string>> {
  const res = await fetch(`${url}/v1/auth`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(server.store.createKey('analyzer')) });
  const { apiKey, token } = await res.json();
  return { 'x-soracom-api-key': apiKey, 'x-soracom-token': token };
}

async function metric(url: string, sample: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line ? Number(line.slice(sample.length + 1)) : 0;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await close(s);
  return port;
}

function close(s: Server): Promise<void> {
  return new Promise((r) => s.close(() => r()));
}
