// The real collector CLI on a small scenario: records for every device of the inventory, with the
// inventory's identity, and the same packets per device as the capture holds (so nothing the
// generator writes is lost or misattributed on the way through gre-decap and the collector).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { eachPacket } from './capture-view.js';
import { generateScenario } from './generate.js';
import { SMALL } from './testing.js';
import { ipText, isDevice } from './wire.js';

const dir = mkdtempSync(join(tmpdir(), 'scenarios-collect-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Rec {
  device: { id: string; ip: string; known: boolean; imsi?: string; group?: string };
  uplink: { packets: number };
  downlink: { packets: number };
}

it('tapwatch collect gives records for every device, with its identity, and every packet of the capture', () => {
  const res = generateScenario({ ...SMALL, devices: 20, days: 0.125, incidentsPerType: 1, learningHours: 1, out: dir });
  const cli = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'tapwatch.js');
  const out = join(dir, 'r.ndjson');
  const run = spawnSync('node', [cli, 'collect', '--pcap', join(dir, 'mirror.pcap'), '--inventory', join(dir, 'inventory.csv'), '--out', out, '--log-level', 'warn'], { encoding: 'utf8' });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  const records = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Rec);

  const seen = new Map<string, number>(); // device ip → packets in the capture
  eachPacket(join(dir, 'mirror.pcap'), (p) => {
    const ip = ipText(isDevice(p.src) ? p.src : p.dst);
    seen.set(ip, (seen.get(ip) ?? 0) + 1);
  });
  const got = new Map<string, number>();
  for (const r of records) {
    expect(r.device.known).toBe(true);
    got.set(r.device.ip, (got.get(r.device.ip) ?? 0) + r.uplink.packets + r.downlink.packets);
  }
  expect(res.labels.devices.length).toBe(23); // 20 and 3 that join
  for (const d of res.labels.devices) {
    const mine = records.filter((r) => r.device.ip === d.ip);
    expect(mine.length, d.id).toBeGreaterThan(0);
    expect(mine[0].device).toMatchObject({ id: d.id, imsi: d.imsi, group: d.group });
  }
  expect(got).toEqual(seen);
});
