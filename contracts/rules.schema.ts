// The analyzer's configuration file (analyzer/rules.default.json is the default). Two kinds of
// behavior share one list and one alarm lifecycle:
// - metric rules in the shape of AWS IoT Device Defender Detect (metric, criteria.comparisonOperator,
//   value.count and/or statisticalThreshold, consecutiveDatapointsToAlarm/ToClear), for what is
//   relative: a device against its own history (after its warm-up) or its group;
// - evidence behaviors (scan, beacon, dns-tunnel, flood, exfiltration, new-destination, corroborated),
//   judged on what the traffic is, with the parameters below; those with an absolute meaning act
//   from a device's first record.
// Metric values are per minute of traffic whatever the records' interval (the analyzer takes it from
// each record), so the file says nothing about the collector's interval.

import { Type, type Static } from 'typebox';
import { SEVERITIES } from './severity.js';

export { SEVERITIES };
export const COMPARISONS = ['greater-than', 'greater-than-equals', 'less-than', 'less-than-equals'] as const;

/** The metrics of metric rules (analyzer/features.ts computes them). */
export const METRICS = [
  'bytes_out', 'bytes_in', 'packets_out', 'packets_in', 'packets_out_excess', 'avg_packet_size', 'destinations',
  'destination_ports', 'dns_queries', 'protocol_mix_shift', 'fleet_outlier',
] as const;

const PositiveInt = (o: object = {}) => Type.Integer({ minimum: 1, ...o });
const Share = (o: object = {}) => Type.Number({ minimum: 0, maximum: 1, ...o });
const Seconds = (o: object = {}) => Type.Integer({ minimum: 60, maximum: 7 * 86400, ...o });

const datapoints = {
  consecutiveDatapointsToAlarm: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  consecutiveDatapointsToClear: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
};

const words = {
  name: Type.String({ pattern: '^[a-z0-9][a-z0-9-]*$', maxLength: 64 }),
  description: Type.Optional(Type.String()),
  severity: Type.Enum(SEVERITIES, { description: 'severity of an alarm' }),
  suspected: Type.Optional(Type.String()),
  advice: Type.String({ minLength: 1 }),
};

export const MetricRuleSchema = Type.Object(
  {
    ...words,
    metric: Type.Enum(METRICS),
    criteria: Type.Object(
      {
        comparisonOperator: Type.Enum(COMPARISONS),
        value: Type.Optional(Type.Object({ count: Type.Number({ minimum: 0 }) }, { additionalProperties: false })),
        statisticalThreshold: Type.Optional(
          Type.Object(
            {
              // p0 … p100 with optional decimals, as Device Defender writes them (p99, p99.9), or mad.
              statistic: Type.String({ pattern: '^(p(100|[0-9]{1,2}(\\.[0-9]+)?)|mad)$' }),
              scope: Type.Enum(['device', 'group'] as const, { description: "device: its own history (its group's while it warms up); group: its group's healthy devices in the previous minute" }),
              multiplier: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'threshold = multiplier x the percentile' })),
              mads: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'with statistic mad: threshold = median + mads x MAD' })),
            },
            { additionalProperties: false },
          ),
        ),
        ...datapoints,
      },
      { additionalProperties: false },
    ),
    suppressWhenGroupShare: Type.Optional(Share({ description: 'a breach shared by at least this share of the group in the previous minute is fleet-wide, not this device' })),
  },
  { additionalProperties: false },
);

const ScanParams = Type.Object(
  {
    kind: Type.Literal('scan'),
    windowSeconds: Seconds(),
    benignSuccess: Share({ description: 'TRW θ0: chance a benign first contact is answered' }),
    scannerSuccess: Share({ description: 'TRW θ1: chance a scanner\'s first contact is answered' }),
    falseAlarmRate: Share({ description: 'TRW α' }),
    detectionRate: Share({ description: 'TRW β' }),
    sweepHosts: PositiveInt({ description: 'failed hosts in the window that make a sweep (strong severity)' }),
    sweepFailureShare: Share({ description: 'and the share of first contacts that failed' }),
  },
  { additionalProperties: false },
);

const BeaconParams = Type.Object(
  {
    kind: Type.Literal('beacon'),
    windowSeconds: Seconds(),
    minContacts: Type.Integer({ minimum: 4, maximum: 64 }),
    maxJitter: Type.Number({ minimum: 0, maximum: 1, description: 'MAD of the intervals between contacts over their median' }),
    minPeriodSeconds: Type.Number({ minimum: 0.1 }),
    maxPeriodSeconds: Type.Number({ minimum: 1 }),
  },
  { additionalProperties: false },
);

const DnsTunnelParams = Type.Object(
  {
    kind: Type.Literal('dns-tunnel'),
    windowSeconds: Seconds(),
    minDistinctNames: PositiveInt({ description: 'distinct names under one registered domain in the window' }),
    strongDistinctNames: PositiveInt(),
    longLabel: Type.Integer({ minimum: 8, maximum: 63, description: 'a label at least this long carries data' }),
    unusualShare: Share({ description: 'share of TXT/NULL/CNAME/MX/ANY/other queries that carries data' }),
    dataLabel: Type.Integer({
      minimum: 1, maximum: 63,
      description: 'the unusual-type share counts only when some label is at least this long: look-up services (IP-to-ASN, DNS blocklists) ask TXT for names of address octets and AS numbers, which carry no data',
    }),
    highEntropy: Type.Number({ minimum: 0, maximum: 8, description: 'pooled entropy (bits per character) of the subdomains' }),
    minEntropyCharacters: PositiveInt({ description: 'characters the pooled entropy must rest on' }),
  },
  { additionalProperties: false },
);

