// tapwatch demo, as a user runs it: the bundled capture's one incident is found, explained, acted on
// through the control API (a real HTTP server on loopback) and audited; the other 23 meters are left alone.

import { execFileSync } from 'node:child_process';
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
