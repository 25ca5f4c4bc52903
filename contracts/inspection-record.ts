// The InspectionRecord: what one device did in one interval, in the spirit of SORACOM Junction
// inspection (the nDPI-derived names under "traffic.statistics" and "detected.protos" are kept as
// they are), plus who the device is, where it talked to and through which tunnel it was mirrored.
// Defined once: the schema below is the JSON Schema consumers get (`tapwatch collect --print-schema`),
// the TypeScript type is derived from it, and every producer and consumer validates with it.

import { Type, type Static } from 'typebox';
import { publishedSchema, validator } from './validate.js';
import { DNS_TYPES, NAME_SOURCES, RECORD_SCHEMA_ID, TRANSPORTS, TUNNEL_NAMES } from './record-names.js';

export { DNS_TYPES, NAME_SOURCES, RECORD_SCHEMA_ID, TRANSPORTS, TUNNEL_NAMES };

const Count = Type.Integer({ minimum: 0 });
const counts = <K extends string>(names: readonly K[]) =>
  Type.Object(Object.fromEntries(names.map((n) => [n, Count])) as { [P in K]: typeof Count }, { additionalProperties: false });

const STATISTICS = [
  'ethernet.bytes', 'ip.bytes', 'ip.packets', 'total.packets', 'avg.pkt.size', 'max.pkt.size', 'pkt.len_min64',
  'pkt.len_64_128', 'pkt.len_128_256', 'pkt.len_256_1024', 'pkt.len_1024_1500', 'pkt.len_grt1500', 'tcp.pkts',
  'udp.pkts', 'fragmented.pkts', 'unique.flows',
] as const;

export const DeviceIdentitySchema = Type.Object(
  {
    id: Type.String({ minLength: 1, description: 'inventory id, else the IP' }),
    ip: Type.String({ minLength: 2 }),
    imsi: Type.Optional(Type.String()),
    imei: Type.Optional(Type.String()),
    group: Type.Optional(Type.String()),
    known: Type.Boolean({ description: 'the device is in the inventory' }),
  },
  { additionalProperties: false },
);
export type DeviceIdentity = Static<typeof DeviceIdentitySchema>;

const Name = Type.String({ maxLength: 256, description: 'lower case; bytes outside printable ASCII written as \\xHH' });

const named = {
  name: Type.Optional(Name),
  name_source: Type.Optional(Type.Enum(NAME_SOURCES)),
};

export const DestinationSchema = Type.Object(
  {
    ip: Type.String(),
    port: Type.Integer({ minimum: 0, maximum: 65535 }),
    transport: Type.Enum(TRANSPORTS),
    packets: Count,
    bytes: Count,
    ...named,
  },
  { additionalProperties: false },
);
export type Destination = Static<typeof DestinationSchema>;

/**
 * One far host of the device, over all its ports and transports: what a flood to random ports of one
 * victim adds up to, when each of its (host, transport, port) far ends carries a packet or two.
 */
export const HostSchema = Type.Object(
  {
    ip: Type.String(),
    port: Type.Integer({ minimum: 0, maximum: 65535, description: 'port of its busiest far end (most packets; ties: first seen)' }),
    transport: Type.Enum(TRANSPORTS, { description: 'transport of its busiest far end' }),
    up_packets: Count,
    down_packets: Count,
    up_bytes: Count,
    down_bytes: Count,
    ports: Type.Integer({ minimum: 1, description: 'distinct (transport, port) far ends of the host the device exchanged packets with' }),
    ...named,
  },
  { additionalProperties: false },
);
export type Host = Static<typeof HostSchema>;

/**
 * One far end's contacts in the interval, for the regularity of contacts across intervals (beacons):
 * when its activity bursts began (a burst: packets to or from it with gaps under a second), connection
 * starts, and volume both ways. Persistent sessions show as bursts without starts.
 */
export const ContactSchema = Type.Object(
  {
    ip: Type.String(),
    port: Type.Integer({ minimum: 0, maximum: 65535 }),
    transport: Type.Enum(TRANSPORTS),
    ...named,
    starts: Type.Integer({ minimum: 0, description: 'TCP SYNs (without ACK) the device sent to it; UDP: 1 when the interval opened the flow' }),
    answered: Type.Boolean({ description: 'the far end sent anything back in the interval (a SYN-ACK, a datagram)' }),
    bursts: Type.Array(Type.Integer({ minimum: 0 }), { maxItems: 64, description: 'start of each burst, ms after the interval start, ascending' }),
    bursts_dropped: Type.Integer({ minimum: 0, description: 'bursts beyond the 64 listed' }),
    up_packets: Count,
    up_bytes: Count,
    down_packets: Count,
    down_bytes: Count,
  },
  { additionalProperties: false },
);
export type Contact = Static<typeof ContactSchema>;

