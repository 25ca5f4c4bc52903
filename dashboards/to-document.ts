// An InspectionRecord as a document of tapwatch-inspection-*: the record exactly as the collector wrote it (the
// Junction / nDPI names traffic.statistics.* and detected.protos kept, so SORACOM-style dashboards work on it), plus
// the ECS fields that Kibana's network views and other ECS-aware tools look for.

import type { InspectionRecord } from '../collector/inspection-record.js';
import type { AnomalyEvent } from '../analyzer/anomaly-event.js';
import { ANOMALIES_INDEX, ECS_VERSION, INSPECTION_INDEX_PREFIX } from './templates.js';

/**
 * The daily index of the interval's start (UTC), e.g. tapwatch-inspection-2026.01.01, or with a namespace
 * (e.g. 'staging') tapwatch-inspection-staging-2026.01.01. Chosen by event time, not by arrival time, so a replayed
 * record goes to the index it went to the first time, where its id makes it a no-op.
 */
export function inspectionIndex(record: InspectionRecord, namespace?: string): string {
  const day = new Date(record.interval.start).toISOString().slice(0, 10).replaceAll('-', '.');
  return `${INSPECTION_INDEX_PREFIX}${namespace ? `${namespace}-` : ''}${day}`;
}

/** Device id + interval start: one document per device and interval however often the record is sent. */
export function inspectionDocumentId(record: InspectionRecord): string {
  return `${record.device.id}@${new Date(record.interval.start).toISOString()}`;
}

export type InspectionDocument = ReturnType<typeof inspectionDocument>;

export function inspectionDocument(record: InspectionRecord) {
  const { start, end } = record.interval;
  const stats = record['traffic.statistics'];
  return {
    ...record,
    '@timestamp': start,
    ecs: { version: ECS_VERSION },
    event: {
      kind: 'metric',
      category: ['network'],
      type: ['info'],
      module: 'tapwatch',
      dataset: 'tapwatch.inspection',
      start,
      end,
      duration: (Date.parse(end) - Date.parse(start)) * 1e6, // ECS durations are nanoseconds
    },
    observer: { type: 'sensor', product: 'tapwatch' },
    // The device is the source: ECS source.bytes/packets are what the source sent, i.e. the uplink.
    source: { ip: record.device.ip, bytes: record.uplink.bytes, packets: record.uplink.packets },
    network: { type: record.device.ip.includes(':') ? 'ipv6' : 'ipv4', bytes: stats['ip.bytes'], packets: stats['ip.packets'] },
    // Lets one term query on related.ip find a device's records and the records of every device that talked to an
    // address, without a nested query on destinations.top.
    related: { ip: [...new Set([record.device.ip, ...record.destinations.top.map((d) => d.ip)])] },
  };
}

const SEVERITY_SCORE: Record<AnomalyEvent['severity'], number> = { low: 21, medium: 47, high: 73, critical: 99 };

/** AnomalyEvents go to one index: alarm transitions are few, unlike inspection records. */
export function anomalyIndex(): string {
  return ANOMALIES_INDEX;
}

/** The event's own id (device, behavior, time, transition): a redelivered event overwrites itself. */
export function anomalyDocumentId(e: AnomalyEvent): string {
  return e.event_id;
}

/** An AnomalyEvent as a tapwatch-anomalies document: the event as the analyzer wrote it, plus ECS fields. */
export function anomalyDocument(e: AnomalyEvent) {
  return {
    ...e,
    ecs: { version: ECS_VERSION },
    // ECS event.severity is numeric; the named severity stays in the event's own `severity`.
    event: { kind: 'alert', category: ['network'], type: ['info'], module: 'tapwatch', dataset: 'tapwatch.anomaly', id: e.event_id, severity: SEVERITY_SCORE[e.severity] },
    source: { ip: e.device.ip },
  };
}
