// tapwatch control: the control API server (serve), and what can be done to its database without
// it: create, list and revoke keys (keys), import the device registry (import). No command creates a
// database unless told to (--init): a wrong --db must be an error, not a new, empty store.

import { readFileSync } from 'node:fs';
import { commandConfig, CONFIG_HELP, CONFIG_OPTION } from './config.js';
import { pino, type Logger } from 'pino';
import { DEFAULT_CONTROL_PORT, ROLES, type Role } from '../contracts/control-api.js';
import type { ErrorCode } from '../contracts/errors.js';
import { parseInventory } from '../inventory/inventory.js';
import { UpstreamEnforcer } from '../control/enforcement/upstream.js';
import type { Enforcer } from '../control/model.js';
import { redactUrl } from '../control/redact.js';
import { DEFAULT_LOGIN_LIMITS } from '../control/login-guard.js';
import { buildControlServer } from '../control/server.js';
import { Store } from '../control/store.js';
import { intOption, parseCommand, UsageError, type CommandSpec } from './args.js';

const DEFAULT_DB = './tapwatch-control.db';

/** The port is taken, or the address is not this host's: said in one line, exit 1, and never "ready". */
class ListenError extends Error {
  readonly code: ErrorCode = 'TWU0002';
}
const UPSTREAM_KEY_ENV = 'TAPWATCH_UPSTREAM_KEY';

const serveSpec: CommandSpec = {
  name: 'control serve',
  usage: `tapwatch control serve [--db FILE] [--init] [--host 127.0.0.1] [--port ${DEFAULT_CONTROL_PORT}] [--enforcer none|upstream|nft] [options]`,
  summary:
    'Serves the SORACOM-compatible control API (subscribers, groups, auth keys, audit, device import,\n' +
    '/healthz, /metrics, /openapi.json) from a SQLite database, and makes the enforcer follow it: reconciled\n' +
    'at start, then each change before it is answered. Logs are pino JSON lines on stderr. Stops on SIGTERM/SIGINT\n' +
    "after the requests in flight. Bootstrap: 'tapwatch control keys create --init --role operator' creates the\n" +
    'database and prints the first key.',
  options: {
    db: { type: 'string' },
    init: { type: 'boolean' },
    force: { type: 'boolean' },
    host: { type: 'string' },
    port: { type: 'string' },
    enforcer: { type: 'string' },
    'nft-table': { type: 'string' },
    'nft-netns': { type: 'string' },
    'upstream-url': { type: 'string' },
    'upstream-key-id': { type: 'string' },
    'upstream-key': { type: 'string' },
    'rate-limit': { type: 'string' },
    'login-rate': { type: 'string' },
    'max-connections': { type: 'string' },
    'audit-retention-days': { type: 'string' },
    'log-level': { type: 'string' },
    ...CONFIG_OPTION,
  },
  help: {
    db: `SQLite database (default: control.db of the config file, else ${DEFAULT_DB}); it must exist unless --init`,
    init: 'create the database if it does not exist (owner-only permissions)',
    force: 'with an empty database, replace the enforcement point\'s live rules all the same (default: refuse, a wrong --db is likelier)',
    host: 'address to listen on (default 127.0.0.1; the API is plain HTTP, so keep it on loopback or behind TLS)',
    port: `TCP port (default ${DEFAULT_CONTROL_PORT}; 0 picks a free one)`,
    enforcer: "'none' (default: the store only), 'nft' (nftables on this gateway; needs root) or 'upstream' (another SORACOM-compatible API)",
    'nft-table': "with --enforcer nft: the inet table it owns (default 'tapwatch')",
    'nft-netns': 'with --enforcer nft: run nft and ip in this network namespace',
    'upstream-url': 'with --enforcer upstream: its API root, e.g. https://g.api.soracom.io/v1',
    'upstream-key-id': 'with --enforcer upstream: its authKeyId',
    'upstream-key': `with --enforcer upstream: its authKey (better: the ${UPSTREAM_KEY_ENV} environment variable, not seen in ps)`,
    'rate-limit': 'requests per second per key (and per address without a key), bursts of twice that (default 200)',
    'login-rate': 'logins per second per address and per authKeyId, bursts of three times that (default 1; scrypt serves ~45/s on 2 idle cores)',
    'max-connections': 'connections at once (default 1000, or fewer under a low descriptor limit)',
    'audit-retention-days': 'audit rows older than this are deleted, hourly (default 90)',
    'log-level': 'pino level: fatal, error, warn, info (default), debug (logs every request), trace, silent',
    config: `${CONFIG_HELP}: control (db, host, port, enforcer, nftTable, nftNetns, upstream.url/keyId, rateLimit, loginRate, maxConnections, auditRetentionDays)`,
  },
};

