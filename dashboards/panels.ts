// What every dashboard panel shows, defined once as data: the saved objects (saved-objects.ts) are rendered from
// it, and the tests run the aggregation each panel stands for (panelAggregation) on a real node. The panels follow
// the SORACOM/Elastic "Realtime VPG Metric Monitor" (Junction / nDPI field names and labels), for the whole fleet,
// one device, and the analyzer's anomalies and actions.

import type { estypes } from '@elastic/elasticsearch';
import { INDEX_TEMPLATES } from '../indexer/templates.js';

export type ViewKey = 'inspection' | 'anomalies' | 'actions';

/** One data view per index template, with the template's own pattern, so every index that gets the mapping is in the view. */
export const DATA_VIEWS: Record<ViewKey, { id: string; name: string; title: string }> = {
  inspection: { id: 'tapwatch-inspection', name: 'tapwatch inspection', title: INDEX_TEMPLATES['tapwatch-inspection'].index_patterns[0] },
  anomalies: { id: 'tapwatch-anomalies', name: 'tapwatch anomalies', title: INDEX_TEMPLATES['tapwatch-anomalies'].index_patterns[0] },
  actions: { id: 'tapwatch-actions', name: 'tapwatch actions', title: INDEX_TEMPLATES['tapwatch-actions'].index_patterns[0] },
};

export interface Metric {
  op: 'sum' | 'avg' | 'max' | 'count' | 'unique_count';
  /** Not for count. */
  field?: string;
  label: string;
}

/** Outer to inner: the x axis (or rows), then the split (series, heatmap rows). */
export type Bucket = { type: 'date' } | { type: 'terms'; field: string; size: number; label: string };

export interface Panel {
  id: string;
  title: string;
  view: ViewKey;
  /** metric/bar/line/area/table are Lens; tagcloud, heatmap and hbar over a nested field are Vega (Lens cannot aggregate nested fields). */
  chart: 'metric' | 'bar' | 'line' | 'area' | 'table' | 'tagcloud' | 'heatmap' | 'hbar';
  metrics: Metric[];
  buckets: Bucket[];
  /** The nested path the terms bucket and metrics live under, e.g. detected.protos. */
  nested?: string;
  /** Only documents where field = value. */
  filter?: { field: string; value: string };
}

const TS = 'traffic.statistics';
const sum = (field: string, label: string): Metric => ({ op: 'sum', field, label });
const count: Metric = { op: 'count', label: 'Count' };
const date: Bucket = { type: 'date' };
const terms = (field: string, size: number, label: string): Bucket => ({ type: 'terms', field, size, label });

// The VPG Metric Monitor's histogram: nDPI's packet_len[0..5] buckets under its labels.
export const PACKET_SIZE_BUCKETS: Metric[] = [
  sum(`${TS}.pkt.len_min64`, 'Packets > 0'),
  sum(`${TS}.pkt.len_64_128`, 'Packets > 64'),
  sum(`${TS}.pkt.len_128_256`, 'Packets > 128'),
  sum(`${TS}.pkt.len_256_1024`, 'Packets > 256'),
  sum(`${TS}.pkt.len_1024_1500`, 'Packets > 1024'),
  sum(`${TS}.pkt.len_grt1500`, 'Packets > 1500'),
];

const FLEET: Panel[] = [
  { id: 'fleet-ethernet-bytes', title: 'Ethernet bytes', view: 'inspection', chart: 'metric', metrics: [sum(`${TS}.ethernet.bytes`, 'Ethernet bytes')], buckets: [] },
  { id: 'fleet-ip-bytes', title: 'IP bytes', view: 'inspection', chart: 'metric', metrics: [sum(`${TS}.ip.bytes`, 'IP bytes')], buckets: [] },
  { id: 'fleet-avg-pkt-size', title: 'Average packet size', view: 'inspection', chart: 'metric', metrics: [{ op: 'avg', field: `${TS}.avg.pkt.size`, label: 'Average packet size' }], buckets: [] },
  { id: 'fleet-max-pkt-size', title: 'Max packet size', view: 'inspection', chart: 'metric', metrics: [{ op: 'max', field: `${TS}.max.pkt.size`, label: 'Max packet size' }], buckets: [] },
  { id: 'fleet-pkt-size-buckets', title: 'Packet sizes', view: 'inspection', chart: 'bar', metrics: PACKET_SIZE_BUCKETS, buckets: [] },
  { id: 'fleet-bytes-over-time', title: 'Bytes over time', view: 'inspection', chart: 'area', metrics: [sum(`${TS}.ethernet.bytes`, 'Ethernet bytes'), sum(`${TS}.ip.bytes`, 'IP bytes')], buckets: [date] },
  { id: 'fleet-protocols', title: 'Protocols', view: 'inspection', chart: 'tagcloud', nested: 'detected.protos', metrics: [sum('detected.protos.bytes', 'Bytes')], buckets: [terms('detected.protos.name', 30, 'Protocol')] },
  {
    id: 'fleet-protocols-over-time',
    title: 'Protocols over time',
    view: 'inspection',
    chart: 'heatmap',
    nested: 'detected.protos',
    metrics: [sum('detected.protos.bytes', 'Bytes')],
    buckets: [date, terms('detected.protos.name', 10, 'Protocol')],
  },
];