/** The device's DNS per registered domain (public suffix list, private domains included) in the interval. */
export const DnsDomainSchema = Type.Object(
  {
    domain: Name,
    queries: Count,
    distinct_names: Type.Integer({ minimum: 0, description: 'distinct query names under the domain (the domain itself counts as one)' }),
    name_bytes: Type.Integer({ minimum: 0, description: 'bytes of the distinct query names' }),
    name_length_max: Count,
    label_max: Type.Integer({ minimum: 0, description: 'longest label of any query name under the domain' }),
    entropy: Type.Number({ minimum: 0, description: 'Shannon entropy (bits per character) of the subdomain characters of the distinct names, pooled' }),
    unusual_types: Type.Integer({ minimum: 0, description: 'queries of type TXT, NULL, CNAME, MX, ANY or other than A/AAAA/PTR/SRV/HTTPS' }),
    nxdomain: Count,
    examples: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 3, description: 'distinct names, first seen first, cut to 60 characters with an ellipsis' }),
  },
  { additionalProperties: false },
);
export type DnsDomain = Static<typeof DnsDomainSchema>;

export const InspectionRecordSchema = Type.Object(
  {
    schema: Type.Literal(RECORD_SCHEMA_ID),
    '@timestamp': Type.String({ format: 'date-time', description: 'interval start' }),
    interval: Type.Object(
      {
        start: Type.String({ format: 'date-time' }),
        end: Type.String({ format: 'date-time' }),
        seconds: Type.Integer({ minimum: 1 }),
        complete: Type.Boolean({ description: 'false when the input ended (or the collector stopped) before the interval did' }),
      },
      { additionalProperties: false },
    ),
    device: DeviceIdentitySchema,
    collector: Type.Object(
      { source: Type.String({ description: 'pcap:<file>, interface:<name> or udp:<port>' }) },
      { additionalProperties: false },
    ),
    tunnel: Type.Object(
      {
        type: Type.Enum(TUNNEL_NAMES),
        key: Type.Optional(Count),
        vni: Type.Optional(Count),
        session: Type.Optional(Count),
        call_id: Type.Optional(Count),
        mirror_source: Type.Optional(Type.String({ description: 'outer source address: the gateway that mirrored the traffic' })),
      },
      { additionalProperties: false, description: "the encapsulation of the device's first packet in the interval" },
    ),
    'traffic.statistics': Type.Object(counts(STATISTICS).properties, {
      additionalProperties: false,
      description:
        'SORACOM Junction / nDPI names. Sizes are IP total lengths; ethernet.bytes adds a 14-byte Ethernet header per packet; ' +
        'pkt.len_* bucket IP lengths (<64, 64-127, 128-255, 256-1023, 1024-1500, >1500); avg.pkt.size is ip.bytes / ip.packets, rounded down.',
    }),
    uplink: counts(['bytes', 'packets']),
    downlink: counts(['bytes', 'packets']),
    'detected.protos': Type.Array(
      Type.Object({ name: Type.String(), packets: Count, bytes: Count, flows: Count }, { additionalProperties: false }),
      { description: 'application protocols by well-known port, most bytes first' },
    ),
    destinations: Type.Object(
      {
        distinct: Type.Integer({ minimum: 0, description: 'distinct far-end addresses' }),
        distinct_ports: Type.Integer({ minimum: 0, description: 'distinct far-end (transport, port) pairs' }),
        top: Type.Array(DestinationSchema, { description: 'far ends by bytes (ties: packets, then address), at most top-K' }),
        hosts: Type.Optional(
          Type.Array(HostSchema, {
            maxItems: 4,
            description: 'far hosts over all their ports by uplink packets (ties: address), at most 4, only hosts sent at least one packet; absent in records of collectors before it',
          }),
        ),
      },
      { additionalProperties: false },
    ),
    tcp: counts(['syn', 'syn_ack', 'rst']),
    connections: Type.Object(
      {
        attempted_hosts: Type.Integer({ minimum: 0, description: 'distinct far hosts the device opened a TCP connection to (SYN) or sent UDP to' }),
        failed_hosts: Type.Integer({ minimum: 0, description: 'of those, hosts that answered no SYN with a SYN-ACK (silence or RST) or for which an ICMP unreachable came back' }),
        failed_named_hosts: Type.Integer({ minimum: 0, description: 'failed hosts the device knows a name for (its own DNS answers, TLS SNI): a service of its own that is down, rather than a host it tried blind' }),
        failed_ports: Type.Integer({ minimum: 0, description: 'distinct (host, transport, port) that failed' }),
        refused_hosts: Type.Integer({ minimum: 0, description: 'failed hosts that answered with a TCP RST' }),
        icmp_unreachable: Type.Integer({ minimum: 0, description: 'ICMP/ICMPv6 destination-unreachable messages the device received' }),
        failed_sample: Type.Array(
          Type.Object({ ip: Type.String(), port: Type.Integer({ minimum: 0, maximum: 65535 }), transport: Type.Enum(TRANSPORTS), ...named }, { additionalProperties: false }),
          { maxItems: 8, description: 'a few failed (host, port), first seen first, with the name the device knows the host by' },
        ),
      },
      { additionalProperties: false },
    ),
    contacts: Type.Array(ContactSchema, { description: 'far ends by number of bursts (ties: bytes), at most the collector\'s --contacts (16)' }),
    dns: Type.Object(
      {
        queries: Count,
        responses: Count,
        nxdomain: Count,
        servfail: Count,
        types: counts(DNS_TYPES),
        distinct_names: Count,
        name_length_max: Count,
        name_length_mean: Type.Number({ minimum: 0 }),
        label_max: Count,
        entropy_mean: Type.Number({ minimum: 0, description: 'mean over distinct names of the entropy of their subdomain characters' }),
        resolvers: Type.Array(Type.Object({ ip: Type.String(), queries: Count }, { additionalProperties: false }), { maxItems: 4, description: 'where the queries went, most first' }),
        domains: Type.Array(DnsDomainSchema, { description: 'registered domains by distinct names, then queries; at most 8' }),
        domains_dropped: Type.Integer({ minimum: 0, description: 'registered domains beyond those listed' }),
        names_dropped: Type.Integer({ minimum: 0, description: 'queries whose name did not fit the interval\'s name table (counted, not described)' }),
        malformed: Type.Integer({ minimum: 0, description: 'DNS messages that could not be parsed (bad labels, loops, counts that lie)' }),
      },
      { additionalProperties: false },
    ),
    tls: Type.Object(
      {
        client_hellos: Count,
        without_sni: Count,
        malformed: Type.Integer({ minimum: 0, description: 'ClientHellos cut short or inconsistent' }),
      },
      { additionalProperties: false },
    ),
  },
  publishedSchema('inspection-record.v2', 'tapwatch InspectionRecord', 'What one device sent and received in one interval, as seen in a traffic mirror.'),
);
export type InspectionRecord = Static<typeof InspectionRecordSchema>;

