// What the real test services (scripts/kafka-broker.ts, scripts/es-node.ts) have in common: fetching them with
// Maven, running a server JVM until it answers, stopping it, and the start|stop|run command line.

import { spawn } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { open, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const LOG_TAIL_LINES = 40;
const STOP_GRACE_MS = 20_000;

/** The repository root: the first dir above this file (scripts/ under vitest, dist/scripts/ when built) with a package.json. */
export function repoRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
  }
}

/** $JAVA_HOME, else the JDK that the `java` on PATH belongs to (Debian's /usr/bin/java is a chain of symlinks). */
export function javaHome(): string {
  if (process.env.JAVA_HOME) return process.env.JAVA_HOME;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const java = join(dir, 'java');
    if (dir && existsSync(java)) return dirname(dirname(realpathSync(java)));
  }
  throw new Error('no java on PATH and JAVA_HOME is not set: install a JDK 17+ or set JAVA_HOME');
}

/**
 * `mvn package` on `pom` (artifacts cached in ~/.m2) unless `done` exists; `fresh` is deleted first so an interrupted
 * run is redone rather than half-used, and `done` is written only after Maven succeeded.
 */
export async function mavenPackage(pom: string, args: string[], { fresh, done, what }: { fresh: string; done: string; what: string }): Promise<void> {
  if (existsSync(done)) return;
  await rm(fresh, { recursive: true, force: true });
  // -U: a failed download is otherwise remembered in ~/.m2 (*.lastUpdated) and not retried for a day.
  const all = ['-U', '-B', '-q', '-f', pom, 'package', ...args];
  const { code, output } = await run('mvn', all).catch((err: Error) => {
    throw new Error(`could not run Maven (mvn) to fetch ${what}: ${err.message}`);
  });
  // Maven 3.8's jansi prints colour resets even in batch mode.
  if (code !== 0) throw new Error(`mvn ${all.join(' ')} failed (exit ${code}):\n${lastLines(output.replace(/\x1b\[[0-9;]*m/g, ''), LOG_TAIL_LINES)}`);
  await writeFile(done, '');
}

export interface ServerSpec {
  /** Names the server in errors, e.g. 'Kafka 3.9.2 at 127.0.0.1:9092'. */
  what: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Run as this user instead of ours (Elasticsearch refuses root). */
  uid?: number;
  gid?: number;
  /** stdout and stderr go here (appended). */
  logFile: string;
  /** Let the server outlive this Node process (CLI `start`); otherwise it is killed when this process exits. */
  detached: boolean;
  /** Said when `command` cannot be run at all. */
  hint: string;
  /** Resolves once the server answers; must reject soon after `died` aborts. */
  ready(died: AbortSignal): Promise<void>;
}

