#!/usr/bin/env -S node --max-semi-space-size=4
// tapwatch: one binary, one subcommand per job. Each subcommand module exports `run(argv)`.
//
// The young generation is held to 4 MB semi-spaces (a V8 flag, so it can only be given where node starts:
// here, for `tapwatch` and `npx tapwatch`). Left alone V8 grows them to 16 MB with the allocation rate,
// and `collect`'s peak RSS then followed the capture's length: 159 -> 189 MB from 1M to 10M packets of the
// bench capture, 160-171 -> 162-164 MB with 4 MB, in the same time or less (README, Benchmarks).

import { readFileSync } from 'node:fs';
import { UsageError } from './args.js';
import { DEFAULT_CONFIG_FILE } from './config.js';
import { OutputError } from '../contracts/output-error.js';
import { nodeVersionWarning } from './node-version.js';

const COMMANDS: Record<string, { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> }> = {
  demo: { summary: 'the whole pipeline in one process on a bundled capture with an incident', load: () => import('./demo.js') },
  decap: { summary: 'decapsulate a capture and summarise what is inside', load: () => import('./decap.js') },
  collect: { summary: 'per-device inspection records from a mirror, to NDJSON or Kafka', load: () => import('./collect.js') },
  analyze: { summary: 'anomaly events from inspection records (NDJSON files, or Kafka with checkpoints)', load: () => import('./analyze.js') },
  respond: { summary: 'act on anomaly events through the control API, as a response policy says', load: () => import('./respond.js') },
  dashboards: { summary: 'index templates into Elasticsearch, dashboards into Kibana', load: () => import('./dashboards.js') },
  control: { summary: 'the control API (SORACOM-compatible): block, throttle, quarantine; audit; enforcement', load: () => import('./control.js') },
  index: { summary: 'Kafka records into Elasticsearch, exactly once per document', load: () => import('./index.js') },
};

function usage(): string {
  const lines = ['Usage: tapwatch <command> [options]', '', 'Commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(12)} ${c.summary}`);
  lines.push(
    '',
    "Run 'tapwatch <command> --help' for a command's options; 'tapwatch --version' for the version.",
    `Every command reads its settings from --config FILE, or from ./${DEFAULT_CONFIG_FILE} when that exists (YAML,`,
    'schema in contracts/config.schema.ts); a flag overrides the file.',
  );
  return lines.join('\n') + '\n';
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    process.stdout.write(`tapwatch ${packageJson().version ?? 'unknown'}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`tapwatch: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  const old = nodeVersionWarning(process.versions.node, packageJson().engines?.node);
  if (old) process.stderr.write(old);
  // Standard output redirected to a full disk or /dev/full: one line and exit 1, not an unhandled 'error'.
  // (Not process.exit: the command still closes what it opened; exiting under a native module crashed.)
  process.stdout.on('error', (err) => {
    if (stdoutFailed) return;
    stdoutFailed = true;
    process.stderr.write(`tapwatch ${name}: [TWU0004] ${OutputError.from('write', 'standard output', err).message}\n`);
  });
  try {
    return await (await command.load()).run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`tapwatch ${name}: ${err.message}\n`);
      return 2;
    }
    const e = err as Error & { code?: string };
    // Only tapwatch's own codes (contracts/errors.ts) in brackets: a library's (-185, ECONNREFUSED) is no code of ours.
    const code = typeof e.code === 'string' && /^TW[A-Z]\d{4}$/.test(e.code) ? `[${e.code}] ` : '';
    process.stderr.write(`tapwatch ${name}: ${code}${e.message}\n`);
    return 1;
  }
}

/** package.json: beside dist/ when built, or one folder up in the source tree. */
function packageJson(): { version?: string; engines?: { node?: string } } {
  for (const u of ['../../package.json', '../package.json']) {
    try {
      const p = JSON.parse(readFileSync(new URL(u, import.meta.url), 'utf8')) as { name?: string; version?: string; engines?: { node?: string } };
      if (p.name === 'tapwatch') return p;
    } catch {
      // not there: the next candidate
    }
  }
  return {};
}
let stdoutFailed = false;

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
process.on('exit', () => {
  if (stdoutFailed && !process.exitCode) process.exitCode = 1;
});
