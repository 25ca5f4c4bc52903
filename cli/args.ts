// One way every subcommand parses its options and prints --help, so all commands behave alike.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { ErrorCode } from '../contracts/errors.js';

export interface CommandSpec {
  name: string;
  usage: string; // e.g. 'tapwatch decap <capture> [options]'
  summary: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** Help line per option, in display order. */
  help: Record<string, string>;
}

export class UsageError extends Error {
  readonly code: ErrorCode = 'TWU0001';
}

export function helpText(spec: CommandSpec): string {
  const lines = [`Usage: ${spec.usage}`, '', spec.summary, '', 'Options:'];
  for (const [name, text] of Object.entries(spec.help)) {
    const o = spec.options[name];
    const flag = `--${name}${o?.short ? `, -${o.short}` : ''}${o?.type === 'string' ? ' <value>' : ''}`;
    lines.push(`  ${flag.padEnd(30)} ${text}`);
  }
  lines.push(`  ${'--help, -h'.padEnd(30)} show this help`);
  return lines.join('\n') + '\n';
}

/** Parsed options and positionals, or null when --help was asked for (and printed). */
export function parseCommand(spec: CommandSpec, argv: string[]): { values: Record<string, unknown>; positionals: string[] } | null {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...spec.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${helpText(spec)}`);
  }
  if (parsed.values.help) {
    process.stdout.write(helpText(spec));
    return null;
  }
  return { values: parsed.values as Record<string, unknown>, positionals: parsed.positionals };
}

/** A comma-separated list of integers in [min, max], for options such as --vxlan-ports. */
export function intList(name: string, text: string | undefined, min: number, max: number): number[] | undefined {
  if (text === undefined) return undefined;
  return text.split(',').map((s) => intOption(name, s.trim(), min, max) as number);
}

export function intOption(name: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!Number.isInteger(v) || v < min || v > max) throw new UsageError(`--${name}: expected an integer from ${min} to ${max}, got '${text}'`);
  return v;
}
