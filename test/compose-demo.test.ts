// docker-compose.yml's demo profile, checked without Docker (no engine runs here): parsed with the yaml package, each
// demo service's command is run through the built CLI with --help (a strict parse: an unknown flag fails it) and
// every flag it uses is in that command's help; the files it names exist; the demo runs on a broker of its own; its
// analyzer configuration is the one `tapwatch demo` uses; its responder's wrapper works on a fresh database; and the
// window the dashboards open on holds the incident's records, its alarm and its action, and little else.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../analyzer/rules.js';
import { Store } from '../control/store.js';
import type { ActionEvent } from '../contracts/action-event.js';
import type { AnomalyEvent } from '../contracts/anomaly-event.js';
import { demoRulesJson, demoRulesPath } from '../dashboards/build-saved-objects.js';
import { checkTimeRange } from '../dashboards/panels.js';
import { demoAnalyzerConfig } from '../demo/config.js';
import { actionDocument } from '../indexer/documents.js';
import { CLI } from './helpers/cli-process.js';
import { collect, root } from './helpers/es-fixtures.js';

interface Service {
  profiles?: string[];
  build?: string;
  image?: string;
  entrypoint?: string[];
  command?: string[];
  environment?: Record<string, string | number>;
  depends_on?: Record<string, { condition: string }>;
}

// Merge keys (<<: *kafka) are YAML 1.1, which compose reads; the yaml package takes them with `merge`.
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service> };
const demo = Object.entries(compose.services).filter(([, s]) => s.profiles?.includes('demo'));
const tapwatchServices = demo.filter(([, s]) => s.build === '.');
const service = (name: string) => compose.services[name];

/** The command's subcommand words (dashboards import, control serve, ...) and its flags. */
function commandParts(argv: string[]): { sub: string[]; flags: string[] } {
  const sub = argv[0] === 'dashboards' || argv[0] === 'control' ? argv.slice(0, 2) : argv.slice(0, 1);
  return { sub, flags: argv.filter((a) => a.startsWith('--')) };
}

/** An argument that names a file of the repository (the image's /app), not a URL, a host:port or a number. */
const isRepoPath = (arg: string) => /^[\w.-]+\/[\w./-]+$/.test(arg) && !arg.includes(':');

