// Reading Prometheus text as the services' /metrics serve it (prom-client's exposition format), for the
// tests and benchmarks that scrape them.

/**
 * One sample's value: `series` is a metric name (its first sample, whatever its labels) or a name with
 * labels, e.g. 'tapwatch_collector_packets_total{source="udp:1"}' (a sample whose labels start so).
 */
export function metricValue(text: string, series: string): number | undefined {
  const open = series.endsWith('}') ? series.slice(0, -1) : `${series}{`;
  const line = text.split('\n').find((l) => l.startsWith(`${series} `) || (l.startsWith(open) && l.includes('} ')));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** Each metric's samples summed, by name (labels dropped). */
export function metricSums(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    const name = line.slice(0, sp).replace(/\{.*$/, '');
    m.set(name, (m.get(name) ?? 0) + Number(line.slice(sp + 1)));
  }
  return m;
}
