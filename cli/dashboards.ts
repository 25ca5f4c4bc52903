// tapwatch dashboards import: index templates into Elasticsearch, data views and dashboards into Kibana.

import { pino } from 'pino';
import { importDashboards } from '../dashboards/import.js';
import { checkTimeRange, type TimeRange } from '../dashboards/panels.js';
import { parseCommand, UsageError, type CommandSpec } from './args.js';
import { commandConfig, CONFIG_HELP, CONFIG_OPTION } from './config.js';

const spec: CommandSpec = {
  name: 'dashboards',
  usage: 'tapwatch dashboards import --kibana URL --elasticsearch URL [options]',
  summary:
    'Installs the index templates in Elasticsearch, then imports the data views (tapwatch-inspection-*,\n' +
    'tapwatch-anomalies*, tapwatch-actions*) and the Fleet traffic, Device and Anomalies & actions dashboards\n' +
    'into Kibana 8.x, replacing earlier versions. Fails, listing each object, if Kibana refuses any of them.\n' +
    'Each dashboard opens on its own window of traffic (Fleet traffic: the last hour, Device: 24 hours, Anomalies &\n' +
    'actions: 7 days); --time-from and --time-to give all three another one, e.g. the time of a replayed capture.',
  options: {
    kibana: { type: 'string' },
    elasticsearch: { type: 'string' },
    'time-from': { type: 'string' },
    'time-to': { type: 'string' },
    'log-level': { type: 'string' },
    ...CONFIG_OPTION,
  },
  help: {
    kibana: 'Kibana URL, e.g. http://127.0.0.1:5601 (add /s/<space> for a space)',
    elasticsearch: 'Elasticsearch URL, e.g. http://127.0.0.1:9200',
    'time-from': 'start of the window every dashboard opens on: date math (now-24h) or ISO 8601 (2026-01-01T00:00:00Z)',
    'time-to': 'its end (with --time-from): now, or ISO 8601',
    'log-level': 'pino level (default info)',
    config: `${CONFIG_HELP}: kibana.url, elasticsearch.url`,
  },
};

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return 0;
  const [action, ...extra] = parsed.positionals;
  if (action !== 'import' || extra.length) throw new UsageError(`expected 'import', got '${parsed.positionals.join(' ')}'`);
  const v = parsed.values as Record<string, string | undefined>;
  const cfg = await commandConfig(v);
  v.kibana ??= cfg.kibana?.url;
  v.elasticsearch ??= cfg.elasticsearch?.url;
  if (!v.kibana || !v.elasticsearch) throw new UsageError('--kibana and --elasticsearch are required (or kibana.url and elasticsearch.url in the config file)');
  if ((v['time-from'] === undefined) !== (v['time-to'] === undefined)) throw new UsageError('give --time-from and --time-to together');
  let time: TimeRange | undefined;
  try {
    time = v['time-from'] !== undefined ? checkTimeRange({ from: v['time-from'], to: v['time-to']! }) : undefined;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const log = pino({ name: 'tapwatch-dashboards', level: v['log-level'] ?? 'info' }, pino.destination(2));
  await importDashboards({ kibanaUrl: v.kibana, elasticsearchUrl: v.elasticsearch, log, time });
  log.flush();
  return 0;
}
