// Kibana 8.x saved objects for the panels of panels.ts: data views, Lens and Vega visualizations, dashboards.
// Kibana cannot run here (no registry ships it), so the shapes are the ones of /work/shared/notes/services.md
// §3.2/§3.4, taken from Kibana's own sample data: Lens in its 7.14 shape (datasource "indexpattern", legacy
// lnsMetric) with typeMigrationVersion 7.14.0, so that Kibana's import runs every Lens migration since, instead of
// our guessing the newest shape. Lens cannot aggregate nested fields (elastic/kibana#150158), so the panels on
// detected.protos and destinations.top are Vega, which sends panelAggregation() itself.

import { AUTO_INTERVAL, DASHBOARDS, DATA_VIEWS, checkTimeRange, metricName, panelAggregation, panelKuery, refreshInterval, type Dashboard, type Panel, type TimeRange } from './panels.js';

export interface SavedObject {
  type: 'index-pattern' | 'lens' | 'visualization' | 'dashboard';
  id: string;
  attributes: Record<string, unknown>;
  references: { type: string; id: string; name: string }[];
  coreMigrationVersion: string;
  typeMigrationVersion: string;
}

const CORE = '8.8.0';
// The versions the objects' shapes belong to (services.md §3.2, §3.4); import migrates them up from there.
const VERSION = { 'index-pattern': '7.11.0', lens: '7.14.0', visualization: '7.14.0', dashboard: '8.7.0', panel: '8.8.0' } as const;
const LAYER = 'layer1';
const emptySearchSource = JSON.stringify({ query: { query: '', language: 'kuery' }, filter: [] });

export const objectId = (panel: Panel) => `tapwatch-${panel.id}`;
const isVega = (panel: Panel) => panel.nested !== undefined;

function dataView(key: keyof typeof DATA_VIEWS): SavedObject {
  const v = DATA_VIEWS[key];
  return {
    type: 'index-pattern',
    id: v.id,
    attributes: { title: v.title, name: v.name, timeFieldName: '@timestamp' },
    references: [],
    coreMigrationVersion: CORE,
    typeMigrationVersion: VERSION['index-pattern'],
  };
}

/** Lens columns keyed b0.. (buckets) and m0.. (metrics), the names panelAggregation gives the same aggregations. */
function lensColumns(panel: Panel): Record<string, Record<string, unknown>> {
  const columns: Record<string, Record<string, unknown>> = {};
  panel.buckets.forEach((b, i) => {
    columns[`b${i}`] =
      b.type === 'date'
        ? { label: '@timestamp', dataType: 'date', operationType: 'date_histogram', sourceField: '@timestamp', isBucketed: true, scale: 'interval', params: { interval: 'auto' } }
        : {
            label: b.label,
            customLabel: true,
            dataType: 'string',
            operationType: 'terms',
            sourceField: b.field,
            isBucketed: true,
            scale: 'ordinal',
            // No "Other" bucket: the panel shows the top terms and nothing the aggregation does not return.
            params: { size: b.size, orderBy: { type: 'column', columnId: metricName(0) }, orderDirection: 'desc', otherBucket: false, missingBucket: false },
          };
  });
  panel.metrics.forEach((m, i) => {
    columns[metricName(i)] = {
      label: m.label,
      customLabel: true,
      dataType: 'number',
      operationType: m.op,
      // Lens 7.x's name for "count of documents".
      sourceField: m.op === 'count' ? 'Records' : m.field,
      isBucketed: false,
      scale: 'ratio',
    };
  });
  return columns;
}

function lensVisualization(panel: Panel, columnIds: { buckets: string[]; metrics: string[] }) {
  const [x, split] = columnIds.buckets;
  switch (panel.chart) {
    case 'metric':
      return { type: 'lnsMetric', state: { layerId: LAYER, accessor: columnIds.metrics[0] } };
    case 'table':
      return { type: 'lnsDatatable', state: { layerId: LAYER, columns: [...columnIds.buckets, ...columnIds.metrics].map((columnId) => ({ columnId, isTransposed: false })) } };
    case 'bar':
    case 'line':
    case 'area': {
      // Stacked when split into series; side by side when each metric is its own bar (the packet-size buckets).
      const seriesType = panel.chart === 'bar' ? (split ? 'bar_stacked' : 'bar') : panel.chart;
      const layer = { layerId: LAYER, accessors: columnIds.metrics, position: 'top', seriesType, showGridlines: false, ...(x && { xAccessor: x }), ...(split && { splitAccessor: split }) };
      return { type: 'lnsXY', state: { legend: { isVisible: true, position: 'right' }, valueLabels: 'hide', fittingFunction: 'None', preferredSeriesType: seriesType, layers: [layer] } };
    }
    default:
      throw new Error(`panel ${panel.id}: ${panel.chart} is not a Lens chart`);
  }
}

