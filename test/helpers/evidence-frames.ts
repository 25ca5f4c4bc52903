// Hand-built frames for the evidence tests (collector/evidence.test.ts, indexer/templates.test.ts): GRE-
// mirrored packets of devices in 10.128.0.0/9 and fd00::/8, DNS, TLS and TCP builders, and a collector
// fed straight from memory.

import { expect } from 'vitest';
import { ethernet, ipv4, gre, udp, tcp, bytes } from '../../synth/packets.js';
import { dnsQuery, dnsResponse, type DnsAnswer, type DnsTypeName } from '../../synth/app-payloads.js';
import { Frame } from '../../gre-decap/readers/frame.js';
import { LINKTYPE_ETHERNET } from '../../gre-decap/layers.js';
import { Collector, type CollectorOptions } from '../../collector/collector.js';
import { DeviceNets } from '../../collector/device-nets.js';
import { recordErrors, type InspectionRecord } from '../../contracts/inspection-record.js';

export const T0 = 1_767_225_600; // 2026-01-01T00:00:00Z, an interval boundary
export const RESOLVER = '192.0.2.53';

export type Timed = [frame: Uint8Array, seconds: number];

/** Replays frames through a collector (60 s intervals); the records of every interval, in order. */
export function collectFrames(frames: Timed[], opts: Partial<CollectorOptions> = {}): InspectionRecord[] {
  const out: InspectionRecord[] = [];
  const c = new Collector({
    nets: new DeviceNets(['10.128.0.0/9', 'fd00::/8']), intervalSeconds: 60, topK: 10, maxDevices: 64, maxFlows: 4096,
    maxDestinations: 4096, clock: 'packet', source: 'test', onRecords: (r) => out.push(...r), ...opts,
  });
  const f = new Frame();
  for (const [data, t] of frames) {
    f.buf = data;
    f.off = 0;
    f.capLen = f.wireLen = data.length;
    f.tsSec = T0 + Math.floor(t);
    f.tsNsec = Math.round((t - Math.floor(t)) * 1e9);
    f.linkType = LINKTYPE_ETHERNET;
    c.onFrame(f);
  }
  c.finish();
  for (const r of out) expect(recordErrors(r)).toBeNull();
  return out;
}

export const mirror = (inner: Uint8Array) =>
  ethernet(ipv4(gre(inner, { protocol: inner[0] >> 4 === 6 ? 0x86dd : 0x0800 }), { src: '192.0.2.1', dst: '198.51.100.1', proto: 47 }));
export const up = (dev: string, dst: string, l4: Uint8Array, proto: number) => mirror(ipv4(l4, { src: dev, dst, proto }));
export const down = (dev: string, src: string, l4: Uint8Array, proto: number) => mirror(ipv4(l4, { src, dst: dev, proto }));
export const query = (dev: string, name: string, type: DnsTypeName = 'a', id = 1, resolver = RESOLVER) =>
  up(dev, resolver, udp(dnsQuery(name, type, id), { src: 40000 + (id % 1000), dst: 53 }), 17);
export const answer = (dev: string, name: string, type: DnsTypeName, answers: DnsAnswer[], rcode: 'noerror' | 'nxdomain' | 'servfail' = 'noerror', id = 1) =>
  down(dev, RESOLVER, udp(dnsResponse(name, type, answers, rcode, id), { src: 53, dst: 40000 + (id % 1000) }), 17);
export const syn = (dev: string, dst: string, port: number, sport = 40000) => up(dev, dst, tcp(bytes(0), { src: sport, dst: port, flags: 0x02 }), 6);
export const synAck = (dev: string, src: string, port: number, dport = 40000) => down(dev, src, tcp(bytes(0), { src: port, dst: dport, flags: 0x12 }), 6);
export const rst = (dev: string, src: string, port: number, dport = 40000) => down(dev, src, tcp(bytes(0), { src: port, dst: dport, flags: 0x14 }), 6);
export const data = (dev: string, dst: string, port: number, n = 100, sport = 40000) => up(dev, dst, tcp(bytes(n), { src: sport, dst: port, flags: 0x18 }), 6);

export const byDevice = (records: InspectionRecord[], ip: string) => records.filter((r) => r.device.ip === ip);

