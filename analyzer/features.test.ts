import { describe, expect, it } from 'vitest';
import { RECORD_SCHEMA_ID, type InspectionRecord } from '../contracts/inspection-record.js';
import { quietEvidence } from '../test/helpers/records.js';
import {
  METRIC_INFO, METRICS, metricIndex, mixShift, learnMix, M_FLEET, M_PACKETS_EXCESS, M_BYTES_OUT, M_DNS,
  PROTOCOL_SLOTS, protocolShares, recordMetrics, FLEET_FEATURES, M_PROTO_SHIFT,
} from './features.js';

function record(seconds: number, protos: { name: string; bytes: number }[]): InspectionRecord {
  return {
    schema: RECORD_SCHEMA_ID,
    '@timestamp': '2026-03-02T00:00:00.000Z',
    interval: { start: '2026-03-02T00:00:00.000Z', end: '2026-03-02T00:01:00.000Z', seconds, complete: true },
    device: { id: 'd1', ip: '10.128.0.1', known: true },
    collector: { source: 'test' },
    tunnel: { type: 'gre' },
    'traffic.statistics': {
      'ethernet.bytes': 0, 'ip.bytes': 3000, 'ip.packets': 30, 'total.packets': 30, 'avg.pkt.size': 100, 'max.pkt.size': 200,
      'pkt.len_min64': 0, 'pkt.len_64_128': 30, 'pkt.len_128_256': 0, 'pkt.len_256_1024': 0, 'pkt.len_1024_1500': 0, 'pkt.len_grt1500': 0,
      'tcp.pkts': 30, 'udp.pkts': 0, 'fragmented.pkts': 0, 'unique.flows': 2,
    },
    uplink: { bytes: 2000, packets: 20 },
    downlink: { bytes: 1000, packets: 10 },
    'detected.protos': protos.map((p) => ({ ...p, packets: 1, flows: 1 })),
    destinations: { distinct: 3, distinct_ports: 2, top: [] },
    tcp: { syn: 5, syn_ack: 7, rst: 0 },
    ...quietEvidence(4),
  };
}

describe('features', () => {
  it('names every metric once, with its description, and the index constants follow the list', () => {
    expect(new Set(METRICS).size).toBe(METRICS.length);
    for (const m of METRICS) expect(METRIC_INFO[m].label.length).toBeGreaterThan(0);
    expect(metricIndex('packets_out_excess')).toBe(M_PACKETS_EXCESS);
    expect(metricIndex('dns_queries')).toBe(M_DNS);
    expect(metricIndex('protocol_mix_shift')).toBe(M_PROTO_SHIFT);
    expect(metricIndex('fleet_outlier')).toBe(M_FLEET);
    expect(() => metricIndex('bytes')).toThrow(/unknown metric/);
    // The fleet model sees no metric that depends on the model itself.
    expect(FLEET_FEATURES).not.toContain(M_FLEET);
  });

  it('derives the record-only metrics per minute of traffic, whatever the interval', () => {
    const v = new Float64Array(METRICS.length);
    recordMetrics(record(300, []), v);
    expect(v[M_BYTES_OUT]).toBe(400); // 2,000 bytes in 5 minutes
    expect(v[M_PACKETS_EXCESS]).toBe(2); // (20 - 10) / 5
    expect(v[M_DNS]).toBe(0.8);
    expect(v[metricIndex('avg_packet_size')]).toBe(100); // a size, not a rate: not scaled
    recordMetrics(record(60, []), v);
    expect(v[M_BYTES_OUT]).toBe(2000);
    expect(METRICS.filter((m) => METRIC_INFO[m].rate)).toEqual(['bytes_out', 'bytes_in', 'packets_out', 'packets_in', 'packets_out_excess', 'dns_queries']);
  });

  it('measures how far the protocol mix moved from the usual one', () => {
    const shares = new Float64Array(PROTOCOL_SLOTS);
    const usual = new Float32Array(PROTOCOL_SLOTS);
    expect(protocolShares(record(300, []), shares)).toBe(false);
    expect(protocolShares(record(300, [{ name: 'mqtts', bytes: 750 }, { name: 'dns', bytes: 250 }]), shares)).toBe(true);
    learnMix(usual, shares, 0.1, true);
    expect(mixShift(shares, usual)).toBeCloseTo(0, 6);
    protocolShares(record(300, [{ name: 'telnet', bytes: 500 }, { name: 'no-such-protocol', bytes: 500 }]), shares);
    expect(mixShift(shares, usual)).toBeCloseTo(1, 6); // nothing in common
    learnMix(usual, shares, 0.5, false);
    expect(mixShift(shares, usual)).toBeCloseTo(0.5, 6);
  });
});
