// The committed demo capture is what its README says: regenerating it gives the same bytes.

import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { generateFleetMirror } from '../synth/fleet-mirror.js';

it('fixtures/demo/fleet-mirror.pcap regenerates byte for byte', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tapwatch-demo-'));
  try {
    const out = join(dir, 'fleet-mirror.pcap');
    generateFleetMirror({ out, packets: 2500, devices: 40, seed: 7, mix: 'gre=0.5,vxlan=0.2,erspan2=0.1,erspan3=0.1,geneve=0.1' });
    expect(Buffer.compare(readFileSync(out), readFileSync(join(import.meta.dirname, '..', 'fixtures', 'demo', 'fleet-mirror.pcap')))).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
