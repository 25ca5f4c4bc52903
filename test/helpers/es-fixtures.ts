// Shared by the *.es.test.ts files: inspection records from real captures, how they are written to the node, and
// sample anomaly / action documents in the shapes the analyzer and the control API write.

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { Client, estypes } from '@elastic/elasticsearch';
import type { InspectionRecord } from '../../contracts/inspection-record.js';
import { ACTION_SCHEMA_ID, anomalyRef, type ActionEvent } from '../../contracts/action-event.js';
import { EVENT_SCHEMA_ID, type Evidence, type AnomalyEvent } from '../../contracts/anomaly-event.js';
import { actionDocument, anomalyDocument, inspectionDocument, inspectionDocumentId, inspectionIndex, type DocumentTimes } from '../../indexer/documents.js';

export const root = join(import.meta.dirname, '..', '..');

/** `tapwatch collect` (the build in dist/) on a capture, with an inventory (by default the demo's, so some records carry IMSI/IMEI/group). */
export function collect(pcap: string, interval: number, inventory = join(root, 'fixtures', 'demo', 'inventory.csv')): InspectionRecord[] {
  const args = ['collect', '--pcap', pcap, '--inventory', inventory, '--interval', String(interval), '--out', '-', '--log-level', 'silent'];
  const out = execFileSync('node', [join(root, 'dist', 'cli', 'tapwatch.js'), ...args], { encoding: 'utf8' });
  return out.trim().split('\n').map((line) => JSON.parse(line) as InspectionRecord);
}

export const indicesOf = (records: InspectionRecord[], namespace: string) => [...new Set(records.map((r) => inspectionIndex(r, namespace)))];

/** Bulk-writes the records' documents with `op` and refreshes; returns the per-item results. */
export async function bulkRecords(client: Client, op: 'index' | 'create', records: InspectionRecord[], namespace: string): Promise<estypes.BulkResponseItem[]> {
  const operations = records.flatMap((r) => [{ [op]: { _index: inspectionIndex(r, namespace), _id: inspectionDocumentId(r) } }, inspectionDocument(r, indexedNow())]);
  const res = await client.bulk({ operations, refresh: true });
  return res.items.map((item) => item[op]!);
}

/** Full field name → type, for every field that has a type, from mapping properties (as written, or as ES returns them). */
export function fieldTypes(properties: Record<string, estypes.MappingProperty>, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, m] of Object.entries(properties)) {
    // Dotted names ('traffic.statistics') and the objects ES expands them into give the same full names.
    if (m.type !== undefined && m.type !== 'object') out[prefix + name] = m.type;
    if ('properties' in m && m.properties) Object.assign(out, fieldTypes(m.properties, `${prefix}${name}.`));
  }
  return out;
}

/** The fields a document writes, in the shape of mapping properties, so that fieldTypes() lists them ('value' for a
 *  leaf, an array of objects merged into one object); undefined values and empty arrays write no field. */
export function asMapping(doc: object): Record<string, estypes.MappingProperty> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc)) {
    // Elasticsearch maps no field for an empty array: it writes nothing.
    if (v === undefined || (Array.isArray(v) && v.length === 0)) continue;
    const objects = (Array.isArray(v) ? v : [v]).filter((x) => x !== null && typeof x === 'object');
    out[k] = objects.length ? { properties: Object.assign({}, ...objects.map(asMapping)) } : { type: 'value' };
  }
  return out as Record<string, estypes.MappingProperty>;
}

/** The times the indexer gives a document it indexes now. */
export const indexedNow = (): DocumentTimes => ({ ingested: new Date() });

const sampleDevice = { id: 'meter-001', ip: '10.128.0.1', imsi: '440100000000001', group: 'meters' };

