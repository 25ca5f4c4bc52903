// A real single-node Apache Kafka broker (KRaft, broker+controller in one JVM) for integration tests,
// run from Maven Central jars on the installed JDK: no Docker, no mock. scripts/kafka/pom.xml collects the
// classpath; this module formats a data dir, starts kafka.Kafka on 127.0.0.1 and waits until a metadata
// request succeeds.
//   node dist/scripts/kafka-broker.js --help

import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { createKafka, withAdmin } from '../kafka/client.js';
import { LOG_TAIL_LINES, ServerProcess, ServiceNode, freePort, javaHome, lastLines, mavenPackage, repoRoot, run, runIfMain, serviceCli } from './service-utils.js';

/** Latest 3.9 patch on Maven Central (4.x works too; CI runs the Kafka tests on both). */
export const DEFAULT_KAFKA_VERSION = '3.9.2';

const JVM_HEAP = ['-Xms256m', '-Xmx512m'];
const START_TIMEOUT_MS = 90_000;

export interface KafkaOptions {
  /** Kafka release on Maven Central, e.g. '3.9.2' or '4.3.1'. Default DEFAULT_KAFKA_VERSION. */
  version?: string;
  /** Client (PLAINTEXT) port. Default 9092 if free, else any free port. */
  port?: number;
  /** KRaft controller port. Default 9093 if free, else any free port. */
  controllerPort?: number;
  /** Holds server.properties, broker.log and the KRaft data (kraft/). Default: a fresh temp dir that stop() deletes.
   *  A dir that was formatted before is reused as is, so its topics and offsets survive. */
  dataDir?: string;
  /** Let the broker outlive this Node process (CLI `start`); otherwise it is killed when this process exits. */
  detached?: boolean;
}

/** Start-up failures and timeouts carry the tail of the broker log in their message. */
export async function startKafka(options: KafkaOptions = {}): Promise<KafkaBroker> {
  const version = options.version ?? DEFAULT_KAFKA_VERSION;
  const libs = await ensureKafkaLibs(version);
  const ownsDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'tapwatch-kafka-')));
  const port = options.port ?? (await freePort(9092));
  const controllerPort = options.controllerPort ?? (await freePort(9093, port));
  const broker = new KafkaBroker(version, libs, port, controllerPort, resolve(dataDir), ownsDir, options.detached ?? false);
  await broker.restart();
  return broker;
}

export class KafkaBroker extends ServiceNode {
  /** bootstrap servers for clients, '127.0.0.1:<port>' */
  readonly brokers: string;
  readonly logFile: string;

  constructor(
    readonly version: string,
    private readonly libs: string,
    readonly port: number,
    readonly controllerPort: number,
    dataDir: string,
    ownsDir: boolean,
    private readonly detached: boolean,
  ) {
    super(dataDir, ownsDir);
    this.brokers = `127.0.0.1:${port}`;
    this.logFile = join(dataDir, 'broker.log');
  }

  protected async launch(): Promise<ServerProcess> {
    const props = join(this.dataDir, 'server.properties');
    await mkdir(this.dataDir, { recursive: true });
    await writeFile(props, serverProperties(this.version, this.port, this.controllerPort, join(this.dataDir, 'kraft')));
    if (!existsSync(join(this.dataDir, 'kraft', 'meta.properties'))) await this.format(props);
    return ServerProcess.start({
      what: `Kafka ${this.version} at ${this.brokers}`,
      command: javaBin(),
      // G1 as in Kafka's own start script: on a machine under 2 GB or 2 cores the JVM would pick Serial.
      args: [...JVM_HEAP, '-XX:+UseG1GC', '-Djava.awt.headless=true', ...this.jvmCommon(), 'kafka.Kafka', props],
      logFile: this.logFile,
      detached: this.detached,
      hint: 'set JAVA_HOME or put a JDK 17+ on PATH',
      ready: (died) => waitForKafka(this.brokers, { timeoutMs: START_TIMEOUT_MS, signal: died }),
    });
  }

