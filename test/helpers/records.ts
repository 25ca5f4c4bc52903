// Hand-made inspection records for unit tests: a quiet interval by default, with the parts a test is
// about given in a few words (contacts, failed hosts, DNS domains), so a test reads as its scenario.

import { RECORD_SCHEMA_ID, type Contact, type DnsDomain, type Host, type InspectionRecord } from '../../contracts/inspection-record.js';

export function quietEvidence(dnsQueries = 0): Pick<InspectionRecord, 'connections' | 'contacts' | 'dns' | 'tls'> {
  return {
    connections: { attempted_hosts: 0, failed_hosts: 0, failed_named_hosts: 0, failed_ports: 0, refused_hosts: 0, icmp_unreachable: 0, failed_sample: [] },
    contacts: [],
    dns: {
      queries: dnsQueries, responses: dnsQueries, nxdomain: 0, servfail: 0, types: { a: dnsQueries, aaaa: 0, txt: 0, null: 0, cname: 0, mx: 0, any: 0, other: 0 },
      distinct_names: dnsQueries > 0 ? 1 : 0, name_length_max: 0, name_length_mean: 0, label_max: 0, entropy_mean: 0,
      resolvers: [], domains: [], domains_dropped: 0, names_dropped: 0, malformed: 0,
    },
    tls: { client_hellos: 0, without_sni: 0, malformed: 0 },
  };
}

export const T0 = Date.parse('2026-03-02T00:00:00.000Z') / 1000;

export interface RecordOptions {
  device?: string;
  group?: string;
  /** Interval index: the record covers [T0 + i * seconds, + seconds). */
  i: number;
  seconds?: number;
  up?: { bytes: number; packets: number };
  down?: { bytes: number; packets: number };
  contacts?: Partial<Contact>[];
  /** destinations.hosts (the record has none without it, as records of collectors before it). */
  hosts?: Partial<Host>[];
  failed?: { ip: string; port?: number; name?: string }[];
  /** Failed hosts beyond the sample (as a sweep's record has). */
  failedBeyond?: number;
  refused?: number;
  domains?: Partial<DnsDomain>[];
  resolvers?: string[];
}

/** A contact: defaults are an answered TCP session on 443 with one burst at the start of the interval. */
export function contact(c: Partial<Contact>): Contact {
  return { ip: '203.0.113.10', port: 443, transport: 'tcp', starts: 1, answered: true, bursts: [0], bursts_dropped: 0, up_packets: 5, up_bytes: 600, down_packets: 5, down_bytes: 800, ...c };
}

/** A far host over all its ports: defaults are a two-way exchange on one port (443/tcp). */
export function host(h: Partial<Host>): Host {
  return { ip: '203.0.113.10', port: 443, transport: 'tcp', up_packets: 5, down_packets: 5, up_bytes: 600, down_bytes: 800, ports: 1, ...h };
}

export function domain(d: Partial<DnsDomain>): DnsDomain {
  return { domain: 'example.com', queries: 1, distinct_names: 1, name_bytes: 15, name_length_max: 15, label_max: 7, entropy: 2.5, unusual_types: 0, nxdomain: 0, examples: ['www.example.com'], ...d };
}

export function record(o: RecordOptions): InspectionRecord {
  const seconds = o.seconds ?? 60;
  const start = new Date((T0 + o.i * seconds) * 1000).toISOString();
  const end = new Date((T0 + (o.i + 1) * seconds) * 1000).toISOString();
  const up = o.up ?? { bytes: 2000, packets: 20 };
  const down = o.down ?? { bytes: 1000, packets: 10 };
  const contacts = (o.contacts ?? []).map(contact);
  const failed = o.failed ?? [];
  const domains = (o.domains ?? []).map(domain);
  const queries = domains.reduce((n, d) => n + d.queries, 0);
  const ev = quietEvidence(queries);
  return {
    schema: RECORD_SCHEMA_ID,
    '@timestamp': start,
    interval: { start, end, seconds, complete: true },
    device: { id: o.device ?? 'dev-1', ip: '10.128.0.10', imsi: '440101000000001', group: o.group ?? 'meters', known: true },
    collector: { source: 'test' },
    tunnel: { type: 'gre' },
    'traffic.statistics': {
      'ethernet.bytes': up.bytes + down.bytes + 14 * (up.packets + down.packets), 'ip.bytes': up.bytes + down.bytes, 'ip.packets': up.packets + down.packets,
      'total.packets': up.packets + down.packets, 'avg.pkt.size': Math.floor((up.bytes + down.bytes) / Math.max(1, up.packets + down.packets)), 'max.pkt.size': 200,
      'pkt.len_min64': 0, 'pkt.len_64_128': up.packets + down.packets, 'pkt.len_128_256': 0, 'pkt.len_256_1024': 0, 'pkt.len_1024_1500': 0, 'pkt.len_grt1500': 0,
      'tcp.pkts': up.packets + down.packets, 'udp.pkts': 0, 'fragmented.pkts': 0, 'unique.flows': Math.max(1, contacts.length),
    },
    uplink: up,
    downlink: down,
    'detected.protos': [{ name: 'https', packets: up.packets + down.packets, bytes: up.bytes + down.bytes, flows: 1 }],
    destinations: {
      distinct: contacts.length,
      distinct_ports: new Set(contacts.map((c) => c.port)).size,
      top: contacts.map((c) => ({ ip: c.ip, port: c.port, transport: c.transport, packets: c.up_packets + c.down_packets, bytes: c.up_bytes + c.down_bytes, ...(c.name ? { name: c.name } : {}), ...(c.name_source ? { name_source: c.name_source } : {}) })),
      ...(o.hosts ? { hosts: o.hosts.map(host) } : {}),
    },
    tcp: { syn: 0, syn_ack: 0, rst: 0 },
    ...ev,
    connections: {
      attempted_hosts: failed.length + (o.failedBeyond ?? 0) + contacts.length,
      failed_hosts: failed.length + (o.failedBeyond ?? 0),
      failed_named_hosts: failed.filter((f) => f.name).length,
      failed_ports: failed.length + (o.failedBeyond ?? 0),
      refused_hosts: o.refused ?? 0,
      icmp_unreachable: 0,
      failed_sample: failed.slice(0, 8).map((f) => ({ ip: f.ip, port: f.port ?? 23, transport: 'tcp' as const, ...(f.name ? { name: f.name, name_source: 'dns' as const } : {}) })),
    },
    contacts,
    dns: {
      ...ev.dns,
      domains,
      distinct_names: domains.reduce((n, d) => n + d.distinct_names, 0),
      resolvers: (o.resolvers ?? (queries ? ['10.0.0.53'] : [])).map((ip) => ({ ip, queries })),
    },
  };
}
