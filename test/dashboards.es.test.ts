// The dashboards against a real Elasticsearch node (test/helpers/es-global-setup.ts): the committed NDJSON is what
// saved-objects.ts generates and hangs together; every field a visualization reads has the type its aggregation
// needs in the mapping the node built from the templates; and each panel's aggregation, run on the node over
// documents of the demo capture (and of sample anomalies / actions), returns what the records say. Kibana itself
// cannot run here (services.md §3.1), so the import is checked against a stand-in HTTP server.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, type estypes } from '@elastic/elasticsearch';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { InspectionRecord } from '../contracts/inspection-record.js';
import { committedNdjsonPath } from '../dashboards/build-saved-objects.js';
import { importDashboards } from '../dashboards/import.js';
import { AUTO_INTERVAL, DASHBOARDS, DATA_VIEWS, PACKET_SIZE_BUCKETS, PANELS, metricName, panelAggregation, panelFields, panelQuery, type Panel, type ViewKey } from '../dashboards/panels.js';
import { objectId, savedObjectsNdjson, type SavedObject } from '../dashboards/saved-objects.js';
import { ACTIONS_INDEX, ANOMALIES_INDEX, INDEX_TEMPLATES, installTemplates } from '../indexer/templates.js';
import { anomalyDocument, inspectionDocument } from '../indexer/documents.js';
import { run as dashboardsCli } from '../cli/dashboards.js';
import { generateFleetMirror } from '../synth/fleet-mirror.js';
import { dataMarks, dataWithEsUrls, esRequest, renderKibanaVega } from './helpers/kibana-vega.js';
import { bulkRecords, collect, fieldTypes, indexedNow, indicesOf, root, sampleAction, sampleAnomalyEvent } from './helpers/es-fixtures.js';

const ns = `d${Date.now().toString(36)}${process.pid}`;
let client: Client;
let dir: string;
const created = new Set<string>();

/** One data set: its documents per data view, the indices holding them, and the date_histogram interval to use. */
interface DataSet {
  name: string;
  records: InspectionRecord[];
  docs: Record<ViewKey, Record<string, any>[]>;
  indices: Record<ViewKey, string[]>;
  interval: string;
}
const sets: DataSet[] = [];
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/**
 * Alarm transitions over several minutes, devices, detectors and severities; and the actions taken on the first nine
 * of them, decided long after the traffic (as for a replayed capture), so each action's @timestamp comes from its anomaly.
 */
function anomalyFixtures(devices: string[], t0: number) {
  const detectors = ['static', 'device-baseline', 'group-percentile', 'fleet-model'] as const;
  const severities = ['low', 'medium', 'high', 'critical'] as const;
  const events = Array.from({ length: 24 }, (_, i) => {
    const id = devices[i % devices.length];
    return sampleAnomalyEvent({
      '@timestamp': new Date(t0 + (i % 7) * 60_000).toISOString(),
      device: { id, ip: `10.128.0.${(i % devices.length) + 1}` },
      detector: detectors[i % 4],
      severity: severities[(i * 3) % 4],
      behavior: ['uplink-bytes-spike', 'new-destination', 'dns-burst'][i % 3],
      alarm: i % 5 === 0 ? 'alarm-cleared' : 'in-alarm',
    });
  });
  const anomalies = events.map((e) => anomalyDocument(e, { ...indexedNow(), created: new Date(Date.parse(e['@timestamp']) + 2000) }));
  const actions = events.slice(0, 9).map((e, i) =>
    sampleAction({ action_id: `${i}`.padStart(32, '0'), '@timestamp': new Date(Date.now() - i * 1000).toISOString(), action: (['throttle', 'block', 'redirect'] as const)[i % 3], result: i % 4 === 0 ? 'dry-run' : 'applied' }, e),
  );
  return { anomalies, actions };
}

async function dataSet(name: string, records: InspectionRecord[], interval: string): Promise<DataSet> {
  const namespace = `${ns}-${name}`;
  expect((await bulkRecords(client, 'index', records, namespace)).filter((i) => i.error)).toEqual([]);
  // The anomalies are about the records' own intervals, as the analyzer's are.
  const { anomalies, actions } = anomalyFixtures([...new Set(records.map((r) => r.device.id))].slice(0, 5), Date.parse(records[0].interval.start));
  const indices = { inspection: indicesOf(records, namespace), anomalies: [`${ANOMALIES_INDEX}-${namespace}`], actions: [`${ACTIONS_INDEX}-${namespace}`] };
  for (const [index, docs] of [[indices.anomalies[0], anomalies], [indices.actions[0], actions]] as const) {
    const res = await client.bulk({ operations: docs.flatMap((d) => [{ index: { _index: index } }, d]), refresh: true });
    expect(res.errors).toBe(false);
  }
  for (const index of Object.values(indices).flat()) created.add(index);
  return { name, records, docs: { inspection: records.map((r) => inspectionDocument(r, indexedNow())), anomalies, actions }, indices, interval };
}

