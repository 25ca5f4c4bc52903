// The generator's output as a capture: the same options give the same bytes (and the CLI the same
// as the API), another seed other bytes; every frame decodes with gre-decap's readers and
// Decapsulator to an inner IPv4 packet of a device, in time order, with no malformed frame.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOTE_NAMES, REASON_NAMES } from '../../gre-decap/malformed.js';
import { eachPacket } from './capture-view.js';
import { generateScenario, type ScenarioResult } from './generate.js';
import { SMALL } from './testing.js';
import { isDevice } from './wire.js';

const dir = mkdtempSync(join(tmpdir(), 'scenarios-gen-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('scenario capture', () => {
  let a: ScenarioResult;
  beforeAll(() => {
    a = generateScenario({ ...SMALL, out: join(dir, 'a') });
  });

  it('is the same, byte for byte, for the same options; another seed gives another capture', () => {
    const b = generateScenario({ ...SMALL, out: join(dir, 'b') });
    expect(sha(join(dir, 'b', 'mirror.pcap'))).toBe(sha(join(dir, 'a', 'mirror.pcap')));
    expect(readFileSync(join(dir, 'b', 'labels.json'), 'utf8')).toBe(readFileSync(join(dir, 'a', 'labels.json'), 'utf8'));
    expect(readFileSync(join(dir, 'b', 'inventory.csv'), 'utf8')).toBe(readFileSync(join(dir, 'a', 'inventory.csv'), 'utf8'));
    expect(b.packets).toBe(a.packets);
    generateScenario({ ...SMALL, seed: SMALL.seed! + 1, out: join(dir, 'c') });
    expect(sha(join(dir, 'c', 'mirror.pcap'))).not.toBe(sha(join(dir, 'a', 'mirror.pcap')));
  });

  it('decodes with gre-decap: every frame GRE-mirrored, a device inside, in time order, nothing malformed', () => {
    let frames = 0, last = 0, unordered = 0, noDevice = 0;
    const dec = eachPacket(join(dir, 'a', 'mirror.pcap'), (p) => {
      frames++;
      if (p.us < last) unordered++;
      last = p.us;
      if (!isDevice(p.src) && !isDevice(p.dst)) noDevice++;
    });
    const malformed = Object.fromEntries([...dec.reasons].map((n, i) => [REASON_NAMES[i], n]).filter(([name, n]) => name !== 'ok' && Number(n) > 0));
    expect(malformed).toEqual({});
    // No notes either: no IP length past the frame, no fragment, no payload left undecoded.
    const notes = Object.fromEntries([...dec.notes].map((n, i) => [NOTE_NAMES[i], n]).filter(([, n]) => Number(n) > 0));
    expect(notes).toEqual({});
    expect(frames).toBe(a.packets);
    expect(frames).toBeGreaterThan(50_000);
    expect(unordered).toBe(0);
    expect(noDevice).toBe(0);
    expect(readFileSync(join(dir, 'a', 'mirror.pcap')).length).toBe(a.bytes);
  });

  it('the CLI writes what the API writes for the same options', () => {
    const cli = join(import.meta.dirname, '..', '..', 'dist', 'synth', 'scenarios', 'cli.js');
    const run = spawnSync('node', [cli, '--out', join(dir, 'cli'), '--devices', '20', '--days', '0.125', '--incidents-per-type', '0', '--learning-hours', '1', '--seed', '3'], { encoding: 'utf8' });
    expect(run.stderr).toMatch(/packets/);
    expect(run.status).toBe(0);
    generateScenario({ devices: 20, days: 0.125, incidentsPerType: 0, learningHours: 1, seed: 3, out: join(dir, 'api') });
    expect(sha(join(dir, 'cli', 'mirror.pcap'))).toBe(sha(join(dir, 'api', 'mirror.pcap')));
    expect(readFileSync(join(dir, 'cli', 'labels.json'), 'utf8')).toBe(readFileSync(join(dir, 'api', 'labels.json'), 'utf8'));
  });

  it('refuses options it cannot honour', () => {
    expect(() => generateScenario({ out: join(dir, 'x'), devices: 0 })).toThrow(/devices/);
    expect(() => generateScenario({ out: join(dir, 'x'), days: 1, learningHours: 30 })).toThrow(/learning/);
    expect(() => generateScenario({ out: join(dir, 'x'), start: 'yesterday' })).toThrow(/ISO/);
  });
});
