// The metrics metric rules watch, and the part of them a record gives by itself: per minute of
// traffic, whatever the record's interval, so records of any length compare like for like. Metrics
// that need memory (the protocol-mix shift, the fleet model's score) are filled in by the analyzer
// from the device's and the group's state; their slots are named here so that rules, baselines and
// events all refer to one list (contracts/rules.schema.ts holds the names).

import { PROTO_NAMES } from '../collector/protocols.js';
import type { InspectionRecord } from '../contracts/inspection-record.js';
import { METRICS } from '../contracts/rules.schema.js';

export { METRICS };
export type Metric = (typeof METRICS)[number];
export const METRIC_COUNT = METRICS.length;

export interface MetricInfo {
  /** Words for the sentence of an event: "<label> was 4.1 MB". */
  label: string;
  unit: 'bytes' | 'packets' | 'count' | 'share' | 'score';
  /**
   * Counts are compared in log space (log1p): traffic varies by factors, not by fixed amounts, and a
   * median/MAD taken there is not thrown off by one busy interval. Shares and scores live in [0, 1].
   */
  log: boolean;
  /** Smallest spread the baseline assumes (in the compared space): a perfectly regular device would otherwise alarm on its first extra packet. */
  scaleFloor: number;
  /**
   * False where time of day is already accounted for: the fleet model is retrained every hour on
   * what the group is doing now, so its score needs no time-of-day buckets (which would only rest
   * on fewer samples).
   */
  timeOfDay: boolean;
  /** Counted per minute of traffic (bytes, packets, queries); else a property of the interval (sizes, distinct counts, shares). */
  rate: boolean;
}

export const METRIC_INFO: Record<Metric, MetricInfo> = {
  bytes_out: { label: 'uplink bytes', unit: 'bytes', log: true, scaleFloor: 0.25, timeOfDay: true, rate: true },
  bytes_in: { label: 'downlink bytes', unit: 'bytes', log: true, scaleFloor: 0.25, timeOfDay: true, rate: true },
  packets_out: { label: 'uplink packets', unit: 'packets', log: true, scaleFloor: 0.25, timeOfDay: true, rate: true },
  packets_in: { label: 'downlink packets', unit: 'packets', log: true, scaleFloor: 0.25, timeOfDay: true, rate: true },
  packets_out_excess: { label: 'uplink packets beyond the downlink packets (one-way traffic)', unit: 'packets', log: true, scaleFloor: 0.25, timeOfDay: true, rate: true },
  avg_packet_size: { label: 'average packet size', unit: 'bytes', log: true, scaleFloor: 0.1, timeOfDay: true, rate: false },
  destinations: { label: 'distinct destinations', unit: 'count', log: true, scaleFloor: 0.25, timeOfDay: true, rate: false },
  destination_ports: { label: 'distinct destination ports', unit: 'count', log: true, scaleFloor: 0.25, timeOfDay: true, rate: false },
  dns_queries: { label: 'DNS queries', unit: 'count', log: true, scaleFloor: 0.5, timeOfDay: true, rate: true },
  protocol_mix_shift: { label: 'protocol-mix shift from its usual mix', unit: 'share', log: false, scaleFloor: 0.03, timeOfDay: true, rate: false },
  fleet_outlier: { label: 'isolation-forest outlier score among its group', unit: 'score', log: false, scaleFloor: 0.02, timeOfDay: false, rate: false },
};

const index = new Map<string, number>(METRICS.map((m, i) => [m, i]));
export function metricIndex(name: string): number {
  const i = index.get(name);
  if (i === undefined) throw new Error(`unknown metric ${name}`);
  return i;
}

export const M_BYTES_OUT = 0;
export const M_BYTES_IN = 1;
export const M_PACKETS_OUT = 2;
export const M_PACKETS_IN = 3;
export const M_PACKETS_EXCESS = 4;
export const M_AVG_SIZE = 5;
export const M_DESTINATIONS = 6;
export const M_PORTS = 7;
export const M_DNS = 8;
export const M_PROTO_SHIFT = 9;
export const M_FLEET = 10;

/** What the isolation forest sees: the record's own metrics, in log space (its splits are uniform between min and max). */
export const FLEET_FEATURES: readonly number[] = [M_BYTES_OUT, M_BYTES_IN, M_PACKETS_OUT, M_PACKETS_IN, M_AVG_SIZE, M_DESTINATIONS, M_PORTS, M_DNS];

/** Fills the metrics a record gives by itself, per minute of traffic. Slots that need state are left as they are. */
export function recordMetrics(r: InspectionRecord, out: Float64Array): void {
  const k = 60 / r.interval.seconds;
  out[M_BYTES_OUT] = r.uplink.bytes * k;
  out[M_BYTES_IN] = r.downlink.bytes * k;
  out[M_PACKETS_OUT] = r.uplink.packets * k;
  out[M_PACKETS_IN] = r.downlink.packets * k;
  // A flood is one-way; a bulk transfer in either direction is answered (TCP ACKs, about one per two segments).
  out[M_PACKETS_EXCESS] = Math.max(0, r.uplink.packets - r.downlink.packets) * k;
  out[M_AVG_SIZE] = r['traffic.statistics']['avg.pkt.size'];
  out[M_DESTINATIONS] = r.destinations.distinct;
  out[M_PORTS] = r.destinations.distinct_ports;
  out[M_DNS] = r.dns.queries * k;
}

/** Protocol ids as the collector names them; slot 0 takes any name it does not know. */
export const PROTOCOL_SLOTS = PROTO_NAMES.length;
const protoSlot = new Map<string, number>(PROTO_NAMES.map((n, i) => [n, i]));

/** This interval's share of bytes per protocol, into `shares` (zeroed first); false when the record has no bytes. */
export function protocolShares(r: InspectionRecord, shares: Float64Array): boolean {
  shares.fill(0);
  let total = 0;
  for (const p of r['detected.protos']) {
    shares[protoSlot.get(p.name) ?? 0] += p.bytes;
    total += p.bytes;
  }
  if (total === 0) return false;
  for (let i = 0; i < shares.length; i++) shares[i] /= total;
  return true;
}

/** Total-variation distance between this interval's mix and the device's usual one: the share of bytes that would have to move. */
export function mixShift(shares: Float64Array, usual: Float32Array): number {
  let d = 0;
  for (let i = 0; i < shares.length; i++) d += Math.abs(shares[i] - usual[i]);
  return d / 2;
}

/** Moves the usual mix towards this interval's, by `rate` (an exponential average with a horizon of about 1/rate intervals). */
export function learnMix(usual: Float32Array, shares: Float64Array, rate: number, first: boolean): void {
  for (let i = 0; i < shares.length; i++) usual[i] = first ? shares[i] : usual[i] + rate * (shares[i] - usual[i]);
}
