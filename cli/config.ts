// The configuration file, as every command reads it: --config FILE, else ./tapwatch.yaml when it exists,
// else nothing (flags and built-in defaults). Every problem is listed at once (YAML syntax, the schema
// in contracts/config.schema.ts, device networks that do not parse), so one edit fixes the file.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { ErrorCode } from '../contracts/errors.js';
import { TapwatchConfigSchema, type TapwatchConfig } from '../contracts/config.schema.js';
import { validator } from '../contracts/validate.js';
import { DeviceNets } from '../collector/device-nets.js';
import { intList, intOption } from './args.js';

export const DEFAULT_CONFIG_FILE = 'tapwatch.yaml';
export const CONFIG_OPTION = { config: { type: 'string' as const } };
export const CONFIG_HELP = `YAML configuration file (default ./${DEFAULT_CONFIG_FILE} if present); flags override it`;

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

/** The configuration a command runs with: --config, else ./tapwatch.yaml if present, else empty. */
export function commandConfig(values: Record<string, unknown>): TapwatchConfig {
  const file = values.config as string | undefined;
  if (file !== undefined) return loadConfigFile(file);
  return existsSync(DEFAULT_CONFIG_FILE) ? loadConfigFile(DEFAULT_CONFIG_FILE) : {};
}

/** --vxlan-ports, --geneve-ports and --max-tunnel-depth: how decap and collect decode a mirror. */
export const DECAP_OPTIONS = {
  'vxlan-ports': { type: 'string' as const },
  'geneve-ports': { type: 'string' as const },
  'max-tunnel-depth': { type: 'string' as const },
};
export const DECAP_HELP = {
  'vxlan-ports': 'UDP ports decoded as VXLAN, comma-separated (default: decap.vxlanPorts of the config file, else 4789)',
  'geneve-ports': 'UDP ports decoded as Geneve (default: decap.genevePorts of the config file, else 6081)',
  'max-tunnel-depth': 'nested tunnels allowed before a frame counts as malformed (default: decap.maxTunnelDepth of the config file, else 8; max 16)',
};

/** Each of the three flags over the file's decap part, over the built-in defaults. */
export function decapSettings(v: Record<string, unknown>, c: TapwatchConfig): { vxlanPorts: number[]; genevePorts: number[]; maxTunnelDepth: number } {
  return {
    vxlanPorts: intList('vxlan-ports', v['vxlan-ports'] as string | undefined, 1, 65535) ?? [...(c.decap?.vxlanPorts ?? [4789])],
    genevePorts: intList('geneve-ports', v['geneve-ports'] as string | undefined, 1, 65535) ?? [...(c.decap?.genevePorts ?? [6081])],
    maxTunnelDepth: intOption('max-tunnel-depth', v['max-tunnel-depth'] as string | undefined, 1, 16) ?? c.decap?.maxTunnelDepth ?? 8,
  };
}

/** --kafka, --partitions and --replication-factor, each over the file's kafka part. */
export const KAFKA_TOPIC_OPTIONS = { partitions: { type: 'string' as const }, 'replication-factor': { type: 'string' as const } };
export const KAFKA_TOPIC_HELP = {
  partitions: 'partitions of the topics this service creates when it comes first (default 6)',
  'replication-factor': 'replication of the topics it creates (default -1: the broker\'s default.replication.factor)',
};

export function kafkaSettings(v: Record<string, unknown>, c: TapwatchConfig, int: (name: string, text: string | undefined, min: number, max: number) => number | undefined): { brokers: string[] | undefined; partitions: number; replicationFactor: number | undefined } {
  const flag = v.kafka as string | undefined;
  return {
    brokers: flag !== undefined ? flag.split(',') : c.kafka?.brokers,
    partitions: int('partitions', v.partitions as string | undefined, 1, 10_000) ?? c.kafka?.partitions ?? 6,
    replicationFactor: int('replication-factor', v['replication-factor'] as string | undefined, -1, 32) ?? c.kafka?.replicationFactor,
  };
}
