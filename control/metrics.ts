// Prometheus text exposition (format 0.0.4) for the control API, without a client library: a few
// labelled counters and gauges read at scrape time are all it needs. Counters are keyed by their
// joined label values, so counting a request is one Map lookup and an add.

const ESCAPES: Record<string, string> = { '\\': '\\\\', '"': '\\"', '\n': '\\n' };

function labelText(names: readonly string[], values: readonly string[]): string {
  if (names.length === 0) return '';
  return `{${names.map((n, i) => `${n}="${values[i].replace(/[\\"\n]/g, (c) => ESCAPES[c])}"`).join(',')}}`;
}

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  labelNames: readonly string[];
  samples(): Iterable<[readonly string[], number]>;
}

export class Counter {
  private readonly values = new Map<string, { labels: string[]; value: number }>();
  constructor(readonly labelNames: readonly string[]) {}

  inc(labels: string[], by = 1): void {
    const key = labels.join('\u0000');
    const entry = this.values.get(key);
    if (entry) entry.value += by;
    else this.values.set(key, { labels, value: by });
  }

  get(labels: string[]): number {
    return this.values.get(labels.join('\u0000'))?.value ?? 0;
  }

  *samples(): Iterable<[readonly string[], number]> {
    for (const { labels, value } of this.values.values()) yield [labels, value];
  }
}

export class MetricsRegistry {
  private readonly families: Family[] = [];

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    const c = new Counter(labelNames);
    this.families.push({ name, help, type: 'counter', labelNames, samples: () => c.samples() });
    return c;
  }

  /** A gauge read when scraped. */
  gauge(name: string, help: string, read: () => number | null): void {
    this.families.push({ name, help, type: 'gauge', labelNames: [], samples: () => { const v = read(); return v === null ? [] : [[[], v]]; } });
  }

  render(): string {
    const lines: string[] = [];
    for (const f of this.families) {
      lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
      for (const [labels, value] of f.samples()) lines.push(`${f.name}${labelText(f.labelNames, labels)} ${value}`);
    }
    return lines.join('\n') + '\n';
  }
}

/** The control API's counters, one instance per server. */
export function controlMetrics() {
  const registry = new MetricsRegistry();
  return {
    registry,
    requests: registry.counter('tapwatch_control_requests_total', 'HTTP requests answered, by route pattern, method and status.', ['route', 'method', 'status']),
    actions: registry.counter('tapwatch_control_actions_total', 'Subscriber actions, by type and result (applied, replayed, rejected).', ['type', 'result']),
    authFailures: registry.counter('tapwatch_control_auth_failures_total', 'Requests refused for credentials (401) or role (403), by reason.', ['reason']),
    rateLimited: registry.counter('tapwatch_control_rate_limited_total', 'Requests refused with 429.'),
    enforcementFailures: registry.counter('tapwatch_control_enforcement_failures_total', 'Enforcer calls that failed, by enforcer and operation.', ['enforcer', 'operation']),
  };
}
export type ControlMetrics = ReturnType<typeof controlMetrics>;
