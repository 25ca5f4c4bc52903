// The AnomalyEvent: one per alarm transition of one behavior on one device, with what was seen, what
// it was judged against (a fixed line, the device's own history, its group), the evidence an operator
// can act on (which hosts failed, the beacon's period, the DNS domain and its names, the destinations),
// the device's warm-up state, and a sentence. Defined once: the schema gives the type and the validator;
// the responder, the indexer and the dashboards read this shape.

import { Type, type Static } from 'typebox';
import { DestinationSchema, TRANSPORTS, NAME_SOURCES } from './inspection-record.js';
import { SEVERITIES } from './severity.js';
import { publishedSchema, validator } from './validate.js';

export const EVENT_SCHEMA_ID = 'tapwatch.anomaly.v2';

/** How the observation was judged: a fixed line (evidence), the device's own history, its group's percentile, the group's isolation forest. */
export const DETECTORS = ['evidence', 'static', 'device-baseline', 'group-percentile', 'fleet-model'] as const;
export type Detector = (typeof DETECTORS)[number];

/** Which comparison applies: absolute (acts from the first record), the device's own baseline (after warm-up), its group (during warm-up). */
export const BASES = ['absolute', 'device', 'group'] as const;

const Far = Type.Object(
  {
    ip: Type.String(),
    port: Type.Integer({ minimum: 0, maximum: 65535 }),
    transport: Type.Enum(TRANSPORTS),
    name: Type.Optional(Type.String()),
    name_source: Type.Optional(Type.Enum(NAME_SOURCES)),
  },
  { additionalProperties: false },
);

export const EvidenceSchema = Type.Union([
  Type.Object(
    {
      kind: Type.Literal('scan'),
      window_seconds: Type.Integer({ minimum: 1 }),
      failed_hosts: Type.Integer({ minimum: 0, description: 'distinct hosts new to the device, without a name, whose first contact failed' }),
      answered_hosts: Type.Integer({ minimum: 0, description: 'distinct hosts new to the device that answered' }),
      refused_hosts: Type.Integer({ minimum: 0 }),
      failed_per_minute: Type.Number({ minimum: 0 }),
      ports: Type.Array(Type.Integer({ minimum: 0, maximum: 65535 }), { maxItems: 8, description: 'ports of the failed sample, most frequent first' }),
      sample: Type.Array(Far, { maxItems: 8 }),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      kind: Type.Literal('beacon'),
      destination: Far,
      period_seconds: Type.Number({ minimum: 0 }),
      jitter: Type.Number({ minimum: 0, description: 'MAD of the intervals between contacts over their median' }),
      contacts: Type.Integer({ minimum: 0 }),
      span_seconds: Type.Number({ minimum: 0 }),
      session: Type.Enum(['persistent', 'per-contact'] as const, { description: 'one long session with activity bursts, or a new connection per contact' }),
      group_devices: Type.Integer({ minimum: 0, description: 'devices of the group seen using this destination' }),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      kind: Type.Literal('dns-tunnel'),
      domain: Type.String(),
      window_seconds: Type.Integer({ minimum: 1 }),
      queries: Type.Integer({ minimum: 0 }),
      distinct_names: Type.Integer({ minimum: 0 }),
      label_max: Type.Integer({ minimum: 0 }),
      entropy: Type.Number({ minimum: 0 }),
      unusual_types: Type.Integer({ minimum: 0 }),
      signals: Type.Array(Type.String(), { description: 'what makes the names look like data: long labels, unusual types, high entropy' }),
      resolvers: Type.Array(Type.String(), { maxItems: 4 }),
      examples: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 3 }),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      kind: Type.Literal('flood'),
      target: Far,
      packets_per_second: Type.Number({ minimum: 0 }),
      one_way_ratio: Type.Number({ minimum: 0, description: 'packets to the target per packet from it' }),
      new_to_device: Type.Boolean(),
      ports: Type.Optional(Type.Integer({ minimum: 2, description: "distinct (transport, port) far ends of the target host the packets went to, when more than one (a random-port flood); target's port is then its busiest" })),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      kind: Type.Literal('destinations'),
      window_seconds: Type.Integer({ minimum: 1 }),
      bytes_up: Type.Integer({ minimum: 0 }),
      destinations: Type.Array(Type.Object({ ...Far.properties, bytes_up: Type.Integer({ minimum: 0 }), bytes_down: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }), { maxItems: 8 }),
    },
    { additionalProperties: false, description: 'destinations new to the device (and its group): what an exfiltration or a new-destination alarm rests on' },
  ),
  Type.Object(
    {
      kind: Type.Literal('corroborated'),
      behaviors: Type.Array(Type.String(), { minItems: 2 }),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      kind: Type.Literal('volume'),
      top: Type.Array(DestinationSchema, { maxItems: 5, description: 'the record\'s top destinations' }),
    },
    { additionalProperties: false },
  ),
]);
export type Evidence = Static<typeof EvidenceSchema>;