export const inspectionRecords = validator(InspectionRecordSchema);

/** Validates against the schema; returns null when valid, else the problems on one line. */
export const recordErrors = (record: unknown): string | null => inspectionRecords.errors(record);

/** What `traffic.statistics` is made of; the derived fields (ethernet bytes, average size) follow from it. */
export interface TrafficCounts {
  ipBytes: number;
  packets: number;
  maxSize: number;
  /** Packets by IP length: <64, 64–127, 128–255, 256–1023, 1024–1500, >1500. */
  sizeHistogram: ArrayLike<number>;
  tcp: number;
  udp: number;
  fragmented: number;
  flows: number;
}

const ETHERNET_HEADER = 14;

/** The Junction/nDPI statistics block, defined once for every producer of records. */
export function trafficStatistics(t: TrafficCounts): InspectionRecord['traffic.statistics'] {
  const h = t.sizeHistogram;
  return {
    'ethernet.bytes': t.ipBytes + ETHERNET_HEADER * t.packets,
    'ip.bytes': t.ipBytes,
    'ip.packets': t.packets,
    'total.packets': t.packets,
    'avg.pkt.size': t.packets > 0 ? Math.floor(t.ipBytes / t.packets) : 0,
    'max.pkt.size': t.maxSize,
    'pkt.len_min64': h[0],
    'pkt.len_64_128': h[1],
    'pkt.len_128_256': h[2],
    'pkt.len_256_1024': h[3],
    'pkt.len_1024_1500': h[4],
    'pkt.len_grt1500': h[5],
    'tcp.pkts': t.tcp,
    'udp.pkts': t.udp,
    'fragmented.pkts': t.fragmented,
    'unique.flows': t.flows,
  };
}