const DEVICE: Panel[] = [
  { id: 'device-bytes-up-down', title: 'Bytes up / down', view: 'inspection', chart: 'line', metrics: [sum('uplink.bytes', 'Up'), sum('downlink.bytes', 'Down')], buckets: [date] },
  // The record keeps only its top-K far ends per interval, so this adds up the bytes of the intervals where a destination was in the top K.
  { id: 'device-top-destinations', title: 'Top destinations', view: 'inspection', chart: 'hbar', nested: 'destinations.top', metrics: [sum('destinations.top.bytes', 'Bytes')], buckets: [terms('destinations.top.ip', 10, 'Destination')] },
  { id: 'device-protocols', title: 'Protocols', view: 'inspection', chart: 'hbar', nested: 'detected.protos', metrics: [sum('detected.protos.bytes', 'Bytes')], buckets: [terms('detected.protos.name', 10, 'Protocol')] },
  { id: 'device-anomalies', title: 'Anomalies', view: 'anomalies', chart: 'table', metrics: [count], buckets: [terms('behavior', 20, 'Behavior'), terms('severity', 5, 'Severity')] },
];

const ANOMALIES: Panel[] = [
  { id: 'anomalies-by-detector', title: 'Anomalies by detector', view: 'anomalies', chart: 'bar', metrics: [count], buckets: [date, terms('detector', 5, 'Detector')] },
  { id: 'anomalies-by-severity', title: 'Anomalies by severity', view: 'anomalies', chart: 'bar', metrics: [count], buckets: [date, terms('severity', 5, 'Severity')] },
  { id: 'anomalies-devices-in-alarm', title: 'Devices in alarm', view: 'anomalies', chart: 'metric', filter: { field: 'alarm', value: 'in-alarm' }, metrics: [{ op: 'unique_count', field: 'device.id', label: 'Devices in alarm' }], buckets: [] },
  { id: 'anomalies-alarms-per-device', title: 'Alarms per device', view: 'anomalies', chart: 'table', filter: { field: 'alarm', value: 'in-alarm' }, metrics: [count], buckets: [terms('device.id', 50, 'Device'), terms('behavior', 10, 'Behavior')] },
  { id: 'actions-taken', title: 'Actions taken', view: 'actions', chart: 'table', metrics: [count], buckets: [terms('event.action', 10, 'Action'), terms('action.result', 10, 'Result')] },
  { id: 'actions-over-time', title: 'Actions over time', view: 'actions', chart: 'bar', metrics: [count], buckets: [date, terms('event.action', 10, 'Action')] },
];

/** A Kibana time range: date math (now-1h) or ISO 8601 instants. */
export interface TimeRange {
  from: string;
  to: string;
}

export interface Dashboard {
  id: string;
  title: string;
  description: string;
  /**
   * The time range the dashboard opens with (saved with it: timeRestore). Every document's @timestamp is the time of
   * the traffic it is about, so this is a window of traffic; `tapwatch dashboards import --time-from/--time-to`
   * replaces it, e.g. with a replayed capture's own time.
   */
  time: TimeRange;
  /** An options-list control on device.id; single-select for the one-device dashboard. */
  deviceControl: 'multi' | 'single';
  panels: Panel[];
}

// The windows, for live traffic (records every minute, the collector's default interval):
// - Fleet traffic, the last hour: the VPG Metric Monitor is a realtime view; 60 one-minute records per device, which
//   Kibana's automatic interval draws as one-minute bars, and a change in the fleet's traffic shows within a minute.
// - Device, the last 24 hours: a device's day, the period its baselines learn (time-of-day buckets), so an odd hour
//   stands out against the rest of its day.
// - Anomalies & actions, the last 7 days: alarm transitions are few and an incident is looked at after the fact,
//   a weekend's included; an action has its anomaly's @timestamp, so the two are never split across the window's edge.
export const DASHBOARDS: Dashboard[] = [
  { id: 'tapwatch-fleet', title: 'tapwatch: Fleet traffic', description: 'The SORACOM Junction VPG Metric Monitor panels over the whole fleet', time: { from: 'now-1h', to: 'now' }, deviceControl: 'multi', panels: FLEET },
  { id: 'tapwatch-device', title: 'tapwatch: Device', description: 'One device: its traffic, destinations, protocols and anomalies (pick it in the Device control)', time: { from: 'now-24h', to: 'now' }, deviceControl: 'single', panels: DEVICE },
  { id: 'tapwatch-anomalies-actions', title: 'tapwatch: Anomalies & actions', description: 'Alarm transitions by detector and severity, devices in alarm, actions taken', time: { from: 'now-7d', to: 'now' }, deviceControl: 'multi', panels: ANOMALIES },
];

