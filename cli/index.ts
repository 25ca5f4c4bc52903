// tapwatch index: Kafka topics → Elasticsearch, in its own consumer group, with deterministic ids.

import { Client } from '@elastic/elasticsearch';
import { pino } from 'pino';
import { installTemplates } from '../indexer/templates.js';
import { actionDocument, actionDocumentId, actionIndex, anomalyDocument, anomalyDocumentId, anomalyIndex, inspectionDocument, inspectionDocumentId, inspectionIndex } from '../indexer/documents.js';
import type { ActionEvent } from '../contracts/action-event.js';
import type { AnomalyEvent } from '../contracts/anomaly-event.js';
import type { InspectionRecord } from '../contracts/inspection-record.js';
import { Indexer, type DocumentRoute } from '../indexer/indexer.js';
import { DEFAULT_RETENTION_DAYS, scheduleRetention } from '../indexer/retention.js';
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
  },
};

// Documents are made just before their bulk request, so now is when they are indexed (ECS event.ingested). The
// anomaly's event.created (when the analyzer decided) would be its Kafka message's timestamp, which a route is not given.
const indexedNow = () => ({ ingested: new Date() });

const inspectionRoute: DocumentRoute = {
  index: (v) => inspectionIndex(v as InspectionRecord),
  id: (v) => inspectionDocumentId(v as InspectionRecord),
  document: (v) => inspectionDocument(v as InspectionRecord, indexedNow()),
};

const anomalyRoute: DocumentRoute = {
  index: () => anomalyIndex(),
  id: (v) => anomalyDocumentId(v as AnomalyEvent),
  document: (v) => anomalyDocument(v as AnomalyEvent, indexedNow()),
};

const actionRoute: DocumentRoute = {
  index: () => actionIndex(),
  id: (v) => actionDocumentId(v as ActionEvent),
  document: (v) => actionDocument(v as ActionEvent, indexedNow()),
};

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return 0;
  const v = parsed.values as Record<string, string | undefined>;
  if (!v.kafka || !v.elasticsearch) throw new UsageError('--kafka and --elasticsearch are required');
  const retentionDays = intOption('retention-days', v['retention-days'], 0, 36_500) ?? DEFAULT_RETENTION_DAYS;
  const log = pino({ name: 'tapwatch-index', level: v['log-level'] ?? 'info' }, pino.destination(2));
  // No client-side retries or dead-node bookkeeping: the indexer's own loop retries whole batches.
  const client = new Client({ node: v.elasticsearch, requestTimeout: 10_000, maxRetries: 0, resurrectStrategy: 'none' });
  const indexer = new Indexer({
    brokers: v.kafka.split(','),
    groupId: v.group ?? 'tapwatch-indexer',
    routes: {
      [v.topic ?? 'tapwatch.inspection']: inspectionRoute,
      [v['anomalies-topic'] ?? 'tapwatch.anomalies']: anomalyRoute,
      [v['actions-topic'] ?? 'tapwatch.actions']: actionRoute,
    },
    client,
    log,
  });

  // The node may not be up yet (compose, CI): retry the templates like any other request.
  for (let attempt = 0; ; attempt++) {
    try {
      await installTemplates(client);
      break;
    } catch (err) {
      log.warn({ err: (err as Error).message, attempt }, 'cannot install index templates yet; retrying');
      await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** Math.min(attempt, 5))));
    }
  }
  // After the templates, so that the indices it checks carry the mapping it looks for; before Kafka, so an indexer
  // that cannot reach its brokers still keeps the node from filling up.
  const retention = retentionDays > 0 ? scheduleRetention(client, { days: retentionDays, log }) : undefined;
  if (!retention) log.info('retention off (--retention-days 0): daily indices are kept');
  await retention?.first;
  const every = (intOption('stats-interval', v['stats-interval'], 1, 86_400) ?? 10) * 1000;
  const timer = setInterval(() => log.info({ ...indexer.stats }, 'counters'), every).unref();
  await indexer.start();
  log.info({ kafka: v.kafka, elasticsearch: v.elasticsearch }, 'indexing');
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'stopping');
      resolve();
    };
    process.once('SIGTERM', stop).once('SIGINT', stop);
  });
  clearInterval(timer);
  retention?.stop();
  await indexer.stop();
  await client.close();
  log.info({ ...indexer.stats }, 'final counters');
  log.flush();
  return 0;
}
