// The detection benchmark at a small size, so a regression in a detector or a default fails CI.
// Same scenario generator, rules and scoring as bench-detect.ts, which runs it at full size.

import { describe, expect, it } from 'vitest';
import { createAnalyzer } from './analyzer.js';
import type { AnomalyEvent } from '../contracts/anomaly-event.js';
import { defaultConfig } from './rules.js';
import { Scenario } from '../synth/scenario.js';
import { missedTargets, scoreRun } from '../bench/detect-score.js';

describe('detection benchmark, small', () => {
  it('meets the targets: recall >= 0.95 per type, <= 1 false alarm per 1,000 device-days, median TTD <= 2, firmware <= low', () => {
    const sc = new Scenario({ devices: 250, days: 3, incidentsPerType: 6, seed: 77 });
    const analyzer = createAnalyzer(defaultConfig());
    const events: AnomalyEvent[] = [];
    for (const batch of sc.batches()) for (const r of batch) events.push(...analyzer.process(r));
    const s = scoreRun(sc, events);
    expect(missedTargets(s)).toEqual([]);
    for (const t of s.types) {
      expect(t.recall, t.type).toBeGreaterThanOrEqual(0.95);
      expect(t.precision, t.type).toBeGreaterThanOrEqual(0.9);
    }
    expect(s.falseAlarms).toBe(0); // 500 device-days: one false alarm would already be 2 per 1,000
    expect(s.firmware.maxSeverity === null || s.firmware.maxSeverity === 'low').toBe(true);
  });
});
