// Shared by the *.es.test.ts files: inspection records from real captures, how they are written to the node, and
// sample anomaly / action documents in the shapes the analyzer and the control API write.

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { Client, estypes } from '@elastic/elasticsearch';
import type { InspectionRecord } from '../../contracts/inspection-record.js';
import { inspectionDocument, inspectionDocumentId, inspectionIndex } from '../../indexer/documents.js';

export const root = join(import.meta.dirname, '..', '..');

/** `tapwatch collect` (the build in dist/) on a capture, with the demo inventory (so some records carry IMSI/IMEI/group). */
export function collect(pcap: string, interval: number): InspectionRecord[] {
  const args = ['collect', '--pcap', pcap, '--inventory', join(root, 'fixtures', 'demo', 'inventory.csv'), '--interval', String(interval), '--out', '-', '--log-level', 'silent'];
  const out = execFileSync('node', [join(root, 'dist', 'cli', 'tapwatch.js'), ...args], { encoding: 'utf8' });
  return out.trim().split('\n').map((line) => JSON.parse(line) as InspectionRecord);
}

export const indicesOf = (records: InspectionRecord[], namespace: string) => [...new Set(records.map((r) => inspectionIndex(r, namespace)))];

/** Bulk-writes the records' documents with `op` and refreshes; returns the per-item results. */
export async function bulkRecords(client: Client, op: 'index' | 'create', records: InspectionRecord[], namespace: string): Promise<estypes.BulkResponseItem[]> {
  const operations = records.flatMap((r) => [{ [op]: { _index: inspectionIndex(r, namespace), _id: inspectionDocumentId(r) } }, inspectionDocument(r)]);
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

const sampleDevice = { id: 'meter-001', ip: '10.128.0.1', imsi: '440100000000001', group: 'meters' };

/** A tapwatch-anomalies document (AnomalyEvent + ECS); `over` replaces top-level fields. */
export function sampleAnomaly(over: Record<string, unknown> = {}) {
  return {
    '@timestamp': '2026-01-01T00:05:00.000Z',
    ecs: { version: '8.17.0' },
    event: { kind: 'alert', category: ['network'], type: ['info'], module: 'tapwatch', dataset: 'tapwatch.anomaly', id: 'a1', severity: 73 },
    source: { ip: sampleDevice.ip },
    destination: { ip: '203.0.113.9', port: 8883 },
    network: { transport: 'tcp', protocol: 'mqtts' },
    schema: 'tapwatch.anomaly.v1',
    event_id: 'a1',
    interval_seconds: 60,
    device: sampleDevice,
    detector: 'device-baseline',
    behavior: 'uplink-bytes-spike',
    metric: 'uplink.bytes',
    comparison: 'greater-than',
    observed: 912_000,
    threshold: 48_000.5,
    baseline: { scope: 'device', statistic: 'mad', value: 48_000.5, median: 12_000, mad: 4_000, samples: 1440 },
    score: 19,
    severity: 'high',
    alarm: 'in-alarm',
    datapoints: 3,
    summary: 'meter-001 sent 19x its usual uplink bytes',
    policy: { action: 'throttle', dry_run: true },
    ...over,
  };
}

/** A tapwatch-actions document; `over` replaces top-level fields. */
export function sampleAction(over: Record<string, unknown> = {}) {
  return {
    '@timestamp': '2026-01-01T00:05:01.000Z',
    ecs: { version: '8.17.0' },
    event: { kind: 'event', category: ['network'], type: ['change'], module: 'tapwatch', dataset: 'tapwatch.action', id: 'x1', action: 'throttle', reason: 'uplink-bytes-spike', outcome: 'success' },
    device: sampleDevice,
    source: { ip: sampleDevice.ip },
    action: { actor: 'analyzer', result: 'applied', enforcer: 'soracom-api', dry_run: false, anomaly_id: 'a1', speed_class: 's1.minimum' },
    ...over,
  };
}