export const EventBaselineSchema = Type.Object(
  {
    scope: Type.Enum(['static', 'device', 'group'] as const, { description: 'what the observed value was compared with' }),
    statistic: Type.String({ description: 'pNN, mad, or value for a fixed line' }),
    value: Type.Number({ description: 'the value of the statistic (the pNN itself; for mad, median + mads x MAD)' }),
    median: Type.Optional(Type.Number({ description: "the device's own median for this metric, when learned" })),
    mad: Type.Optional(Type.Number({ minimum: 0 })),
    time_of_day: Type.Optional(Type.String()),
    samples: Type.Optional(Type.Integer({ minimum: 0 })),
    group: Type.Optional(Type.String()),
    devices: Type.Optional(Type.Integer({ minimum: 0, description: 'group scope: devices the percentile was taken over' })),
  },
  { additionalProperties: false },
);
export type EventBaseline = Static<typeof EventBaselineSchema>;

export const AnomalyEventSchema = Type.Object(
  {
    schema: Type.Literal(EVENT_SCHEMA_ID),
    event_id: Type.String({ minLength: 1, description: 'device/behavior/time/alarm/severity: the same transition always has the same id' }),
    '@timestamp': Type.String({ format: 'date-time', description: 'start of the interval whose record made the transition: the time of the traffic' }),
    interval_seconds: Type.Integer({ minimum: 1 }),
    device: Type.Object(
      { id: Type.String({ minLength: 1 }), ip: Type.String(), imsi: Type.Optional(Type.String()), group: Type.Optional(Type.String()) },
      { additionalProperties: false },
    ),
    detector: Type.Enum(DETECTORS),
    basis: Type.Enum(BASES),
    warmup: Type.Object(
      {
        complete: Type.Boolean(),
        seconds: Type.Integer({ minimum: 0, description: 'history the device has' }),
        needed: Type.Integer({ minimum: 0, description: 'history its own baseline needs' }),
      },
      { additionalProperties: false },
    ),
    behavior: Type.String({ minLength: 1 }),
    metric: Type.String({ minLength: 1 }),
    comparison: Type.Enum(['greater-than', 'greater-than-equals', 'less-than', 'less-than-equals'] as const),
    observed: Type.Number(),
    threshold: Type.Number(),
    /** What observed is: per minute, per hour, in the window. */
    unit: Type.String(),
    baseline: EventBaselineSchema,
    score: Type.Number({ minimum: 0, description: 'how far past the line: observed / threshold for greater-than' }),
    severity: Type.Enum(SEVERITIES),
    alarm: Type.Enum(['in-alarm', 'alarm-cleared'] as const),
    datapoints: Type.Integer({ minimum: 1, description: 'consecutive records behind the transition' }),
    alarm_since: Type.Optional(Type.String({ format: 'date-time' })),
    suspected: Type.Optional(Type.String()),
    evidence: Type.Optional(EvidenceSchema),
    summary: Type.String({ minLength: 1 }),
  },
  publishedSchema('anomaly-event.v2', 'tapwatch AnomalyEvent', 'One alarm transition (in-alarm or alarm-cleared) of one behavior on one device.'),
);
export type AnomalyEvent = Static<typeof AnomalyEventSchema>;

export const anomalyEvents = validator(AnomalyEventSchema);

/** null when the event matches the schema, else the problems on one line. */
export const eventErrors = (event: unknown): string | null => anomalyEvents.errors(event);

