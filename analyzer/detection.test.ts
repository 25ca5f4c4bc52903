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
// Measured (2026-12-03): this fleet (60 devices for its first day, seed 3) and seeds 4 and 5: no false alarm at
// medium or above; bench:detect's defaults (357 devices, 3 days, incidents after the fleet's first day), seeds
// 1-3: every incident of every type, no false alarm. On a fleet's first day uploads to named destinations and
// beacons through a name looked up at each check-in are not judged (the group cannot yet say which names are its
// own), so some of them are known gaps here.

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
/** Incidents on a device within 10 minutes of its joining the fleet (the generator puts a scan, tunnel or flood there). */
let onJoiners: string[] = [];

beforeAll(() => {
  const { labels } = generateScenario({ out: dir, devices: 60, days: 1, seed: 3, incidentsPerType: 4 });
  const analyzer = createAnalyzer(defaultConfig());
  const events: AnomalyEvent[] = [];
  collectScenario(dir, labels.interval, (batch) => {
    for (const r of batch) for (const e of analyzer.process(r)) events.push(e);
  });
  s = scoreRun(labels, events);
  const joined = new Map(labels.benign.filter((b) => b.kind === 'device-join').map((b) => [b.device_id, Date.parse(b.start)]));
  onJoiners = labels.incidents.filter((i) => {
    const at = joined.get(i.device_id);
    return at !== undefined && Date.parse(i.start) - at <= 10 * 60_000;
  }).map((i) => i.id);
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const type = (t: string) => s.types.find((x) => x.type === t)!;

describe('detection benchmark, small (60 devices for a day, 4 incidents of each type, through packets)', () => {
  it('never raises a high alarm on a benign device or time', () => {
    expect(s.high.samples.map((e) => e.summary)).toEqual([]);
    expect(s.high.count).toBe(0);
  });

  it('flags a device compromised within 10 minutes of joining (no first-day blindness for absolute evidence)', () => {
    expect(onJoiners.length).toBeGreaterThan(0);
    const missed = new Set(s.types.flatMap((t) => t.missed));
    expect(onJoiners.filter((id) => missed.has(id))).toEqual([]);
  });

  it('catches every scan and DNS tunnel; scans at once', () => {
    for (const t of ['scan', 'dns-tunnel']) expect(type(t).missed, t).toEqual([]);
    expect(type('scan').medianTimeToDetect).toBeLessThanOrEqual(1);
  });

  // Known gaps on a fleet's first day, measured (default rules, 2026-12-03) at this size on seeds 3, 4, 5:
  // beacons 3 of 4 each time and exfiltrations 2 of 4 (the named ones: not judged on the first day); floods
  // 4 of 4 each time since records carry per-host totals (seeds 4 and 5 missed Mirai's generic random-port UDP
  // flood before). Held to not getting worse; raise these when the detectors catch more.
  it('catches every flood, 3 of 4 beacons and half of the exfiltrations on this first day (known gaps)', () => {
    expect(type('flood').recall).toBe(1);
    expect(type('beacon').recall).toBeGreaterThanOrEqual(0.75);
    expect(type('exfiltration').recall).toBeGreaterThanOrEqual(0.5);
  });

  it('raises no false alarm at medium or above on this fleet (measured: none)', () => {
    expect(s.medium.samples.map((e) => e.summary)).toEqual([]);
    expect(s.medium.count).toBe(0);
  });
});