const keysSpec: CommandSpec = {
  name: 'control keys',
  usage: 'tapwatch control keys create --role ROLE [--name NAME] [--init] | list | revoke AUTH_KEY_ID  [--db FILE]',
  summary:
    'Works on the auth keys in the database directly (the way to make the first operator key). create prints\n' +
    '{authKeyId, authKey} as JSON: the authKey is shown this once, only its hash is kept. list prints the keys\n' +
    '(never their secrets) as a JSON array. revoke deletes a key: its tokens stop working at once. Roles:\n' +
    'read-only (GET), analyzer (GET and the subscriber actions), operator (everything, keys included).',
  options: { db: { type: 'string' }, role: { type: 'string' }, name: { type: 'string' }, init: { type: 'boolean' }, ...CONFIG_OPTION },
  help: {
    db: `SQLite database (default: control.db of the config file, else ${DEFAULT_DB})`,
    role: `create: ${ROLES.join(' | ')}`,
    name: 'create: a label for people (default none)',
    init: 'create: make the database if it does not exist',
    config: `${CONFIG_HELP}: control.db`,
  },
};

const importSpec: CommandSpec = {
  name: 'control import',
  usage: 'tapwatch control import [--db FILE] <registry.csv|registry.json>',
  summary:
    'Imports the device registry (the collector inventory format: CSV with a header naming ip, id, imsi, imei,\n' +
    'group, or a JSON array of such objects) as subscribers, creating the groups it names; all or nothing.\n' +
    'Existing subscribers keep their status, speed class and group. Prints the counts as JSON. Against a running\n' +
    'server use POST /v1/devices/import instead, so that its enforcer learns the new devices at once.',
  options: { db: { type: 'string' }, init: { type: 'boolean' }, ...CONFIG_OPTION },
  help: {
    db: `SQLite database (default: control.db of the config file, else ${DEFAULT_DB})`,
    init: 'create the database if it does not exist',
    config: `${CONFIG_HELP}: control.db`,
  },
};

function usage(): string {
  return [
    'Usage: tapwatch control <serve|keys|import> [options]',
    '',
    'Commands:',
    `  ${'serve'.padEnd(8)} serve the control API`,
    `  ${'keys'.padEnd(8)} create, list or revoke auth keys without the API (bootstrap)`,
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
  const cfg = (await commandConfig(v)).control ?? {};
  const port = intOption('port', v.port, 0, 65535) ?? cfg.port ?? DEFAULT_CONTROL_PORT;
  const rate = intOption('rate-limit', v['rate-limit'], 1, 10_000_000) ?? cfg.rateLimit;
  const loginRate = intOption('login-rate', v['login-rate'], 1, 1000) ?? cfg.loginRate;
  const maxConnections = intOption('max-connections', v['max-connections'], 1, 1_000_000) ?? cfg.maxConnections;
  const retention = intOption('audit-retention-days', v['audit-retention-days'], 1, 36_500) ?? cfg.auditRetentionDays;
  const db = v.db ?? cfg.db ?? DEFAULT_DB;
  const log = pino({ name: 'tapwatch-control', level: v['log-level'] ?? 'info' }, pino.destination(2));
  // Each enforcer flag over its key in the file (the upstream authKey: flag or environment only).
  const enforcer = await makeEnforcer({
    ...v,
    enforcer: v.enforcer ?? cfg.enforcer,
    'nft-table': v['nft-table'] ?? cfg.nftTable,
    'nft-netns': v['nft-netns'] ?? cfg.nftNetns,
    'upstream-url': v['upstream-url'] ?? cfg.upstream?.url,
    'upstream-key-id': v['upstream-key-id'] ?? cfg.upstream?.keyId,
  }, log);
  const server = await buildControlServer({
    db,
    create: parsed.values.init === true,
    force: parsed.values.force === true,
    enforcer,
    log,
    rateLimit: rate === undefined ? undefined : { perSecond: rate, burst: 2 * rate },
    loginLimits: loginRate === undefined ? undefined : { ...DEFAULT_LOGIN_LIMITS, perAddress: { perSecond: loginRate, burst: 3 * loginRate }, perKeyId: { perSecond: loginRate, burst: 3 * loginRate } },
    maxConnections,
    auditRetentionDays: retention,
  });
  const host = v.host ?? cfg.host ?? '127.0.0.1';
  let url: string;
  try {
    url = await server.app.listen({ host, port });
  } catch (err) {
    await server.close();
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') throw new ListenError(`cannot listen on ${host}:${port}: the port is in use (another control server?); pick another --port`);
    if (e.code === 'EADDRNOTAVAIL') throw new ListenError(`cannot listen on ${host}:${port}: that address is not one of this host's`);
    throw err;
  }
  if (!['127.0.0.1', '::1', 'localhost'].includes(host)) log.warn({ host }, 'listening beyond loopback: the API is plain HTTP, put TLS in front of it');
  log.info({ url, db, enforcer: enforcer?.name ?? 'none' }, 'control server ready');
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
        throw new UsageError(`--enforcer upstream needs --upstream-url, --upstream-key-id (or control.upstream in the config file) and --upstream-key (or ${UPSTREAM_KEY_ENV})`);
      }
      log.info({ upstream: redactUrl(v['upstream-url']) }, 'enforcing through an upstream API');
      return new UpstreamEnforcer({ baseUrl: v['upstream-url'], authKeyId: v['upstream-key-id'], authKey, log });
    }
    default:
      throw new UsageError(`--enforcer: expected none, nft or upstream, got '${v.enforcer}'`);
  }
}