beforeAll(async () => {
  client = new Client({ node: inject('elasticsearchUrl') });
  await installTemplates(client);
  dir = mkdtempSync(join(tmpdir(), 'tapwatch-dash-test-'));
  const demo = collect(join(root, 'fixtures', 'demo', 'fleet-mirror.pcap'), 60);
  const pcap = join(dir, 'fleet.pcap');
  generateFleetMirror({ out: pcap, packets: 8_000, devices: 20, seed: 11 });
  const fleet = collect(pcap, 1);
  expect(new Set(fleet.map((r) => r.interval.start)).size).toBeGreaterThanOrEqual(3);
  // The compose demo's capture: 16 minutes of 24 meters, one of which starts a telnet sweep at minute 13.
  const incident = collect(join(root, 'fixtures', 'demo', 'incident-mirror.pcap'), 60, join(root, 'fixtures', 'demo', 'incident-inventory.csv'));
  sets.push(await dataSet('demo', demo, '60s'), await dataSet('fleet', fleet, '1s'), await dataSet('incident', incident, '60s'));
});

afterAll(async () => {
  if (created.size) await client.indices.delete({ index: [...created], ignore_unavailable: true });
  await client.close();
  rmSync(dir, { recursive: true, force: true });
});

const committed = () => readFileSync(committedNdjsonPath(), 'utf8');
const objects = (): SavedObject[] => committed().trimEnd().split('\n').map((line) => JSON.parse(line));
/** A Vega panel's spec as the committed saved object carries it. */
const vegaSpecOf = (panel: Panel): Record<string, any> => JSON.parse(JSON.parse(objects().find((x) => x.id === objectId(panel))!.attributes.visState as string).params.spec);
/** A time picker's range that just holds a data set's records. */
const timeOf = (set: DataSet) => ({ min: Math.min(...set.records.map((r) => Date.parse(r.interval.start))), max: Math.max(...set.records.map((r) => Date.parse(r.interval.end))) });

