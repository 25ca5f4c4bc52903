// tapwatch's index templates and inspection documents on a real Elasticsearch node (test/helpers/es-global-setup.ts):
// the mapping ES builds is the one the templates define, replaying records never duplicates them, and what the node
// aggregates over the documents is what the records say. Then scripts/es-node.ts itself: a node of its own keeps
// its data across a restart, and a node that cannot start says why.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, type estypes } from '@elastic/elasticsearch';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { InspectionRecord } from '../contracts/inspection-record.js';
import { ACTIONS_INDEX, ANOMALIES_INDEX, INDEX_TEMPLATES, installTemplates } from '../indexer/templates.js';
import { inspectionDocument, inspectionDocumentId, inspectionIndex } from '../indexer/documents.js';
import { asMapping, bulkRecords, collect, fieldTypes, indexedNow, indicesOf, root, sampleAction, sampleAnomaly, SAMPLE_EVIDENCE } from './helpers/es-fixtures.js';
import { startElasticsearch, waitForElasticsearch } from '../scripts/es-node.js';
import { generateFleetMirror } from '../synth/fleet-mirror.js';

// Lower case, as index names must be; keeps this run's indices apart from any other run's on a shared node.
const ns = `t${Date.now().toString(36)}${process.pid}`;

let client: Client;
let dir: string;
let demo: InspectionRecord[]; // the demo capture: 39 devices, one interval
let fleet: InspectionRecord[]; // a synthetic capture cut into 1-second intervals
const created = new Set<string>();

