// tapwatch control: the control API server (serve), and what can be done to its database without
// it: create the first key (keys create), import the device registry (import).

import { readFileSync } from 'node:fs';
import { pino, type Logger } from 'pino';
import { parseInventory } from '../inventory/inventory.js';
import { UpstreamEnforcer } from '../control/enforcement/upstream.js';
import { ROLES, type Enforcer, type Role } from '../control/model.js';
import { buildControlServer } from '../control/server.js';
import { Store } from '../control/store.js';
import { intOption, parseCommand, UsageError, type CommandSpec } from './args.js';

const DEFAULT_DB = './tapwatch-control.db';
const UPSTREAM_KEY_ENV = 'TAPWATCH_UPSTREAM_KEY';

const serveSpec: CommandSpec = {
  name: 'control serve',
  usage: 'tapwatch control serve [--db FILE] [--host 127.0.0.1] [--port 8700] [--enforcer none|upstream|nft] [options]',
  summary:
    'Serves the SORACOM-compatible control API (subscribers, groups, auth keys, audit, device import,\n' +
    '/healthz, /metrics, /openapi.json) from a SQLite database, and makes the enforcer follow it: reconciled\n' +
    'at start, then each change before it is answered. Logs are pino JSON lines on stderr. Stops on SIGTERM/SIGINT\n' +
    "after the requests in flight. Bootstrap: 'tapwatch control keys create --role operator' prints the first key.",
  options: {
    db: { type: 'string' },
    host: { type: 'string' },
    port: { type: 'string' },
    enforcer: { type: 'string' },
    'nft-table': { type: 'string' },
    'nft-netns': { type: 'string' },
    'upstream-url': { type: 'string' },
    'upstream-key-id': { type: 'string' },
    'upstream-key': { type: 'string' },
    'rate-limit': { type: 'string' },
    'log-level': { type: 'string' },
  },
  help: {
    db: `SQLite database, created if missing (default ${DEFAULT_DB})`,
    host: 'address to listen on (default 127.0.0.1; the API is plain HTTP, so keep it on loopback or behind TLS)',
    port: 'TCP port (default 8700; 0 picks a free one)',
    enforcer: "'none' (default: the store only), 'nft' (nftables on this gateway; needs root) or 'upstream' (another SORACOM-compatible API)",
    'nft-table': "with --enforcer nft: the inet table it owns (default 'tapwatch')",
    'nft-netns': 'with --enforcer nft: run nft and ip in this network namespace',
    'upstream-url': 'with --enforcer upstream: its API root, e.g. https://g.api.soracom.io/v1',
    'upstream-key-id': 'with --enforcer upstream: its authKeyId',
    'upstream-key': `with --enforcer upstream: its authKey (better: the ${UPSTREAM_KEY_ENV} environment variable, not seen in ps)`,
    'rate-limit': 'requests per second per key, bursts of twice that (default 200)',
    'log-level': 'pino level: fatal, error, warn, info (default), debug (logs every request), trace, silent',
  },
};

const keysSpec: CommandSpec = {
  name: 'control keys',
  usage: 'tapwatch control keys create --role ROLE [--name NAME] [--db FILE]',
  summary:
    'Creates an auth key in the database directly (the way to make the first operator key) and prints\n' +
    '{authKeyId, authKey} as JSON. The authKey is shown this once; only its hash is kept. Roles: read-only\n' +
    '(GET), analyzer (GET and the subscriber actions), operator (everything, keys included).',
  options: { db: { type: 'string' }, role: { type: 'string' }, name: { type: 'string' } },
  help: { db: `SQLite database (default ${DEFAULT_DB})`, role: ROLES.join(' | '), name: 'a label for people (default none)' },
};

const importSpec: CommandSpec = {
  name: 'control import',
  usage: 'tapwatch control import [--db FILE] <registry.csv|registry.json>',
  summary:
    'Imports the device registry (the collector inventory format: CSV with a header naming ip, id, imsi, imei,\n' +
    'group, or a JSON array of such objects) as subscribers, creating the groups it names; all or nothing.\n' +
    'Existing subscribers keep their status, speed class and group. Prints the counts as JSON. Against a running\n' +
    'server use POST /v1/devices/import instead, so that its enforcer learns the new devices at once.',
  options: { db: { type: 'string' } },
  help: { db: `SQLite database (default ${DEFAULT_DB})` },
};

