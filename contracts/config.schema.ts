// The one configuration file every command reads (--config FILE, or ./tapwatch.yaml when it exists):
// YAML, checked against this schema with every problem listed. Each part is optional; a command uses
// the parts it needs, and every flag overrides the file. Relative paths (inventory, rules, policy,
// control.db) are relative to the file's folder.

import { Type, type Static } from 'typebox';

const UdpPort = Type.Integer({ minimum: 1, maximum: 65_535 });
const HostPort = Type.String({ pattern: '^(\\[[0-9A-Fa-f:.]+\\]|[^\\s:/]*):\\d{1,5}$', description: 'HOST:PORT' });

export const TapwatchConfigSchema = Type.Object(
  {
    devices: Type.Optional(Type.Object({
      networks: Type.Optional(Type.Array(Type.String({ description: 'CIDR' }), { minItems: 1, description: 'device networks (default 10.128.0.0/9)' })),
      exclude: Type.Optional(Type.Array(Type.String({ description: 'address or CIDR' }), { description: 'addresses inside the device networks that are not devices (the site router)' })),
      inventory: Type.Optional(Type.String({ minLength: 1, description: 'CSV or JSON: ip, id, imsi, imei, group' })),
    }, { additionalProperties: false })),
    decap: Type.Optional(Type.Object({
      vxlanPorts: Type.Optional(Type.Array(UdpPort, { minItems: 1, description: 'UDP ports decoded as VXLAN (default [4789])' })),
      genevePorts: Type.Optional(Type.Array(UdpPort, { minItems: 1, description: 'UDP ports decoded as Geneve (default [6081])' })),
      maxTunnelDepth: Type.Optional(Type.Integer({ minimum: 1, maximum: 16, description: 'nested tunnels allowed before a frame counts as malformed (default 8)' })),
    }, { additionalProperties: false, description: 'tunnel decoding: decap and collect read it, so both decode a mirror the same way' })),
    collect: Type.Optional(Type.Object({
      listenHost: Type.Optional(Type.String({ minLength: 1, description: 'address for --listen-udp (default 127.0.0.1)' })),
      filter: Type.Optional(Type.String({ minLength: 1, description: 'BPF filter for --interface (default: GRE, and UDP to the VXLAN and Geneve ports)' })),
      maxDevices: Type.Optional(Type.Integer({ minimum: 1, maximum: 1 << 24, description: 'device table capacity (default 65536)' })),
      maxFlows: Type.Optional(Type.Integer({ minimum: 1, maximum: 1 << 26, description: 'distinct flows per interval (default 1048576)' })),
      maxDestinations: Type.Optional(Type.Integer({ minimum: 1, maximum: 1 << 26, description: 'distinct (device, far end, port) per interval (default 1048576)' })),
      idleIntervals: Type.Optional(Type.Integer({ minimum: 1, maximum: 1 << 20, description: 'intervals without traffic before a device gives its slot back (default 10)' })),
      maxTimeSkew: Type.Optional(Type.Integer({ minimum: 1, maximum: 2_000_000_000, description: 'seconds a frame may be stamped away from the open interval (default 86400)' })),
      top: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, description: 'top destinations per record (default 10)' })),
      contacts: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, description: 'contacts per record (default 16)' })),
    }, { additionalProperties: false, description: 'the collector\'s capture and capacity settings (each has its collect flag)' })),
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
      db: Type.Optional(Type.String({ minLength: 1, description: 'the SQLite file of control serve, keys and import' })),
      enforcer: Type.Optional(Type.Enum(['none', 'nft', 'upstream'] as const, { description: 'what control serve enforces through (default none)' })),
      nftTable: Type.Optional(Type.String({ minLength: 1, description: "with enforcer nft: the inet table it owns (default 'tapwatch')" })),
      nftNetns: Type.Optional(Type.String({ minLength: 1, description: 'with enforcer nft: the network namespace nft and ip run in' })),
      upstream: Type.Optional(Type.Object({
        url: Type.String({ pattern: '^https?://', description: 'its API root, e.g. https://g.api.soracom.io/v1' }),
        keyId: Type.String({ minLength: 1, description: 'its authKeyId (the authKey stays in TAPWATCH_UPSTREAM_KEY)' }),
      }, { additionalProperties: false, description: 'with enforcer upstream: another SORACOM-compatible API' })),
      rateLimit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000, description: 'requests per second per key (default 200)' })),
      loginRate: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'logins per second per address and per authKeyId (default 1)' })),
      maxConnections: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'connections at once (default 1000)' })),
      auditRetentionDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 36_500, description: 'audit rows older than this are deleted (default 90)' })),
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
