// The InspectionRecord: what one device did in one interval, in the spirit of SORACOM Junction
// inspection (the nDPI-derived names under "traffic.statistics" and "detected.protos" are kept as
// they are), plus who the device is, where it talked to and through which tunnel it was mirrored.
// Defined once here, with its JSON Schema in inspection-record.schema.ts; every sink sends it.

import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { INSPECTION_RECORD_SCHEMA } from './inspection-record.schema.js';

export const RECORD_SCHEMA_ID = 'tapwatch.inspection.v1';

export interface DeviceIdentity {
  id: string; // inventory id, or the IP when the inventory does not know the device
  ip: string;
  imsi?: string;
  imei?: string;
  group?: string;
  known: boolean; // found in the inventory
}

export interface Destination {
  ip: string;
  port: number; // 0 when the transport has no ports
  transport: 'tcp' | 'udp' | 'icmp' | 'other';
  packets: number;
  bytes: number;
}

export interface InspectionRecord {
  schema: typeof RECORD_SCHEMA_ID;
  '@timestamp': string; // interval start
  interval: { start: string; end: string; seconds: number; complete: boolean };
  device: DeviceIdentity;
  collector: { source: string };
  tunnel: { type: string; key?: number; vni?: number; session?: number; call_id?: number; mirror_source?: string };
  'traffic.statistics': {
    'ethernet.bytes': number;
    'ip.bytes': number;
    'ip.packets': number;
    'total.packets': number;
    'avg.pkt.size': number;
    'max.pkt.size': number;
    'pkt.len_min64': number;
    'pkt.len_64_128': number;
    'pkt.len_128_256': number;
    'pkt.len_256_1024': number;
    'pkt.len_1024_1500': number;
    'pkt.len_grt1500': number;
    'tcp.pkts': number;
    'udp.pkts': number;
    'fragmented.pkts': number;
    'unique.flows': number;
  };
  uplink: { bytes: number; packets: number };
  downlink: { bytes: number; packets: number };
  'detected.protos': { name: string; packets: number; bytes: number; flows: number }[];
  destinations: { distinct: number; distinct_ports: number; top: Destination[] };
  tcp: { syn: number; syn_ack: number; rst: number };
  dns: { queries: number };
}

let validator: ValidateFunction | null = null;

/** Validates against the JSON Schema; returns null when valid, else the errors as one line. */
export function recordErrors(record: unknown): string | null {
  if (validator === null) {
    const ajv = new Ajv({ allErrors: true, strict: true });
    addFormats.default(ajv);
    validator = ajv.compile(INSPECTION_RECORD_SCHEMA);
  }
  if (validator(record)) return null;
  return (validator.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
}


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
