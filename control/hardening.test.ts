// The control API tried as an attacker and as a careless operator would (issue 11): what it discloses
// without a key, what it does with bad tokens, floods of logins, slow bodies and too many connections,
// unknown query parameters, actions that change nothing, and gateways that cannot be next hops.

import { connect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import { LoginBusyError, LoginGuard } from './login-guard.js';
import type { Enforcer, Role } from './model.js';
import { buildControlServer, type ControlServer, type ControlServerOptions } from './server.js';
import { loginHeaders } from '../test/helpers/control-login.js';

const IMSI = '440100000000001';
let servers: ControlServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function setup(opts: Partial<ControlServerOptions> = {}) {
  const server = await buildControlServer({ db: ':memory:', tarpitMs: 20, ...opts });
  servers.push(server);
  const as = {} as Record<Role, Record<string, string>>;
  for (const role of ['operator', 'analyzer', 'read-only'] as const) as[role] = await loginHeaders(server, role);
  server.store.importDevices([{ ip: '10.128.0.1', id: 'meter-1', imsi: IMSI, group: 'meters' }], { actor: 'local' });
  return { server, as, inject: server.app.inject.bind(server.app) };
}

describe('requests', () => {
  it('action routes refuse unknown query parameters: ?dry_run=true does not perform the action', async () => {
    const { server, as, inject } = await setup();
    for (const url of [`/v1/subscribers/${IMSI}/deactivate?dry_run=true`, `/v1/subscribers/${IMSI}/update_speed_class?force=1`, `/v1/groups?x=1`, '/healthz?verbose=1']) {
      const res = await inject({ method: url.includes('update') || url.includes('deactivate') ? 'POST' : 'GET', url, headers: as.operator, payload: url.includes('update') ? { speedClass: 's1.slow' } : undefined });
      expect(res.statusCode, url).toBe(400);
      expect(res.json()).toEqual({ code: 'TWR0001', message: expect.stringMatching(/querystring must NOT have additional properties: (dry_run|force|x|verbose)/) });
    }
    expect(server.store.getSubscriber(IMSI)).toMatchObject({ status: 'active', speedClass: 's1.8xfast' });
  });

  it('a 403 names the role that would be allowed', async () => {
    const { as, inject } = await setup();
    const act = await inject({ method: 'POST', url: `/v1/subscribers/${IMSI}/deactivate`, headers: as['read-only'] });
    expect(act.json()).toEqual({ code: 'TWA0004', message: `This key's role (read-only) does not allow POST /v1/subscribers/:imsi/deactivate: it needs the operator or analyzer role` });
    const admin = await inject({ method: 'POST', url: '/v1/groups', headers: as.analyzer, payload: {} });
    expect(admin.json().message).toBe("This key's role (analyzer) does not allow POST /v1/groups: it needs the operator role");
  });

  it('an action that changes nothing is answered, not audited, and not sent to the enforcer again', async () => {
    const applied: string[] = [];
    const enforcer: Enforcer = { name: 'recording', reconcile: async () => {}, apply: async (s, a) => void applied.push(`${s.imsi} ${a.type}`), close: async () => {} };
    const { server, as, inject } = await setup({ enforcer });
    const audit = () => server.store.listAudit({ limit: 100 }).items.length;
    await inject({ method: 'POST', url: `/v1/subscribers/${IMSI}/deactivate`, headers: as.analyzer });
    const n = audit();
    const again = await inject({ method: 'POST', url: `/v1/subscribers/${IMSI}/deactivate`, headers: as.analyzer });
    expect(again.statusCode).toBe(200);
    expect(again.json().status).toBe('inactive');
    expect(again.headers['x-tapwatch-enforced']).toBe('true');
    expect(audit()).toBe(n);
    expect(applied).toEqual([`${IMSI} deactivate`]);
    expect((await inject('/metrics')).body).toContain('tapwatch_control_actions_total{type="deactivate",result="unchanged"} 1');
  });

  it('a redirect gateway is stored canonical, and one that cannot be a next hop is refused saying why', async () => {
    const { as, inject } = await setup();
    const put = (redirectGateway: string) => inject({ method: 'PUT', url: '/v1/groups/meters/configuration/tapwatch', headers: as.operator, payload: { quarantine: true, redirectGateway } });
    expect((await put('::ffff:192.0.2.10')).json().configuration.tapwatch.redirectGateway).toBe('192.0.2.10');
    const refused: Array<[string, RegExp]> = [
      ['0.0.0.0', /redirectGateway: 0\.0\.0\.0 is the unspecified address, which cannot be a next hop/],
      ['224.0.0.1', /a multicast address/],
      ['010.0.0.1', /redirectGateway: '010\.0\.0\.1' is not an IP address: the zero-padded part '010' is ambiguous/],
    ];
    for (const [gw, why] of refused) {
      const res = await put(gw);
      expect(res.statusCode, gw).toBe(400);
      expect(res.json()).toEqual({ code: 'TWR0001', message: expect.stringMatching(why) });
    }
  });
});

describe('least disclosure', () => {
  it('the read-only role does not see the auth keys in the audit; an operator does', async () => {
    const { as, inject } = await setup();
    await inject({ method: 'POST', url: '/v1/auth_keys', headers: as.operator, payload: { role: 'operator', name: 'break-glass' } });
    const readOnly = await inject({ url: '/v1/audit?limit=1000', headers: as['read-only'] });
    expect(readOnly.statusCode).toBe(200);
    expect(readOnly.json().some((e: { targetType: string }) => e.targetType === 'auth_key')).toBe(false);
    expect(readOnly.body).not.toContain('break-glass');
    const operator = await inject({ url: '/v1/audit?limit=1000', headers: as.operator });
    expect(operator.body).toContain('break-glass');
  });

  it('strips secrets from every URL it logs', async () => {
    let logged = '';
    const sink = new Writable({ write: (chunk, _enc, done) => ((logged += chunk), done()) });
    const { inject } = await setup({ log: pino({ level: 'debug' }, sink) });
    await inject({ url: '/healthz?token=s3cr3t-token&authKey=secret-abc' });
    expect(logged).toMatch(/"url":"\/healthz\?token=\*\*\*&authKey=\*\*\*"/);
    expect(logged).not.toContain('s3cr3t-token');
    expect(logged).not.toContain('secret-abc');
  });
});

describe('budgets', () => {
  it('bad tokens spend the address’s budget: past it they get a 429 (held back), and key holders are served', async () => {
    const { as, inject } = await setup({ rateLimit: { perSecond: 0.001, burst: 6 }, tarpitMs: 200 });
    // setup's three logins spent three of the address's six.
    const bad = { 'x-soracom-api-key': 'api-x', 'x-soracom-token': 'forged' };
    expect((await inject({ url: '/v1/subscribers', headers: bad })).statusCode).toBe(401);
    expect((await inject({ url: '/v1/subscribers' })).statusCode).toBe(401);
    expect((await inject({ url: '/v1/subscribers', headers: bad })).statusCode).toBe(401);
    const t0 = Date.now();
    const limited = await inject({ url: '/v1/subscribers', headers: bad });
    expect(limited.statusCode).toBe(429);
    expect(limited.json().code).toBe('TWA0005');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    expect((await inject({ url: '/v1/subscribers', headers: as.analyzer })).statusCode).toBe(200);
    // Another address has its own budget.
    expect((await inject({ url: '/v1/subscribers', headers: bad, remoteAddress: '192.0.2.7' })).statusCode).toBe(401);
  });

  it('logins: per address and per authKeyId, refused before any scrypt runs', async () => {
    const server = await buildControlServer({ db: ':memory:', tarpitMs: 20, loginLimits: { perAddress: { perSecond: 0.001, burst: 2 }, perKeyId: { perSecond: 0.001, burst: 3 }, concurrency: 1, queue: 4 } });
    servers.push(server);
    const inject = server.app.inject.bind(server.app);
    const key = server.store.createKey('analyzer');
    const login = (remoteAddress: string, authKey = 'secret-wrong') => inject({ method: 'POST', url: '/v1/auth', payload: { authKeyId: key.authKeyId, authKey }, remoteAddress });
    expect((await login('192.0.2.1')).statusCode).toBe(401);
    expect((await login('192.0.2.1')).statusCode).toBe(401);
    const address = await login('192.0.2.1');
    expect(address.statusCode).toBe(429); // this address is done for now
    expect(address.headers['retry-after']).toBeDefined();
    expect((await login('192.0.2.2')).statusCode).toBe(401); // the key's third
    expect((await login('192.0.2.3', key.authKey)).statusCode).toBe(429); // the key is done for now, from anywhere
    const metrics = (await inject('/metrics')).body;
    expect(metrics).toContain('tapwatch_control_auth_failures_total{reason="bad_auth_key"} 3'); // three scrypts, no more
  });

  it('at most `concurrency` scrypts at once, `queue` waiting; past that a login is refused at once', async () => {
    const guard = new LoginGuard({ perAddress: { perSecond: 100, burst: 100 }, perKeyId: { perSecond: 100, burst: 100 }, concurrency: 1, queue: 1 });
    let release!: () => void;
    let running = 0;
    let most = 0;
    const slow = () => new Promise<void>((r) => {
      running++;
      most = Math.max(most, running);
      release = () => {
        running--;
        r();
      };
    });
    const first = guard.run('192.0.2.1', slow);
    const second = guard.run('192.0.2.1', slow);
    await expect(guard.run('192.0.2.1', slow)).rejects.toBeInstanceOf(LoginBusyError);
    release();
    await first;
    await expect.poll(() => running).toBe(1);
    release();
    await second;
    expect(most).toBe(1);
  });
});

describe('connections', () => {
  async function listening(opts: Partial<ControlServerOptions>) {
    const { server } = await setup(opts);
    await server.app.listen({ host: '127.0.0.1', port: 0 });
    return { server, port: (server.app.server.address() as AddressInfo).port };
  }
  const closed = (s: Socket) => new Promise<void>((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())));
  const open = (port: number) => new Promise<Socket>((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s)).once('error', reject);
    s.on('error', () => undefined);
  });

  it('a slow body is cut off at the request timeout instead of holding its socket', async () => {
    const { port } = await listening({ requestTimeoutMs: 500 });
    const s = await open(port);
    s.write('POST /v1/auth HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"authKeyId":');
    let answer = '';
    s.on('data', (d) => (answer += d));
    const t0 = Date.now();
    await closed(s);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
  });

  it('past the connection cap new connections are closed at once, and the server still answers the others', async () => {
    const { port } = await listening({ maxConnections: 3 });
    const held = await Promise.all([open(port), open(port), open(port)]);
    const extra = await open(port);
    await closed(extra); // refused by the cap
    held[0].destroy();
    await closed(held[0]);
    await expect.poll(async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => null))?.status, { timeout: 5000 }).toBe(200);
    for (const s of held) s.destroy();
  });
});
