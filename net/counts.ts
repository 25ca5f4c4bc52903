// A service's counters: plain numbers on one object, counted where the work is done (`stats.records++`)
// and read, without copying, by its counters log line and its /metrics (ops/service-metrics.ts).

/** Named counts, each starting at 0. */
export type Counts<K extends string> = Record<K, number>;

export function counts<const K extends string>(...names: K[]): Counts<K> {
  return Object.fromEntries(names.map((n) => [n, 0])) as Counts<K>;
}

/** Increments a count per key in a plain object (events by kind, actions by kind). */
export function countBy(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}
