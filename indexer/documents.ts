// An InspectionRecord as a document of tapwatch-inspection-*: the record exactly as the collector wrote it (the
// Junction / nDPI names traffic.statistics.* and detected.protos kept, so SORACOM-style dashboards work on it), plus
// the ECS fields that Kibana's network views and other ECS-aware tools look for.

import type { InspectionRecord } from '../contracts/inspection-record.js';
import type { ActionEvent, ActionResult } from '../contracts/action-event.js';
import type { AnomalyEvent } from '../contracts/anomaly-event.js';
import { ACTIONS_INDEX, ANOMALIES_INDEX, ECS_VERSION, INSPECTION_INDEX_PREFIX } from './templates.js';

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

/**
 * The times a document carries besides @timestamp (the time of the traffic it is about), as ECS names them:
 * `ingested`, when the indexer indexed it (event.ingested); `created`, when the event was decided (event.created),
 * for a document whose source event does not carry that time itself.
 */
export interface DocumentTimes {
  ingested: Date;
  created?: Date;
}

export type InspectionDocument = ReturnType<typeof inspectionDocument>;

/** @timestamp is the interval's start: the traffic's own time, so a replayed capture lands where it happened. */
export function inspectionDocument(record: InspectionRecord, times: DocumentTimes) {
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
      ingested: times.ingested.toISOString(),
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

/**
 * An AnomalyEvent as a tapwatch-anomalies document: the event as the analyzer wrote it, plus ECS fields. Its
 * @timestamp is the event's own, the start of the interval the anomaly is about; event.created, when the analyzer
 * decided, is `times.created` (the AnomalyEvent does not carry it: the Kafka message's timestamp is that moment).
 */
export function anomalyDocument(e: AnomalyEvent, times: DocumentTimes) {
  return {
    ...e,
    ecs: { version: ECS_VERSION },
    // ECS event.severity is numeric; the named severity stays in the event's own `severity`.
    event: {
      kind: 'alert',
      category: ['network'],
      type: ['info'],
      module: 'tapwatch',
      dataset: 'tapwatch.anomaly',
      id: e.event_id,
      severity: SEVERITY_SCORE[e.severity],
      ...(times.created && { created: times.created.toISOString() }),
      ingested: times.ingested.toISOString(),
    },
    source: { ip: e.device.ip },
  };
}

/**
 * The time of the interval an anomaly is about, from its event_id (device/behavior/time/transition[/severity], the
 * format the AnomalyEvent schema documents): the last part that is a time, read from the right because a device id
 * may itself contain '/'. Undefined when there is none. For ActionEvents written before their anomaly ref carried
 * the anomaly's @timestamp.
 */
export function anomalyTimeOfId(eventId: string): string | undefined {
  const time = eventId.split('/').reverse().find((p) => /^\d{4}-\d{2}-\d{2}T/.test(p) && !Number.isNaN(Date.parse(p)));
  return time === undefined ? undefined : new Date(time).toISOString();
}

/** ECS event.outcome: only an applied action succeeded and only a failed one failed; a decision not to act has no outcome. */
const OUTCOME: Record<ActionResult, 'success' | 'failure' | 'unknown'> = {
  applied: 'success',
  failed: 'failure',
  'dry-run': 'unknown',
  'skipped-allowlist': 'unknown',
  'skipped-cooldown': 'unknown',
  'skipped-no-imsi': 'unknown',
  'suppressed-breaker': 'unknown',
};

/** ActionEvents go to one index: the responder's decisions are fewer still than alarm transitions. */
export function actionIndex(): string {
  return ACTIONS_INDEX;
}

/** action_id + result: a redelivered event overwrites itself, and a retry that failed then succeeded keeps both. */
export function actionDocumentId(e: ActionEvent): string {
  return `${e.action_id}/${e.result}`;
}

/**
 * An ActionEvent as a tapwatch-actions document. Not the event spread as-is, as anomalies are: the action
 * type goes to ECS event.action, and the object `action` holds what the responder did (result, rule,
 * parameters, previous state), which is where the dashboards look.
 *
 * @timestamp is the time of the traffic the action answers, the interval of its anomaly, so that an anomaly and its
 * action fall in the same time window whatever clock the responder ran on (a replayed capture's actions are decided
 * on the wall clock, months after the traffic). event.created is the decision's own time. An action with no anomaly
 * (a release when its time-to-live ran out) is about no traffic: its @timestamp is the decision's time.
 */
export function actionDocument(e: ActionEvent, times: DocumentTimes) {
  const a = e.anomaly;
  return {
    '@timestamp': (a && (a['@timestamp'] ?? anomalyTimeOfId(a.event_id))) ?? e['@timestamp'],
    ecs: { version: ECS_VERSION },
    event: {
      kind: 'event',
      category: ['network'],
      type: ['change'],
      module: 'tapwatch',
      dataset: 'tapwatch.action',
      id: e.action_id,
      action: e.action,
      reason: e.reason,
      outcome: OUTCOME[e.result],
      created: e['@timestamp'],
      ingested: times.ingested.toISOString(),
    },
    schema: e.schema,
    device: e.device,
    source: { ip: e.device.ip },
    action: {
      actor: e.actor,
      result: e.result,
      enforcer: e.enforcer,
      dry_run: e.dry_run,
      rule: e.rule,
      anomaly_id: a?.event_id,
      speed_class: e.speed_class,
      group_id: e.group_id,
      previous: e.previous,
      releases: e.releases,
      expires_at: e.expires_at,
    },
    anomaly: a && { behavior: a.behavior, detector: a.detector, severity: a.severity, metric: a.metric, observed: a.observed, threshold: a.threshold },
    error: e.error,
  };
}