/** Bulk-writes the records' documents with `op` and refreshes, remembering their indices for afterAll. */
async function bulk(op: 'index' | 'create', records: InspectionRecord[], namespace: string): Promise<estypes.BulkResponseItem[]> {
  for (const index of indicesOf(records, namespace)) created.add(index);
  return bulkRecords(client, op, records, namespace);
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

async function mappingTypes(index: string): Promise<Record<string, string>> {
  const res = await client.indices.getMapping({ index });
  return fieldTypes(res[index].mappings.properties ?? {});
}

beforeAll(async () => {
  client = new Client({ node: inject('elasticsearchUrl') });
  await installTemplates(client);
  dir = mkdtempSync(join(tmpdir(), 'tapwatch-es-test-'));
  demo = collect(join(root, 'fixtures', 'demo', 'fleet-mirror.pcap'), 60);
  const pcap = join(dir, 'fleet.pcap');
  generateFleetMirror({ out: pcap, packets: 12_000, devices: 30, seed: 5 });
  fleet = collect(pcap, 1);
  expect(demo).toHaveLength(39);
  expect(new Set(fleet.map((r) => r.interval.start)).size).toBeGreaterThanOrEqual(3);
});

afterAll(async () => {
  // By name: wildcard deletes are refused (action.destructive_requires_name defaults to true).
  if (created.size) await client.indices.delete({ index: [...created], ignore_unavailable: true });
  await client.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('index templates', () => {
  it('are installed as composable templates, with their version', async () => {
    const res = await client.indices.getIndexTemplate({ name: 'tapwatch-*' });
    const got = Object.fromEntries(res.index_templates.map((t) => [t.name, t.index_template.index_patterns]));
    expect(got).toEqual(Object.fromEntries(Object.entries(INDEX_TEMPLATES).map(([name, t]) => [name, t.index_patterns])));
    for (const t of res.index_templates) expect(t.index_template.version, t.name).toBe(INDEX_TEMPLATES[t.name as keyof typeof INDEX_TEMPLATES].version);
  });

  it('give every inspection field the type the template says, and the ECS / Junction types expected', async () => {
    const items = await bulk('index', demo, ns);
    expect(items.filter((i) => i.error)).toEqual([]);
    const [index] = indicesOf(demo, ns);
    expect(index).toBe(`tapwatch-inspection-${ns}-2026.01.01`);
    const types = await mappingTypes(index);
    expect(types).toEqual(fieldTypes(INDEX_TEMPLATES['tapwatch-inspection'].template.mappings.properties));
    expect(types).toMatchObject({
      '@timestamp': 'date',
      'event.duration': 'long',
      'source.ip': 'ip',
      'network.bytes': 'long',
      'network.packets': 'long',
      'related.ip': 'ip',
      'device.id': 'keyword',
      'device.ip': 'ip',
      'device.imsi': 'keyword',
      'tunnel.mirror_source': 'ip',
      'traffic.statistics.ip.bytes': 'long',
      'traffic.statistics.pkt.len_64_128': 'long',
      'detected.protos': 'nested',
      'detected.protos.name': 'keyword',
      'detected.protos.packets': 'long',
      'destinations.top': 'nested',
      'destinations.top.ip': 'ip',
      'destinations.top.port': 'long',
      'destinations.top.transport': 'keyword',
    });
  });

  it('give the anomaly and action indices the mappings the analyzer and control API will write to', async () => {
    const samples = { 'tapwatch-anomalies': sampleAnomaly(), 'tapwatch-actions': sampleAction() };
    for (const [name, index] of [['tapwatch-anomalies', `${ANOMALIES_INDEX}-${ns}`], ['tapwatch-actions', `${ACTIONS_INDEX}-${ns}`]] as const) {
      await client.index({ index, document: samples[name], refresh: true });
      created.add(index);
      expect(await mappingTypes(index), name).toEqual(fieldTypes(INDEX_TEMPLATES[name].template.mappings.properties));
    }
    const times = { '@timestamp': 'date', 'event.created': 'date', 'event.ingested': 'date' };
    expect(await mappingTypes(`${ANOMALIES_INDEX}-${ns}`)).toMatchObject({ ...times, 'source.ip': 'ip', observed: 'double', 'baseline.value': 'double', 'event.severity': 'long', summary: 'text' });
    expect(await mappingTypes(`${ACTIONS_INDEX}-${ns}`)).toMatchObject(times);
  });

  it('map exactly the fields the documents write: none missing (strict would refuse them), none that nothing writes', async () => {
    // Every optional field filled in, so each document has every field its kind of document can have.
    const full = {
      'tapwatch-inspection': inspectionDocument(demo.find((r) => r.device.imsi && r.tunnel.key !== undefined) ?? demo[0], indexedNow()),
      'tapwatch-anomalies': sampleAnomaly(),
      'tapwatch-actions': sampleAction({ previous: { status: 'active', speed_class: 's1.fast', group_id: 'meters' }, expires_at: '2026-12-02T11:00:00.000Z', group_id: 'quarantine', error: { message: 'boom' } }),
    };
    const release = sampleAction({ action: 'release', releases: { action_id: 'fedcba9876543210fedcba9876543210', action: 'throttle' } });
    const written = (doc: object) => Object.keys(fieldTypes(asMapping(doc)));
    // An anomaly of each evidence kind; evidence is dynamic: false, so what it does not map stays in _source only.
    const evidence = SAMPLE_EVIDENCE.map((e) => sampleAnomaly({ detector: 'evidence', basis: 'absolute', behavior: e.kind, evidence: e }));
    for (const name of ['tapwatch-anomalies', 'tapwatch-actions'] as const) {
      const mapped = Object.keys(fieldTypes(INDEX_TEMPLATES[name].template.mappings.properties));
      const docs = name === 'tapwatch-actions' ? [full[name], release] : [full[name], ...evidence];
      expect(mapped.filter((f) => !docs.some((d) => written(d).includes(f))), `${name}: mapped, never written`).toEqual([]);
      expect(docs.flatMap(written).filter((f) => !mapped.includes(f) && !f.startsWith('evidence.')), `${name}: written, not mapped`).toEqual([]);
    }
    for (const d of evidence) expect((await client.index({ index: `${ANOMALIES_INDEX}-${ns}`, document: d })).result).toBe('created');
    // The inspection template comes from the record's schema, whose optional fields a capture may not all fill.
    const mapped = Object.keys(fieldTypes(INDEX_TEMPLATES['tapwatch-inspection'].template.mappings.properties));
    expect(written(full['tapwatch-inspection']).filter((f) => !mapped.includes(f))).toEqual([]);
  });

  it('reject a field they do not define instead of guessing its type', async () => {
    const index = inspectionIndex(demo[0], ns);
    const err = await client.index({ index, id: `${ns}-stray`, document: { ...inspectionDocument(demo[0], indexedNow()), stray: '10.0.0.1' } }).catch((e: Error) => e);
    expect(String(err)).toMatch(/strict_dynamic_mapping_exception/);
  });
});

describe('inspection documents', () => {
  beforeAll(async () => {
    expect((await bulk('index', demo, ns)).filter((i) => i.error)).toEqual([]);
    expect((await bulk('index', fleet, `${ns}-fleet`)).filter((i) => i.error)).toEqual([]);
  });

  const count = async (records: InspectionRecord[], namespace: string) => (await client.count({ index: indicesOf(records, namespace) })).count;

  it('have deterministic ids: indexing the same records again replaces them, creating them again is refused', async () => {
    expect(new Set(demo.map(inspectionDocumentId)).size).toBe(demo.length);
    expect(await count(demo, ns)).toBe(demo.length);
    const again = await bulk('index', demo, ns);
    expect(again.map((i) => i.result)).toEqual(demo.map(() => 'updated'));
    expect(await count(demo, ns)).toBe(demo.length);
    const refused = await bulk('create', demo, ns);
    expect(refused.map((i) => i.status)).toEqual(demo.map(() => 409));
    expect(await count(demo, ns)).toBe(demo.length);
  });

  it('aggregate on the node to what the records say: sum, avg, max, terms per device', async () => {
    const res = await client.search({
      index: indicesOf(demo, ns),
      size: 0,
      aggs: {
        ip_bytes: { sum: { field: 'traffic.statistics.ip.bytes' } },
        network_packets: { sum: { field: 'network.packets' } },
        uplink: { sum: { field: 'source.bytes' } },
        avg_size: { avg: { field: 'traffic.statistics.avg.pkt.size' } },
        max_size: { max: { field: 'traffic.statistics.max.pkt.size' } },
        devices: { terms: { field: 'device.id', size: 1000 }, aggs: { bytes: { sum: { field: 'network.bytes' } } } },
      },
    });
    const a = res.aggregations as Record<string, any>;
    const stats = demo.map((r) => r['traffic.statistics']);
    expect(a.ip_bytes.value).toBe(sum(stats.map((s) => s['ip.bytes'])));
    expect(a.network_packets.value).toBe(sum(stats.map((s) => s['ip.packets'])));
    expect(a.uplink.value).toBe(sum(demo.map((r) => r.uplink.bytes)));
    expect(a.avg_size.value).toBeCloseTo(sum(stats.map((s) => s['avg.pkt.size'])) / demo.length, 9);
    expect(a.max_size.value).toBe(Math.max(...stats.map((s) => s['max.pkt.size'])));
    const perDevice = Object.fromEntries(a.devices.buckets.map((b: any) => [b.key, b.bytes.value]));
    expect(perDevice).toEqual(Object.fromEntries(demo.map((r) => [r.device.id, r.uplink.bytes + r.downlink.bytes])));
  });

  it('aggregate nested protocols and destinations per protocol and transport, as the records count them', async () => {
    const res = await client.search({
      index: indicesOf(demo, ns),
      size: 0,
      aggs: {
        protos: {
          nested: { path: 'detected.protos' },
          aggs: { name: { terms: { field: 'detected.protos.name', size: 100 }, aggs: { packets: { sum: { field: 'detected.protos.packets' } } } } },
        },
        dests: {
          nested: { path: 'destinations.top' },
          aggs: { transport: { terms: { field: 'destinations.top.transport' }, aggs: { bytes: { sum: { field: 'destinations.top.bytes' } } } } },
        },
      },
    });
    const a = res.aggregations as Record<string, any>;
    const expected = (pairs: [string, number][]) => pairs.reduce<Record<string, number>>((m, [k, v]) => ({ ...m, [k]: (m[k] ?? 0) + v }), {});
    const byKey = (buckets: any[], metric: string) => Object.fromEntries(buckets.map((b) => [b.key, b[metric].value]));
    expect(byKey(a.protos.name.buckets, 'packets')).toEqual(expected(demo.flatMap((r) => r['detected.protos'].map((p): [string, number] => [p.name, p.packets]))));
    expect(byKey(a.dests.transport.buckets, 'bytes')).toEqual(expected(demo.flatMap((r) => r.destinations.top.map((d): [string, number] => [d.transport, d.bytes]))));
    // The per-protocol packets of one record are only its own: a record with mqtt adds nothing to another protocol.
    expect(sum(a.protos.name.buckets.map((b: any) => b.packets.value))).toBe(sum(demo.flatMap((r) => r['detected.protos'].map((p) => p.packets))));
  });

  it('match IP ranges on ip fields: a CIDR term on related.ip finds the records that talked to that network', async () => {
    const cidr = '198.51.100.0/24';
    const inNet = (ip: string) => ip.startsWith('198.51.100.');
    const res = await client.count({ index: indicesOf(demo, ns), query: { term: { 'related.ip': cidr } } });
    expect(res.count).toBe(demo.filter((r) => r.destinations.top.some((d) => inNet(d.ip))).length);
    expect(res.count).toBeGreaterThan(0);
  });

  it('bucket by interval start in a date_histogram, each bucket holding that interval`s records', async () => {
    const res = await client.search({
      index: indicesOf(fleet, `${ns}-fleet`),
      size: 0,
      aggs: { t: { date_histogram: { field: '@timestamp', fixed_interval: '1s', min_doc_count: 1 }, aggs: { bytes: { sum: { field: 'network.bytes' } } } } },
    });
    const buckets = (res.aggregations as Record<string, any>).t.buckets as { key_as_string: string; doc_count: number; bytes: { value: number } }[];
    const want = new Map<string, { docs: number; bytes: number }>();
    for (const r of fleet) {
      const w = want.get(r.interval.start) ?? { docs: 0, bytes: 0 };
      want.set(r.interval.start, { docs: w.docs + 1, bytes: w.bytes + r['traffic.statistics']['ip.bytes'] });
    }
    expect(new Map(buckets.map((b) => [b.key_as_string, { docs: b.doc_count, bytes: b.bytes.value }]))).toEqual(want);
  });
});

describe('a node of its own (scripts/es-node.ts)', () => {
  const version = process.env.ELASTICSEARCH_VERSION || undefined;

  it('keeps its indices across stop({ keepData: true }) and restart(), on the same port, and deletes them on stop()', async () => {
    const node = await startElasticsearch({ version });
    const c = new Client({ node: node.url });
    try {
      await c.index({ index: 'restart-check', id: '1', document: { n: 1 }, refresh: true });
      const { url, pid } = node;
      await node.stop({ keepData: true });
      await expect(waitForElasticsearch(url, { timeoutMs: 0 })).rejects.toThrow(/ECONNREFUSED/);
      await node.restart();
      expect(node.url).toBe(url);
      expect(node.pid).not.toBe(pid);
      expect((await c.get({ index: 'restart-check', id: '1' }))._source).toEqual({ n: 1 });
    } finally {
      await c.close();
      await node.stop();
    }
    expect(existsSync(node.dataDir)).toBe(false);
  }, 300_000); // two node starts on a loaded 2-core machine: 45–110 s each measured

  it('fails to start with an error that names the cause and shows the log, here a taken port', async () => {
    const taken = createServer();
    const port = await new Promise<number>((ok) => taken.listen(0, '127.0.0.1', () => ok((taken.address() as { port: number }).port)));
    const dataDir = mkdtempSync(join(tmpdir(), 'tapwatch-es-fail-'));
    try {
      await expect(startElasticsearch({ version, port, dataDir })).rejects.toThrow(
        new RegExp(`did not start: the server process exited[\\s\\S]*BindHttpException: Failed to bind to 127\\.0\\.0\\.1:${port}[\\s\\S]*Last 40 lines of ${dataDir}/elasticsearch\\.out`),
      );
    } finally {
      taken.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
