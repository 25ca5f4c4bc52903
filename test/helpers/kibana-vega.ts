// What Kibana's Vega visualization does with a saved spec, done headlessly for the tests (Kibana cannot run here,
// services.md §3.1): every `data.url` object becomes an Elasticsearch request with its placeholders filled in as
// Kibana's EsQueryParser fills them (%context% and %timefield% → the dashboard's query and time range, an
// `interval: {%autointerval%: true}` → a fixed_interval rounded from the range), the raw response goes into the data
// object as `values` (the data's `format.property` then picks the buckets), Vega-Lite is compiled to Vega, and the
// `vega` package renders the view to SVG: the same libraries Kibana 8 draws with (vega 5, vega-lite 5).

import { compile, type TopLevelSpec } from 'vega-lite';
import { parse, View, type Spec } from 'vega';
import type { estypes } from '@elastic/elasticsearch';

export interface DashboardContext {
  /** The time picker's range, ms since the epoch. */
  time: { min: number; max: number };
  /** The dashboard's filters, e.g. a control's term on device.id. */
  filters?: estypes.QueryDslQueryContainer[];
}

export interface EsRequest {
  index: string;
  body: { size?: number; query?: estypes.QueryDslQueryContainer; aggs?: Record<string, estypes.AggregationsAggregationContainer> };
}

type Obj = Record<string, any>;
const isObject = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Every data object whose url is an object (an Elasticsearch request), as Kibana's _findObjectDataUrls finds them. */
export function dataWithEsUrls(spec: Obj): Obj[] {
  const found: Obj[] = [];
  const walk = (node: unknown, key?: string) => {
    if (Array.isArray(node)) node.forEach((n) => walk(n, key));
    else if (isObject(node)) {
      if (key === 'data' && isObject(node.url)) found.push(node);
      else for (const [k, v] of Object.entries(node)) walk(v, k);
    }
  };
  walk(spec);
  return found;
}

/** Kibana's EsQueryParser._roundInterval: the interval, for a range split into about 50 buckets. */
export function roundInterval(ms: number): string {
  const steps: [number, string][] = [
    [500, '100ms'], [5000, '1s'], [7500, '5s'], [15_000, '10s'], [45_000, '30s'], [180_000, '1m'], [450_000, '5m'],
    [1_200_000, '10m'], [2_700_000, '30m'], [7_200_000, '1h'], [21_600_000, '3h'], [86_400_000, '12h'], [604_800_000, '24h'],
    [1_814_400_000, '1w'],
  ];
  return steps.find(([limit]) => ms <= limit)?.[1] ?? (ms < 3_628_800_000 ? '30d' : '1y');
}

/** The request Kibana sends for a data url: the dashboard context as the query, the auto interval resolved. */
export function esRequest(url: Obj, ctx: DashboardContext): EsRequest {
  const { index, body: rawBody, ...rest } = structuredClone(url) as { index: string; body: Obj } & Obj;
  const body = rawBody ?? {};
  const timefield = rest['%timefield%'] as string | undefined;
  if (rest['%context%'] === true) {
    // Kibana's bool: the dashboard's filters, plus the time range on the time field.
    const range = timefield ? [{ range: { [timefield]: { gte: new Date(ctx.time.min).toISOString(), lte: new Date(ctx.time.max).toISOString(), format: 'strict_date_optional_time' } } }] : [];
    body.query = { bool: { must: range, filter: ctx.filters ?? [], should: [], must_not: [] } };
  }
  const interval = roundInterval((ctx.time.max - ctx.time.min) / 50);
  const fill = (node: unknown, key?: string): void => {
    if (Array.isArray(node)) node.forEach((n) => fill(n));
    else if (isObject(node)) {
      if (key === 'date_histogram' && isObject(node.interval) && node.interval['%autointerval%'] === true) {
        delete node.interval;
        // Kibana's dateHistogramInterval(): one of a calendar unit (1m, 1h, 1w, 1y) is a calendar_interval, the rest fixed.
        node[/^1[mhdwMqy]$/.test(interval) ? 'calendar_interval' : 'fixed_interval'] = interval;
      }
      for (const [k, v] of Object.entries(node)) fill(v, k);
    }
  };
  fill(body.aggs);
  return { index, body };
}

export interface Rendered {
  svg: string;
  /** Each request sent and the raw response that became the data's values. */
  requests: { request: EsRequest; response: Obj }[];
}

/**
 * The saved spec (visState.params.spec, a JSON string), drawn: data from `search` (the real node), compiled as
 * Kibana compiles it, sized as a dashboard panel of `width` × `height` pixels, rendered to SVG without a browser.
 */
export async function renderKibanaVega(specText: string, search: (r: EsRequest) => Promise<Obj>, ctx: DashboardContext, size = { width: 600, height: 300 }): Promise<Rendered> {
  const spec = JSON.parse(specText) as Obj;
  const requests: Rendered['requests'] = [];
  for (const data of dataWithEsUrls(spec)) {
    const request = esRequest(data.url, ctx);
    const response = await search(request);
    requests.push({ request, response });
    delete data.url;
    data.values = response;
  }
  // Kibana sizes a panel's view to its container (autosize fit, padding included); here the container is `size`.
  Object.assign(spec, size, { autosize: { type: 'fit', contains: 'padding' } });
  const isVegaLite = String(spec.$schema).includes('/vega-lite/');
  const vegaSpec = (isVegaLite ? compile(spec as TopLevelSpec).spec : spec) as Spec;
  const view = new View(parse(vegaSpec), { renderer: 'none' });
  try {
    return { svg: await view.toSVG(), requests };
  } finally {
    view.finalize();
  }
}

export interface MarkGroup {
  /** rect, text, symbol, ... */
  type: string;
  /** One entry per mark item: the element's attributes. */
  items: Record<string, string>[];
}

/**
 * The data marks a Vega SVG draws: the groups of role "mark" (axes, legends and titles have roles of their own), each
 * with its items' attributes. Vega writes each non-group mark as one <g> holding only its items' elements.
 */
export function dataMarks(svg: string): MarkGroup[] {
  const groups: MarkGroup[] = [];
  for (const g of svg.matchAll(/<g class="mark-(\w+) role-mark[^"]*"[^>]*>([\s\S]*?)<\/g>/g)) {
    const items = [...g[2].matchAll(/<(path|text|line|circle)\b([^>]*?)\/?>/g)].map((m) => Object.fromEntries([...m[2].matchAll(/([\w:-]+)="([^"]*)"/g)].map((a) => [a[1], a[2]])));
    groups.push({ type: g[1], items });
  }
  return groups;
}
