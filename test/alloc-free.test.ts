// The hot path allocates nothing per packet, measured: real fixture frames (every tunnel type and
// malformed case in fixtures/real) go through read → decode → tally in a child process with a
// 1 MiB young generation; after the probe's warm-up, ≥1M packets must pass with zero scavenges.
// The control mode allocates one small object per packet and must see some, or the probe proves nothing.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PcapWriter } from '../synth/capture-file.js';
import { LINKTYPE_ETHERNET } from '../gre-decap/layers.js';
import { fixtureFrames } from './helpers/fixture-frames.js';

const PACKETS = 1_300_000; // the probe's warm-up (2^18) plus more than 1M measured
const probe = join(import.meta.dirname, '..', 'dist', 'test', 'harness', 'gc-probe.js');
let dir: string;
let capture: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tapwatch-alloc-'));
  capture = join(dir, 'mirror.pcap');
  const frames = fixtureFrames().filter((f) => f.linkType === LINKTYPE_ETHERNET);
  const w = new PcapWriter(capture);
  for (let i = 0; i < PACKETS; i++) w.write(frames[i % frames.length].data, 1_767_225_600 + (i >> 12), (i & 4095) * 1000);
  w.close();
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(mode: string): { packets: number; measuredPackets: number; youngGcs: number } {
  return JSON.parse(execFileSync('node', ['--max-semi-space-size=1', probe, capture, mode], { encoding: 'utf8' }));
}

describe('allocation-free packet loop', () => {
  it('read → decode → decap summary: zero young-generation GCs over 1M packets', () => {
    const r = run('decap');
    expect(r.packets).toBe(PACKETS);
    expect(r.measuredPackets).toBeGreaterThanOrEqual(1_000_000);
    expect(r.youngGcs).toBe(0);
  });

  it('the collector (decode → aggregate → interval clock): zero young-generation GCs over 1M packets', () => {
    const r = run('collect');
    expect(r.packets).toBe(PACKETS);
    expect(r.measuredPackets).toBeGreaterThanOrEqual(1_000_000);
    expect(r.youngGcs).toBe(0);
  });

  it('the probe sees allocation when there is some (control)', () => {
    const r = run('control');
    expect(r.packets).toBe(PACKETS);
    expect(r.youngGcs).toBeGreaterThan(5);
  });
});
