// The analyzer configuration of the embedded demo and the end-to-end test: the default behaviors on
// a compressed clock. A real fleet learns for a day of 5-minute intervals; the bundled capture is 16
// minutes long, so it uses 1-minute intervals (the collector's default) and learns for 12 of them.
// Every threshold and severity is the default's, so what the demo flags the product would flag.

import { defaultConfig, validateConfig, type AnalyzerConfig } from '../analyzer/rules.js';

export const DEMO_INTERVAL_SECONDS = 60;
export const DEMO_WARMUP_INTERVALS = 12;

export function demoAnalyzerConfig(): AnalyzerConfig {
  const c = structuredClone(defaultConfig());
  const scale = DEMO_INTERVAL_SECONDS / c.intervalSeconds;
  c.intervalSeconds = DEMO_INTERVAL_SECONDS;
  c.warmupIntervals = DEMO_WARMUP_INTERVALS;
  c.baseline.relearnAfter = DEMO_WARMUP_INTERVALS;
  for (const b of c.behaviors) {
    // A window of N default intervals becomes N demo intervals, so alarm timing reads the same in intervals.
    if (b.criteria.durationSeconds) b.criteria.durationSeconds = Math.max(DEMO_INTERVAL_SECONDS, b.criteria.durationSeconds * scale);
  }
  return validateConfig(c, 'demo configuration');
}
