// The committed demo captures are what their README says: regenerating them gives the same bytes.

import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { generateFleetMirror } from '../synth/fleet-mirror.js';
import { generateIncidentMirror, inventoryCsv } from '../synth/incident-mirror.js';

const demo = join(import.meta.dirname, '..', 'fixtures', 'demo');

it('fixtures/demo/fleet-mirror.pcap regenerates byte for byte', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tapwatch-demo-'));
  try {
    const out = join(dir, 'fleet-mirror.pcap');
    generateFleetMirror({ out, packets: 2500, devices: 40, seed: 7, mix: 'gre=0.5,vxlan=0.2,erspan2=0.1,erspan3=0.1,geneve=0.1' });
    expect(Buffer.compare(readFileSync(out), readFileSync(join(demo, 'fleet-mirror.pcap')))).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('fixtures/demo/incident-mirror.pcap and its inventory regenerate byte for byte', () => {
  const r = generateIncidentMirror();
  expect(Buffer.compare(Buffer.from(r.pcap), readFileSync(join(demo, 'incident-mirror.pcap')))).toBe(0);
  expect(inventoryCsv(r.devices)).toBe(readFileSync(join(demo, 'incident-inventory.csv'), 'utf8'));
  expect(r.pcap.length).toBeLessThan(1 << 20);
});
