// How every long-running command (analyze --kafka, respond, index) lives: start, log its counters
// every --stats-interval, stop on SIGTERM or SIGINT within a bound (also while it is still starting,
// e.g. waiting for a broker that is not up), log the final counters. Start-up failures are one error
// line and exit status 1, never a stack trace.

import { pino, type Logger } from 'pino';
import type { TapwatchConfig } from '../contracts/config.schema.js';
import { Stopped } from '../net/backoff.js';
import { HTTP_HELP, HTTP_OPTION, type ServiceName, type ServiceStatus } from '../ops/service-metrics.js';
import { intOption } from './args.js';
import { commandConfig, CONFIG_HELP, CONFIG_OPTION, KAFKA_TOPIC_HELP, KAFKA_TOPIC_OPTIONS, kafkaSettings } from './config.js';

/** The options every Kafka service command (analyze --kafka, respond, index) takes besides its own. */
export const SERVICE_OPTIONS = {
  kafka: { type: 'string' as const },
  group: { type: 'string' as const },
  'stats-interval': { type: 'string' as const },
  'log-level': { type: 'string' as const },
  ...HTTP_OPTION,
  ...CONFIG_OPTION,
  ...KAFKA_TOPIC_OPTIONS,
};

/**
 * Their help lines (but --kafka's, which each command words itself), after the command's own: the consumer
 * group's default, the config file's keys it reads, and `kafkaOnly` where they apply to its --kafka mode only.
 */
export function serviceHelp(o: { group: string; config: string; kafkaOnly?: boolean }): Record<string, string> {
  const only = o.kafkaOnly ? 'with --kafka: ' : '';
  return {
    group: `${only}consumer group (default ${o.group})`,
    'stats-interval': `${only}seconds between counter log lines (default 10)`,
    'log-level': 'pino level (default info)',
    http: `${only}${HTTP_HELP}`,
    partitions: `${only}${KAFKA_TOPIC_HELP.partitions}`,
    'replication-factor': `${only}${KAFKA_TOPIC_HELP['replication-factor']}`,
    config: `${CONFIG_HELP}: ${o.config}`,
  };
}

export interface ServiceSettings {
  config: TapwatchConfig;
  kafka: ReturnType<typeof kafkaSettings>;
  log: Logger;
  statsEveryMs: number;
  /** Where to serve /healthz and /metrics: --http, else the config file's http.<service>. */
  http: string | undefined;
}

/** What SERVICE_OPTIONS say, each over the config file's. */
export async function serviceSettings(service: Exclude<ServiceName, 'collect'>, v: Record<string, string | undefined>): Promise<ServiceSettings> {
  const config = await commandConfig(v);
  return {
    config,
    kafka: kafkaSettings(v, config, intOption),
    log: pino({ name: `tapwatch-${service}`, level: v['log-level'] ?? 'info' }, pino.destination(2)),
    statsEveryMs: (intOption('stats-interval', v['stats-interval'], 1, 86_400) ?? 10) * 1000,
    http: v.http ?? config.http?.[service],
  };
}

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

/** Runs until SIGTERM or SIGINT: 0 once stopped; a start that failed throws its error after the final counters. */
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
  // The operator's line too (with its code), as a command that fails before it runs says it: exit 1.
  if (failed) throw failed;
  return 0;
}
