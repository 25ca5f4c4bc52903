// tapwatch index: Kafka topics → Elasticsearch, in its own consumer group, with deterministic ids.

import { Client } from '@elastic/elasticsearch';
import { pino } from 'pino';
import { installTemplates } from '../indexer/templates.js';
import { Indexer } from '../indexer/indexer.js';
import { statsLine } from '../kafka/consumer.js';
import { DEFAULT_RETENTION_DAYS, scheduleRetention } from '../indexer/retention.js';
import { actionRoute, anomalyRoute, inspectionRoute } from '../indexer/routes.js';
import { backoffMs, sleep, Stopped } from '../net/backoff.js';
import { runService } from './service-runner.js';
import { commandConfig, CONFIG_HELP, CONFIG_OPTION, KAFKA_TOPIC_HELP, KAFKA_TOPIC_OPTIONS, kafkaSettings } from './config.js';
import { HTTP_HELP, HTTP_OPTION, indexerMetrics, ServiceStatus } from '../ops/service-metrics.js';
import { intOption, parseCommand, UsageError, type CommandSpec } from './args.js';

const spec: CommandSpec = {
  name: 'index',
  usage: 'tapwatch index --kafka BROKERS --elasticsearch URL [options]',
  summary:
    'Consumes inspection records, anomaly events and action events from Kafka and bulk-indexes them into Elasticsearch\n' +
    '(daily tapwatch-inspection-* indices, tapwatch-anomalies, tapwatch-actions), with deterministic ids, so redeliveries\n' +
    'never duplicate. Offsets are committed only after a bulk request succeeded; an unreachable node is retried with\n' +
    'backoff. Installs the index templates at start. Deletes daily inspection indices older than --retention-days at\n' +
    'start and every hour: an index whose day and whose creation are both that old, made from the tapwatch template.',
  options: {
    kafka: { type: 'string' },
    elasticsearch: { type: 'string' },
    group: { type: 'string' },
    topic: { type: 'string' },
    'anomalies-topic': { type: 'string' },
    'actions-topic': { type: 'string' },
    'stats-interval': { type: 'string' },
    'retention-days': { type: 'string' },
    'log-level': { type: 'string' },
    ...HTTP_OPTION,
    ...CONFIG_OPTION,
    ...KAFKA_TOPIC_OPTIONS,
  },
  help: {
    kafka: 'Kafka brokers, host:port,...',
    elasticsearch: 'Elasticsearch URL, e.g. http://127.0.0.1:9200',
    group: 'consumer group (default tapwatch-indexer)',
    topic: 'inspection topic (default tapwatch.inspection)',
    'anomalies-topic': 'anomaly events topic, indexed into tapwatch-anomalies (default tapwatch.anomalies)',
    'actions-topic': 'action events topic, indexed into tapwatch-actions (default tapwatch.actions)',
    'stats-interval': 'seconds between counter log lines (default 10)',
    'retention-days': `days of inspection indices to keep (default ${DEFAULT_RETENTION_DAYS}; 0 keeps them all, e.g. where ILM deletes them)`,
    'log-level': 'pino level (default info)',
    http: HTTP_HELP,
    ...KAFKA_TOPIC_HELP,
    config: `${CONFIG_HELP}: kafka, elasticsearch, http.index`,
  },
};

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return 0;
  const v = parsed.values as Record<string, string | undefined>;
  const cfg = commandConfig(v);
  const kafka = kafkaSettings(v, cfg, intOption);
  const esUrl = v.elasticsearch ?? cfg.elasticsearch?.url;
  if (!kafka.brokers || !esUrl) throw new UsageError('--kafka and --elasticsearch are required (or kafka.brokers and elasticsearch.url in the config file)');
  const retentionDays = intOption('retention-days', v['retention-days'], 0, 36_500) ?? cfg.elasticsearch?.retentionDays ?? DEFAULT_RETENTION_DAYS;
  const log = pino({ name: 'tapwatch-index', level: v['log-level'] ?? 'info' }, pino.destination(2));
  // No client-side retries or dead-node bookkeeping: the indexer's own loop retries whole batches.
  const client = new Client({ node: esUrl, requestTimeout: 10_000, maxRetries: 0, resurrectStrategy: 'none' });
  const indexer = new Indexer({
    brokers: kafka.brokers,
    partitions: kafka.partitions,
    replicationFactor: kafka.replicationFactor,
    groupId: v.group ?? 'tapwatch-indexer',
    routes: {
      [v.topic ?? 'tapwatch.inspection']: inspectionRoute,
      [v['anomalies-topic'] ?? 'tapwatch.anomalies']: anomalyRoute,
      [v['actions-topic'] ?? 'tapwatch.actions']: actionRoute,
    },
    client,
    log,
  });

  const stopping = new AbortController();
  let retention: ReturnType<typeof scheduleRetention> | undefined;
  const status = new ServiceStatus({ service: 'index', log });
  status.onKafka(indexer.kafka, { consumer: indexer.stats });
  indexerMetrics(status, indexer.stats);
  return runService({
    log,
    status: (v.http ?? cfg.http?.index) ? { server: status, address: (v.http ?? cfg.http?.index)! } : undefined,
    running: 'indexing',
    details: { kafka: kafka.brokers.join(','), elasticsearch: esUrl, retentionDays },
    statsEveryMs: (intOption('stats-interval', v['stats-interval'], 1, 86_400) ?? 10) * 1000,
    start: async () => {
      // The node may not be up yet (compose, CI): retry the templates like any other request.
      for (let attempt = 0; ; attempt++) {
        stopping.signal.throwIfAborted();
        try {
          await installTemplates(client);
          break;
        } catch (err) {
          log.warn({ err: (err as Error).message, attempt }, 'cannot install index templates yet; retrying');
          await sleep(backoffMs(attempt));
        }
      }
      // After the templates, so that the indices it checks carry the mapping it looks for; before Kafka, so an
      // indexer that cannot reach its brokers still keeps the node from filling up.
      retention = retentionDays > 0 ? scheduleRetention(client, { days: retentionDays, log }) : undefined;
      if (!retention) log.info('retention off (--retention-days 0): daily indices are kept');
      await retention?.first;
      await indexer.start();
      status.kafkaReady();
    },
    stop: async () => {
      stopping.abort(new Stopped());
      retention?.stop();
      await indexer.stop();
      await client.close();
    },
    // Retries of both kinds (bulk requests, batches fetched again) as one; invalid messages as malformed.
    counters: () => ({ ...statsLine(indexer.stats), malformed: indexer.stats.invalid, retries: indexer.stats.bulkRetries + indexer.stats.retries }),
  });
}
