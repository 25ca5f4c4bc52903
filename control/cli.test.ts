// tapwatch control as a command (the built dist/, as users run it): bootstrap a key and import the
// registry without the API, then serve, answer, and stop cleanly on SIGTERM; list and revoke keys;
// refuse a database that does not exist, and a port that is taken.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';

const cli = join(import.meta.dirname, '..', 'dist', 'cli', 'tapwatch.js');
const inventory = join(import.meta.dirname, '..', 'fixtures', 'demo', 'inventory.csv');
const dir = mkdtempSync(join(tmpdir(), 'tapwatch-control-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tapwatch = (...args: string[]) => spawnSync('node', [cli, 'control', ...args], { encoding: 'utf8' });

it('--help for the command and each subcommand', () => {
  const top = tapwatch('--help');
  expect(top.status).toBe(0);
  expect(top.stdout).toMatch(/serve[\s\S]*keys[\s\S]*import/);
  const serve = tapwatch('serve', '--help');
  expect(serve.status).toBe(0);
  for (const option of ['--db', '--init', '--force', '--host', '--port', '--enforcer', '--upstream-url', '--upstream-key-id', '--upstream-key', '--rate-limit', '--login-rate', '--max-connections', '--audit-retention-days', '--log-level']) expect(serve.stdout).toContain(option);
  expect(serve.stdout).toMatch(/default 8700/);
  expect(tapwatch('keys', '--help').stdout).toMatch(/--role[\s\S]*list[\s\S]*revoke/);
  expect(tapwatch('serve', '--enforcer', 'magic').stderr).toMatch(/--enforcer: expected none, nft or upstream/);
  expect(tapwatch('serve', '--enforcer', 'upstream').status).toBe(2);
});

it('keys create and import work on the database directly; serve answers with them and stops on SIGTERM', async () => {
  const db = join(dir, 'control.db');
  expect(tapwatch('keys', 'create', '--db', db, '--role', 'superuser').status).toBe(2);
  // No database is made by accident: without --init a missing file is an error, and stays missing.
  const missing = tapwatch('keys', 'create', '--db', db, '--role', 'operator');
  expect(missing.status).toBe(1);
  expect(missing.stderr).toMatch(/\[TWB0002\] the control database .*control\.db does not exist: give the right --db, or --init/);
  expect(existsSync(db)).toBe(false);
  const created = tapwatch('keys', 'create', '--db', db, '--role', 'operator', '--name', 'ops', '--init');
  expect(created.status, created.stderr).toBe(0);
  expect((statSync(db).mode & 0o777).toString(8)).toBe('600');
  const key = JSON.parse(created.stdout);
  expect(key).toEqual({ authKeyId: expect.stringMatching(/^keyId-/), authKey: expect.stringMatching(/^secret-/) });

  const devices = readFileSync(inventory, 'utf8').trim().split('\n').length - 1;
  const imported = tapwatch('import', '--db', db, inventory);
  expect(imported.status, imported.stderr).toBe(0);
  expect(JSON.parse(imported.stdout)).toMatchObject({ created: devices, updated: 0 });
  const broken = join(dir, 'broken.csv');
  writeFileSync(broken, 'ip,imsi\n10.128.0.1\n');
  const refused = tapwatch('import', '--db', db, broken);
  expect(refused.status).toBe(1);
  expect(refused.stderr).toMatch(/line 2 has a different number of cells than the header/);
  expect(refused.stderr).not.toMatch(/\n\s+at /); // an operator's mistake, not a stack trace

  const server = spawn('node', [cli, 'control', 'serve', '--db', db, '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  server.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => server.on('exit', resolve));
  await expect.poll(() => /listening at (http:\/\/127\.0\.0\.1:\d+)/i.exec(stderr), { timeout: 20_000 }).not.toBeNull();
  const url = /listening at (http:\/\/127\.0\.0\.1:\d+)/i.exec(stderr)![1];
  const login = await (await fetch(`${url}/v1/auth`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(key) })).json();
  const res = await fetch(`${url}/v1/subscribers?limit=1000`, { headers: { 'x-soracom-api-key': login.apiKey, 'x-soracom-token': login.token } });
  expect(res.status).toBe(200);
  expect((await res.json()).length).toBe(devices);
  server.kill('SIGTERM');
  expect(await exited).toBe(0);
  expect(stderr).toContain('"msg":"stopped"');
  // JSON logs, and no line per request at the default level.
  const lines = stderr.trim().split('\n').map((l) => JSON.parse(l));
  expect(lines.some((l) => /\/v1\/subscribers/.test(JSON.stringify(l)))).toBe(false);
});

it('keys list shows the keys without their secrets; keys revoke ends one', () => {
  const db = join(dir, 'keys.db');
  const a = JSON.parse(tapwatch('keys', 'create', '--db', db, '--init', '--role', 'operator', '--name', 'ops').stdout);
  const b = JSON.parse(tapwatch('keys', 'create', '--db', db, '--role', 'analyzer', '--name', 'responder').stdout);
  const listed = tapwatch('keys', 'list', '--db', db);
  expect(listed.status, listed.stderr).toBe(0);
  expect(JSON.parse(listed.stdout)).toEqual([
    { authKeyId: a.authKeyId, name: 'ops', role: 'operator', createdTime: expect.any(Number) },
    { authKeyId: b.authKeyId, name: 'responder', role: 'analyzer', createdTime: expect.any(Number) },
  ]);
  expect(listed.stdout).not.toContain(a.authKey);
  const revoked = tapwatch('keys', 'revoke', b.authKeyId, '--db', db);
  expect(revoked.status, revoked.stderr).toBe(0);
  expect(JSON.parse(tapwatch('keys', 'list', '--db', db).stdout).map((k: { authKeyId: string }) => k.authKeyId)).toEqual([a.authKeyId]);
  const again = tapwatch('keys', 'revoke', b.authKeyId, '--db', db);
  expect(again.status).toBe(1);
  expect(again.stderr).toMatch(/No such auth key/);
  expect(tapwatch('keys', 'revoke', '--db', db).status).toBe(2);
});

it('serve refuses a database that does not exist unless --init', () => {
  const db = join(dir, 'typo.db');
  const res = spawnSync('node', [cli, 'control', 'serve', '--db', db, '--port', '0'], { encoding: 'utf8', timeout: 20_000 });
  expect(res.status).toBe(1);
  expect(res.stderr).toMatch(/does not exist: give the right --db, or --init/);
  expect(existsSync(db)).toBe(false);
});

it('serve on a port in use exits 1 saying so, and never logs that it is ready', async () => {
  const db = join(dir, 'busy.db');
  tapwatch('keys', 'create', '--db', db, '--init', '--role', 'operator');
  const taken = createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  const port = (taken.address() as { port: number }).port;
  try {
    const res = spawnSync('node', [cli, 'control', 'serve', '--db', db, '--port', String(port)], { encoding: 'utf8', timeout: 20_000 });
    expect(res.status).toBe(1);
    expect(res.stderr).toContain(`[TWU0002] cannot listen on 127.0.0.1:${port}: the port is in use`);
    expect(res.stderr).not.toMatch(/ready/);
    expect(res.stderr).not.toMatch(/\n\s+at /);
  } finally {
    await new Promise((r) => taken.close(r));
  }
});
