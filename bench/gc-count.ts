// Counts garbage collections between start() and stop(): young-generation (scavenge) and all.
// PerformanceObserver delivers entries asynchronously, so stop() waits a tick before counting.

import { PerformanceObserver, constants, performance } from 'node:perf_hooks';

export interface GcCount {
  young: number;
  all: number;
}

export function startGcCount(): { stop(): Promise<GcCount> } {
  const entries: { kind: number; at: number }[] = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) entries.push({ kind: ((e as unknown as { detail: { kind: number } }).detail).kind, at: e.startTime });
  });
  obs.observe({ entryTypes: ['gc'] });
  const from = performance.now();
  return {
    async stop() {
      const to = performance.now();
      await new Promise((r) => setTimeout(r, 50));
      obs.disconnect();
      const inLoop = entries.filter((e) => e.at >= from && e.at <= to);
      return { young: inLoop.filter((e) => e.kind === constants.NODE_PERFORMANCE_GC_MINOR).length, all: inLoop.length };
    },
  };
}