describe('saved objects NDJSON', () => {
  it('is what saved-objects.ts generates (run npm run dashboards:build after changing it)', () => {
    expect(committed()).toBe(savedObjectsNdjson());
  });

  it('has one object per line, unique ids, and the migration versions of services.md §3.2', () => {
    const all = objects();
    expect(new Set(all.map((o) => `${o.type}/${o.id}`)).size).toBe(all.length);
    expect(all.filter((o) => o.type === 'index-pattern').map((o) => o.attributes)).toEqual(
      Object.values(DATA_VIEWS).map((v) => ({ title: v.title, name: v.name, timeFieldName: '@timestamp' })),
    );
    expect(all.filter((o) => o.type === 'dashboard').map((o) => o.attributes.title)).toEqual(['tapwatch: Fleet traffic', 'tapwatch: Device', 'tapwatch: Anomalies & actions']);
    for (const o of all) expect(o.coreMigrationVersion, o.id).toBe('8.8.0');
    const versions = Object.fromEntries(all.map((o) => [o.type, o.typeMigrationVersion]));
    expect(versions).toEqual({ 'index-pattern': '7.11.0', lens: '7.14.0', visualization: '7.14.0', dashboard: '8.7.0' });
  });

  it('opens each dashboard on its own window of traffic (timeRestore), refreshed every minute as records arrive', () => {
    const dashboards = objects().filter((o) => o.type === 'dashboard');
    expect(dashboards.map((o) => [o.id, o.attributes.timeRestore, o.attributes.timeFrom, o.attributes.timeTo, o.attributes.refreshInterval])).toEqual([
      ['tapwatch-fleet', true, 'now-1h', 'now', { pause: false, value: 60_000 }],
      ['tapwatch-device', true, 'now-24h', 'now', { pause: false, value: 60_000 }],
      ['tapwatch-anomalies-actions', true, 'now-7d', 'now', { pause: false, value: 60_000 }],
    ]);
  });

  it('resolves every reference: each references[].id is an object of that type in the file', () => {
    const all = objects();
    const ids = new Set(all.map((o) => `${o.type}/${o.id}`));
    const refs = all.flatMap((o) => o.references.map((r) => ({ from: o.id, ...r })));
    expect(refs.length).toBeGreaterThan(0);
    for (const r of refs) expect(ids.has(`${r.type}/${r.id}`), `${r.from} → ${r.type}/${r.id}`).toBe(true);
  });

  it('gives each dashboard panel its reference (panelIndex:panelRefName) and nothing else but the device control', () => {
    for (const d of objects().filter((o) => o.type === 'dashboard')) {
      const panels = JSON.parse(d.attributes.panelsJSON as string) as { panelIndex: string; panelRefName: string; type: string; gridData: { x: number; w: number; i: string } }[];
      const byName = new Map(d.references.map((r) => [r.name, r]));
      for (const p of panels) {
        expect(byName.get(`${p.panelIndex}:${p.panelRefName}`)?.type, `${d.id} ${p.panelIndex}`).toBe(p.type);
        expect(p.gridData.i).toBe(p.panelIndex);
        expect(p.gridData.x + p.gridData.w).toBeLessThanOrEqual(48);
      }
      const controls = JSON.parse((d.attributes.controlGroupInput as { panelsJSON: string }).panelsJSON) as Record<string, { type: string; explicitInput: { fieldName: string } }>;
      expect(Object.values(controls).map((c) => [c.type, c.explicitInput.fieldName])).toEqual([['optionsListControl', 'device.id']]);
      const controlRefs = Object.keys(controls).map((id) => `controlGroup_${id}:optionsListDataView`);
      expect(controlRefs.every((n) => byName.get(n)?.id === DATA_VIEWS.inspection.id)).toBe(true);
      expect(d.references.map((r) => r.name).sort()).toEqual([...panels.map((p) => `${p.panelIndex}:${p.panelRefName}`), ...controlRefs].sort());
    }
  });

  it('gives each Lens layer its data view reference, and each Vega panel the aggregation of its panel', () => {
    for (const panel of PANELS) {
      const o = objects().find((x) => x.id === objectId(panel))!;
      if (o.type === 'lens') {
        const layers = Object.keys((o.attributes.state as any).datasourceStates.indexpattern.layers);
        for (const l of layers) expect(o.references.find((r) => r.name === `indexpattern-datasource-layer-${l}`)?.id, panel.id).toBe(DATA_VIEWS[panel.view].id);
      } else {
        const spec = JSON.parse(JSON.parse(o.attributes.visState as string).params.spec);
        const url = spec.data.url ?? spec.data[0].url;
        expect(url.index).toBe(DATA_VIEWS[panel.view].title);
        expect(url.body.aggs).toEqual(panelAggregation(panel, AUTO_INTERVAL));
      }
    }
  });
});

/** field → type in the mapping the node built for a data view's indices (the first data set's). */
async function nodeTypes(view: ViewKey): Promise<Record<string, string>> {
  const index = sets[0].indices[view][0];
  const res = await client.indices.getMapping({ index });
  return fieldTypes(res[index].mappings.properties ?? {});
}

const NUMERIC = ['long', 'integer', 'short', 'byte', 'double', 'float'];
const TYPES_FOR = { numeric: NUMERIC, keyword: ['keyword'], term: ['keyword', 'ip'], date: ['date'] } as const;
const NEEDS_OF_LENS_OP: Record<string, keyof typeof TYPES_FOR> = { sum: 'numeric', avg: 'numeric', max: 'numeric', terms: 'term', unique_count: 'term', date_histogram: 'date' };

describe('fields', () => {
  it('every field a Lens column reads exists in the template with the type its operation needs, and is not nested', async () => {
    for (const o of objects().filter((x) => x.type === 'lens')) {
      const types = await nodeTypes((Object.keys(DATA_VIEWS) as ViewKey[]).find((k) => DATA_VIEWS[k].id === o.references[0].id)!);
      const layers = (o.attributes.state as any).datasourceStates.indexpattern.layers as Record<string, { columns: Record<string, { operationType: string; sourceField: string }> }>;
      for (const c of Object.values(layers).flatMap((l) => Object.values(l.columns))) {
        if (c.operationType === 'count') continue;
        expect(TYPES_FOR[NEEDS_OF_LENS_OP[c.operationType]], `${o.id}: ${c.sourceField} (${types[c.sourceField]}) for ${c.operationType}`).toContain(types[c.sourceField]);
        // Lens cannot aggregate a field inside a nested object: it would silently show nothing.
        const parents = c.sourceField.split('.').map((_, i, parts) => parts.slice(0, i).join('.')).filter(Boolean);
        expect(parents.filter((p) => types[p] === 'nested'), `${o.id}: ${c.sourceField}`).toEqual([]);
      }
    }
  });

  it('every field a panel uses (Lens or Vega) has the type it needs; nested ones under a nested path', async () => {
    for (const panel of PANELS) {
      const types = await nodeTypes(panel.view);
      for (const { field, needs } of panelFields(panel)) expect(TYPES_FOR[needs], `${panel.id}: ${field} (${types[field]}) as ${needs}`).toContain(types[field]);
      if (panel.nested) {
        expect(types[panel.nested], panel.id).toBe('nested');
        const under = panelFields(panel).filter((f) => f.field.startsWith(`${panel.nested}.`));
        expect(under.length, panel.id).toBeGreaterThan(0);
      }
    }
  });
});

