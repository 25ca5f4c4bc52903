// A real single-node Apache Kafka broker (KRaft, broker+controller in one JVM) for integration tests,
// run from Maven Central jars on the installed JDK: no Docker, no mock. scripts/kafka/pom.xml collects the
// classpath; this module formats a data dir, starts kafka.Kafka on 127.0.0.1 and waits until a metadata
// request succeeds.
//   node dist/scripts/kafka-broker.js --help

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';

/** Latest 3.9 patch on Maven Central; 3.x is the line whose protocol versions kafkajs 2.2.4 was built against. */
export const DEFAULT_KAFKA_VERSION = '3.9.2';

const JVM_HEAP = ['-Xms256m', '-Xmx512m'];
const START_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 20_000;
const LOG_TAIL_LINES = 40;

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

export class KafkaBroker {
  /** bootstrap servers for clients, '127.0.0.1:<port>' */
  readonly brokers: string;
  readonly logFile: string;
  #pid = 0;
  #killOnExit = (): void => {
    if (isAlive(this.#pid)) process.kill(this.#pid, 'SIGKILL');
  };

  constructor(
    readonly version: string,
    private readonly libs: string,
    readonly port: number,
    readonly controllerPort: number,
    readonly dataDir: string,
    private readonly ownsDir: boolean,
    private readonly detached: boolean,
  ) {
    this.brokers = `127.0.0.1:${port}`;
    this.logFile = join(dataDir, 'broker.log');
  }

  /** pid of the current JVM; a restart gives a new one. */
  get pid(): number {
    return this.#pid;
  }

  /**
   * SIGTERM (a clean shutdown that flushes the log), SIGKILL after 20 s. Deletes the data dir if startKafka
   * made it, unless keepData: then restart() brings the same broker back with its topics and offsets.
   */
  async stop({ keepData = false }: { keepData?: boolean } = {}): Promise<void> {
    process.off('exit', this.#killOnExit);
    await terminate(this.#pid);
    if (this.ownsDir && !keepData) await rm(this.dataDir, { recursive: true, force: true });
  }

  /** Stops the broker if it runs (keeping its data), then starts it again on the same ports and data dir. */
  async restart(): Promise<void> {
    if (isAlive(this.#pid)) await this.stop({ keepData: true });
    const props = join(this.dataDir, 'server.properties');
    await mkdir(this.dataDir, { recursive: true });
    await writeFile(props, serverProperties(this.version, this.port, this.controllerPort, join(this.dataDir, 'kraft')));
    if (!existsSync(join(this.dataDir, 'kraft', 'meta.properties'))) await this.format(props);

    const log = await open(this.logFile, 'a');
    // G1 as in Kafka's own start script: on a machine under 2 GB or 2 cores the JVM would pick Serial.
    const child = spawn(javaBin(), [...JVM_HEAP, '-XX:+UseG1GC', '-Djava.awt.headless=true', ...this.jvmCommon(), 'kafka.Kafka', props], {
      stdio: ['ignore', log.fd, log.fd],
      detached: this.detached,
    });
    // Listeners go on before the first await: 'spawn' and 'error' fire on the next tick.
    const spawned = new Promise<void>((ok, fail) => child.once('spawn', ok).once('error', fail));
    // Stop waiting as soon as the JVM dies: a bad config or a taken port ends it within seconds.
    const died = new AbortController();
    let exited = false;
    child.once('exit', (code, signal) => {
      exited = true;
      died.abort(new Error(`the broker JVM exited (${signal ?? `code ${code}`})`));
    });
    await log.close(); // the child has its own copy of the descriptor
    await spawned.catch((err: Error) => {
      throw new Error(`could not run java for the Kafka broker: ${err.message} (set JAVA_HOME or put a JDK 17+ on PATH)`);
    });
    this.#pid = child.pid!;
    if (this.detached) child.unref();
    else process.once('exit', this.#killOnExit);

    try {
      await waitForKafka(this.brokers, { timeoutMs: START_TIMEOUT_MS, signal: died.signal });
    } catch (err) {
      if (!exited) await terminate(this.#pid);
      process.off('exit', this.#killOnExit);
      const log = await readFile(this.logFile, 'utf8').catch((e: Error) => `(unreadable: ${e.message})`);
      // A fatal error is followed by dozens of shutdown lines, which push its cause out of the tail.
      const firstError = /^\[[^\]]+\] (?:ERROR|FATAL) .*\n.*/m.exec(log)?.[0];
      throw new Error(
        `Kafka ${this.version} did not start on ${this.brokers}: ${(err as Error).message}\n` +
          (firstError ? `First error in the log:\n${firstError}\n` : '') +
          `Last ${LOG_TAIL_LINES} lines of ${this.logFile} (the data dir is kept for inspection):\n${lastLines(log, LOG_TAIL_LINES)}`,
      );
    }
  }

  private async format(props: string): Promise<void> {
    // 16 random bytes, base64url: the format StorageTool's random-uuid prints, without parsing its log-mixed stdout.
    const clusterId = randomBytes(16).toString('base64url');
    const args = ['-Xmx256m', ...this.jvmCommon(), 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', props];
    const { code, output } = await run(javaBin(), args);
    if (code !== 0) throw new Error(`Kafka ${this.version} StorageTool format failed (exit ${code}):\n${lastLines(output, LOG_TAIL_LINES)}`);
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
 * Resolves once a metadata request (admin describeCluster) to `brokers` succeeds and lists a broker; rejects after
 * timeoutMs with the last client error, or as soon as `signal` aborts.
 */
export async function waitForKafka(brokers: string, { timeoutMs = START_TIMEOUT_MS, signal }: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
  const kafka = new Kafka({
    clientId: 'tapwatch-kafka-probe',
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1_000,
    requestTimeout: 3_000,
    retry: { retries: 0 },
  });
  const deadline = Date.now() + timeoutMs;
  let lastError = 'no attempt made';
  for (;;) {
    if (signal?.aborted) throw signal.reason as Error;
    const admin = kafka.admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      if (cluster.brokers.length > 0) return;
      lastError = 'metadata lists no broker yet';
    } catch (err) {
      lastError = (err as Error).message;
    } finally {
      await admin.disconnect().catch(() => undefined);
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
  // Written only after Maven succeeded, so an interrupted copy is redone rather than half-used.
  const done = join(root, '.cache', `kafka-${version}`, 'libs.complete');
  if (existsSync(done)) return libs;
  await rm(libs, { recursive: true, force: true });
  // -U: a failed download is otherwise remembered in ~/.m2 (*.lastUpdated) and not retried for a day.
  const args = ['-U', '-B', '-q', '-f', join(root, 'scripts', 'kafka', 'pom.xml'), 'package', `-Dkafka.version=${version}`, `-Pkafka${major >= 4 ? 4 : 3}`];
  const { code, output } = await run('mvn', args).catch((err: Error) => {
    throw new Error(`could not run Maven (mvn) to fetch Kafka ${version}: ${err.message}`);
  });
  // Maven 3.8's jansi prints colour resets even in batch mode.
  if (code !== 0) throw new Error(`mvn ${args.join(' ')} failed (exit ${code}):\n${lastLines(output.replace(/\x1b\[[0-9;]*m/g, ''), LOG_TAIL_LINES)}`);
  await writeFile(done, '');
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

/** `preferred` if it can be bound on 127.0.0.1 (and is not `avoid`), else a free port the OS picks. */
async function freePort(preferred: number, avoid?: number): Promise<number> {
  const tryListen = (port: number): Promise<number | undefined> =>
    new Promise((ok) => {
      const srv = createServer();
      srv.once('error', () => ok(undefined));
      srv.listen(port, '127.0.0.1', () => {
        const { port: bound } = srv.address() as { port: number };
        srv.close(() => ok(bound));
      });
    });
  if (preferred !== avoid) {
    const p = await tryListen(preferred);
    if (p !== undefined) return p;
  }
  for (;;) {
    const p = await tryListen(0);
    if (p !== undefined && p !== avoid) return p;
  }
}

function isAlive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** SIGTERM, then SIGKILL after STOP_GRACE_MS; resolves when the process is gone. Polls, so it also works for a pid
 *  this process did not start (CLI `stop`). */
async function terminate(pid: number): Promise<void> {
  const gone = async (ms: number): Promise<boolean> => {
    for (const end = Date.now() + ms; Date.now() < end; await new Promise((ok) => setTimeout(ok, 100))) if (!isAlive(pid)) return true;
    return !isAlive(pid);
  };
  if (!isAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  if (await gone(STOP_GRACE_MS)) return;
  process.kill(pid, 'SIGKILL');
  if (!(await gone(5_000))) throw new Error(`Kafka broker pid ${pid} survived SIGKILL`);
}

function run(cmd: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((ok, fail) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', fail);
    child.once('close', (code) => ok({ code, output }));
  });
}

function javaBin(): string {
  return process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
}

/** The dir holding scripts/kafka/pom.xml, found upwards from this file, which runs from scripts/ (vitest) or dist/scripts/. */
function repoRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'scripts', 'kafka', 'pom.xml'))) return dir;
    if (dirname(dir) === dir) throw new Error(`scripts/kafka/pom.xml not found above ${fileURLToPath(import.meta.url)}`);
  }
}

function lastLines(text: string, n: number): string {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}

async function tail(file: string, n: number): Promise<string> {
  return lastLines(await readFile(file, 'utf8').catch((err: Error) => `(unreadable: ${err.message})`), n);
}

// ---- CLI ----

const USAGE = `usage: node dist/scripts/kafka-broker.js start|stop|run [--version V] [--port P]
  start   start a broker in the background, print KAFKA_BROKERS=127.0.0.1:PORT and exit
  stop    stop the broker \`start\` started and delete its data
  run     start a broker in the foreground, print KAFKA_BROKERS=..., stop it on SIGINT/SIGTERM
  --version V   Kafka release on Maven Central (default ${DEFAULT_KAFKA_VERSION}; 4.x works too)
  --port P      client port (default 9092 if free, else any free port)
Needs java (JDK 17+) and mvn; jars are cached in ~/.m2 and .cache/kafka-<version>/libs.`;

interface CliState {
  pid: number;
  brokers: string;
  dataDir: string;
  logFile: string;
}

async function cli(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || rest.includes('--help')) {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  const opts: KafkaOptions = {};
  for (let i = 0; i < rest.length; i += 2) {
    const [flag, value] = [rest[i], rest[i + 1]];
    if (flag === '--version' && value) opts.version = value;
    else if (flag === '--port' && value && /^\d+$/.test(value)) opts.port = Number(value);
    else {
      console.error(`bad argument '${flag}'\n${USAGE}`);
      return 2;
    }
  }
  const stateFile = join(repoRoot(), '.cache', 'kafka-broker.json');
  switch (command) {
    case 'start': {
      const prev = await readFile(stateFile, 'utf8').then((s) => JSON.parse(s) as CliState, () => undefined);
      if (prev && isAlive(prev.pid)) {
        console.error(`a broker is already running: KAFKA_BROKERS=${prev.brokers} (pid ${prev.pid}); run 'stop' first`);
        return 1;
      }
      const b = await startKafka({ ...opts, detached: true });
      await writeFile(stateFile, JSON.stringify({ pid: b.pid, brokers: b.brokers, dataDir: b.dataDir, logFile: b.logFile } satisfies CliState));
      console.log(`KAFKA_BROKERS=${b.brokers}`);
      console.error(`Kafka ${b.version}, pid ${b.pid}, log ${b.logFile}`);
      return 0;
    }
    case 'stop': {
      const state = await readFile(stateFile, 'utf8').then((s) => JSON.parse(s) as CliState, () => undefined);
      if (!state) {
        console.error(`no broker to stop (${stateFile} is missing)`);
        return 1;
      }
      await terminate(state.pid);
      await rm(state.dataDir, { recursive: true, force: true });
      await rm(stateFile, { force: true });
      console.error(`stopped Kafka at ${state.brokers}`);
      return 0;
    }
    case 'run': {
      const b = await startKafka(opts);
      console.log(`KAFKA_BROKERS=${b.brokers}`);
      console.error(`Kafka ${b.version}, pid ${b.pid}, log ${b.logFile}; Ctrl-C stops it`);
      const why = await new Promise<string>((ok) => {
        process.once('SIGINT', () => ok('SIGINT')).once('SIGTERM', () => ok('SIGTERM'));
        const watch = setInterval(() => !isAlive(b.pid) && ok('died'), 1_000);
        watch.unref();
      });
      if (why === 'died') {
        console.error(`the broker exited on its own; last lines of ${b.logFile}:\n${await tail(b.logFile, LOG_TAIL_LINES)}`);
        return 1;
      }
      await b.stop();
      return 0;
    }
    default:
      console.error(`unknown command '${command}'\n${USAGE}`);
      return 2;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  cli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error) => {
      console.error(err.message);
      process.exit(1);
    },
  );
}
