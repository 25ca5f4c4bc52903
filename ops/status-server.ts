// /healthz and /metrics for every long-running command (collect, analyze, respond, index), on the
// address --http gives (off by default): Prometheus scrapes /metrics (prom-client's registry, text
// format 0.0.4), a load balancer or a container healthcheck calls /healthz, which answers 200 with
// {"status":"ok"} or 503 with {"status":"degraded","reasons":[...]} from the command's own checks
// (no traffic for N intervals, capture loss, Kafka unreachable, lag growing). Listens on the address
// given only: 127.0.0.1 unless an operator asks for more.

import { createServer, type Server } from 'node:http';
import { collectDefaultMetrics, Registry } from 'prom-client';

export type HealthCheck = () => string[];

export interface StatusServer {
  readonly registry: Registry;
  /** Adds a check; each returns the reasons the service is degraded now (none: healthy). */
  check(c: HealthCheck): void;
  /** The reasons from every check, now. */
  reasons(): string[];
  listen(address: string): Promise<string>;
  close(): Promise<void>;
}

/** A registry with the process's own metrics (CPU, memory, event-loop lag, GC) (tapwatch_process_*, tapwatch_nodejs_*), labelled service=<command>. */
export function createStatusServer(service: string): StatusServer {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  // prom-client's names already start with process_ or nodejs_: tapwatch_process_cpu_seconds_total, ...
  collectDefaultMetrics({ register: registry, prefix: 'tapwatch_' });
  const checks: HealthCheck[] = [];
  let server: Server | null = null;
  const reasons = () => checks.flatMap((c) => c());
  return {
    registry,
    check: (c) => void checks.push(c),
    reasons,
    async listen(address: string): Promise<string> {
      const m = /^(.*):(\d+)$/.exec(address);
      if (!m) throw new Error(`--http wants HOST:PORT, got '${address}'`);
      const host = m[1].replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
      server = createServer((req, res) => {
        const path = (req.url ?? '/').split('?')[0];
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          res.writeHead(405, { allow: 'GET, HEAD' }).end();
        } else if (path === '/metrics') {
          registry.metrics().then(
            (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
            (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(err.message),
          );
        } else if (path === '/healthz') {
          const r = reasons();
          res.writeHead(r.length ? 503 : 200, { 'content-type': 'application/json' }).end(JSON.stringify(r.length ? { status: 'degraded', reasons: r } : { status: 'ok' }));
        } else {
          res.writeHead(404, { 'content-type': 'application/json' }).end('{"status":"not found"}');
        }
      });
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(Number(m[2]), host, () => resolve());
      });
      const a = server.address();
      return typeof a === 'object' && a ? `${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}` : address;
    },
    async close(): Promise<void> {
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      server = null;
    },
  };
}