// ---- What each panel should show, computed from the documents in memory, independently of Elasticsearch ----

/** A document's values at a full field name, through dotted keys ('traffic.statistics': {'ip.bytes'}) and arrays. */
function valuesAt(value: unknown, path: string): unknown[] {
  if (path === '') return Array.isArray(value) ? value : [value];
  if (Array.isArray(value)) return value.flatMap((v) => valuesAt(v, path));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => (path === k ? valuesAt(v, '') : path.startsWith(`${k}.`) ? valuesAt(v, path.slice(k.length + 1)) : []));
}

type Row = { keys: (string | number)[]; values: number[] };

function expectedRows(panel: Panel, docs: Record<string, any>[], intervalMs: number): Row[] {
  // The unit metrics run over: the document, or each element of its nested array.
  const units = docs.flatMap((doc) => (panel.nested ? valuesAt(doc, panel.nested).map((el) => ({ doc, el })) : [{ doc, el: undefined }]));
  const value = (u: { doc: any; el: any }, field: string) =>
    panel.nested && field.startsWith(`${panel.nested}.`) ? valuesAt(u.el, field.slice(panel.nested.length + 1))[0] : valuesAt(u.doc, field)[0];
  const groups = new Map<string, { keys: (string | number)[]; units: typeof units }>();
  for (const u of units) {
    const keys = panel.buckets.map((b) => (b.type === 'date' ? Math.floor(Date.parse(u.doc['@timestamp']) / intervalMs) * intervalMs : (value(u, b.field) as string)));
    const k = JSON.stringify(keys);
    if (!groups.has(k)) groups.set(k, { keys, units: [] });
    groups.get(k)!.units.push(u);
  }
  return [...groups.values()].map((g) => ({
    keys: g.keys,
    values: panel.metrics.map((m) => {
      const xs = g.units.map((u) => value(u, m.field ?? '') as number);
      if (m.op === 'count') return g.units.length;
      if (m.op === 'sum') return sum(xs);
      if (m.op === 'avg') return sum(xs) / xs.length;
      if (m.op === 'max') return Math.max(...xs);
      return new Set(xs).size;
    }),
  }));
}

/** The node's answer flattened into the same rows. */
function nodeRows(panel: Panel, aggs: Record<string, any>): Row[] {
  const metrics = (bucket: any) => panel.metrics.map((m, i) => (m.op === 'count' ? bucket.doc_count : bucket[metricName(i)].value));
  const walk = (node: any, level: number, keys: (string | number)[]): Row[] => {
    if (node.nested) node = node.nested;
    if (level === panel.buckets.length) return [{ keys, values: metrics(node) }];
    return node[`b${level}`].buckets.flatMap((b: any) => walk(b, level + 1, [...keys, b.key]));
  };
  return walk(aggs, 0, []);
}

async function runPanel(panel: Panel, set: DataSet, device?: string) {
  const filter: estypes.QueryDslQueryContainer[] = [panelQuery(panel), ...(device ? [{ term: { 'device.id': device } }] : [])];
  const res = await client.search({ index: set.indices[panel.view], size: 0, query: { bool: { filter } }, aggs: panelAggregation(panel, set.interval) });
  return res.aggregations as Record<string, any>;
}

const intervalMs = (interval: string) => Number(interval.slice(0, -1)) * (interval.endsWith('m') ? 60_000 : 1000);

/**
 * The node's rows are the expected ones: every row it returns has the expected values, and at each terms level it
 * returns the top `size` terms by the first metric (ties at the cut may go either way, so compare by value).
 */
function expectSameRows(panel: Panel, got: Row[], want: Row[]) {
  expect(want.length, `${panel.id}: the fixtures give this panel nothing to show`).toBeGreaterThan(0);
  const wantByKey = new Map(want.map((r) => [JSON.stringify(r.keys), r.values]));
  for (const r of got) {
    const w = wantByKey.get(JSON.stringify(r.keys));
    expect(w, `${panel.id}: unexpected bucket ${JSON.stringify(r.keys)}`).toBeDefined();
    r.values.forEach((v, i) => (panel.metrics[i].op === 'avg' ? expect(v).toBeCloseTo(w![i], 9) : expect(v, `${panel.id} ${JSON.stringify(r.keys)} ${panel.metrics[i].label}`).toBe(w![i])));
  }
  const last = panel.buckets.length - 1;
  const cut = panel.buckets[last];
  if (!cut || cut.type !== 'terms') return expect(got.length, panel.id).toBe(want.length);
  const parent = (r: Row) => JSON.stringify(r.keys.slice(0, last));
  for (const p of new Set(want.map(parent))) {
    const top = (rows: Row[]) => rows.filter((r) => parent(r) === p).map((r) => r.values[0]).sort((a, b) => b - a);
    expect(top(got), `${panel.id} under ${p}`).toEqual(top(want).slice(0, cut.size));
  }
}

