// The one configuration file every command reads (--config FILE, or ./tapwatch.yaml when it exists):
// YAML, checked against this schema with every problem listed. Each part is optional; a command uses
// the parts it needs, and every flag overrides the file. Relative paths (inventory, rules, policy,
// control.db) are relative to the file's folder.

import { Type, type Static } from 'typebox';

const HostPort = Type.String({ pattern: '^(\\[[0-9A-Fa-f:.]+\\]|[^\\s:/]*):\\d{1,5}$', description: 'HOST:PORT' });

export const TapwatchConfigSchema = Type.Object(
  {
    devices: Type.Optional(Type.Object({
      networks: Type.Optional(Type.Array(Type.String({ description: 'CIDR' }), { minItems: 1, description: 'device networks (default 10.128.0.0/9)' })),
      exclude: Type.Optional(Type.Array(Type.String({ description: 'address or CIDR' }), { description: 'addresses inside the device networks that are not devices (the site router)' })),
      inventory: Type.Optional(Type.String({ minLength: 1, description: 'CSV or JSON: ip, id, imsi, imei, group' })),
    }, { additionalProperties: false })),
    interval: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400, description: 'interval length in seconds (collector; the analyzer checks records against it)' })),
    capture: Type.Optional(Type.Object({
      lossThresholdPercent: Type.Optional(Type.Number({ minimum: 0, maximum: 100, description: 'collect: /healthz is degraded above this share of packets dropped by the kernel in the last loss window (default 1)' })),
    }, { additionalProperties: false, description: 'live capture (collect --interface, --listen-udp)' })),
    kafka: Type.Optional(Type.Object({
      brokers: Type.Array(HostPort, { minItems: 1 }),
      partitions: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: 'partitions of topics a service creates (default 6)' })),
      replicationFactor: Type.Optional(Type.Integer({ minimum: -1, maximum: 32, description: 'replication of topics a service creates (-1: the broker default)' })),
    }, { additionalProperties: false })),
    elasticsearch: Type.Optional(Type.Object({
      url: Type.String({ pattern: '^https?://' }),
      retentionDays: Type.Optional(Type.Integer({ minimum: 0, maximum: 36_500 })),
    }, { additionalProperties: false })),
    kibana: Type.Optional(Type.Object({ url: Type.String({ pattern: '^https?://' }) }, { additionalProperties: false, description: 'for dashboards import' })),
    rules: Type.Optional(Type.String({ minLength: 1, description: 'analyzer behaviors file (JSON)' })),
    policy: Type.Optional(Type.String({ minLength: 1, description: 'response policy file (JSON)' })),
    control: Type.Optional(Type.Object({
      url: Type.Optional(Type.String({ pattern: '^https?://', description: 'the control API the responder calls' })),
      keyId: Type.Optional(Type.String({ minLength: 1, description: 'the responder\'s auth key id (its secret stays in TAPWATCH_CONTROL_KEY)' })),
      host: Type.Optional(Type.String({ minLength: 1, description: 'where control serve listens' })),
      port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65_535 })),
      db: Type.Optional(Type.String({ minLength: 1 })),
    }, { additionalProperties: false })),
    http: Type.Optional(Type.Object({
      collect: Type.Optional(HostPort),
      analyze: Type.Optional(HostPort),
      respond: Type.Optional(HostPort),
      index: Type.Optional(HostPort),
    }, { additionalProperties: false, description: 'where each service serves /healthz and /metrics (--http)' })),
  },
  { additionalProperties: false },
);

export type TapwatchConfig = Static<typeof TapwatchConfigSchema>;
