// The composable index templates of tapwatch's three kinds of Elasticsearch documents. Field names are ECS
// (8.17) where ECS has one and the InspectionRecord's own (SORACOM Junction / nDPI) names otherwise; ELASTICSEARCH.md
// explains the choices and what the test node's distribution can and cannot do.
// Mappings are strict: a field the template does not know is rejected at index time rather than guessed (an IP as
// text, a counter as float), so the record schema and these templates have to change together.

import type { Client, estypes } from '@elastic/elasticsearch';
import { ContactSchema, DnsDomainSchema, InspectionRecordSchema } from '../contracts/inspection-record.js';

export const ECS_VERSION = '8.17.0';
/** Daily indices, tapwatch-inspection-YYYY.MM.DD: see inspectionIndex() in documents.ts; retention.ts deletes old ones. */
export const INSPECTION_INDEX_PREFIX = 'tapwatch-inspection-';
export const ANOMALIES_INDEX = 'tapwatch-anomalies';
export const ACTIONS_INDEX = 'tapwatch-actions';
/** Raise with every mapping change: ES keeps it with the template, so an installation can tell which one it has. */
const TEMPLATE_VERSION = 6;

const keyword = { type: 'keyword' } as const;
const long = { type: 'long' } as const;
const double = { type: 'double' } as const;
const date = { type: 'date' } as const;
const ip = { type: 'ip' } as const;
const boolean = { type: 'boolean' } as const;
const text = { type: 'text' } as const;

const record = InspectionRecordSchema.properties;

/** A long per counter of a record object (traffic.statistics, uplink, tcp, ...), so a counter the collector adds
 *  to the schema gets its mapping without a second list here; `except` names the fields mapped otherwise. */
const counters = (object: { properties: Record<string, unknown> }, except: readonly string[] = []) => ({
  properties: Object.fromEntries(Object.keys(object.properties).filter((name) => !except.includes(name)).map((name) => [name, long])),
});

/** A destination's or contact's name (from a DNS answer or SNI): exact values, for terms and joins across indices. */
const named = { name: keyword, name_source: keyword };

/** ECS event.* plus what a kind of document adds to it. Every document has `ingested` (when the indexer indexed it)
 *  beside @timestamp, which is always the time of the traffic a document is about; `created` (when the event was
 *  decided) is added by the kinds that have one. */
const event = (extra: Record<string, estypes.MappingProperty>) => ({
  properties: { kind: keyword, category: keyword, type: keyword, module: keyword, dataset: keyword, ingested: date, ...extra },
});

// Shared by all three: the ECS base, and the device identity that joins the indices (device.id is ECS; the rest
// extends ECS's device field set with the record's names). Anomalies and actions carry the AnomalyEvent's device,
// which has no IMEI and no inventory flag.
const base = { '@timestamp': date, ecs: { properties: { version: keyword } } };
const eventDevice = { id: keyword, ip, imsi: keyword, group: keyword };
const device = { properties: { ...eventDevice, imei: keyword, known: boolean } };

const settings = {
  number_of_shards: 1,
  // One replica on a real cluster, none on a single node (which then reports green, not yellow).
  auto_expand_replicas: '0-1',
};

/** What marks a template, and every index created from it, as tapwatch's: retention deletes no index without it. */
export const MANAGED_BY = { managed_by: 'tapwatch' } as const;

/** A composable template with tapwatch's settings and a strict mapping: a field nobody declared is an error. The
 *  mapping's own _meta goes into each index made from the template (the template's _meta stays with the template). */
function strictTemplate<P extends Record<string, estypes.MappingProperty>>(pattern: string, properties: P, _meta: estypes.Metadata = MANAGED_BY) {
  return {
    index_patterns: [pattern],
    priority: 200,
    version: TEMPLATE_VERSION,
    _meta,
    template: { settings, mappings: { dynamic: 'strict' as const, _meta: MANAGED_BY, properties } },
  };
}