describe('each panel, run on the node, shows what the records say', () => {
  for (const panel of PANELS) {
    it(`${panel.id}: ${panel.title}`, async () => {
      for (const set of sets) {
        const docs = set.docs[panel.view].filter((d) => !panel.filter || valuesAt(d, panel.filter.field)[0] === panel.filter.value);
        expectSameRows(panel, nodeRows(panel, await runPanel(panel, set)), expectedRows(panel, docs, intervalMs(set.interval)));
      }
    });
  }

  it('the device dashboard`s panels, filtered to one device by its control, show that device only', async () => {
    const device = DASHBOARDS.find((d) => d.id === 'tapwatch-device')!;
    for (const set of sets) {
      for (const id of [...new Set(set.records.map((r) => r.device.id))].slice(0, 4)) {
        for (const panel of device.panels) {
          const docs = set.docs[panel.view].filter((d) => d.device.id === id);
          expectSameRows(panel, nodeRows(panel, await runPanel(panel, set, id)), expectedRows(panel, docs, intervalMs(set.interval)));
        }
      }
    }
  });

  it('each Vega panel`s own query, with its placeholders filled in as Kibana`s Vega parser does, runs on the node alike', async () => {
    for (const panel of PANELS.filter((p) => p.nested)) {
      const spec = vegaSpecOf(panel);
      const [data] = dataWithEsUrls(spec);
      expect([data.url['%context%'], data.url['%timefield%']]).toEqual([true, '@timestamp']);
      for (const set of sets) {
        // Kibana's interval for a window just holding the data is finer than the records' own: the same buckets.
        const { index, body } = esRequest(data.url, { time: timeOf(set) });
        expect(index).toBe(DATA_VIEWS[panel.view].title);
        const res = await client.search({ index: set.indices[panel.view], ...body });
        expect(nodeRows(panel, res.aggregations as Record<string, any>), `${panel.id} ${set.name}`).toEqual(nodeRows(panel, await runPanel(panel, set)));
      }
    }
  });

  // The same facts again, each from the InspectionRecords directly, as a reader of the dashboards would check them.
  const panel = (id: string) => PANELS.find((p) => p.id === id)!;

  it('IP bytes = the records` total ip.bytes over the window; Ethernet bytes likewise', async () => {
    for (const set of sets) {
      expect((await runPanel(panel('fleet-ip-bytes'), set)).m0.value).toBe(sum(set.records.map((r) => r['traffic.statistics']['ip.bytes'])));
      expect((await runPanel(panel('fleet-ethernet-bytes'), set)).m0.value).toBe(sum(set.records.map((r) => r['traffic.statistics']['ethernet.bytes'])));
    }
  });

  it('the packet-size buckets "Packets > 0 … > 1500" add up to the records` pkt.len_* counters, and to their packets', async () => {
    const keys = ['pkt.len_min64', 'pkt.len_64_128', 'pkt.len_128_256', 'pkt.len_256_1024', 'pkt.len_1024_1500', 'pkt.len_grt1500'] as const;
    expect(PACKET_SIZE_BUCKETS.map((m) => m.label)).toEqual(['Packets > 0', 'Packets > 64', 'Packets > 128', 'Packets > 256', 'Packets > 1024', 'Packets > 1500']);
    for (const set of sets) {
      const a = await runPanel(panel('fleet-pkt-size-buckets'), set);
      const got = keys.map((_, i) => a[metricName(i)].value);
      expect(got).toEqual(keys.map((k) => sum(set.records.map((r) => r['traffic.statistics'][k]))));
      expect(sum(got)).toBe(sum(set.records.map((r) => r['traffic.statistics']['total.packets'])));
    }
  });

  it('the top protocol by bytes is the records` top protocol', async () => {
    for (const set of sets) {
      const bytes = new Map<string, number>();
      for (const p of set.records.flatMap((r) => r['detected.protos'])) bytes.set(p.name, (bytes.get(p.name) ?? 0) + p.bytes);
      const [topName, topBytes] = [...bytes].sort((a, b) => b[1] - a[1])[0];
      const first = (await runPanel(panel('fleet-protocols'), set)).nested.b0.buckets[0];
      expect([first.key, first.m0.value]).toEqual([topName, topBytes]);
    }
  });

  it('per device and interval, bytes up / down are the records` uplink / downlink bytes', async () => {
    const set = sets.find((s) => s.name === 'fleet')!;
    for (const id of [...new Set(set.records.map((r) => r.device.id))].slice(0, 5)) {
      const a = await runPanel(panel('device-bytes-up-down'), set, id);
      const got = a.b0.buckets.map((b: any) => [new Date(b.key).toISOString(), b.m0.value, b.m1.value]);
      const want = set.records.filter((r) => r.device.id === id).map((r) => [r.interval.start, r.uplink.bytes, r.downlink.bytes]);
      expect(got, id).toEqual(want.sort((x, y) => String(x[0]).localeCompare(String(y[0]))));
    }
  });
});

