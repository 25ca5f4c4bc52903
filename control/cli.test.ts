// tapwatch control as a command (the built dist/, as users run it): bootstrap a key and import the
// registry without the API, then serve, answer, and stop cleanly on SIGTERM.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
  for (const option of ['--db', '--host', '--port', '--enforcer', '--upstream-url', '--upstream-key-id', '--upstream-key', '--rate-limit', '--log-level']) expect(serve.stdout).toContain(option);
  expect(tapwatch('keys', '--help').stdout).toContain('--role');
  expect(tapwatch('serve', '--enforcer', 'magic').stderr).toMatch(/--enforcer: expected none, nft or upstream/);
  expect(tapwatch('serve', '--enforcer', 'upstream').status).toBe(2);
});

it('keys create and import work on the database directly; serve answers with them and stops on SIGTERM', async () => {
  const db = join(dir, 'control.db');
  expect(tapwatch('keys', 'create', '--db', db, '--role', 'superuser').status).toBe(2);
  const created = tapwatch('keys', 'create', '--db', db, '--role', 'operator', '--name', 'ops');
  expect(created.status, created.stderr).toBe(0);
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
  expect(refused.stderr).toMatch(/line 2 has 1 cells/);

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
