// tapwatch respond: anomaly events from Kafka → the response policy → the control API, with an
// action event for every decision on tapwatch.actions, and notify decisions delivered to a webhook
// and/or syslog. The effective policy is logged at start, before anything is consumed, so what the
// responder will do is on record.

import { DEFAULT_CONTROL_PORT } from '../contracts/control-api.js';
import { SoracomClient } from '../control/client.js';
import { runService, SERVICE_OPTIONS, serviceHelp, serviceSettings } from './service-runner.js';
import { redactUrl } from '../control/redact.js';
import { SyslogNotifier, WebhookNotifier, type Notifier } from '../responder/notify.js';
import { ResponderService } from '../responder/service.js';
import { statsLine } from '../kafka/consumer.js';
import { defaultPolicy, loadPolicy } from '../responder/policy.js';
import { responderMetrics, ServiceStatus } from '../ops/service-metrics.js';
import { parseCommand, UsageError, type CommandSpec } from './args.js';

const DEFAULT_CONTROL_URL = `http://127.0.0.1:${DEFAULT_CONTROL_PORT}`;
const WEBHOOK_SECRET_ENV = 'TAPWATCH_NOTIFY_SECRET';

const spec: CommandSpec = {
  name: 'respond',
  usage: 'tapwatch respond --kafka BROKERS --control-key-id ID [--control-key SECRET] [--control-url URL] [--policy FILE] [--dry-run] [--notify-webhook URL] [--notify-syslog HOST:PORT]',
  summary:
    'Acts on anomaly events through a SORACOM-compatible control API (the built-in server or SORACOM itself), as a\n' +
    'response policy says: notify, throttle (speed class), redirect (quarantine group) or block (deactivate), with an\n' +
    'allowlist, a per-device cooldown, TTL release and a fleet-wide circuit breaker. The default policy never\n' +
    'deactivates a SIM: without a quarantine group, redirect throttles. Joins consumer group tapwatch-responder on\n' +
    'tapwatch.anomalies and writes one action event per decision to tapwatch.actions, keyed by device; rebuilds its\n' +
    'ledger from that topic at start, so a restart neither repeats nor forgets an action. Offsets are committed only\n' +
    'after the action events are published. Logs its effective policy at start. Runs until SIGTERM.',
  options: {
    'control-url': { type: 'string' },
    'control-key-id': { type: 'string' },
    'control-key': { type: 'string' },
    policy: { type: 'string' },
    'dry-run': { type: 'boolean' },
    'notify-webhook': { type: 'string' },
    'notify-syslog': { type: 'string' },
    ...SERVICE_OPTIONS,
  },
  help: {
    kafka: 'Kafka brokers, host:port,...',
    'control-url': `control API root (default ${DEFAULT_CONTROL_URL}, where 'tapwatch control serve' listens; a bare origin gets /v1)`,
    'control-key-id': 'auth key id (authKeyId) of a key with the analyzer role',
    'control-key': 'its secret (authKey); default: the environment variable TAPWATCH_CONTROL_KEY',
    policy: 'response policy (JSON; default responder/policy.default.json, documented in responder/README.md)',
    'dry-run': 'decide and record, never call the control API to act (overrides the policy)',
    'notify-webhook': `POST notify decisions here, signed with HMAC-SHA256 of the secret in ${WEBHOOK_SECRET_ENV}`,
    'notify-syslog': 'send notify decisions to this syslog receiver over UDP (RFC 5424), e.g. 127.0.0.1:514',
    ...serviceHelp({ group: 'tapwatch-responder', config: 'kafka, policy, control.url, control.keyId, http.respond' }),
  },
};

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return 0;
  const v = parsed.values as Record<string, string | undefined>;
  const { config: cfg, kafka, log, statsEveryMs, http } = await serviceSettings('respond', v);
  const keyId = v['control-key-id'] ?? cfg.control?.keyId;
  const authKey = v['control-key'] ?? process.env.TAPWATCH_CONTROL_KEY;
  if (!kafka.brokers || !keyId) throw new UsageError('--kafka and --control-key-id are required (or kafka.brokers and control.keyId in the config file)');
  if (!authKey) throw new UsageError('give --control-key, or set TAPWATCH_CONTROL_KEY');
  const policyFile = v.policy ?? cfg.policy;
  const policy = policyFile ? loadPolicy(policyFile) : defaultPolicy();
  if (parsed.values['dry-run']) policy.dryRun = true;
  const notifiers = makeNotifiers(v);
  const controlUrl = v['control-url'] ?? cfg.control?.url ?? DEFAULT_CONTROL_URL;
  // The whole policy as it will be applied (file, defaults and --dry-run), before anything is consumed.
  log.info({ policy, source: policyFile ?? 'default', notify: notifiers.map((n) => n.name), control: redactUrl(controlUrl) }, 'effective response policy');
  const client = new SoracomClient({ baseUrl: controlUrl, authKeyId: keyId, authKey });
  const service = new ResponderService({ brokers: kafka.brokers, partitions: kafka.partitions, replicationFactor: kafka.replicationFactor, policy, client, log, notifiers, groupId: v.group });
  const status = new ServiceStatus({ service: 'respond', log });
  status.onKafka(service.kafka, { consumer: service.stats, producers: [service.producer.stats] });
  responderMetrics(status, { get anomalies() { return service.responder.stats.anomalies; }, actions: service.stats.actionKinds, get ledgerEvents() { return service.stats.ledgerEvents; } });
  return runService({
    log,
    status: http ? { server: status, address: http } : undefined,
    running: 'responding',
    details: { kafka: kafka.brokers.join(','), control: redactUrl(controlUrl), dryRun: policy.dryRun, rules: policy.rules.map((r) => r.name) },
    statsEveryMs,
    start: async () => {
      await service.start();
      status.kafkaReady();
    },
    stop: async () => {
      await service.stop();
      for (const n of notifiers) await n.close?.();
    },
    counters: () => ({ ...statsLine(service.stats), ...service.responder.stats }),
  });
}

function makeNotifiers(v: Record<string, string | undefined>): Notifier[] {
  const out: Notifier[] = [];
  if (v['notify-webhook']) {
    const secret = process.env[WEBHOOK_SECRET_ENV];
    if (!secret) throw new UsageError(`--notify-webhook needs the signing secret in ${WEBHOOK_SECRET_ENV}`);
    try {
      out.push(new WebhookNotifier({ url: v['notify-webhook'], secret }));
    } catch (err) {
      throw new UsageError(`--notify-webhook: ${(err as Error).message}`);
    }
  }
  if (v['notify-syslog']) {
    try {
      out.push(new SyslogNotifier(v['notify-syslog']));
    } catch (err) {
      throw new UsageError(`--notify-syslog: ${(err as Error).message}`);
    }
  }
  return out;
}