// ---- Vega panels, drawn ----

describe('each Vega panel, drawn headlessly as Kibana draws it from what the node returns, draws its data', () => {
  const out = join(root, 'test-results', 'vega');
  const deviceDashboard = DASHBOARDS.find((d) => d.id === 'tapwatch-device')!;
  // The compose demo's capture, over its whole window; the Device dashboard with its control on the meter that scans.
  const ATTACKER = 'meter-006';

  for (const panel of PANELS.filter((p) => p.nested)) {
    it(`${panel.id}: ${panel.title} (test-results/vega/${panel.id}.svg)`, async () => {
      const set = sets.find((s) => s.name === 'incident')!;
      const filters = deviceDashboard.panels.includes(panel) ? [{ term: { 'device.id': ATTACKER } }] : [];
      const { svg, requests } = await renderKibanaVega(JSON.stringify(vegaSpecOf(panel)), ({ body }) => client.search({ index: set.indices[panel.view], ...body }), { time: timeOf(set), filters });
      mkdirSync(out, { recursive: true });
      writeFileSync(join(out, `${panel.id}.svg`), svg);

      // What the node answered, as rows: [bucket keys..., first metric].
      expect(requests).toHaveLength(1);
      const rows = nodeRows(panel, requests[0].response.aggregations).map((r) => [...r.keys, r.values[0]]);
      expect(rows.length, `${panel.id}: the node returned nothing to draw`).toBeGreaterThanOrEqual(3);
      const marks = dataMarks(svg);
      expect(marks.map((m) => m.type), panel.id).toEqual([panel.chart === 'tagcloud' ? 'text' : 'rect']);
      const items = marks[0].items;
      // One mark per row of the answer: every bucket drawn, nothing else.
      expect(items).toHaveLength(rows.length);
      if (panel.chart === 'hbar') {
        // Bars as long as their values: width ∝ bytes, the longest the top bucket's.
        const widths = items.map((i) => rectWidth(i.d)).sort((a, b) => b - a);
        const values = rows.map((r) => Number(r.at(-1))).sort((a, b) => b - a);
        widths.forEach((w, i) => expect(w / widths[0], `${panel.id} bar ${i}`).toBeCloseTo(values[i] / values[0], 2));
        // Each bar says what it is: its key and its value, as the node returned them.
        const term = panel.buckets.find((b) => b.type === 'terms')!;
        expect(items.map((i) => i['aria-label']).sort()).toEqual(rows.map((r) => `${panel.metrics[0].label}: ${r.at(-1)}; ${term.label}: ${r[0]}`).sort());
      } else if (panel.chart === 'heatmap') {
        // One cell per minute and protocol, coloured by bytes: several colours, since the bytes differ.
        expect(new Set(rows.map((r) => r[0])).size, 'minutes').toBeGreaterThanOrEqual(16);
        expect(new Set(items.map((i) => i.fill)).size).toBeGreaterThan(1);
        // The time axis reads as times (in the viewer's zone, as Kibana shows them): the minute the sweep starts is labelled.
        const sweep = new Date('2026-01-01T00:13:00.000Z');
        const hhmm = [sweep.getHours(), sweep.getMinutes()].map((n) => String(n).padStart(2, '0')).join(':');
        expect(svg).toMatch(new RegExp(`role-axis-label[\\s\\S]*>${hhmm}</text>`));
        for (const i of items) expect(rectWidth(i.d), `${panel.id}: a cell with an area, got ${i.d}`).toBeGreaterThan(1);
      } else {
        // Each protocol placed in the cloud, sized by its bytes (12 to 48 px), the top one the largest.
        const px = (i: Record<string, string>) => Number(i['font-size'].replace('px', ''));
        for (const i of items) {
          expect(px(i), i.transform).toBeGreaterThanOrEqual(12);
          expect(i.transform, 'placed by the wordcloud layout').not.toBe('translate(0,0)');
        }
        const top = String(rows.reduce((a, b) => (Number(b.at(-1)) > Number(a.at(-1)) ? b : a))[0]);
        expect(svg).toMatch(new RegExp(`font-size="48px"[^>]*>${top}</text>`));
      }
    });
  }
});

