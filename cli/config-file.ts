// Reading a configuration file (config.ts says when): YAML in, every problem listed at once (YAML syntax,
// the schema in contracts/config.schema.ts, device networks that do not parse), so one edit fixes the file.

import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { ErrorCode } from '../contracts/errors.js';
import { TapwatchConfigSchema, type TapwatchConfig } from '../contracts/config.schema.js';
import { validator } from '../contracts/validate.js';
import { DeviceNets } from '../collector/device-nets.js';

export class ConfigError extends Error {
  readonly code: ErrorCode = 'TWU0003';
  constructor(readonly file: string, readonly problems: string[]) {
    super(`${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

const check = validator(TapwatchConfigSchema);

/** The file's configuration with relative paths made absolute; throws ConfigError listing every problem. */
export function loadConfigFile(file: string): TapwatchConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`]);
  }
  const doc = parseDocument(text);
  if (doc.errors.length) throw new ConfigError(file, doc.errors.map((e) => `line ${e.linePos?.[0].line ?? '?'}: ${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`));
  const value: unknown = doc.toJS() ?? {};
  const problems = check.problems(value, { max: 200 });
  const c = value as TapwatchConfig;
  if (problems.length === 0) {
    for (const [where, list] of [['/devices/networks', c.devices?.networks], ['/devices/exclude', c.devices?.exclude?.map((a) => (a.includes('/') ? a : `${a}/${a.includes(':') ? 128 : 32}`))]] as const) {
      for (const [i, cidr] of (list ?? []).entries()) {
        try {
          new DeviceNets([cidr]);
        } catch (err) {
          problems.push(`${where}/${i} ${(err as Error).message.replace(/^--device-net /, '')}`);
        }
      }
    }
  }
  if (problems.length === 0) {
    const geneve = new Set(c.decap?.genevePorts ?? [6081]);
    for (const [i, port] of (c.decap?.vxlanPorts ?? [4789]).entries()) {
      if (geneve.has(port)) problems.push(`/decap/vxlanPorts${c.decap?.vxlanPorts ? `/${i}` : ''} port ${port} is also a Geneve port (/decap/genevePorts): a port decodes as one tunnel type`);
    }
  }
  if (problems.length) throw new ConfigError(file, problems);
  const base = dirname(resolve(file));
  const abs = (p: string | undefined) => (p === undefined || isAbsolute(p) ? p : resolve(base, p));
  if (c.devices?.inventory) c.devices.inventory = abs(c.devices.inventory);
  if (c.rules) c.rules = abs(c.rules);
  if (c.policy) c.policy = abs(c.policy);
  if (c.control?.db) c.control.db = abs(c.control.db);
  return c;
}