  private async format(props: string): Promise<void> {
    // 16 random bytes, base64url: the format StorageTool's random-uuid prints, without parsing its log-mixed stdout.
    // Not starting with '-', as Kafka's Uuid.randomUuid() ensures: the argument parser takes "-t -x..." for two flags
    // (one run in 64 failed to start the broker).
    let clusterId: string;
    do clusterId = randomBytes(16).toString('base64url');
    while (clusterId.startsWith('-'));
    const args = ['-Xmx256m', ...this.jvmCommon(), 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', props];
    const { code, output } = await run(javaBin(), args);
    if (code !== 0) throw new Error(`Kafka ${this.version} StorageTool format failed (exit ${code}):\n${lastLines(output, LOG_TAIL_LINES)}`);
  }

  /**
   * The records of a partition's first log segment as Kafka's own DumpLogSegments prints them (producer id,
   * sequence numbers, compression codec of each batch): what a client really wrote, checked on the broker.
   */
  async dumpLog(topic: string, partition: number): Promise<string> {
    const file = join(this.dataDir, 'kraft', `${topic}-${partition}`, '00000000000000000000.log');
    const tool = majorOf(this.version) >= 4 ? 'org.apache.kafka.tools.DumpLogSegments' : 'kafka.tools.DumpLogSegments';
    const { code, output } = await run(javaBin(), ['-Xmx256m', ...this.jvmCommon(), tool, '--files', file, '--deep-iteration']);
    if (code !== 0) throw new Error(`DumpLogSegments failed on ${file} (exit ${code}):\n${lastLines(output, LOG_TAIL_LINES)}`);
    return output;
  }

  private jvmCommon(): string[] {
    const major = majorOf(this.version);
    const kafkaDir = join(repoRoot(), 'scripts', 'kafka');
    // 4.x moved to Log4j 2 and silently ignores the Log4j 1 flag.
    const logConfig = major >= 4 ? `-Dlog4j2.configurationFile=${join(kafkaDir, 'log4j2.properties')}` : `-Dlog4j.configuration=${pathToFileURL(join(kafkaDir, 'log4j.properties')).href}`;
    return [logConfig, '-cp', join(this.libs, '*')];
  }
}

/**
 * Resolves once a metadata request (listing topics) to `brokers` succeeds; rejects after timeoutMs with the
 * last client error, or as soon as `signal` aborts.
 */
export async function waitForKafka(brokers: string, { timeoutMs = START_TIMEOUT_MS, signal }: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
  const kafka = createKafka({ brokers: brokers.split(','), clientId: 'tapwatch-kafka-probe', log: pino({ level: 'silent' }) });
  const deadline = Date.now() + timeoutMs;
  let lastError = 'no attempt made';
  for (;;) {
    if (signal?.aborted) throw signal.reason as Error;
    try {
      await withAdmin(kafka, (admin) => admin.listTopics({ timeout: 3000 }));
      return;
    } catch (err) {
      lastError = (err as Error).message;
    }
    if (Date.now() >= deadline) throw new Error(`no answer to a metadata request within ${Math.round(timeoutMs / 1000)} s (last error: ${lastError})`);
    await new Promise((ok) => setTimeout(ok, 250));
  }
}

/**
 * Collects the broker classpath for `version` with Maven (artifacts cached in ~/.m2) into
 * .cache/kafka-<version>/libs and returns that dir. A finished collection is reused without running Maven.
 */
export async function ensureKafkaLibs(version: string = DEFAULT_KAFKA_VERSION): Promise<string> {
  const major = majorOf(version);
  const root = repoRoot();
  const libs = join(root, '.cache', `kafka-${version}`, 'libs');
  await mavenPackage(join(root, 'scripts', 'kafka', 'pom.xml'), [`-Dkafka.version=${version}`, `-Pkafka${major >= 4 ? 4 : 3}`], {
    fresh: libs,
    done: join(root, '.cache', `kafka-${version}`, 'libs.complete'),
    what: `Kafka ${version}`,
  });
  return libs;
}

function majorOf(version: string): number {
  const m = /^(\d+)\.(\d+)\.\d+$/.exec(version);
  // KRaft without ZooKeeper, as configured here, needs 3.3+; the version also ends up on a command line.
  if (!m || Number(m[1]) * 100 + Number(m[2]) < 303) throw new Error(`unsupported Kafka version '${version}' (want 3.3.0 or later)`);
  return Number(m[1]);
}

function serverProperties(version: string, port: number, controllerPort: number, logDir: string): string {
  const lines = [
    'process.roles=broker,controller',
    'node.id=1',
    // Static quorum: formats without --standalone and works unchanged from 3.3 to 4.x.
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    `log.dirs=${logDir}`,
    'num.partitions=1',
    // One node: the internal topics' default replication factor of 3 could never be met.
    'offsets.topic.replication.factor=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    // Fewer internal partitions and no rebalance delay make the first consumer group join in about a second.
    'offsets.topic.num.partitions=1',
    'transaction.state.log.num.partitions=1',
    'group.initial.rebalance.delay.ms=0',
  ];
  if (majorOf(version) >= 4) lines.push('share.coordinator.state.topic.replication.factor=1', 'share.coordinator.state.topic.min.isr=1');
  return lines.join('\n') + '\n';
}

function javaBin(): string {
  return join(javaHome(), 'bin', 'java');
}

const USAGE = `usage: node dist/scripts/kafka-broker.js start|stop|run [--version V] [--port P]
  start   start a broker in the background, print KAFKA_BROKERS=127.0.0.1:PORT and exit
  stop    stop the broker \`start\` started and delete its data
  run     start a broker in the foreground, print KAFKA_BROKERS=..., stop it on SIGINT/SIGTERM
  --version V   Kafka release on Maven Central (default ${DEFAULT_KAFKA_VERSION}; 4.x works too)
  --port P      client port (default 9092 if free, else any free port)
Needs java (JDK 17+) and mvn; jars are cached in ~/.m2 and .cache/kafka-<version>/libs.`;

runIfMain(import.meta.url, (argv) =>
  serviceCli<KafkaBroker>(argv, {
    name: 'Kafka',
    usage: USAGE,
    stateFile: join(repoRoot(), '.cache', 'kafka-broker.json'),
    envLine: (b) => `KAFKA_BROKERS=${b.brokers}`,
    start: (opts) => startKafka(opts),
  }),
);
