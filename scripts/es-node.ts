// A real single-node Elasticsearch 8 for integration tests, from Maven Central's integ-test zip on the installed
// JDK 17: no Docker, no mock. scripts/elasticsearch/pom.xml fetches and unpacks it once; this module gives each node
// its own config, data and logs in a temp dir, starts it on 127.0.0.1 with security off, and waits until the
// official client gets an answer. The zip has a minimal module set: dashboards/ELASTICSEARCH.md says what that
// leaves out. As root the node runs as the system user tapwatch-es, created here if missing: ES refuses root.
//   node dist/scripts/es-node.js --help

import { copyFile, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { ServerProcess, ServiceNode, freePort, javaHome, mavenPackage, repoRoot, run, runIfMain, serviceCli } from './service-utils.js';

/** Newest 8.19.x on Maven Central (checked 2026-11-22): 8.x is the last line that runs on JDK 17 (9.x needs 21)
 *  and the one @elastic/elasticsearch 8.19 speaks to. */
export const DEFAULT_ES_VERSION = '8.19.21';
export const ES_USER = 'tapwatch-es';

// 256 MB is enough for the test indices (a few thousand small documents); ES would otherwise take half the RAM.
const ES_JAVA_OPTS = '-Xms256m -Xmx256m';
const START_TIMEOUT_MS = 120_000;

export interface EsOptions {
  /** Elasticsearch 8.x release on Maven Central. Default DEFAULT_ES_VERSION. */
  version?: string;
  /** HTTP port. Default 9200 if free, else any free port. */
  port?: number;
  /** Holds config/, data/, logs/, tmp/ and elasticsearch.out. Default: a fresh temp dir that stop() deletes.
   *  A dir used before is reused as is, so its indices survive. */
  dataDir?: string;
  /** Let the node outlive this Node process (CLI `start`); otherwise it is killed when this process exits. */
  detached?: boolean;
}

/** Start-up failures and timeouts carry the first error and the tail of the node's output in their message. */
export async function startElasticsearch(options: EsOptions = {}): Promise<EsNode> {
  const version = options.version ?? DEFAULT_ES_VERSION;
  const home = await ensureElasticsearch(version);
  const ownsDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'tapwatch-es-')));
  const port = options.port ?? (await freePort(9200));
  const node = new EsNode(version, home, port, resolve(dataDir), ownsDir, options.detached ?? false);
  await node.restart();
  return node;
}

export class EsNode extends ServiceNode {
  /** 'http://127.0.0.1:<port>' */
  readonly url: string;
  /** stdout and stderr of bin/elasticsearch: launcher errors and the node's console log. */
  readonly logFile: string;

  constructor(
    readonly version: string,
    private readonly home: string,
    readonly port: number,
    dataDir: string,
    ownsDir: boolean,
    private readonly detached: boolean,
  ) {
    super(dataDir, ownsDir);
    this.url = `http://127.0.0.1:${port}`;
    this.logFile = join(dataDir, 'elasticsearch.out');
  }

  /** bin/elasticsearch's launcher JVM runs the node JVM as its child and stops it on SIGTERM. */
  protected async launch(): Promise<ServerProcess> {
    const conf = join(this.dataDir, 'config');
    const tmp = join(this.dataDir, 'tmp');
    await Promise.all(['config', 'data', 'logs', 'tmp'].map((d) => mkdir(join(this.dataDir, d), { recursive: true })));
    // A config dir per node (ES_PATH_CONF) keeps the unpacked distribution read-only and shared (ES writes its
    // keystore into the config dir), and the copies can be handed to the ES user: the zip's config files are mode 660.
    for (const f of ['jvm.options', 'log4j2.properties']) await copyFile(join(this.home, 'config', f), join(conf, f));
    await writeFile(join(conf, 'elasticsearch.yml'), elasticsearchYml(this.port, this.dataDir));
    const user = await serviceUser();
    if (user) await chownTree(this.dataDir, user);
    return ServerProcess.start({
      what: `Elasticsearch ${this.version} at ${this.url}`,
      command: join(this.home, 'bin', 'elasticsearch'),
      args: [],
      // A clean environment: bin/elasticsearch warns about JAVA_HOME and reads ES_JAVA_HOME only.
      env: { PATH: process.env.PATH, ES_JAVA_HOME: process.env.ES_JAVA_HOME ?? javaHome(), ES_PATH_CONF: conf, ES_TMPDIR: tmp, ES_JAVA_OPTS },
      cwd: this.dataDir,
      uid: user?.uid,
      gid: user?.gid,
      logFile: this.logFile,
      detached: this.detached,
      hint: `the distribution in ${this.home} must be readable by ${user ? ES_USER : 'this user'}`,
      ready: (died) => waitForElasticsearch(this.url, { timeoutMs: START_TIMEOUT_MS, signal: died }),
    });
  }
}