/** The width of a rect as Vega writes its path: M x,y h width v height h -width Z. */
const rectWidth = (d: string) => Number(/^M[\d.e-]+,[\d.e-]+h([\d.e-]+)v/.exec(d)?.[1] ?? NaN);

// ---- Import ----

interface Seen {
  method?: string;
  url?: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/**
 * Stands in for Kibana's saved-objects import API only because Kibana cannot be obtained here (services.md §3.1):
 * records the request and answers with `reply`, in the shapes Kibana documents (services.md §3.3).
 */
async function fakeKibana(reply: { status: number; body: unknown }): Promise<{ url: string; seen: Seen[]; server: Server }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, seen, server };
}

async function withKibana<T>(reply: { status: number; body: unknown }, fn: (k: { url: string; seen: Seen[] }) => Promise<T>): Promise<T> {
  const k = await fakeKibana(reply);
  try {
    return await fn(k);
  } finally {
    k.server.close();
  }
}

describe('importDashboards', () => {
  const elasticsearchUrl = () => inject('elasticsearchUrl');
  const ok = () => ({ status: 200, body: { success: true, successCount: objects().length, successResults: objects().map((o) => ({ type: o.type, id: o.id })) } });

  it('installs the templates, then POSTs exactly the NDJSON as multipart form-data with kbn-xsrf, overwriting', async () => {
    await withKibana(ok(), async ({ url, seen }) => {
      const lines: string[] = [];
      const result = await importDashboards({ kibanaUrl: url, elasticsearchUrl: elasticsearchUrl(), log: { info: (_o, msg) => lines.push(msg) } });
      expect(result.successCount).toBe(objects().length);
      expect(lines).toEqual(['index templates installed', 'dashboards imported']);
      expect(seen).toHaveLength(1);
      const [req] = seen;
      expect([req.method, req.url, req.headers['kbn-xsrf']]).toEqual(['POST', '/api/saved_objects/_import?overwrite=true', 'true']);
      expect(req.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
      // Parsed as a server would, the form has one field, `file`, holding exactly the committed NDJSON.
      const form = await new Response(new Uint8Array(req.body), { headers: { 'content-type': req.headers['content-type']! } }).formData();
      expect([...form.keys()]).toEqual(['file']);
      const file = form.get('file') as File;
      expect(file.name).toMatch(/\.ndjson$/);
      expect(await file.text()).toBe(committed());
    });
    const templates = await client.indices.getIndexTemplate({ name: 'tapwatch-*' });
    expect(templates.index_templates.map((t) => t.name).sort()).toEqual(Object.keys(INDEX_TEMPLATES).sort());
  });

  it('installs the templates before touching Kibana: without Elasticsearch nothing is imported', async () => {
    await withKibana(ok(), async ({ url, seen }) => {
      await expect(importDashboards({ kibanaUrl: url, elasticsearchUrl: 'http://127.0.0.1:1' })).rejects.toThrow(/^cannot install the index templates at http:\/\/127\.0\.0\.1:1, so nothing was imported into Kibana: .*ECONNREFUSED/);
      expect(seen).toEqual([]);
    });
  });

  it('keeps a Kibana space path (/s/<space>) in front of the API path', async () => {
    await withKibana(ok(), async ({ url, seen }) => {
      await importDashboards({ kibanaUrl: `${url}/s/ops`, elasticsearchUrl: elasticsearchUrl() });
      expect(seen[0].url).toBe('/s/ops/api/saved_objects/_import?overwrite=true');
    });
  });

  it('turns a partly failed import into an Error that lists each refused object and why', async () => {
    const body = {
      success: false,
      successCount: 22,
      errors: [
        { id: 'tapwatch-fleet', type: 'dashboard', title: 'tapwatch: Fleet traffic', meta: { title: 'tapwatch: Fleet traffic' }, error: { type: 'missing_references', references: [{ type: 'lens', id: 'tapwatch-fleet-ip-bytes' }] } },
        { id: 'tapwatch-fleet-ip-bytes', type: 'lens', meta: { title: 'IP bytes' }, error: { type: 'unknown', message: 'Document "tapwatch-fleet-ip-bytes" has property "lens" which belongs to a more recent version of Kibana', statusCode: 400 } },
      ],
    };
    await withKibana({ status: 200, body }, async ({ url }) => {
      const err = await importDashboards({ kibanaUrl: url, elasticsearchUrl: elasticsearchUrl() }).catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toBe(
        'Kibana imported 22 saved objects and refused 2:\n' +
          '  dashboard/tapwatch-fleet "tapwatch: Fleet traffic": missing references lens/tapwatch-fleet-ip-bytes\n' +
          '  lens/tapwatch-fleet-ip-bytes "IP bytes": unknown (Document "tapwatch-fleet-ip-bytes" has property "lens" which belongs to a more recent version of Kibana)',
      );
    });
  });

  it('turns a refused request (e.g. no kbn-xsrf, HTTP 400) into an Error with Kibana`s message', async () => {
    await withKibana({ status: 400, body: { statusCode: 400, error: 'Bad Request', message: 'Request must contain a kbn-xsrf header.' } }, async ({ url }) => {
      await expect(importDashboards({ kibanaUrl: url, elasticsearchUrl: elasticsearchUrl() })).rejects.toThrow(`Kibana import at ${url} failed: HTTP 400: Request must contain a kbn-xsrf header.`);
    });
  });

  it('says so when Kibana cannot be reached', async () => {
    // A port that was free a moment ago (fetch refuses some low ports, such as 1, outright as "bad port").
    const { url, server } = await fakeKibana(ok());
    await new Promise((closed) => server.close(closed));
    await expect(importDashboards({ kibanaUrl: url, elasticsearchUrl: elasticsearchUrl() })).rejects.toThrow(new RegExp(`^cannot reach Kibana at ${url}: connect ECONNREFUSED`));
  });

  it('--time-from/--time-to open every dashboard on that window, still (no refresh), and nothing else changes', async () => {
    const range = { from: '2026-01-01T00:00:00.000Z', to: '2026-01-01T00:16:00.000Z' };
    await withKibana(ok(), async ({ url, seen }) => {
      expect(await dashboardsCli(['import', '--kibana', url, '--elasticsearch', elasticsearchUrl(), '--time-from', range.from, '--time-to', range.to, '--log-level', 'silent'])).toBe(0);
      const form = await new Response(new Uint8Array(seen[0].body), { headers: { 'content-type': seen[0].headers['content-type']! } }).formData();
      const sent = (await (form.get('file') as File).text()).trimEnd().split('\n').map((l) => JSON.parse(l) as SavedObject);
      const dashboards = sent.filter((o) => o.type === 'dashboard');
      expect(dashboards.map((o) => [o.attributes.timeRestore, o.attributes.timeFrom, o.attributes.timeTo, o.attributes.refreshInterval])).toEqual(dashboards.map(() => [true, range.from, range.to, { pause: true, value: 0 }]));
      // Apart from the window, the very objects of the committed file.
      const strip = (o: SavedObject) => (o.type === 'dashboard' ? { ...o, attributes: { ...o.attributes, timeFrom: 0, timeTo: 0, refreshInterval: 0 } } : o);
      expect(sent.map(strip)).toEqual(objects().map(strip));
    });
  });

  it('refuses a window it cannot save before touching Elasticsearch or Kibana: one end only, not a time, backwards', async () => {
    await withKibana(ok(), async ({ url, seen }) => {
      const run = (...time: string[]) => dashboardsCli(['import', '--kibana', url, '--elasticsearch', 'http://127.0.0.1:1', ...time]);
      await expect(run('--time-from', 'now-1h')).rejects.toThrow(/give --time-from and --time-to together/);
      await expect(run('--time-from', 'yesterday', '--time-to', 'now')).rejects.toThrow(/time from 'yesterday': expected Kibana date math/);
      await expect(run('--time-from', '2026-01-01 00:00', '--time-to', 'now')).rejects.toThrow(/time from '2026-01-01 00:00'/);
      await expect(run('--time-from', '2026-01-02T00:00:00Z', '--time-to', '2026-01-01T00:00:00Z')).rejects.toThrow(/is not before to/);
      expect(seen).toEqual([]);
    });
  });

  it('is `tapwatch dashboards import --kibana URL --elasticsearch URL`', async () => {
    await withKibana(ok(), async ({ url, seen }) => {
      expect(await dashboardsCli(['import', '--kibana', url, '--elasticsearch', elasticsearchUrl(), '--log-level', 'silent'])).toBe(0);
      expect(seen).toHaveLength(1);
    });
    await expect(dashboardsCli(['import', '--kibana', 'http://127.0.0.1:1'])).rejects.toThrow(/--kibana and --elasticsearch are required/);
    await expect(dashboardsCli(['export'])).rejects.toThrow(/expected 'import'/);
  });
});
