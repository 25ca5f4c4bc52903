// tapwatch index: Kafka topics → Elasticsearch, in its own consumer group, with deterministic ids.

import { Client } from '@elastic/elasticsearch';
import { installTemplates } from '../indexer/templates.js';
import { Indexer } from '../indexer/indexer.js';
import { statsLine } from '../kafka/consumer.js';
import { DEFAULT_RETENTION_DAYS, scheduleRetention } from '../indexer/retention.js';
import { actionRoute, anomalyRoute, inspectionRoute } from '../indexer/routes.js';
import { backoffMs, sleep, Stopped } from '../net/backoff.js';
import { OutageLog } from '../net/outage-log.js';
import { runService, SERVICE_OPTIONS, serviceHelp, serviceSettings } from './service-runner.js';
import { indexerMetrics, ServiceStatus } from '../ops/service-metrics.js';
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
    elasticsearch: { type: 'string' },
    topic: { type: 'string' },
    'anomalies-topic': { type: 'string' },
    'actions-topic': { type: 'string' },
    'retention-days': { type: 'string' },
    ...SERVICE_OPTIONS,
  },
  help: {
    kafka: 'Kafka brokers, host:port,...',
    elasticsearch: 'Elasticsearch URL, e.g. http://127.0.0.1:9200',
    topic: 'inspection topic (default tapwatch.inspection)',
    'anomalies-topic': 'anomaly events topic, indexed into tapwatch-anomalies (default tapwatch.anomalies)',
    'actions-topic': 'action events topic, indexed into tapwatch-actions (default tapwatch.actions)',
    'retention-days': `days of inspection indices to keep (default ${DEFAULT_RETENTION_DAYS}; 0 keeps them all, e.g. where ILM deletes them)`,
    ...serviceHelp({ group: 'tapwatch-indexer', config: 'kafka, elasticsearch, http.index' }),
  },
};

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return 0;
  const v = parsed.values as Record<string, string | undefined>;
  const { config: cfg, kafka, log, statsEveryMs, http } = await serviceSettings('index', v);
  const esUrl = v.elasticsearch ?? cfg.elasticsearch?.url;
  if (!kafka.brokers || !esUrl) throw new UsageError('--kafka and --elasticsearch are required (or kafka.brokers and elasticsearch.url in the config file)');
  const retentionDays = intOption('retention-days', v['retention-days'], 0, 36_500) ?? cfg.elasticsearch?.retentionDays ?? DEFAULT_RETENTION_DAYS;
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
    status: http ? { server: status, address: http } : undefined,
    running: 'indexing',
    details: { kafka: kafka.brokers.join(','), elasticsearch: esUrl, retentionDays },
    statsEveryMs,
    start: async () => {
      // The node may not be up yet (compose, CI): retry the templates like any other request.
      const outage = new OutageLog(log, 'elasticsearch', { fields: { step: 'installing the index templates' } });
      for (let attempt = 0; ; attempt++) {
        stopping.signal.throwIfAborted();
        try {
          await installTemplates(client);
          outage.ok();
          break;
        } catch (err) {
          outage.failed(err as Error);
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
