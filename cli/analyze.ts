// tapwatch analyze (offline): inspection records in (NDJSON), anomaly events out (NDJSON). The
// same analyzer the Kafka consumer will run; same records in the same order, same events.

import { closeSync, openSync } from 'node:fs';
import { once } from 'node:events';
import { availableParallelism } from 'node:os';
import { OutputError } from '../contracts/output-error.js';
import { runService, SERVICE_OPTIONS, serviceHelp, serviceSettings } from './service-runner.js';
import { AnalyzerService, type AnalyzerServiceOptions } from '../analyzer/service.js';
import { statsLine } from '../kafka/consumer.js';
import { analyzeOnWorkers } from '../analyzer/group-workers.js';
import { defaultConfig, loadConfig } from '../analyzer/rules.js';
import { analyzerMetrics, ServiceStatus } from '../ops/service-metrics.js';
import { fileChunks, ndjsonLines } from '../analyzer/ndjson-lines.js';
import { intOption, parseCommand, UsageError, type CommandSpec } from './args.js';

const spec: CommandSpec = {
  name: 'analyze',
  usage: 'tapwatch analyze (--in records.ndjson --out anomalies.ndjson|- | --kafka BROKERS) [--rules rules.json]',
  summary:
    'Learns a baseline per device and per group from inspection records, and writes one anomaly event per alarm\n' +
    'transition (in-alarm / alarm-cleared) with the metric, the observed value, the baseline and a sentence to act on.\n' +
    'Lines that are not valid records are counted and skipped, with a log line each (a line over 64 MiB is not held\n' +
    'in memory to find out). With --kafka it joins consumer group tapwatch-analyzer on tapwatch.inspection, writes\n' +
    'events to tapwatch.anomalies keyed by device, and checkpoints device and group state to the compacted topic\n' +
    'tapwatch.analyzer-state, restored on partition assignment; a checkpoint written under another configuration is\n' +
    'discarded with a warning (the device relearns).\n' +
    'The interval comes from the records; with interval in the config file, records of another length are warned about.',
  options: {
    in: { type: 'string' },
    out: { type: 'string' },
    rules: { type: 'string' },
    workers: { type: 'string' },
    topic: { type: 'string' },
    'anomalies-topic': { type: 'string' },
    'state-topic': { type: 'string' },
    'restore-timeout-ms': { type: 'string' },
    ...SERVICE_OPTIONS,
  },
  help: {
    in: "inspection records, NDJSON ('-' for stdin)",
    kafka: 'consume tapwatch.inspection from these brokers instead (host:port,...); runs until SIGTERM',
    out: "anomaly events, NDJSON ('-' for stdout)",
    workers: 'with --in: threads analysing records, each taking whole groups of devices (default: the CPUs available); the events are the same for any number',
    rules: 'behaviors config (JSON; default analyzer/rules.default.json, documented in analyzer/README.md)',
    topic: 'with --kafka: inspection records topic (default tapwatch.inspection)',
    'anomalies-topic': 'with --kafka: where anomaly events go (default tapwatch.anomalies)',
    'state-topic': 'with --kafka: compacted topic of device checkpoints (default tapwatch.analyzer-state)',
    'restore-timeout-ms': 'with --kafka: how long the first read of the checkpoint topic may take; each retry allows twice as long (default 60000)',
    ...serviceHelp({ group: 'tapwatch-analyzer', config: 'kafka, rules, interval, http.analyze', kafkaOnly: true }),
  },
};

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return 0;
  const v = parsed.values as Record<string, string | undefined>;
  const { config: cfg, kafka, log, statsEveryMs, http } = await serviceSettings('analyze', v);
  const rules = v.rules ?? cfg.rules;
  const config = rules ? loadConfig(rules) : defaultConfig();
  // A file (--in) wins over the config file's brokers; --kafka over both.
  if (v.kafka !== undefined || (v.in === undefined && kafka.brokers)) {
    if (!kafka.brokers) throw new UsageError('--kafka: no brokers');
    return runOnKafka({
      brokers: kafka.brokers,
      partitions: kafka.partitions,
      replicationFactor: kafka.replicationFactor,
      intervalSeconds: cfg.interval,
      groupId: v.group,
      inputTopic: v.topic,
      eventsTopic: v['anomalies-topic'],
      stateTopic: v['state-topic'],
      config,
      log,
      restoreTimeoutMs: intOption('restore-timeout-ms', v['restore-timeout-ms'], 1, 600_000),
    }, statsEveryMs, http);
  }
  if (!v.in || !v.out) throw new UsageError('give --in and --out, or --kafka (or kafka.brokers in the config file)');
  // Both ends opened before anything is read: a missing directory or an unreadable file is one line, not a stack trace.
  let inFd: number | undefined;
  if (v.in !== '-') {
    try {
      inFd = openSync(v.in, 'r');
    } catch (err) {
      throw OutputError.from('read', v.in, err);
    }
  }
  const outPath = v.out;
  const outFd = outPath === '-' ? -1 : OutputError.open(outPath);
  const input: AsyncIterable<Buffer> = inFd === undefined ? process.stdin : fileChunks(inFd, v.in);
  let pending = '';
  const write = async (line: string) => {
    if (outFd < 0) {
      if (!process.stdout.write(line)) await once(process.stdout, 'drain');
      return;
    }
    pending += line;
    if (pending.length >= 1 << 16) {
      OutputError.write(outFd, outPath, pending);
      pending = '';
    }
  };
  const workers = intOption('workers', v.workers, 1, 64) ?? availableParallelism();
  const done = await analyzeOnWorkers(ndjsonLines(input), {
    workers,
    config,
    event: (json) => write(json + '\n'),
    invalid: (line, why) => log.warn({ line, err: why }, 'skipping a line that is not a valid inspection record'),
  });
  if (inFd !== undefined) closeSync(inFd);
  if (outFd >= 0) {
    OutputError.write(outFd, outPath, pending);
    closeSync(outFd);
  }
  if (done.split.length) log.warn({ groups: done.split }, 'some records name their group in a way the lines were not routed by (escapes): those groups were analysed in parts');
  const warming = done.warming;
  if (warming.devices > 0) log.info({ devices: warming.devices, until: warming.until }, `${warming.devices} device(s) still warming up: judged against their group's baseline until ${warming.until ?? 'more records come'}`);
  log.info({ records: done.records, events: done.events, invalid: done.invalid, warmingUp: warming.devices, workers }, 'done');
  log.flush();
  return 0;
}

function runOnKafka(options: AnalyzerServiceOptions, statsEveryMs: number, http: string | undefined): Promise<number> {
  const service = new AnalyzerService(options);
  const status = new ServiceStatus({ service: 'analyze', log: options.log, intervalSeconds: () => options.intervalSeconds ?? service.stats.intervalSeconds });
  status.onKafka(service.kafka, { consumer: service.stats, producers: [service.producer.stats] });
  analyzerMetrics(status, service.stats);
  return runService({
    status: http ? { server: status, address: http } : undefined,
    log: options.log,
    running: 'analyzing',
    details: { kafka: options.brokers.join(',') },
    statsEveryMs,
    start: async () => {
      await service.start();
      status.kafkaReady();
    },
    stop: () => service.stop(),
    counters: () => ({ ...statsLine(service.stats), warmingUp: service.warming() }),
  });
}
