// The UDP knee bench at two low rates a loaded 2-core machine still sustains: the figures it reports
// must add up (what the collector counted is what was sent less what the kernel dropped) and the
// knee must be what the steps say. Needs `npm run build` (the collector and the sender run from dist/).

import { expect, it } from 'vitest';
import { kneeTable, runKnee } from './udp-knee.js';

it('two short low-rate steps: counted + kernel drops = sent, loss and knee follow from them', async () => {
  const r = await runKnee({ rates: [2000, 5000], seconds: 2, devices: 500, packets: 20_000, interval: 1, seed: 3, log: () => undefined });
  expect(r.steps.map((s) => s.offeredPps)).toEqual([2000, 5000]);
  expect(r.datagrams).toBe(20_000);
  for (const s of r.steps) {
    expect(s.sendErrors).toBe(0);
    // The sender kept its pace (within 10 %) and the step's count is the pace times its length.
    expect(Math.abs(s.achievedPps - s.offeredPps)).toBeLessThan(s.offeredPps * 0.1);
    expect(Math.abs(s.sent - s.offeredPps * s.seconds)).toBeLessThan(s.offeredPps * s.seconds * 0.1);
    // Every datagram sent was either read by the collector or dropped by the kernel: no more, no less.
    expect(s.counted + s.kernelDrops).toBe(s.sent);
    expect(s.lossPct).toBeCloseTo((100 * (s.sent - s.counted)) / s.sent, 9);
    expect(s.recordsPerS).toBeGreaterThan(0);
    expect(s.devices).toBeGreaterThan(0);
    expect(s.devices).toBeLessThanOrEqual(500);
    expect(s.cpuPct).toBeGreaterThanOrEqual(0);
    expect(s.cpuPct).toBeLessThan(100 * r.cores + 1);
    expect(s.rssMB).toBeGreaterThan(20);
  }
  // A second of records per active device at --interval 1: more devices show up in a step than records in a second would exceed.
  expect(r.steps[1].recordsPerS).toBeLessThanOrEqual(500 * 1.5);
  const sustained = r.steps.filter((s) => s.lossPct < 0.1).map((s) => s.offeredPps);
  expect(r.kneePps).toBe(sustained.length ? Math.max(...sustained) : null);
  const table = kneeTable(r.steps).split('\n');
  expect(table).toHaveLength(4);
  expect(table[2]).toContain('2,000');
}, 90_000);