export const INDEX_TEMPLATES = {
  'tapwatch-inspection': strictTemplate(`${INSPECTION_INDEX_PREFIX}*`, {
    ...base,
    event: event({ start: date, end: date, duration: long }),
    observer: { properties: { type: keyword, product: keyword } },
    source: { properties: { ip, bytes: long, packets: long } },
    network: { properties: { type: keyword, bytes: long, packets: long } },
    related: { properties: { ip } },
    // The record as the collector wrote it.
    schema: keyword,
    interval: { properties: { start: date, end: date, seconds: long, complete: boolean } },
    device,
    collector: { properties: { source: keyword } },
    tunnel: { properties: { type: keyword, key: long, vni: long, session: long, call_id: long, mirror_source: ip } },
    'traffic.statistics': counters(record['traffic.statistics']),
    uplink: counters(record.uplink),
    downlink: counters(record.downlink),
    // nested: "packets of mqtt" must add up mqtt's packets, not every protocol's of a record that has mqtt.
    'detected.protos': { type: 'nested', properties: { name: keyword, packets: long, bytes: long, flows: long } },
    destinations: {
      properties: {
        distinct: long,
        distinct_ports: long,
        top: { type: 'nested', properties: { ip, port: long, transport: keyword, packets: long, bytes: long, ...named } },
        // nested like top: "packets up to host x" must read x's packets, not every host's of a record that has x.
        hosts: { type: 'nested', properties: { ip, port: long, transport: keyword, up_packets: long, down_packets: long, up_bytes: long, down_bytes: long, ports: long, ...named } },
      },
    },
    tcp: counters(record.tcp),
    connections: {
      properties: {
        ...counters(record.connections, ['failed_sample']).properties,
        failed_sample: { properties: { ip, port: long, transport: keyword, ...named } },
      },
    },
    // nested: "bursts of contacts named x" must read x's bursts, not those of every contact of a record that has x.
    contacts: {
      type: 'nested',
      properties: { ...counters(ContactSchema, ['ip', 'transport', 'name', 'name_source', 'answered']).properties, ip, transport: keyword, ...named, answered: boolean },
    },
    dns: {
      properties: {
        ...counters(record.dns, ['types', 'name_length_mean', 'entropy_mean', 'resolvers', 'domains']).properties,
        types: counters(record.dns.properties.types),
        name_length_mean: double,
        entropy_mean: double,
        resolvers: { properties: { ip, queries: long } },
        domains: {
          type: 'nested',
          properties: { ...counters(DnsDomainSchema, ['domain', 'entropy', 'examples']).properties, domain: keyword, entropy: double, examples: keyword },
        },
      },
    },
    tls: counters(record.tls),
  }, { ...MANAGED_BY, record_schema: record.schema.const }),

  // Written by the analyzer: one document per alarm transition. The AnomalyEvent's own names (contracts/
  // anomaly-event.ts) plus ECS: event.id = event_id, event.severity = a number for sorting (severity is the label),
  // source.ip = device.ip. Only what anomalyDocument() writes: an AnomalyEvent names no far end and no policy.
  'tapwatch-anomalies': strictTemplate(`${ANOMALIES_INDEX}*`, {
    ...base,
    event: event({ id: keyword, severity: long, created: date }),
    source: { properties: { ip } },
    schema: keyword,
    event_id: keyword,
    interval_seconds: long,
    device: { properties: eventDevice },
    detector: keyword,
    basis: keyword,
    warmup: { properties: { complete: boolean, seconds: long, needed: long } },
    behavior: keyword,
    metric: keyword,
    comparison: keyword,
    observed: double,
    threshold: double,
    unit: keyword,
    // The evidence differs by behavior (contracts/anomaly-event.ts): all of it is kept in _source for the
    // document view, and what an operator filters or aggregates on is indexed; the rest is not rejected.
    evidence: {
      dynamic: false,
      properties: {
        kind: keyword,
        domain: keyword,
        failed_hosts: long,
        distinct_names: long,
        period_seconds: double,
        packets_per_second: double,
        bytes_up: long,
        destination: { properties: { ip, port: long, transport: keyword, name: keyword } },
        target: { properties: { ip, port: long, transport: keyword, name: keyword } },
        behaviors: keyword,
      },
    },
    baseline: {
      properties: {
        scope: keyword,
        statistic: keyword,
        value: double,
        median: double,
        mad: double,
        time_of_day: keyword,
        samples: long,
        group: keyword,
        devices: long,
      },
    },
    score: double,
    severity: keyword,
    // in-alarm | alarm-cleared (AWS IoT Device Defender's names)
    alarm: keyword,
    datapoints: long,
    alarm_since: date,
    suspected: keyword,
    summary: text,
  }),

  // Written by the responder (contracts/action-event.ts, indexer/documents.ts actionDocument): one document
  // per decision about a device, taken or not. @timestamp is its anomaly's interval, event.created the decision.
  'tapwatch-actions': strictTemplate(`${ACTIONS_INDEX}*`, {
    ...base,
    // event.action: the action type (block, throttle, ...); event.reason: the sentence; event.outcome: ECS's
    // success/failure/unknown, with tapwatch's finer result in action.result.
    event: event({ id: keyword, action: keyword, reason: keyword, outcome: keyword, created: date }),
    schema: keyword,
    device: { properties: eventDevice },
    source: { properties: { ip } },
    action: {
      properties: {
        actor: keyword,
        result: keyword,
        enforcer: keyword,
        dry_run: boolean,
        // The policy rule that chose it.
        rule: keyword,
        // event.id of the anomaly that led to it, if any.
        anomaly_id: keyword,
        speed_class: keyword,
        group_id: keyword,
        // The subscriber's state before the action: what its release puts back.
        previous: { properties: { status: keyword, speed_class: keyword, group_id: keyword } },
        // For a release: the action it undoes.
        releases: { properties: { action_id: keyword, action: keyword } },
        expires_at: date,
      },
    },
    // The anomaly behind it, so actions can be counted by behavior and severity without a join.
    anomaly: { properties: { behavior: keyword, detector: keyword, severity: keyword, metric: keyword, observed: double, threshold: double } },
    error: { properties: { message: text } },
  }),
} satisfies Record<string, Omit<estypes.IndicesPutIndexTemplateRequest, 'name'>>;

/** Creates or replaces the three templates. They apply to indices created afterwards; existing ones keep their mapping. */
export async function installTemplates(client: Client): Promise<void> {
  for (const [name, body] of Object.entries(INDEX_TEMPLATES)) await client.indices.putIndexTemplate({ name, ...body });
}
