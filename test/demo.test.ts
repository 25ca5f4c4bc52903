// tapwatch demo, as a user runs it: the bundled capture's one incident is found, explained, acted on
// through the control API (a real HTTP server on loopback) and audited; the other 23 meters are left alone.

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { DemoReport } from '../demo/embedded.js';

const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'cli', 'tapwatch.js');
const demo = (...args: string[]) => JSON.parse(execFileSync('node', [cli, 'demo', '--json', ...args], { encoding: 'utf8' })) as DemoReport;

it('finds the telnet sweep of meter-006, quarantines its SIM through the API, and nothing else', () => {
  const r = demo();
  expect(r.reader.frames).toBe(4740);
  expect(r.devices).toHaveLength(24);
  const alarms = r.anomalies.filter((e) => e.alarm === 'in-alarm');
  expect(new Set(alarms.map((e) => e.device.id))).toEqual(new Set(['meter-006']));
  expect(alarms.map((e) => e.behavior)).toContain('telnet-scan');
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
  for (const line of [/^Saw: 4,740 mirrored frames/m, /^Flagged: \d+ alarms? on 1 device/m, /telnet-scan/, /^Did: /m, /redirect meter-006 .*: applied/, /^Control API: http:\/\/127\.0\.0\.1:\d+/m]) {
    expect(text).toMatch(line);
  }
});
