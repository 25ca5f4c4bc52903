// How every long-running command (analyze --kafka, respond, index) lives: start, log its counters
// every --stats-interval, stop on SIGTERM or SIGINT within a bound (also while it is still starting,
// e.g. waiting for a broker that is not up), log the final counters. Start-up failures are one error
// line and exit status 1, never a stack trace.

import type { Logger } from 'pino';
import { Stopped } from '../net/backoff.js';
import type { ServiceStatus } from '../ops/service-metrics.js';

export interface ServiceRun {
  log: Logger;
  /** What the service does, for the line logged once it runs ("analyzing"). */
  running: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  counters(): Record<string, unknown>;
  statsEveryMs?: number;
  /** Logged with the running line. */
  details?: Record<string, unknown>;
  /** /healthz and /metrics (--http): listening before start() so a service still starting says so. */
  status?: { server: ServiceStatus; address: string };
}

export async function runService(s: ServiceRun): Promise<number> {
  const timer = setInterval(() => s.log.info(s.counters(), 'counters'), s.statsEveryMs ?? 10_000).unref();
  const signalled = new Promise<string>((resolve) => process.once('SIGTERM', resolve).once('SIGINT', resolve));
  if (s.status) {
    try {
      await s.status.server.listen(s.status.address);
    } catch (err) {
      clearInterval(timer);
      s.log.error({ err: (err as Error).message, http: s.status.address }, 'cannot serve /healthz and /metrics');
      s.log.flush();
      return 1;
    }
  }
  const started = s.start().then(
    () => {
      s.log.info(s.details ?? {}, s.running);
      return null;
    },
    (err: Error) => err,
  );
  const first = await Promise.race([signalled.then((signal) => ({ signal })), started.then((err) => ({ err }))]);
  let failed: Error | null = 'err' in first ? first.err : null;
  if (!failed) {
    const signal = 'signal' in first ? first.signal : await signalled;
    s.log.info({ signal }, 'stopping');
  }
  clearInterval(timer);
  await s.stop();
  await s.status?.server.close();
  failed ??= await started; // a start that was still under way ends with the stop
  if (failed instanceof Stopped) failed = null;
  if (failed) s.log.error({ err: failed.message }, 'could not start');
  s.log.info(s.counters(), 'final counters');
  s.log.flush();
  return failed ? 1 : 0;
}
