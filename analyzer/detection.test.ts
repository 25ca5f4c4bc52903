// The detection benchmark at a small size, through packets, so a regression in a detector, a default
// or the collector's evidence fails CI: a labelled fleet from the packet-level scenario generator,
// its capture through the collector, the records through the analyzer with the default rules, scored
// against the labels as bench/detect.ts does at full size.
//
// What it holds the product to:
// - the hard rule, strictly: no alarm of high severity or above on a device at a time it is not
//   under attack (whatever benign noise it is going through);
// - recall where the detectors reach it on this fleet (measured below); the types they do not catch
//   every time are listed as known gaps, with what was measured, and only held to not getting worse.
// Measured (2026-12-02, after the collector stopped letting an SNI overwrite the DNS answer that named an
// address): this fleet (60 devices, seed 3) and 40 devices seed 4: no false alarm at medium or above; bench:detect's
// defaults, seed 1: 1 false medium (beacon) over 606 device-days, no high. Beacons to a name the device resolves
// at every check-in are not judged (a real lock hub's cloud reconnects look the same: judging them raised 43
// false mediums on ../shared/realiot's sifely hub), so about a third of the generated beacons are a known gap.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAnalyzer } from './analyzer.js';
import { defaultConfig } from './rules.js';
import type { AnomalyEvent } from '../contracts/anomaly-event.js';
import { collectScenario } from '../bench/detect-pipeline.js';
import { scoreRun, type RunScore } from '../bench/detect-score.js';
import { generateScenario } from '../synth/scenarios/generate.js';

const dir = mkdtempSync(join(tmpdir(), 'tapwatch-detection-'));
let s: RunScore;

beforeAll(() => {
  const { labels } = generateScenario({ out: dir, devices: 60, days: 1, seed: 3, incidentsPerType: 4 });
  const analyzer = createAnalyzer(defaultConfig());
  const events: AnomalyEvent[] = [];
  collectScenario(dir, labels.interval, (batch) => {
    for (const r of batch) for (const e of analyzer.process(r)) events.push(e);
  });
  s = scoreRun(labels, events);
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const type = (t: string) => s.types.find((x) => x.type === t)!;

describe('detection benchmark, small (60 devices for a day, 4 incidents of each type, through packets)', () => {
  it('never raises a high alarm on a benign device or time', () => {
    expect(s.high.samples.map((e) => e.summary)).toEqual([]);
    expect(s.high.count).toBe(0);
  });

  it('catches every scan and DNS tunnel; scans at once', () => {
    for (const t of ['scan', 'dns-tunnel']) expect(type(t).missed, t).toEqual([]);
    expect(type('scan').medianTimeToDetect).toBeLessThanOrEqual(1);
  });

  // Known gaps, measured (default rules, 2026-12-02) at this size on seeds 3, 4, 5 and with bench:detect's
  // defaults (300 devices, 2 days, 6 per type, seed 1): exfiltration recall 0.50 every time (missed on seed 5:
  // 3.3 MB in 55 min and 37.4 MB in 31 min to new named destinations; beacon fired on the second, exfiltration
  // not); flood recall 1.0, 0.50, 0.50 and 1.0 (missed on seed 5: UDP floods of 372 and 2,007 packets/s to
  // random ports, no alarm of any behavior).
  // Held to not getting worse; raise these when the detectors catch more.
  it('catches at least half of the beacons, exfiltrations and floods (known gaps)', () => {
    expect(type('beacon').recall).toBeGreaterThanOrEqual(0.5);
    expect(type('exfiltration').recall).toBeGreaterThanOrEqual(0.5);
    expect(type('flood').recall).toBeGreaterThanOrEqual(0.5);
  });

  it('raises no false alarm at medium or above on this fleet (measured: none)', () => {
    expect(s.medium.samples.map((e) => e.summary)).toEqual([]);
    expect(s.medium.count).toBe(0);
  });
});
