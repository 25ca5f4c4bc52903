// tapwatch demo, as a user runs it: the bundled capture's one incident is found, explained, acted on
// through the control API (a real HTTP server on loopback) and audited; the other 23 meters are left alone.

import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { DemoReport } from '../demo/embedded.js';
import { CliProcess } from './helpers/cli-process.js';
import { until } from './helpers/until.js';

const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'cli', 'tapwatch.js');
const demo = (...args: string[]) => JSON.parse(execFileSync('node', [cli, 'demo', '--json', ...args], { encoding: 'utf8' })) as DemoReport;

it('finds the telnet sweep of meter-006, quarantines its SIM through the API, and nothing else', () => {
  const r = demo();
  expect(r.reader.frames).toBe(4740);
  expect(r.devices).toHaveLength(24);
  const alarms = r.anomalies.filter((e) => e.alarm === 'in-alarm');
  expect(new Set(alarms.map((e) => e.device.id))).toEqual(new Set(['meter-006']));
  expect(alarms.map((e) => e.behavior)).toContain('scan');
  expect(alarms.every((e) => e['@timestamp'] >= '2026-01-01T00:13:00.000Z')).toBe(true);

  const applied = r.actions.filter((a) => a.result === 'applied');
  expect(applied).toHaveLength(1);
  expect(applied[0]).toMatchObject({ action: 'redirect', group_id: 'quarantine', device: { id: 'meter-006', imsi: '440101000000005' } });
  // The rest of the alarms on the same device fall in the cooldown: decided and recorded, not applied twice.
  expect(r.actions.filter((a) => a.result !== 'applied').every((a) => a.result === 'skipped-cooldown')).toBe(true);

  expect(r.acted).toEqual([expect.objectContaining({ imsi: '440101000000005', groupId: 'quarantine', status: 'active' })]);
  expect(r.audit).toEqual([expect.objectContaining({ action: 'set_group', targetId: '440101000000005' })]);
  expect(r.audit[0].actor).not.toBe('local');
  expect(r.controlUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
});

it('on a capture without an incident (the fleet mirror), it flags and does nothing', () => {
  const r = demo('--capture', join(root, 'fixtures', 'demo', 'fleet-mirror.pcap'), '--inventory', join(root, 'fixtures', 'demo', 'inventory.csv'));
  expect(r.devices.length).toBeGreaterThan(10);
  expect(r.anomalies).toEqual([]);
  expect(r.actions).toEqual([]);
  expect(r.audit).toEqual([]);
});

it('prints the human report: what it saw, flagged, did, and where the API listens', () => {
  const text = execFileSync('node', [cli, 'demo'], { encoding: 'utf8' });
  for (const line of [/^Saw: 4,740 mirrored frames/m, /^Flagged: \d+ alarms? on 1 device/m, /\bscan\b/, /^Did: /m, /redirect meter-006 .*: applied/, /^Control API: http:\/\/127\.0\.0\.1:\d+/m]) {
    expect(text).toMatch(line);
  }
});

it('--serve keeps the control API up after the report with a read-only key: it reads, it cannot act; SIGTERM exits 0', async () => {
  const serve = new CliProcess('demo --serve', ['demo', '--serve']);
  try {
    const out = await until(
      'the demo to print its read-only key',
      () => {
        if (/"authKey":"[^"]+"/.test(serve.stdout)) return serve.stdout;
        if (serve.child.exitCode !== null || serve.child.signalCode !== null) throw new Error(`demo --serve exited (${serve.child.exitCode ?? serve.child.signalCode}) without serving\n${serve.stdout}\n${serve.tail()}`);
        return undefined;
      },
      { timeoutMs: 90_000, context: () => serve.tail() },
    );
    // The report came first, the key after it.
    expect(out).toMatch(/^Saw: 4,740 mirrored frames/m);
    expect(out.indexOf('Control API: ')).toBeLessThan(out.indexOf('read-only key'));
    expect(out).not.toMatch(/stopped with the demo/);
    const url = /^Control API: (http:\/\/127\.0\.0\.1:\d+) /m.exec(out)![1];
    const { authKeyId, authKey } = JSON.parse(/-d '(\{"authKeyId":[^']+\})'/.exec(out)![1]) as { authKeyId: string; authKey: string };

    const login = await fetch(`${url}/v1/auth`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ authKeyId, authKey }) });
    expect(login.status).toBe(200);
    const { apiKey, token } = (await login.json()) as { apiKey: string; token: string };
    const headers = { 'X-Soracom-API-Key': apiKey, 'X-Soracom-Token': token };

    const list = await fetch(`${url}/v1/subscribers?limit=100`, { headers });
    expect(list.status).toBe(200);
    const subscribers = (await list.json()) as { imsi: string; groupId: string | null }[];
    expect(subscribers).toHaveLength(24);
    // What the demo did is there to see: the scanning meter is in quarantine.
    expect(subscribers.find((s) => s.imsi === '440101000000005')?.groupId).toBe('quarantine');

    const act = await fetch(`${url}/v1/subscribers/440101000000001/deactivate`, { method: 'POST', headers });
    expect(act.status).toBe(403);
    expect(await act.json()).toMatchObject({ code: 'TWA0004' });
    const after = await fetch(`${url}/v1/subscribers/440101000000001`, { headers });
    expect(((await after.json()) as { status: string }).status).toBe('active');
  } finally {
    expect(await serve.stop(), serve.tail()).toBe(0);
  }
});