const FloodParams = Type.Object(
  {
    kind: Type.Literal('flood'),
    packetsPerSecond: Type.Number({ minimum: 1, description: 'one-way packets per second to one host new to the device' }),
    strongPacketsPerSecond: Type.Number({ minimum: 1 }),
    oneWayRatio: Type.Number({ minimum: 1, description: 'packets to the host per packet back, at least' }),
  },
  { additionalProperties: false },
);

const ExfiltrationParams = Type.Object(
  {
    kind: Type.Literal('exfiltration'),
    windowSeconds: Seconds(),
    bytes: PositiveInt({ description: 'bytes uploaded in the window to destinations new to the device and its group' }),
    strongBytes: PositiveInt(),
  },
  { additionalProperties: false },
);

const NewDestinationParams = Type.Object(
  {
    kind: Type.Literal('new-destination'),
    windowSeconds: Seconds(),
    minRecords: PositiveInt({ description: 'records a new unnamed destination must appear in within the window' }),
  },
  { additionalProperties: false },
);

const CorroboratedParams = Type.Object(
  {
    kind: Type.Literal('corroborated'),
    minBehaviors: Type.Integer({ minimum: 2, maximum: 10, description: 'evidence behaviors in alarm on the device at once' }),
  },
  { additionalProperties: false },
);

/** The parameters of each kind of evidence behavior. */
export const EVIDENCE_PARAMS = {
  scan: ScanParams,
  beacon: BeaconParams,
  'dns-tunnel': DnsTunnelParams,
  flood: FloodParams,
  exfiltration: ExfiltrationParams,
  'new-destination': NewDestinationParams,
  corroborated: CorroboratedParams,
} as const;
export const EVIDENCE_KINDS = Object.keys(EVIDENCE_PARAMS) as (keyof typeof EVIDENCE_PARAMS)[];
export const EvidenceParamsSchema = Type.Union([ScanParams, BeaconParams, DnsTunnelParams, FloodParams, ExfiltrationParams, NewDestinationParams, CorroboratedParams]);
export type EvidenceParams = Static<typeof EvidenceParamsSchema>;

export const EvidenceBehaviorSchema = Type.Object(
  {
    ...words,
    strongSeverity: Type.Optional(Type.Enum(SEVERITIES, { description: 'severity when the evidence is strong (a signature-like pattern); default: severity' })),
    evidence: EvidenceParamsSchema,
    criteria: Type.Optional(Type.Object(datapoints, { additionalProperties: false })),
  },
  { additionalProperties: false },
);

export const AnalyzerConfigSchema = Type.Object(
  {
    $comment: Type.Optional(Type.String()),
    warmupSeconds: Type.Integer({ minimum: 60, maximum: 30 * 86400, description: 'history a device needs before its own baseline is used; until then device-scope rules compare it with its group' }),
    warmupSamples: Type.Integer({ minimum: 8, maximum: 4032, description: 'records kept (evenly spread over the warm-up) to compute the baseline from' }),
    timeOfDay: Type.Object(
      {
        buckets: Type.Union([Type.Literal(1), Type.Literal(2), Type.Literal(3), Type.Literal(4), Type.Literal(6), Type.Literal(8), Type.Literal(12), Type.Literal(24)], { description: 'equal slices of the day' }),
        utcOffsetMinutes: Type.Integer({ minimum: -840, maximum: 840 }),
        minPatternStrength: Type.Number({ minimum: 0, description: 'bucket medians this many all-day spreads apart make a metric time-of-day aware' }),
        minBucketSamples: PositiveInt(),
      },
      { additionalProperties: false },
    ),
    baseline: Type.Object(
      { gain: Type.Number({ exclusiveMinimum: 0, maximum: 0.5 }), gateMads: Type.Number({ minimum: 1 }), relearnAfter: PositiveInt() },
      { additionalProperties: false },
    ),
    destinations: Type.Object(
      {
        capacity: Type.Integer({ minimum: 4, maximum: 4096, description: 'destinations remembered per device, by name or address (segmented LRU)' }),
        commonShare: Share({ description: 'a destination used by this share of the group is the fleet\'s' }),
        commonMin: PositiveInt({ description: 'and by at least this many devices' }),
        maxAdoptionsPerRecord: PositiveInt(),
      },
      { additionalProperties: false },
    ),
    protocolMix: Type.Object({ rate: Type.Number({ exclusiveMinimum: 0, maximum: 1 }) }, { additionalProperties: false }),
    fleet: Type.Object(
      {
        trees: Type.Integer({ minimum: 1, maximum: 1000 }),
        sampleSize: Type.Integer({ minimum: 2, maximum: 4096 }),
        trainingVectors: Type.Integer({ minimum: 16, maximum: 1048576 }),
        retrainEveryMinutes: PositiveInt(),
        minGroupDevices: PositiveInt(),
        seed: Type.Integer({ minimum: 0, maximum: 4294967295 }),
      },
      { additionalProperties: false },
    ),
    behaviors: Type.Array(Type.Union([MetricRuleSchema, EvidenceBehaviorSchema]), { minItems: 1 }),
  },
  { $id: 'https://tapwatch.dev/schema/analyzer-config.v2.json', title: 'tapwatch analyzer configuration', additionalProperties: false },
);

export type AnalyzerConfig = Static<typeof AnalyzerConfigSchema>;
export type MetricRule = Static<typeof MetricRuleSchema>;
export type EvidenceBehavior = Static<typeof EvidenceBehaviorSchema>;
export type Behavior = AnalyzerConfig['behaviors'][number];
export const isEvidence = (b: Behavior): b is EvidenceBehavior => 'evidence' in b;
