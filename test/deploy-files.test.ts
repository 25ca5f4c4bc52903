// deploy/: the example configuration files are valid; every tapwatch service of docker-compose.yml (outside the
// demo profile) and every systemd unit runs with --config, uses only flags its command has (checked against the
// built CLI's --help), and each compose service with an http address in the file has a healthcheck on it.

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfigFile } from '../cli/config-file.js';
import { CLI } from './helpers/cli-process.js';

const root = join(import.meta.dirname, '..');
const HTTP_COMMANDS = ['collect', 'analyze', 'respond', 'index'] as const;

function helpOf(words: string[]): string {
  return execFileSync(process.execPath, [CLI, ...words, '--help'], { encoding: 'utf8' });
}

function checkFlags(argv: string[]): void {
  const sub = argv.slice(0, argv[0] === 'control' ? 2 : 1);
  const help = helpOf(sub);
  for (const flag of argv.filter((a) => a.startsWith('--'))) expect(help, `${sub.join(' ')} ${flag}`).toContain(`  ${flag}`);
}

it('the example configuration files are valid', () => {
  for (const f of ['tapwatch.yaml', 'tapwatch.compose.yaml']) expect(() => loadConfigFile(join(root, 'deploy', f)), f).not.toThrow();
});

it('docker-compose: tapwatch services read the mounted config, with real flags, and a healthcheck on their --http address', () => {
  const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, { build?: string; command?: string[]; profiles?: string[]; volumes?: string[]; healthcheck?: { test: string[] } }>;
  };
  const config = loadConfigFile(join(root, 'deploy', 'tapwatch.compose.yaml'));
  const services = Object.entries(compose.services).filter(([, s]) => s.build && !s.profiles?.includes('demo') && s.command?.[0] !== 'dashboards');
  expect(services.map(([n]) => n).sort()).toEqual(['analyzer', 'collector', 'control', 'indexer', 'responder']);
  for (const [name, s] of services) {
    const argv = s.command!;
    expect(argv, name).toContain('--config');
    expect(s.volumes?.join(), name).toContain('./deploy/tapwatch.compose.yaml:/etc/tapwatch/tapwatch.yaml');
    checkFlags(argv);
    const cmd = argv[0] as (typeof HTTP_COMMANDS)[number];
    if ((HTTP_COMMANDS as readonly string[]).includes(cmd)) {
      const port = config.http?.[cmd]?.split(':').at(-1);
      expect(port, `${name}: http.${cmd} in the config`).toBeDefined();
      expect(s.healthcheck?.test.join(' '), name).toContain(`:${port}/healthz`);
    }
  }
});

it('systemd units run tapwatch with the config file and real flags', () => {
  const dir = join(root, 'deploy', 'systemd');
  const units = readdirSync(dir).filter((f) => f.endsWith('.service'));
  expect(units.sort()).toEqual(['tapwatch-analyze.service', 'tapwatch-collect.service', 'tapwatch-control.service', 'tapwatch-index.service', 'tapwatch-respond.service']);
  for (const u of units) {
    const exec = /^ExecStart=\/usr\/bin\/env tapwatch (.*)$/m.exec(readFileSync(join(dir, u), 'utf8'));
    expect(exec, u).not.toBeNull();
    const argv = exec![1].split(/\s+/);
    expect(argv, u).toContain('--config');
    checkFlags(argv);
  }
});
