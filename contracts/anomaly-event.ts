// The AnomalyEvent: one per alarm transition of one behavior on one device, with what was seen,
// what it was compared with and a sentence a person can act on. Defined once here with its JSON
// Schema; the policy, the Elasticsearch indexer and the dashboards read this shape.

import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { METRICS } from '../analyzer/features.js';
import { SEVERITIES } from './rules.schema.js';
import type { Severity } from '../analyzer/rules.js';

export const EVENT_SCHEMA_ID = 'tapwatch.anomaly.v1';

export type Detector = 'static' | 'device-baseline' | 'group-percentile' | 'fleet-model';

export interface EventBaseline {
  /** What the observed value was compared with. */
  scope: 'static' | 'device' | 'group';
  /** pNN, mad, or value for a static threshold. */
  statistic: string;
  /** The value of the statistic (the pNN itself; for mad, median + mads x MAD). */
  value: number;
  /** The device's own median and MAD for this metric (its time-of-day bucket when it has a daily pattern), when learned. */
  median?: number;
  mad?: number;
  time_of_day?: string;
  samples?: number;
  /** group scope: the group and how many devices the percentile was taken over. */
  group?: string;
  devices?: number;
}

export interface AnomalyEvent {
  schema: typeof EVENT_SCHEMA_ID;
  event_id: string;
  '@timestamp': string; // start of the interval whose datapoint made the transition
  interval_seconds: number;
  device: { id: string; ip: string; imsi?: string; group?: string };
  detector: Detector;
  behavior: string;
  metric: string;
  comparison: string;
  observed: number;
  threshold: number;
  baseline: EventBaseline;
  /** observed / threshold for greater-than behaviors, threshold / observed for less-than: how far past the line. */
  score: number;
  severity: Severity;
  alarm: 'in-alarm' | 'alarm-cleared';
  /** Consecutive datapoints behind the transition. */
  datapoints: number;
  /** For alarm-cleared: when the alarm began. */
  alarm_since?: string;
  suspected?: string;
  summary: string;
}

const num = { type: 'number' } as const;

export const ANOMALY_EVENT_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://tapwatch.dev/schema/anomaly-event.v1.json',
  title: 'tapwatch AnomalyEvent',
  description: 'One alarm transition (in-alarm or alarm-cleared) of one behavior on one device.',
  type: 'object',
  additionalProperties: false,
  required: ['schema', 'event_id', '@timestamp', 'interval_seconds', 'device', 'detector', 'behavior', 'metric', 'comparison', 'observed', 'threshold', 'baseline', 'score', 'severity', 'alarm', 'datapoints', 'summary'],
  properties: {
    schema: { const: EVENT_SCHEMA_ID },
    event_id: { type: 'string', minLength: 1, description: 'device/behavior/time/alarm: the same transition always has the same id' },
    '@timestamp': { type: 'string', format: 'date-time' },
    interval_seconds: { type: 'integer', minimum: 1 },
    device: {
      type: 'object',
      additionalProperties: false,
      required: ['id', 'ip'],
      properties: { id: { type: 'string', minLength: 1 }, ip: { type: 'string' }, imsi: { type: 'string' }, group: { type: 'string' } },
    },
    detector: { enum: ['static', 'device-baseline', 'group-percentile', 'fleet-model'] },
    behavior: { type: 'string', minLength: 1 },
    metric: { enum: [...METRICS] },
    comparison: { enum: ['greater-than', 'greater-than-equals', 'less-than', 'less-than-equals'] },
    observed: num,
    threshold: num,
    baseline: {
      type: 'object',
      additionalProperties: false,
      required: ['scope', 'statistic', 'value'],
      properties: {
        scope: { enum: ['static', 'device', 'group'] },
        statistic: { type: 'string' },
        value: num,
        median: num,
        mad: { type: 'number', minimum: 0 },
        time_of_day: { type: 'string' },
        samples: { type: 'integer', minimum: 0 },
        group: { type: 'string' },
        devices: { type: 'integer', minimum: 0 },
      },
    },
    score: { type: 'number', minimum: 0 },
    severity: { enum: [...SEVERITIES] },
    alarm: { enum: ['in-alarm', 'alarm-cleared'] },
    datapoints: { type: 'integer', minimum: 1 },
    alarm_since: { type: 'string', format: 'date-time' },
    suspected: { type: 'string' },
    summary: { type: 'string', minLength: 1 },
  },
} as const;

let validator: ValidateFunction | null = null;

/** null when the event matches the schema, else the errors on one line. */
export function eventErrors(event: unknown): string | null {
  if (validator === null) {
    const ajv = new Ajv({ allErrors: true, strict: true });
    addFormats.default(ajv);
    validator = ajv.compile(ANOMALY_EVENT_SCHEMA);
  }
  if (validator(event)) return null;
  return (validator.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
}
