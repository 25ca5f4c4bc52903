// JSON Schema (draft-07) of the analyzer's configuration file (rules.default.json is the default).
// Behaviors follow AWS IoT Device Defender Detect's shape: metric, criteria.comparisonOperator,
// criteria.value.count or criteria.statisticalThreshold.statistic, durationSeconds,
// consecutiveDatapointsToAlarm / consecutiveDatapointsToClear. rules.ts adds the checks a schema
// cannot express (durations against the interval, MAD only against the device's own history).

import { METRICS } from '../analyzer/features.js';

const positiveInt = { type: 'integer', minimum: 1 } as const;
const share = { type: 'number', minimum: 0, maximum: 1 } as const;

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export const COMPARISONS = ['greater-than', 'greater-than-equals', 'less-than', 'less-than-equals'] as const;
/** p0 … p100 with optional decimals, as Device Defender writes them (p99, p99.9), or mad. */
const STATISTIC_PATTERN = '^(p(100|[0-9]{1,2}(\\.[0-9]+)?)|mad)$';

export const ANALYZER_CONFIG_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://tapwatch.dev/schema/analyzer-config.v1.json',
  title: 'tapwatch analyzer configuration',
  type: 'object',
  additionalProperties: false,
  required: ['intervalSeconds', 'warmupIntervals', 'timeOfDay', 'baseline', 'destinations', 'protocolMix', 'fleet', 'behaviors'],
  properties: {
    $comment: { type: 'string' },
    intervalSeconds: { ...positiveInt, description: 'the inspection interval records are compared at; records of another length are scaled to it' },
    warmupIntervals: { ...positiveInt, maximum: 4032, description: 'records per device before its own baseline is used' },
    timeOfDay: {
      type: 'object',
      additionalProperties: false,
      required: ['buckets', 'utcOffsetMinutes', 'minPatternStrength', 'minBucketSamples'],
      properties: {
        buckets: { type: 'integer', enum: [1, 2, 3, 4, 6, 8, 12, 24], description: 'equal slices of the day' },
        utcOffsetMinutes: { type: 'integer', minimum: -840, maximum: 840 },
        minPatternStrength: { type: 'number', minimum: 0, description: 'bucket medians this many all-day spreads apart make a metric time-of-day aware' },
        minBucketSamples: positiveInt,
      },
    },
    baseline: {
      type: 'object',
      additionalProperties: false,
      required: ['gain', 'gateMads', 'relearnAfter'],
      properties: {
        gain: { type: 'number', exclusiveMinimum: 0, maximum: 0.5 },
        gateMads: { type: 'number', minimum: 1 },
        relearnAfter: positiveInt,
      },
    },
    destinations: {
      type: 'object',
      additionalProperties: false,
      required: ['capacity', 'newForSeconds', 'commonShare', 'commonMin', 'maxAdoptionsPerRecord'],
      properties: {
        capacity: { type: 'integer', minimum: 4, maximum: 4096, description: 'destinations remembered per device (segmented LRU)' },
        newForSeconds: { ...positiveInt, description: 'how long a destination counts as new after its first sighting' },
        commonShare: share,
        commonMin: positiveInt,
        maxAdoptionsPerRecord: positiveInt,
      },
    },
    protocolMix: {
      type: 'object',
      additionalProperties: false,
      required: ['rate'],
      properties: { rate: { type: 'number', exclusiveMinimum: 0, maximum: 1 } },
    },
    fleet: {
      type: 'object',
      additionalProperties: false,
      required: ['trees', 'sampleSize', 'trainingVectors', 'retrainEveryIntervals', 'minGroupDevices', 'seed'],
      properties: {
        trees: { type: 'integer', minimum: 1, maximum: 1000 },
        sampleSize: { type: 'integer', minimum: 2, maximum: 4096 },
        trainingVectors: { type: 'integer', minimum: 16, maximum: 1048576 },
        retrainEveryIntervals: positiveInt,
        minGroupDevices: positiveInt,
        seed: { type: 'integer', minimum: 0, maximum: 4294967295 },
      },
    },
    behaviors: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'metric', 'criteria', 'severity', 'advice'],
        properties: {
          name: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]*$', maxLength: 64 },
          description: { type: 'string' },
          metric: { enum: [...METRICS] },
          criteria: {
            type: 'object',
            additionalProperties: false,
            required: ['comparisonOperator'],
            properties: {
              comparisonOperator: { enum: [...COMPARISONS] },
              value: {
                type: 'object',
                additionalProperties: false,
                required: ['count'],
                properties: { count: { type: 'number', minimum: 0 } },
              },
              statisticalThreshold: {
                type: 'object',
                additionalProperties: false,
                required: ['statistic', 'scope'],
                properties: {
                  statistic: { type: 'string', pattern: STATISTIC_PATTERN },
                  scope: { enum: ['device', 'group'] },
                  multiplier: { type: 'number', exclusiveMinimum: 0, description: 'threshold = multiplier x the percentile' },
                  mads: { type: 'number', exclusiveMinimum: 0, description: 'with statistic mad: threshold = median + mads x MAD' },
                },
              },
              durationSeconds: positiveInt,
              consecutiveDatapointsToAlarm: { type: 'integer', minimum: 1, maximum: 100 },
              consecutiveDatapointsToClear: { type: 'integer', minimum: 1, maximum: 100 },
            },
          },
          suppressWhenGroupShare: { ...share, description: 'a breach shared by at least this share of the group in the previous interval is fleet-wide, not this device' },
          severity: { enum: [...SEVERITIES] },
          suspected: { type: 'string' },
          advice: { type: 'string', minLength: 1 },
        },
      },
    },
  },
} as const;