function lens(panel: Panel): SavedObject {
  const columns = lensColumns(panel);
  const ids = { buckets: panel.buckets.map((_, i) => `b${i}`), metrics: panel.metrics.map((_, i) => metricName(i)) };
  const vis = lensVisualization(panel, ids);
  const dv = DATA_VIEWS[panel.view].id;
  return {
    type: 'lens',
    id: objectId(panel),
    attributes: {
      title: panel.title,
      description: '',
      visualizationType: vis.type,
      state: {
        datasourceStates: { indexpattern: { layers: { [LAYER]: { columns, columnOrder: [...ids.buckets, ...ids.metrics], incompleteColumns: {} } } } },
        visualization: vis.state,
        query: { query: panelKuery(panel), language: 'kuery' },
        filters: [],
      },
    },
    references: [
      { type: 'index-pattern', id: dv, name: 'indexpattern-datasource-current-indexpattern' },
      { type: 'index-pattern', id: dv, name: `indexpattern-datasource-layer-${LAYER}` },
    ],
    coreMigrationVersion: CORE,
    typeMigrationVersion: VERSION.lens,
  };
}

/** Kibana's Vega data url: the panel's aggregation under the dashboard's time range, filters and query (%context%). */
function vegaUrl(panel: Panel) {
  if (panel.filter) throw new Error(`panel ${panel.id}: a Vega panel's query is the dashboard context; it cannot also filter`);
  return { index: DATA_VIEWS[panel.view].title, '%context%': true, '%timefield%': '@timestamp', body: { size: 0, aggs: panelAggregation(panel, AUTO_INTERVAL) } };
}

function vegaSpec(panel: Panel): Record<string, unknown> {
  const url = vegaUrl(panel);
  const metric = panel.metrics[0];
  const term = panel.buckets.find((b) => b.type === 'terms')!;
  switch (panel.chart) {
    case 'hbar':
      return {
        $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
        data: { url, format: { property: 'aggregations.nested.b0.buckets' } },
        mark: 'bar',
        encoding: {
          y: { field: 'key', type: 'nominal', sort: '-x', title: term.label },
          x: { field: `${metricName(0)}.value`, type: 'quantitative', title: metric.label },
          tooltip: [{ field: 'key', type: 'nominal', title: term.label }, { field: `${metricName(0)}.value`, type: 'quantitative', title: metric.label, format: ',' }],
        },
      };
    case 'heatmap':
      // One row per protocol, one column per time bucket: the VPG Metric Monitor's protocol swimlane. The time axis is
      // ordinal, a band per bucket: on a temporal axis a rect with no end time has no width (nothing is drawn), and
      // the bucket's length is Kibana's automatic interval, which the spec does not know.
      return {
        $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
        data: { url, format: { property: 'aggregations.b0.buckets' } },
        transform: [
          { flatten: ['nested.b1.buckets'], as: ['term'] },
          { calculate: 'datum.term.key', as: 'name' },
          { calculate: `datum.term.${metricName(0)}.value`, as: 'value' },
        ],
        mark: 'rect',
        encoding: {
          x: { field: 'key', type: 'ordinal', title: null, axis: { labelExpr: "timeFormat(datum.value, '%H:%M')", labelAngle: -45 } },
          y: { field: 'name', type: 'nominal', title: term.label },
          color: { field: 'value', type: 'quantitative', title: metric.label },
          tooltip: [{ field: 'key', type: 'temporal', format: '%Y-%m-%d %H:%M:%S', title: 'time' }, { field: 'name', type: 'nominal', title: term.label }, { field: 'value', type: 'quantitative', title: metric.label, format: ',' }],
        },
      };
    case 'tagcloud':
      // Vega, not Vega-Lite: only Vega has the wordcloud layout.
      return {
        $schema: 'https://vega.github.io/schema/vega/v5.json',
        data: [{ name: 'terms', url, format: { property: 'aggregations.nested.b0.buckets' }, transform: [{ type: 'formula', as: 'value', expr: `datum.${metricName(0)}.value` }] }],
        scales: [{ name: 'color', type: 'ordinal', domain: { data: 'terms', field: 'key' }, range: { scheme: 'category20' } }],
        marks: [
          {
            type: 'text',
            from: { data: 'terms' },
            encode: { enter: { text: { field: 'key' }, align: { value: 'center' }, baseline: { value: 'alphabetic' }, fill: { scale: 'color', field: 'key' }, tooltip: { signal: `datum.key + ': ' + format(datum.value, ',') + ' ${metric.label.toLowerCase()}'` } } },
            transform: [{ type: 'wordcloud', size: [{ signal: 'width' }, { signal: 'height' }], text: { field: 'key' }, fontSize: { field: 'datum.value' }, fontSizeRange: [12, 48], padding: 2 }],
          },
        ],
      };
    default:
      throw new Error(`panel ${panel.id}: ${panel.chart} is not a Vega chart`);
  }
}