it('with --capture it reads devices and decap from the config file (./tapwatch.yaml too), each flag over its key; the bundled capture keeps its own', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tapwatch-demo-config-'));
  try {
    const fleet = join(root, 'fixtures', 'demo', 'fleet-mirror.pcap');
    copyFileSync(join(root, 'fixtures', 'demo', 'inventory.csv'), join(dir, 'devices.csv'));
    const file = join(dir, 'site.yaml');
    // inventory relative to the file's folder; control.* is another service's and must not be taken.
    writeFileSync(file, 'devices: { networks: [10.128.0.0/16], exclude: [10.128.0.20], inventory: devices.csv }\ndecap: { maxTunnelDepth: 4 }\ncontrol: { port: 1, db: /nonexistent/control.db }\n');
    const fromFile = demo('--config', file, '--capture', fleet);
    expect([fromFile.deviceNets, fromFile.excludedAddresses]).toEqual([['10.128.0.0/16'], ['10.128.0.20']]);
    expect(fromFile.devices.length).toBeGreaterThan(10);
    expect(fromFile.devices.map((d) => d.ip)).not.toContain('10.128.0.20');
    // The file's inventory named them: meter ids, not bare addresses.
    expect(fromFile.devices.filter((d) => d.id.startsWith('meter-')).length).toBeGreaterThan(10);
    expect(fromFile.controlUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(fromFile.controlUrl).not.toMatch(/:1$/);

    const flags = demo('--config', file, '--capture', fleet, '--device-net', '10.128.0.0/9', '--exclude-address', '10.128.0.25');
    expect([flags.deviceNets, flags.excludedAddresses]).toEqual([['10.128.0.0/9'], ['10.128.0.25']]);
    expect(flags.devices.map((d) => d.ip)).toContain('10.128.0.20');
    expect(flags.devices.map((d) => d.ip)).not.toContain('10.128.0.25');

    // ./tapwatch.yaml is read when present, by the same rule: the bundled capture ignores the site's devices.
    writeFileSync(join(dir, 'tapwatch.yaml'), 'devices: { networks: [192.0.2.0/24] }\n');
    const bundled = JSON.parse(execFileSync('node', [cli, 'demo', '--json'], { encoding: 'utf8', cwd: dir })) as DemoReport;
    expect([bundled.deviceNets, bundled.devices.length]).toEqual([['10.128.0.0/9'], 24]);
    const own = JSON.parse(execFileSync('node', [cli, 'demo', '--json', '--capture', fleet, '--inventory', join(dir, 'devices.csv')], { encoding: 'utf8', cwd: dir })) as DemoReport;
    expect(own.deviceNets).toEqual(['192.0.2.0/24']);
    expect(own.devices.length).toBeGreaterThan(0); // the mirror's far ends in 192.0.2.0/24 are the "devices" now
    for (const d of own.devices) expect(d.ip).toMatch(/^192\.0\.2\./);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('a wrong config file is refused, bundled capture or not: exit 1, [TWU0003], every problem listed, no stack trace', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tapwatch-demo-config-'));
  try {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'devices: { networks: [10.128.0.0/40], exclude: [] }\ndecap: { maxTunnelDepth: 99 }\nintervall: 60\n');
    const r = spawnSync('node', [cli, 'demo', '--config', file], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^tapwatch demo: \[TWU0003\] .*bad.yaml: \d+ problems:\n/);
    for (const where of ['/decap/maxTunnelDepth ', 'intervall']) expect(r.stderr).toContain(where);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    // Device networks are checked once the schema holds: the bad prefix is named too.
    writeFileSync(file, 'devices: { networks: [10.128.0.0/40] }\n');
    const nets = spawnSync('node', [cli, 'demo', '--config', file, '--capture', join(root, 'fixtures', 'demo', 'fleet-mirror.pcap')], { encoding: 'utf8' });
    expect(nets.status).toBe(1);
    expect(nets.stderr).toMatch(/^tapwatch demo: \[TWU0003\] .*bad.yaml: 1 problem:\n {2}- \/devices\/networks\/0 /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
