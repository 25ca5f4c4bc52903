// The configuration file, as every command reads it: --config FILE, else ./tapwatch.yaml when it exists,
// else nothing (flags and built-in defaults). Reading and checking a file is config-file.ts, loaded only
// when there is a file: its YAML parser and schema validator (TypeBox: hundreds of modules, ~0.3 s) are
// most of the start-up of `decap`, `collect --help` or `--version` otherwise.

import { existsSync } from 'node:fs';
import type { TapwatchConfig } from '../contracts/config.schema.js';
import { intList, intOption } from './args.js';

export const DEFAULT_CONFIG_FILE = 'tapwatch.yaml';
export const CONFIG_OPTION = { config: { type: 'string' as const } };
export const CONFIG_HELP = `YAML configuration file (default ./${DEFAULT_CONFIG_FILE} if present); flags override it`;

/** The configuration a command runs with: --config, else ./tapwatch.yaml if present, else empty. */
export async function commandConfig(values: Record<string, unknown>): Promise<TapwatchConfig> {
  const file = (values.config as string | undefined) ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
  if (file === undefined) return {};
  return (await import('./config-file.js')).loadConfigFile(file);
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