function vega(panel: Panel): SavedObject {
  const visState = { title: panel.title, type: 'vega', aggs: [], params: { spec: JSON.stringify(vegaSpec(panel), null, 2) } };
  return {
    type: 'visualization',
    id: objectId(panel),
    attributes: {
      title: panel.title,
      description: '',
      version: 1,
      visState: JSON.stringify(visState),
      uiStateJSON: '{}',
      // Vega names its index in the spec, so the search source has no data view.
      kibanaSavedObjectMeta: { searchSourceJSON: emptySearchSource },
    },
    references: [],
    coreMigrationVersion: CORE,
    typeMigrationVersion: VERSION.visualization,
  };
}

const SIZE = { metric: { w: 12, h: 7 }, table: { w: 24, h: 14 }, chart: { w: 24, h: 14 } };

/** Panels left to right, wrapping at Kibana's 48 grid columns. */
function layout(panels: Panel[]) {
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  return panels.map((panel) => {
    const { w, h } = panel.chart === 'metric' ? SIZE.metric : panel.chart === 'table' ? SIZE.table : SIZE.chart;
    if (x + w > 48) {
      x = 0;
      y += rowHeight;
      rowHeight = 0;
    }
    const grid = { x, y, w, h };
    x += w;
    rowHeight = Math.max(rowHeight, h);
    return grid;
  });
}

export const DEVICE_CONTROL_FIELD = 'device.id';

function dashboard(d: Dashboard, time: TimeRange): SavedObject {
  const grids = layout(d.panels);
  const panels = d.panels.map((panel, i) => {
    const panelIndex = panel.id;
    return {
      version: VERSION.panel,
      type: isVega(panel) ? 'visualization' : 'lens',
      gridData: { ...grids[i], i: panelIndex },
      panelIndex,
      embeddableConfig: { enhancements: {} },
      panelRefName: `panel_${panelIndex}`,
    };
  });
  const controlId = `${d.id}-device`;
  const control = {
    [controlId]: {
      order: 0,
      width: 'medium',
      grow: true,
      type: 'optionsListControl',
      explicitInput: { id: controlId, fieldName: DEVICE_CONTROL_FIELD, title: 'Device', singleSelect: d.deviceControl === 'single', enhancements: {} },
    },
  };
  return {
    type: 'dashboard',
    id: d.id,
    attributes: {
      title: d.title,
      description: d.description,
      version: 1,
      // Opens on its own window of traffic rather than whatever the time picker last showed.
      timeRestore: true,
      timeFrom: time.from,
      timeTo: time.to,
      refreshInterval: refreshInterval(time),
      optionsJSON: JSON.stringify({ useMargins: true, syncColors: false, syncCursor: true, syncTooltips: false, hidePanelTitles: false }),
      panelsJSON: JSON.stringify(panels),
      controlGroupInput: {
        controlStyle: 'oneLine',
        chainingSystem: 'HIERARCHICAL',
        ignoreParentSettingsJSON: JSON.stringify({ ignoreFilters: false, ignoreQuery: false, ignoreTimerange: false, ignoreValidations: false }),
        panelsJSON: JSON.stringify(control),
      },
      kibanaSavedObjectMeta: { searchSourceJSON: emptySearchSource },
    },
    references: [
      ...panels.map((p, i) => ({ name: `${p.panelIndex}:${p.panelRefName}`, type: p.type, id: objectId(d.panels[i]) })),
      // The device list comes from the inspection data view: every device that sent anything, alarmed or not.
      { name: `controlGroup_${controlId}:optionsListDataView`, type: 'index-pattern', id: DATA_VIEWS.inspection.id },
    ],
    coreMigrationVersion: CORE,
    typeMigrationVersion: VERSION.dashboard,
  };
}

export interface SavedObjectsOptions {
  /** One time range for every dashboard instead of each one's own (panels.ts), e.g. a replayed capture's. */
  time?: TimeRange;
}

/** Data views first, then visualizations, then dashboards: each object after the ones it references. */
export function savedObjects(o: SavedObjectsOptions = {}): SavedObject[] {
  const views = (Object.keys(DATA_VIEWS) as (keyof typeof DATA_VIEWS)[]).map(dataView);
  const visualizations = DASHBOARDS.flatMap((d) => d.panels).map((p) => (isVega(p) ? vega(p) : lens(p)));
  return [...views, ...visualizations, ...DASHBOARDS.map((d) => dashboard(d, checkTimeRange(o.time ?? d.time)))];
}

export const savedObjectsNdjson = (o: SavedObjectsOptions = {}): string => savedObjects(o).map((x) => JSON.stringify(x)).join('\n') + '\n';
