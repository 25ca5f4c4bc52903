// tapwatch respond: anomaly events from Kafka → the response policy → the control API, with an
// action event for every decision on tapwatch.actions.

import { pino } from 'pino';
import { SoracomClient } from '../control/client.js';
import { runService } from './service-runner.js';
import { ResponderService } from '../responder/service.js';
import { defaultPolicy, loadPolicy } from '../responder/policy.js';
import { intOption, parseCommand, UsageError, type CommandSpec } from './args.js';

const spec: CommandSpec = {
  name: 'respond',
  usage: 'tapwatch respond --kafka BROKERS --control-url URL --control-key-id ID --control-key SECRET [--policy FILE] [--dry-run]',
  summary:
    'Acts on anomaly events through a SORACOM-compatible control API (the built-in server or SORACOM itself), as a\n' +
    'response policy says: notify, throttle (speed class), redirect (quarantine group) or block (deactivate), with an\n' +
    'allowlist, a per-device cooldown, TTL release and a fleet-wide circuit breaker. Joins consumer group\n' +
    'tapwatch-responder on tapwatch.anomalies and writes one action event per decision to tapwatch.actions, keyed by\n' +
    'device; rebuilds its ledger from that topic at start, so a restart neither repeats nor forgets an action. Offsets\n' +
    'are committed only after the action events are published. Runs until SIGTERM.',
  options: {
    kafka: { type: 'string' },
    'control-url': { type: 'string' },
    'control-key-id': { type: 'string' },
    'control-key': { type: 'string' },
    policy: { type: 'string' },
    'dry-run': { type: 'boolean' },
    group: { type: 'string' },
    'stats-interval': { type: 'string' },
    'log-level': { type: 'string' },
  },
  help: {
    kafka: 'Kafka brokers, host:port,...',
    'control-url': 'control API root, e.g. http://127.0.0.1:8080/v1 (a bare origin gets /v1)',
    'control-key-id': 'auth key id (authKeyId) of a key with the analyzer role',
    'control-key': 'its secret (authKey); default: the environment variable TAPWATCH_CONTROL_KEY',
    policy: 'response policy (JSON; default analyzer/policy.default.json, documented in analyzer/README.md)',
    'dry-run': 'decide and record, never call the control API to act (overrides the policy)',
    group: 'consumer group (default tapwatch-responder)',
    'stats-interval': 'seconds between counter log lines (default 10)',
    'log-level': 'pino level (default info)',
  },
};

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return 0;
  const v = parsed.values as Record<string, string | undefined>;
  const authKey = v['control-key'] ?? process.env.TAPWATCH_CONTROL_KEY;
  if (!v.kafka || !v['control-url'] || !v['control-key-id']) throw new UsageError('--kafka, --control-url and --control-key-id are required');
  if (!authKey) throw new UsageError('give --control-key, or set TAPWATCH_CONTROL_KEY');
  const every = (intOption('stats-interval', v['stats-interval'], 1, 86_400) ?? 10) * 1000;
  const policy = v.policy ? loadPolicy(v.policy) : defaultPolicy();
  if (parsed.values['dry-run']) policy.dryRun = true;
  const log = pino({ name: 'tapwatch-respond', level: v['log-level'] ?? 'info' }, pino.destination(2));
  const client = new SoracomClient({ baseUrl: v['control-url'], authKeyId: v['control-key-id'], authKey });
  const service = new ResponderService({ brokers: v.kafka.split(','), policy, client, log });
  return runService({
    log,
    running: 'responding',
    details: { kafka: v.kafka, control: v['control-url'], dryRun: policy.dryRun, rules: policy.rules.map((r) => r.name) },
    statsEveryMs: every,
    start: () => service.start(),
    stop: () => service.stop(),
    counters: () => ({ ...service.stats, messages: service.consumerStats.messages, invalid: service.consumerStats.invalid, ...service.responder.stats }),
  });
}