function elasticsearchYml(port: number, dataDir: string): string {
  return [
    'cluster.name: tapwatch-test',
    'node.name: es0',
    // single-node: no discovery, no cluster bootstrapping, and the production bootstrap checks stay off.
    'discovery.type: single-node',
    'network.host: 127.0.0.1',
    `http.port: ${port}`,
    // The transport port is left to ES (first free of 9300-9400): nothing but the node itself uses it.
    'xpack.security.enabled: false',
    // A nearly full CI disk would otherwise make every index read-only mid-test.
    'cluster.routing.allocation.disk.threshold_enabled: false',
    `path.data: ${join(dataDir, 'data')}`,
    `path.logs: ${join(dataDir, 'logs')}`,
  ].join('\n') + '\n';
}

/**
 * Resolves once the node reports cluster health yellow or green to the official client (whose product check also
 * proves it is Elasticsearch); rejects after timeoutMs with the last error, or as soon as `signal` aborts.
 * Not `client.info()`: GET / lives in the rest-root module, which the integ-test zip lacks.
 */
export async function waitForElasticsearch(url: string, { timeoutMs = START_TIMEOUT_MS, signal }: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
  const client = new Client({ node: url, maxRetries: 0, requestTimeout: 5_000 });
  const deadline = Date.now() + timeoutMs;
  let lastError = 'no attempt made';
  try {
    for (;;) {
      if (signal?.aborted) throw signal.reason as Error;
      try {
        const health = await client.cluster.health({ wait_for_status: 'yellow', timeout: '1s' }, { signal });
        if (!health.timed_out) return;
        lastError = `cluster health is ${health.status}`;
      } catch (err) {
        lastError = (err as Error).message;
      }
      if (Date.now() >= deadline) throw new Error(`no cluster health yellow within ${Math.round(timeoutMs / 1000)} s (last error: ${lastError})`);
      await new Promise((ok) => setTimeout(ok, 250));
    }
  } finally {
    await client.close();
  }
}

/**
 * Fetches and unpacks the integ-test zip of `version` with Maven (cached in ~/.m2) into .cache/elasticsearch-<version>
 * and returns ES_HOME. A finished unpack is reused without running Maven.
 */
export async function ensureElasticsearch(version: string = DEFAULT_ES_VERSION): Promise<string> {
  // The version ends up on a command line and in paths; 9.x would need Java 21.
  if (!/^8\.\d+\.\d+$/.test(version)) throw new Error(`unsupported Elasticsearch version '${version}' (want 8.x.y: 9.x needs Java 21)`);
  const root = repoRoot();
  const dir = join(root, '.cache', `elasticsearch-${version}`);
  await mavenPackage(join(root, 'scripts', 'elasticsearch', 'pom.xml'), [`-Delasticsearch.version=${version}`], {
    fresh: dir,
    done: join(dir, 'unpack.complete'),
    what: `Elasticsearch ${version}`,
  });
  return join(dir, `elasticsearch-${version}`);
}

/** The uid/gid to run ES as when we are root (it refuses root), creating the system user if needed; else undefined. */
async function serviceUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const lookup = async () => {
    const { code, output } = await run('getent', ['passwd', ES_USER]);
    const [, , uid, gid] = output.split(':');
    return code === 0 ? { uid: Number(uid), gid: Number(gid) } : undefined;
  };
  const found = await lookup();
  if (found) return found;
  const made = await run('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', ES_USER]);
  // Looked up again rather than trusting the exit code: a concurrent start may have created the user first.
  const user = await lookup();
  if (!user) throw new Error(`Elasticsearch refuses to run as root and the system user ${ES_USER} could not be created: useradd exit ${made.code}: ${made.output.trim()}`);
  return user;
}

async function chownTree(dir: string, { uid, gid }: { uid: number; gid: number }): Promise<void> {
  const { code, output } = await run('chown', ['-R', `${uid}:${gid}`, dir]);
  if (code !== 0) throw new Error(`chown -R ${uid}:${gid} ${dir} failed: ${output.trim()}`);
}

const USAGE = `usage: node dist/scripts/es-node.js start|stop|run [--version V] [--port P]
  start   start a node in the background, print ELASTICSEARCH_URL=http://127.0.0.1:PORT and exit
  stop    stop the node \`start\` started and delete its data
  run     start a node in the foreground, print ELASTICSEARCH_URL=..., stop it on SIGINT/SIGTERM
  --version V   Elasticsearch 8.x release on Maven Central (default ${DEFAULT_ES_VERSION})
  --port P      HTTP port (default 9200 if free, else any free port)
Needs java (JDK 17+; ES_JAVA_HOME or JAVA_HOME picks one) and mvn; the zip is cached in ~/.m2 and
.cache/elasticsearch-<version>. As root, the node runs as the system user ${ES_USER} (created if missing).`;

runIfMain(import.meta.url, (argv) =>
  serviceCli<EsNode>(argv, {
    name: 'Elasticsearch',
    usage: USAGE,
    stateFile: join(repoRoot(), '.cache', 'es-node.json'),
    envLine: (n) => `ELASTICSEARCH_URL=${n.url}`,
    start: (opts) => startElasticsearch(opts),
  }),
);
