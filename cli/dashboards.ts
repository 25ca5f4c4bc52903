// tapwatch dashboards import: index templates into Elasticsearch, data views and dashboards into Kibana.

import { pino } from 'pino';
import { importDashboards } from '../dashboards/import.js';
import { parseCommand, UsageError, type CommandSpec } from './args.js';

const spec: CommandSpec = {
  name: 'dashboards',
  usage: 'tapwatch dashboards import --kibana URL --elasticsearch URL [options]',
  summary:
    'Installs the index templates in Elasticsearch, then imports the data views (tapwatch-inspection-*,\n' +
    'tapwatch-anomalies*, tapwatch-actions*) and the Fleet traffic, Device and Anomalies & actions dashboards\n' +
    'into Kibana 8.x, replacing earlier versions. Fails, listing each object, if Kibana refuses any of them.',
  options: {
    kibana: { type: 'string' },
    elasticsearch: { type: 'string' },
    'log-level': { type: 'string' },
  },
  help: {
    kibana: 'Kibana URL, e.g. http://127.0.0.1:5601 (add /s/<space> for a space)',
    elasticsearch: 'Elasticsearch URL, e.g. http://127.0.0.1:9200',
    'log-level': 'pino level (default info)',
  },
};

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return 0;
  const [action, ...extra] = parsed.positionals;
  if (action !== 'import' || extra.length) throw new UsageError(`expected 'import', got '${parsed.positionals.join(' ')}'`);
  const v = parsed.values as Record<string, string | undefined>;
  if (!v.kibana || !v.elasticsearch) throw new UsageError('--kibana and --elasticsearch are required');
  const log = pino({ name: 'tapwatch-dashboards', level: v['log-level'] ?? 'info' }, pino.destination(2));
  await importDashboards({ kibanaUrl: v.kibana, elasticsearchUrl: v.elasticsearch, log });
  log.flush();
  return 0;
}
