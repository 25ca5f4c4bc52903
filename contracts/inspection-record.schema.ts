// JSON Schema (draft-07) of InspectionRecord (inspection-record.ts). Consumers outside this repo
// get it as JSON with `tapwatch collect --print-schema`.

const count = { type: 'integer', minimum: 0 } as const;
const counts = (names: readonly string[]) => ({
  type: 'object',
  additionalProperties: false,
  required: names,
  properties: Object.fromEntries(names.map((n) => [n, count])),
});

const STATISTICS = [
  'ethernet.bytes', 'ip.bytes', 'ip.packets', 'total.packets', 'avg.pkt.size', 'max.pkt.size', 'pkt.len_min64',
  'pkt.len_64_128', 'pkt.len_128_256', 'pkt.len_256_1024', 'pkt.len_1024_1500', 'pkt.len_grt1500', 'tcp.pkts',
  'udp.pkts', 'fragmented.pkts', 'unique.flows',
] as const;

export const INSPECTION_RECORD_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://tapwatch.dev/schema/inspection-record.v1.json',
  title: 'tapwatch InspectionRecord',
  description: 'What one device sent and received in one interval, as seen in a traffic mirror.',
  type: 'object',
  additionalProperties: false,
  required: ['schema', '@timestamp', 'interval', 'device', 'collector', 'tunnel', 'traffic.statistics', 'uplink', 'downlink', 'detected.protos', 'destinations', 'tcp', 'dns'],
  properties: {
    schema: { const: 'tapwatch.inspection.v1' },
    '@timestamp': { type: 'string', format: 'date-time', description: 'interval start' },
    interval: {
      type: 'object',
      additionalProperties: false,
      required: ['start', 'end', 'seconds', 'complete'],
      properties: {
        start: { type: 'string', format: 'date-time' },
        end: { type: 'string', format: 'date-time' },
        seconds: { type: 'integer', minimum: 1 },
        complete: { type: 'boolean', description: 'false when the input ended (or the collector stopped) before the interval did' },
      },
    },
    device: {
      type: 'object',
      additionalProperties: false,
      required: ['id', 'ip', 'known'],
      properties: {
        id: { type: 'string', minLength: 1, description: 'inventory id, else the IP' },
        ip: { type: 'string', minLength: 2 },
        imsi: { type: 'string' },
        imei: { type: 'string' },
        group: { type: 'string' },
        known: { type: 'boolean', description: 'the device is in the inventory' },
      },
    },
    collector: {
      type: 'object',
      additionalProperties: false,
      required: ['source'],
      properties: { source: { type: 'string', description: 'pcap:<file>, interface:<name> or udp:<port>' } },
    },
    tunnel: {
      type: 'object',
      additionalProperties: false,
      required: ['type'],
      description: "the encapsulation of the device's first packet in the interval",
      properties: {
        type: { enum: ['none', 'gre', 'pptp', 'erspan1', 'erspan2', 'erspan3', 'vxlan', 'geneve'] },
        key: count,
        vni: count,
        session: count,
        call_id: count,
        mirror_source: { type: 'string', description: 'outer source address: the gateway that mirrored the traffic' },
      },
    },
    'traffic.statistics': {
      ...counts(STATISTICS),
      description:
        'SORACOM Junction / nDPI names. Sizes are IP total lengths; ethernet.bytes adds a 14-byte Ethernet header per packet; ' +
        'pkt.len_* bucket IP lengths (<64, 64-127, 128-255, 256-1023, 1024-1500, >1500); avg.pkt.size is ip.bytes / ip.packets, rounded down.',
    },
    uplink: counts(['bytes', 'packets']),
    downlink: counts(['bytes', 'packets']),
    'detected.protos': {
      type: 'array',
      description: 'application protocols by well-known port, most bytes first',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'packets', 'bytes', 'flows'],
        properties: { name: { type: 'string' }, packets: count, bytes: count, flows: count },
      },
    },
    destinations: {
      type: 'object',
      additionalProperties: false,
      required: ['distinct', 'distinct_ports', 'top'],
      properties: {
        distinct: { ...count, description: 'distinct far-end addresses' },
        distinct_ports: { ...count, description: 'distinct far-end (transport, port) pairs' },
        top: {
          type: 'array',
          description: 'far ends by bytes (ties: packets, then address), at most top-K',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['ip', 'port', 'transport', 'packets', 'bytes'],
            properties: {
              ip: { type: 'string' },
              port: { type: 'integer', minimum: 0, maximum: 65535 },
              transport: { enum: ['tcp', 'udp', 'icmp', 'other'] },
              packets: count,
              bytes: count,
            },
          },
        },
      },
    },
    tcp: counts(['syn', 'syn_ack', 'rst']),
    dns: counts(['queries']),
  },
} as const;