/** Kibana date math as the time picker takes it: now, optionally plus/minus amounts of a unit, optionally rounded. */
const DATE_MATH = /^now(?:[+-]\d+[smhdwMy])*(?:\/[smhdwMy])?$/;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:\d{2})$/;

/** The range, checked: each end date math or an ISO 8601 instant with its zone, and from before to when both are instants. */
export function checkTimeRange(range: TimeRange): TimeRange {
  for (const [name, v] of Object.entries(range)) {
    if (!DATE_MATH.test(v) && !(ISO_INSTANT.test(v) && !Number.isNaN(Date.parse(v)))) {
      throw new RangeError(`time ${name} '${v}': expected Kibana date math (now, now-24h, now-7d/d) or an ISO 8601 instant with its zone (2026-01-01T00:00:00Z)`);
    }
  }
  if (ISO_INSTANT.test(range.from) && ISO_INSTANT.test(range.to) && Date.parse(range.from) >= Date.parse(range.to)) {
    throw new RangeError(`time from '${range.from}' is not before to '${range.to}'`);
  }
  return range;
}

/** A window that moves with now refreshes as records arrive (every minute); one between two instants does not move. */
export const refreshInterval = (range: TimeRange) => (range.to.startsWith('now') ? { pause: false, value: 60_000 } : { pause: true, value: 0 });

export const PANELS: Panel[] = DASHBOARDS.flatMap((d) => d.panels);

/** Metric aggregation names: m0, m1, ... in the panel's metric order; count has none (doc_count). */
export const metricName = (i: number) => `m${i}`;

function metricAggs(panel: Panel): Record<string, estypes.AggregationsAggregationContainer> {
  const out: Record<string, estypes.AggregationsAggregationContainer> = {};
  panel.metrics.forEach((m, i) => {
    if (m.op === 'count') return;
    const op = m.op === 'unique_count' ? 'cardinality' : m.op;
    out[metricName(i)] = { [op]: { field: m.field } };
  });
  return out;
}

/** Kibana's Vega placeholder for "an interval that suits the time picker's range". */
export const AUTO_INTERVAL = { '%autointerval%': true } as const;

/**
 * The Elasticsearch aggregations a panel stands for: buckets b0 (outer), b1, ...; nested fields under `nested`,
 * inside any date bucket; metrics m0, m1, ... in the innermost bucket. Terms are ordered by the first metric, as
 * Lens orders them. `interval`: a fixed_interval such as '60s', or AUTO_INTERVAL for Vega, whose query parser
 * replaces only date_histogram's legacy `interval` key (turning it into fixed_interval / calendar_interval).
 */
export function panelAggregation(panel: Panel, interval: string | typeof AUTO_INTERVAL): Record<string, estypes.AggregationsAggregationContainer> {
  const first = panel.metrics[0];
  const order = first.op === 'count' ? { _count: 'desc' as const } : { [metricName(0)]: 'desc' as const };
  let inner: Record<string, estypes.AggregationsAggregationContainer> = metricAggs(panel);
  for (let i = panel.buckets.length - 1; i >= 0; i--) {
    const b = panel.buckets[i];
    const agg: estypes.AggregationsAggregationContainer =
      b.type === 'date'
        ? { date_histogram: { field: '@timestamp', ...(typeof interval === 'string' ? { fixed_interval: interval } : { interval }), min_doc_count: 1 } as estypes.AggregationsDateHistogramAggregation }
        : { terms: { field: b.field, size: b.size, order } };
    inner = { [`b${i}`]: { ...agg, aggs: inner } };
    // The nested context opens just outside the bucket on the nested field, so an outer date bucket still sees the document.
    if (panel.nested && b.type === 'terms' && b.field.startsWith(`${panel.nested}.`)) {
      inner = { nested: { nested: { path: panel.nested }, aggs: inner } };
    }
  }
  return inner;
}

/** The panel's filter as an Elasticsearch query (the saved objects carry it as KQL, panelKuery). */
export function panelQuery(panel: Panel): estypes.QueryDslQueryContainer {
  return panel.filter ? { term: { [panel.filter.field]: panel.filter.value } } : { match_all: {} };
}

export const panelKuery = (panel: Panel) => (panel.filter ? `${panel.filter.field} : "${panel.filter.value}"` : '');

export type FieldNeed = 'numeric' | 'keyword' | 'date' | 'term';

/** Every field a panel reads, with what it needs the mapping to be (term: a keyword or an ip, which terms and cardinality bucket exactly). */
export function panelFields(panel: Panel): { field: string; needs: FieldNeed }[] {
  const out: { field: string; needs: FieldNeed }[] = [];
  for (const m of panel.metrics) if (m.field) out.push({ field: m.field, needs: m.op === 'unique_count' ? 'term' : 'numeric' });
  for (const b of panel.buckets) out.push(b.type === 'date' ? { field: '@timestamp', needs: 'date' } : { field: b.field, needs: 'term' });
  if (panel.filter) out.push({ field: panel.filter.field, needs: 'keyword' });
  return out;
}