describe('docker-compose.yml, profile demo', () => {
  it('has its own broker, analyzer, responder, indexer, replay and dashboards import', () => {
    expect(demo.map(([name]) => name).sort()).toEqual(['demo-analyzer', 'demo-dashboards', 'demo-indexer', 'demo-kafka', 'demo-replay', 'demo-responder']);
  });

  it('runs commands the CLI accepts: each with --help parses strictly, and each flag is in that command`s help', () => {
    expect(tapwatchServices.length).toBe(5);
    for (const [name, s] of tapwatchServices) {
      expect(s.command, name).toBeDefined();
      const { sub, flags } = commandParts(s.command!);
      // The responder's wrapper adds --control-key-id after the command's own flags.
      const added = s.entrypoint ? ['--control-key-id', 'id'] : [];
      const res = spawnSync(process.execPath, [CLI, ...s.command!, ...added, '--help'], { cwd: root, encoding: 'utf8' });
      expect(res.status, `${name}: ${res.stderr}`).toBe(0);
      const help = execFileSync(process.execPath, [CLI, ...sub, '--help'], { cwd: root, encoding: 'utf8' });
      for (const flag of [...flags, ...added.filter((a) => a.startsWith('--'))]) expect(help, `${name}: ${flag} in tapwatch ${sub.join(' ')} --help`).toContain(`  ${flag} `);
    }
  });

  it('names only files that exist in the repository (the image copies it to /app)', () => {
    const named = tapwatchServices.flatMap(([name, s]) => [...(s.entrypoint ?? []), ...s.command!].filter(isRepoPath).map((path) => ({ name, path })));
    expect(named.map((n) => n.path).sort()).toEqual(['dashboards/demo/analyzer-rules.json', 'dashboards/demo/respond.sh', 'fixtures/demo/incident-inventory.csv', 'fixtures/demo/incident-mirror.pcap']);
    for (const { name, path } of named) expect(existsSync(join(root, path)), `${name}: ${path}`).toBe(true);
  });

  it('keeps to a broker of its own, so its records and device states never meet the stack`s analyzer', () => {
    const kafka = service('demo-kafka');
    expect(kafka.image).toBe(service('kafka').image);
    expect(String(kafka.environment?.KAFKA_ADVERTISED_LISTENERS)).toContain('PLAINTEXT://demo-kafka:19092');
    for (const [name, s] of tapwatchServices) {
      const i = s.command!.indexOf('--kafka');
      if (i >= 0) expect(s.command![i + 1], name).toBe('demo-kafka:19092');
      for (const dep of Object.keys(s.depends_on ?? {})) expect(Object.keys(compose.services), `${name} depends on ${dep}`).toContain(dep);
    }
    // And the stack's own services stay on the stack's broker: the one in the config file they all read.
    expect(readFileSync(join(root, 'deploy', 'tapwatch.compose.yaml'), 'utf8')).toMatch(/^ {2}brokers: \["kafka:19092"\]$/m);
    for (const name of ['collector', 'analyzer', 'indexer', 'responder']) {
      expect(service(name).command!.join(' ')).toContain('--config /etc/tapwatch/tapwatch.yaml');
      expect(service(name).command!.join(' ')).not.toContain('--kafka');
    }
  });

  it('analyzes with the configuration `tapwatch demo` uses (dashboards/demo/analyzer-rules.json is up to date)', () => {
    expect(readFileSync(demoRulesPath(), 'utf8'), 'run npm run dashboards:build').toBe(demoRulesJson());
    const { $comment: _c, ...loaded } = loadConfig(demoRulesPath()) as ReturnType<typeof loadConfig> & { $comment?: string };
    const { $comment: _d, ...wanted } = demoAnalyzerConfig() as ReturnType<typeof demoAnalyzerConfig> & { $comment?: string };
    expect(loaded).toEqual(wanted);
  });

  describe('the responder`s wrapper (dashboards/demo/respond.sh), on a fresh control database', () => {
    let dir: string;
    beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'tapwatch-compose-demo-'))));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('registers the capture`s 24 meters, makes an analyzer key, and execs the command with that key', async () => {
      const s = service('demo-responder');
      const db = join(dir, 'control.db');
      // A `node` first on PATH that runs the real one, except for the wrapper's last exec (the one given
      // --control-key-id), whose arguments and key it writes down instead of starting a responder.
      const bin = join(dir, 'bin');
      mkdirSync(bin);
      writeFileSync(
        join(bin, 'node'),
        `#!/bin/sh\nfor a in "$@"; do [ "$a" = --control-key-id ] && { printf '%s\\n' "$@" > "${dir}/argv"; printf '%s' "$TAPWATCH_CONTROL_KEY" > "${dir}/key"; exit 0; }; done\nexec '${process.execPath}' "$@"\n`,
        { mode: 0o755 },
      );
      const env = { ...process.env, TAPWATCH_CONTROL_DB: db, PATH: `${bin}:${process.env.PATH}` };
      const run = () => spawnSync(s.entrypoint![0], [...s.entrypoint!.slice(1), ...s.command!], { cwd: root, env, encoding: 'utf8' });
      const first = run();
      expect(first.status, first.stderr).toBe(0);
      expect(JSON.parse(first.stderr.trim().split('\n')[0])).toMatchObject({ created: 24 });
      const argv = readFileSync(join(dir, 'argv'), 'utf8').trimEnd().split('\n');
      expect(argv.slice(0, -2)).toEqual(['dist/cli/tapwatch.js', ...s.command!]);
      const [flag, keyId] = argv.slice(-2);
      expect(flag).toBe('--control-key-id');
      // The key it passed opens the control API's store, as an analyzer (the role that may act on subscribers).
      const store = Store.open(db);
      try {
        const session = await store.login(keyId, readFileSync(join(dir, 'key'), 'utf8'), 60);
        expect(session).not.toBeNull();
        expect(store.principal(session!.apiKey, session!.token)?.role).toBe('analyzer');
        // The scanning meter (meter-006) is a subscriber the responder can act on.
        expect(store.getSubscriber('440101000000005')?.status).toBe('active');
      } finally {
        store.close();
      }
      // A restart: the meters are there already, and a new key is made.
      const again = run();
      expect(again.status, again.stderr).toBe(0);
      expect(JSON.parse(again.stderr.trim().split('\n')[0])).toMatchObject({ created: 0, unchanged: 24 });
      expect(readFileSync(join(dir, 'argv'), 'utf8').trimEnd().split('\n').at(-1)).not.toBe(keyId);
    });
  });

  describe('the window the dashboards open on (demo-dashboards --time-from/--time-to)', () => {
    const argv = service('demo-dashboards').command!;
    const window = checkTimeRange({ from: argv[argv.indexOf('--time-from') + 1], to: argv[argv.indexOf('--time-to') + 1] });
    const [from, to] = [Date.parse(window.from), Date.parse(window.to)];
    const inWindow = (t: string) => Date.parse(t) >= from && Date.parse(t) <= to;

    it('holds every record of the capture, and no more than a minute around them', () => {
      const records = collect(join(root, 'fixtures', 'demo', 'incident-mirror.pcap'), 60, join(root, 'fixtures', 'demo', 'incident-inventory.csv'));
      const first = Math.min(...records.map((r) => Date.parse(r.interval.start)));
      const last = Math.max(...records.map((r) => Date.parse(r.interval.end)));
      expect(records.filter((r) => !inWindow(r.interval.start) || !inWindow(r.interval.end))).toEqual([]);
      expect(first - from).toBeLessThanOrEqual(60_000);
      expect(to - last).toBeLessThanOrEqual(60_000);
    });

    it('holds the incident`s alarm and the action taken on it, where the dashboards put them (@timestamp)', () => {
      // `tapwatch demo` is the same pipeline on the same capture, with the same analyzer configuration and policy.
      const report = JSON.parse(execFileSync(process.execPath, [CLI, 'demo', '--json'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as { anomalies: AnomalyEvent[]; actions: ActionEvent[] };
      const alarm = report.anomalies.find((a) => a.device.id === 'meter-006' && a.behavior === 'scan' && a.alarm === 'in-alarm');
      expect(alarm, 'the scan alarm on meter-006').toBeDefined();
      expect(report.anomalies.filter((a) => !inWindow(a['@timestamp']))).toEqual([]);
      const docs = report.actions.map((e) => actionDocument(e, { ingested: new Date() }));
      expect(docs.filter((d) => d.device.id === 'meter-006' && d.action.result === 'applied').map((d) => d['@timestamp'])).toEqual([alarm!['@timestamp']]);
      expect(docs.filter((d) => !inWindow(d['@timestamp']))).toEqual([]);
    });
  });
});