function usage(): string {
  return [
    'Usage: tapwatch control <serve|keys|import> [options]',
    '',
    'Commands:',
    `  ${'serve'.padEnd(8)} serve the control API`,
    `  ${'keys'.padEnd(8)} create an auth key without the API (bootstrap)`,
    `  ${'import'.padEnd(8)} import the device registry without the API`,
    '',
    "Run 'tapwatch control <command> --help' for its options.",
  ].join('\n') + '\n';
}

export async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'keys':
      return keys(rest);
    case 'import':
      return importRegistry(rest);
    case undefined:
    case '--help':
    case '-h':
      process.stdout.write(usage());
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command '${command}'\n\n${usage()}`);
  }
}

async function serve(argv: string[]): Promise<number> {
  const parsed = parseCommand(serveSpec, argv);
  if (!parsed) return 0;
  if (parsed.positionals.length) throw new UsageError(`unexpected argument '${parsed.positionals[0]}'`);
  const v = parsed.values as Record<string, string | undefined>;
  const port = intOption('port', v.port ?? '8700', 0, 65535)!;
  const rate = intOption('rate-limit', v['rate-limit'], 1, 10_000_000);
  const log = pino({ name: 'tapwatch-control', level: v['log-level'] ?? 'info' }, pino.destination(2));
  const enforcer = await makeEnforcer(v, log);
  const server = await buildControlServer({
    db: v.db ?? DEFAULT_DB,
    enforcer,
    log,
    rateLimit: rate === undefined ? undefined : { perSecond: rate, burst: 2 * rate },
  });
  const host = v.host ?? '127.0.0.1';
  try {
    await server.app.listen({ host, port });
  } catch (err) {
    await server.close();
    throw err;
  }
  if (!['127.0.0.1', '::1', 'localhost'].includes(host)) log.warn({ host }, 'listening beyond loopback: the API is plain HTTP, put TLS in front of it');
  const stopped = new Promise<string>((resolve) => process.once('SIGTERM', resolve).once('SIGINT', resolve));
  log.info({ signal: await stopped }, 'stopping');
  await server.close();
  log.info('stopped');
  log.flush();
  return 0;
}

async function makeEnforcer(v: Record<string, string | undefined>, log: Logger): Promise<Enforcer | undefined> {
  switch (v.enforcer ?? 'none') {
    case 'none':
      return undefined;
    case 'nft': {
      // Loaded only when asked for: it drives nft and ip, which the other modes never need.
      const { NftEnforcer } = await import('../control/enforcement/nft.js');
      return new NftEnforcer({ table: v['nft-table'], netns: v['nft-netns'], log });
    }
    case 'upstream': {
      const authKey = v['upstream-key'] ?? process.env[UPSTREAM_KEY_ENV];
      if (!v['upstream-url'] || !v['upstream-key-id'] || !authKey) {
        throw new UsageError(`--enforcer upstream needs --upstream-url, --upstream-key-id and --upstream-key (or ${UPSTREAM_KEY_ENV})`);
      }
      return new UpstreamEnforcer({ baseUrl: v['upstream-url'], authKeyId: v['upstream-key-id'], authKey, log });
    }
    default:
      throw new UsageError(`--enforcer: expected none, nft or upstream, got '${v.enforcer}'`);
  }
}

async function keys(argv: string[]): Promise<number> {
  const parsed = parseCommand(keysSpec, argv);
  if (!parsed) return 0;
  if (parsed.positionals.join(' ') !== 'create') throw new UsageError(`expected 'keys create', got 'keys ${parsed.positionals.join(' ')}'`);
  const v = parsed.values as Record<string, string | undefined>;
  if (!v.role || !(ROLES as readonly string[]).includes(v.role)) throw new UsageError(`--role: expected one of ${ROLES.join(', ')}, got '${v.role ?? ''}'`);
  const store = Store.open(v.db ?? DEFAULT_DB);
  try {
    process.stdout.write(JSON.stringify(store.createKey(v.role as Role, v.name ?? '')) + '\n');
  } finally {
    store.close();
  }
  return 0;
}

async function importRegistry(argv: string[]): Promise<number> {
  const parsed = parseCommand(importSpec, argv);
  if (!parsed) return 0;
  if (parsed.positionals.length !== 1) throw new UsageError('give one registry file (CSV or JSON)');
  const path = parsed.positionals[0];
  const v = parsed.values as Record<string, string | undefined>;
  const store = Store.open(v.db ?? DEFAULT_DB);
  try {
    const rows = parseInventory(readFileSync(path, 'utf8'), path);
    process.stdout.write(JSON.stringify(store.importDevices(rows, { actor: 'local', reason: `tapwatch control import ${path}` })) + '\n');
  } finally {
    store.close();
  }
  return 0;
}