/** One run of a server process, started only once it answers. */
export class ServerProcess {
  #killOnExit = (): void => {
    if (isAlive(this.pid)) process.kill(this.pid, 'SIGKILL');
  };

  private constructor(readonly pid: number) {}

  /** Start-up failures and timeouts carry the first error and the tail of the log in their message. */
  static async start(spec: ServerSpec): Promise<ServerProcess> {
    const log = await open(spec.logFile, 'a');
    const child = spawn(spec.command, spec.args, {
      stdio: ['ignore', log.fd, log.fd],
      detached: spec.detached,
      env: spec.env,
      cwd: spec.cwd,
      uid: spec.uid,
      gid: spec.gid,
    });
    // Listeners go on before the first await: 'spawn' and 'error' fire on the next tick.
    const spawned = new Promise<void>((ok, fail) => child.once('spawn', ok).once('error', fail));
    // Stop waiting as soon as the process dies: a bad config or a taken port ends it within seconds.
    const died = new AbortController();
    let exited = false;
    child.once('exit', (code, signal) => {
      exited = true;
      died.abort(new Error(`the server process exited (${signal ?? `code ${code}`})`));
    });
    await log.close(); // the child has its own copy of the descriptor
    await spawned.catch((err: Error) => {
      throw new Error(`could not run ${spec.command} for ${spec.what}: ${err.message} (${spec.hint})`);
    });
    const server = new ServerProcess(child.pid!);
    if (spec.detached) child.unref();
    else process.once('exit', server.#killOnExit);

    try {
      await spec.ready(died.signal);
    } catch (err) {
      if (!exited) await terminate(server.pid);
      process.off('exit', server.#killOnExit);
      const text = await readFile(spec.logFile, 'utf8').catch((e: Error) => `(unreadable: ${e.message})`);
      // A fatal error is followed by dozens of shutdown lines, which push its cause out of the tail.
      // Matches both '[time] ERROR ...' (Kafka) and '[time][ERROR][logger] ...' (Elasticsearch).
      const firstError = /^\[[^\]]+\] ?\[?(?:ERROR|FATAL)\b.*\n.*/m.exec(text)?.[0];
      throw new Error(
        `${spec.what} did not start: ${(err as Error).message}\n` +
          (firstError ? `First error in the log:\n${firstError}\n` : '') +
          `Last ${LOG_TAIL_LINES} lines of ${spec.logFile} (the data dir is kept for inspection):\n${lastLines(text, LOG_TAIL_LINES)}`,
      );
    }
    return server;
  }

  /** SIGTERM (a clean shutdown), SIGKILL after 20 s; resolves when the process is gone. */
  async stop(): Promise<void> {
    process.off('exit', this.#killOnExit);
    await terminate(this.pid);
  }
}

/**
 * A server run in a data dir of its own (Kafka, Elasticsearch): what their lifecycles share. stop() is a clean
 * shutdown (SIGKILL after a grace period) that deletes the data dir if this process made it, unless keepData:
 * then restart() brings the same server back, on the same ports, with its data.
 */
export abstract class ServiceNode {
  #server: ServerProcess | undefined;

  constructor(readonly dataDir: string, private readonly ownsDir: boolean) {}

  /** pid of the server process; a restart gives a new one. */
  get pid(): number {
    return this.#server?.pid ?? 0;
  }

  async stop({ keepData = false }: { keepData?: boolean } = {}): Promise<void> {
    await this.#server?.stop();
    if (this.ownsDir && !keepData) await rm(this.dataDir, { recursive: true, force: true });
  }

  /** Stops the server if it runs (keeping its data), then starts it again. */
  async restart(): Promise<void> {
    if (isAlive(this.pid)) await this.stop({ keepData: true });
    this.#server = await this.launch();
  }

  /** Writes the server's config into the data dir and starts it, resolving once it answers. */
  protected abstract launch(): Promise<ServerProcess>;
}

/** `preferred` if it can be bound on 127.0.0.1 (and is not `avoid`), else a free port the OS picks. */
export async function freePort(preferred: number, avoid?: number): Promise<number> {
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

export function isAlive(pid: number): boolean {
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
export async function terminate(pid: number): Promise<void> {
  const gone = async (ms: number): Promise<boolean> => {
    for (const end = Date.now() + ms; Date.now() < end; await new Promise((ok) => setTimeout(ok, 100))) if (!isAlive(pid)) return true;
    return !isAlive(pid);
  };
  if (!isAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  if (await gone(STOP_GRACE_MS)) return;
  process.kill(pid, 'SIGKILL');
  if (!(await gone(5_000))) throw new Error(`pid ${pid} survived SIGKILL`);
}

export function run(cmd: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((ok, fail) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', fail);
    child.once('close', (code) => ok({ code, output }));
  });
}

export function lastLines(text: string, n: number): string {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}

async function tail(file: string, n: number): Promise<string> {
  return lastLines(await readFile(file, 'utf8').catch((err: Error) => `(unreadable: ${err.message})`), n);
}

// ---- start|stop|run command line ----

export interface ServiceHandle {
  readonly version: string;
  readonly pid: number;
  readonly dataDir: string;
  readonly logFile: string;
  stop(): Promise<void>;
}

export interface ServiceCli<H extends ServiceHandle> {
  /** e.g. 'Kafka' */
  name: string;
  usage: string;
  /** Where `start` leaves what `stop` needs. */
  stateFile: string;
  /** The line printed for the caller's shell, e.g. 'KAFKA_BROKERS=127.0.0.1:9092'. */
  envLine(service: H): string;
  start(opts: { version?: string; port?: number; detached: boolean }): Promise<H>;
}

interface CliState {
  pid: number;
  envLine: string;
  dataDir: string;
}

/** start | stop | run [--version V] [--port P] | --help; returns the exit code. */
export async function serviceCli<H extends ServiceHandle>(argv: string[], cli: ServiceCli<H>): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || rest.includes('--help')) {
    console.log(cli.usage);
    return command === undefined ? 2 : 0;
  }
  const opts: { version?: string; port?: number } = {};
  for (let i = 0; i < rest.length; i += 2) {
    const [flag, value] = [rest[i], rest[i + 1]];
    if (flag === '--version' && value) opts.version = value;
    else if (flag === '--port' && value && /^\d+$/.test(value)) opts.port = Number(value);
    else {
      console.error(`bad argument '${flag}'\n${cli.usage}`);
      return 2;
    }
  }
  const readState = () => readFile(cli.stateFile, 'utf8').then((s) => JSON.parse(s) as CliState, () => undefined);
  switch (command) {
    case 'start': {
      const prev = await readState();
      if (prev && isAlive(prev.pid)) {
        console.error(`${cli.name} is already running: ${prev.envLine} (pid ${prev.pid}); run 'stop' first`);
        return 1;
      }
      const s = await cli.start({ ...opts, detached: true });
      await writeFile(cli.stateFile, JSON.stringify({ pid: s.pid, envLine: cli.envLine(s), dataDir: s.dataDir } satisfies CliState));
      console.log(cli.envLine(s));
      console.error(`${cli.name} ${s.version}, pid ${s.pid}, log ${s.logFile}`);
      return 0;
    }
    case 'stop': {
      const state = await readState();
      if (!state) {
        console.error(`no ${cli.name} to stop (${cli.stateFile} is missing)`);
        return 1;
      }
      await terminate(state.pid);
      await rm(state.dataDir, { recursive: true, force: true });
      await rm(cli.stateFile, { force: true });
      console.error(`stopped ${cli.name} (${state.envLine})`);
      return 0;
    }
    case 'run': {
      const s = await cli.start({ ...opts, detached: false });
      console.log(cli.envLine(s));
      console.error(`${cli.name} ${s.version}, pid ${s.pid}, log ${s.logFile}; Ctrl-C stops it`);
      // The watch also keeps this process alive: once the server is gone, nothing else would.
      let watch: NodeJS.Timeout | undefined;
      const why = await new Promise<string>((ok) => {
        process.once('SIGINT', () => ok('SIGINT')).once('SIGTERM', () => ok('SIGTERM'));
        watch = setInterval(() => !isAlive(s.pid) && ok('died'), 1_000);
      });
      clearInterval(watch);
      if (why === 'died') {
        console.error(`${cli.name} exited on its own; last lines of ${s.logFile}:\n${await tail(s.logFile, LOG_TAIL_LINES)}`);
        return 1;
      }
      await s.stop();
      return 0;
    }
    default:
      console.error(`unknown command '${command}'\n${cli.usage}`);
      return 2;
  }
}

/** Runs `main` and exits with its code when `moduleUrl` is the script node was started with. */
export function runIfMain(moduleUrl: string, main: (argv: string[]) => Promise<number>): void {
  if (!process.argv[1] || moduleUrl !== pathToFileURL(resolve(process.argv[1])).href) return;
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error) => {
      console.error(err.message);
      process.exit(1);
    },
  );
}