async function keys(argv: string[]): Promise<number> {
  const parsed = parseCommand(keysSpec, argv);
  if (!parsed) return 0;
  const v = parsed.values as Record<string, string | undefined>;
  const [verb, ...args] = parsed.positionals;
  const db = v.db ?? (await commandConfig(v)).control?.db ?? DEFAULT_DB;
  const open = () => Store.open(db, { create: verb === 'create' && parsed.values.init === true });
  const print = (x: unknown) => process.stdout.write(JSON.stringify(x) + '\n');
  switch (verb) {
    case 'create': {
      if (args.length) throw new UsageError(`unexpected argument '${args[0]}'`);
      if (!v.role || !(ROLES as readonly string[]).includes(v.role)) throw new UsageError(`--role: expected one of ${ROLES.join(', ')}, got '${v.role ?? ''}'`);
      return withStore(open, (store) => print(store.createKey(v.role as Role, v.name ?? '')));
    }
    case 'list':
      if (args.length) throw new UsageError(`unexpected argument '${args[0]}'`);
      return withStore(open, (store) => print(store.listKeys()));
    case 'revoke':
      if (args.length !== 1) throw new UsageError('give the authKeyId to revoke: tapwatch control keys revoke keyId-…');
      return withStore(open, (store) => {
        store.deleteKey(args[0], { actor: 'local', reason: 'tapwatch control keys revoke' });
        print({ revoked: args[0] });
      });
    default:
      throw new UsageError(`expected 'keys create', 'keys list' or 'keys revoke', got 'keys ${parsed.positionals.join(' ')}'`);
  }
}

async function importRegistry(argv: string[]): Promise<number> {
  const parsed = parseCommand(importSpec, argv);
  if (!parsed) return 0;
  if (parsed.positionals.length !== 1) throw new UsageError('give one registry file (CSV or JSON)');
  const path = parsed.positionals[0];
  const v = parsed.values as Record<string, string | undefined>;
  const db = v.db ?? (await commandConfig(v)).control?.db ?? DEFAULT_DB;
  const rows = parseInventory(readFileSync(path, 'utf8'), path, { requireImsi: true });
  return withStore(
    () => Store.open(db, { create: parsed.values.init === true }),
    (store) => process.stdout.write(JSON.stringify(store.importDevices(rows, { actor: 'local', reason: `tapwatch control import ${path}` })) + '\n'),
  );
}

function withStore(open: () => Store, work: (store: Store) => void): number {
  const store = open();
  try {
    work(store);
  } finally {
    store.close();
  }
  return 0;
}