/** An AnomalyEvent as the analyzer writes it; `over` replaces top-level fields (event_id follows them unless given). */
export function sampleAnomalyEvent(over: Partial<AnomalyEvent> = {}): AnomalyEvent {
  const e: AnomalyEvent = {
    schema: EVENT_SCHEMA_ID,
    event_id: '',
    '@timestamp': '2026-01-01T00:05:00.000Z',
    interval_seconds: 60,
    device: sampleDevice,
    detector: 'device-baseline',
    basis: 'device',
    warmup: { complete: true, seconds: 172_800, needed: 86_400 },
    behavior: 'uplink-bytes-spike',
    metric: 'bytes_out',
    comparison: 'greater-than',
    observed: 912_000,
    threshold: 48_000.5,
    unit: 'per minute',
    baseline: { scope: 'device', statistic: 'mad', value: 48_000.5, median: 12_000, mad: 4_000, time_of_day: '00-06', samples: 1440, group: 'meters', devices: 24 },
    score: 19,
    severity: 'high',
    alarm: 'in-alarm',
    datapoints: 3,
    alarm_since: '2026-01-01T00:03:00.000Z',
    suspected: 'data exfiltration',
    summary: 'meter-001 sent 19x its usual uplink bytes',
    ...over,
  };
  return { ...e, event_id: e.event_id || `${e.device.id}/${e.behavior}/${e['@timestamp']}/${e.alarm}` };
}

/** One evidence of each kind an evidence behavior writes (contracts/anomaly-event.ts), as on an AnomalyEvent. */
export const SAMPLE_EVIDENCE: readonly Evidence[] = [
  { kind: 'scan', window_seconds: 3600, failed_hosts: 300, answered_hosts: 3, refused_hosts: 2, failed_per_minute: 21.4, ports: [23, 2323], sample: [{ ip: '198.51.100.7', port: 23, transport: 'tcp' }] },
  { kind: 'beacon', destination: { ip: '203.0.113.9', port: 443, transport: 'tcp', name: 'c2.example', name_source: 'sni' }, period_seconds: 60.2, jitter: 0.05, contacts: 12, span_seconds: 662, session: 'per-contact', group_devices: 0 },
  { kind: 'dns-tunnel', domain: 'tunnel.example', window_seconds: 3600, queries: 40, distinct_names: 38, label_max: 56, entropy: 4.7, unusual_types: 40, signals: ['labels up to 56 characters'], resolvers: ['10.0.0.53'], examples: ['a1b2c3.t.tunnel.example'] },
  { kind: 'flood', target: { ip: '192.0.2.80', port: 80, transport: 'udp', name: 'victim.example' }, packets_per_second: 2974, one_way_ratio: 900, new_to_device: true },
  { kind: 'destinations', window_seconds: 3600, bytes_up: 45_000_000, destinations: [{ ip: '193.42.235.4', port: 443, transport: 'tcp', name: 'drop.example', name_source: 'dns', bytes_up: 45_000_000, bytes_down: 90_000 }] },
  { kind: 'corroborated', behaviors: ['scan', 'dns-tunnel'] },
  { kind: 'volume', top: [{ ip: '203.0.113.10', port: 443, transport: 'tcp', packets: 900, bytes: 912_000 }] },
];

/** A tapwatch-anomalies document, as the indexer makes it from sampleAnomalyEvent(over), decided a second after its interval. */
export function sampleAnomaly(over: Partial<AnomalyEvent> = {}) {
  const e = sampleAnomalyEvent(over);
  return anomalyDocument(e, { ...indexedNow(), created: new Date(Date.parse(e['@timestamp']) + 1000) });
}

/** An ActionEvent answering `anomaly` (by default sampleAnomalyEvent()); `over` replaces top-level fields. */
export function sampleActionEvent(over: Partial<ActionEvent> = {}, anomaly: AnomalyEvent = sampleAnomalyEvent()): ActionEvent {
  return {
    schema: ACTION_SCHEMA_ID,
    action_id: '0123456789abcdef0123456789abcdef',
    // Decided later than the traffic it answers, as when a capture is replayed.
    '@timestamp': '2026-12-02T10:00:00.000Z',
    device: anomaly.device,
    action: 'throttle',
    result: 'applied',
    reason: 'uplink-bytes-spike',
    rule: 'medium',
    anomaly: anomalyRef(anomaly),
    speed_class: 's1.minimum',
    actor: 'analyzer',
    enforcer: 'soracom-api',
    dry_run: false,
    ...over,
  };
}

/** A tapwatch-actions document, as the indexer makes it from sampleActionEvent(over, anomaly). */
export function sampleAction(over: Partial<ActionEvent> = {}, anomaly?: AnomalyEvent) {
  return actionDocument(sampleActionEvent(over, anomaly), indexedNow());
}
