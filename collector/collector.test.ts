// The collector against ground truth: per-device totals equal what the generator says it wrote,
// records validate against the schema, intervals close on packet time, and the same capture gives
// the same records byte for byte. Small hand-built captures check each counter's meaning.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFleetMirror } from '../synth/fleet-mirror.js';
import { PcapWriter } from '../synth/capture-file.js';
import { ethernet, ipv4, gre, udp, tcp, vxlan, bytes, hex } from '../synth/packets.js';
import { Collector, type CollectorOptions } from './collector.js';
import { DeviceNets } from './device-nets.js';
import { Inventory } from '../inventory/inventory.js';
import { recordErrors, type InspectionRecord } from '../contracts/inspection-record.js';
import { Pipeline } from './pipeline.js';
import { replayCapture } from './sources/replay.js';
import { RecordBus } from './sinks/bus.js';

const silent = pino({ level: 'silent' });
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tapwatch-collector-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function collect(path: string, opts: Partial<CollectorOptions> = {}, inventory?: Inventory): Promise<InspectionRecord[]> {
  return (await collectWith(path, opts, inventory)).records;
}

async function collectWith(path: string, opts: Partial<CollectorOptions> = {}, inventory?: Inventory): Promise<{ records: InspectionRecord[]; collector: Collector }> {
  const out: InspectionRecord[] = [];
  const bus = new RecordBus();
  bus.subscribe((r) => {
    out.push(...r);
  });
  const pipeline = new Pipeline(bus, silent);
  const c = new Collector({
    nets: new DeviceNets(['10.128.0.0/9']),
    intervalSeconds: 60,
    topK: 10,
    maxDevices: 4096,
    maxFlows: 1 << 16,
    maxDestinations: 1 << 16,
    clock: 'packet',
    source: `pcap:${path}`,
    onBatch: (b) => pipeline.enqueue(b),
    ...opts,
  });
  if (inventory) c.inventory = inventory;
  await replayCapture(path, c, pipeline, { speed: 0, stopRequested: () => false });
  return { records: out, collector: c };
}

describe('collector on a synthetic fleet mirror', () => {
  let capture: string;
  let truth: { devices: Record<string, { upPackets: number; upBytes: number; downPackets: number; downBytes: number; tunnel: string }> };

  beforeAll(() => {
    capture = join(dir, 'fleet.pcap');
    const r = generateFleetMirror({ out: capture, packets: 30_000, devices: 300, seed: 11, mix: 'gre=0.4,vxlan=0.3,erspan2=0.1,erspan3=0.1,geneve=0.1', truth: join(dir, 'truth.json') });
    truth = JSON.parse(readFileSync(join(dir, 'truth.json'), 'utf8'));
    expect(r.packets).toBe(30_000);
  });

  it('per-device uplink and downlink totals equal the ground truth, across intervals', async () => {
    const records = await collect(capture, { intervalSeconds: 1 });
    expect(new Set(records.map((r) => r.interval.start)).size).toBeGreaterThan(3);
    const sums = new Map<string, [number, number, number, number]>();
    for (const r of records) {
      const s = sums.get(r.device.ip) ?? [0, 0, 0, 0];
      s[0] += r.uplink.packets;
      s[1] += r.uplink.bytes;
      s[2] += r.downlink.packets;
      s[3] += r.downlink.bytes;
      sums.set(r.device.ip, s);
    }
    const active = Object.entries(truth.devices).filter(([, d]) => d.upPackets + d.downPackets > 0);
    expect(sums.size).toBe(active.length);
    for (const [ip, d] of active) expect([ip, ...sums.get(ip)!]).toEqual([ip, d.upPackets, d.upBytes, d.downPackets, d.downBytes]);
  });

  it('every record validates against the JSON Schema and is internally consistent', async () => {
    const records = await collect(capture, { intervalSeconds: 2 });
    for (const r of records) {
      expect(recordErrors(r)).toBeNull();
      const s = r['traffic.statistics'];
      expect(s['ip.packets']).toBe(r.uplink.packets + r.downlink.packets);
      expect(s['ip.bytes']).toBe(r.uplink.bytes + r.downlink.bytes);
      const hist = s['pkt.len_min64'] + s['pkt.len_64_128'] + s['pkt.len_128_256'] + s['pkt.len_256_1024'] + s['pkt.len_1024_1500'] + s['pkt.len_grt1500'];
      expect(hist).toBe(s['ip.packets']);
      expect(r['detected.protos'].reduce((n, p) => n + p.packets, 0)).toBe(s['ip.packets']);
      expect(r['detected.protos'].reduce((n, p) => n + p.flows, 0)).toBe(s['unique.flows']);
      expect(r.destinations.top.length).toBeLessThanOrEqual(10);
      expect(r.tunnel.type).toBe(truth.devices[r.device.ip].tunnel);
    }
    expect(recordErrors({ ...records[0], extra: 1 })).toMatch(/additional/);
  });

  it('same capture, same records, byte for byte (CLI, NDJSON)', () => {
    const cli = join(import.meta.dirname, '..', 'dist', 'cli', 'tapwatch.js');
    const outs = [join(dir, 'a.ndjson'), join(dir, 'b.ndjson')];
    for (const out of outs) execFileSync('node', [cli, 'collect', '--pcap', capture, '--out', out, '--interval', '1', '--log-level', 'silent']);
    const a = readFileSync(outs[0]);
    expect(a.length).toBeGreaterThan(1000);
    expect(Buffer.compare(a, readFileSync(outs[1]))).toBe(0);
  });
});

describe('counters mean what they say', () => {
  const DEV = '10.128.0.5';
  const SRV = '203.0.113.7';
  const wrap = (inner: Uint8Array) => ethernet(ipv4(gre(inner, { protocol: 0x0800, key: 42 }), { src: '192.0.2.1', dst: '198.51.100.1', proto: 47 }));
  const up = (l4: Uint8Array, proto: number, dst = SRV) => wrap(ipv4(l4, { src: DEV, dst, proto }));
  const down = (l4: Uint8Array, proto: number, src = SRV) => wrap(ipv4(l4, { src, dst: DEV, proto }));

  function write(name: string, frames: [Uint8Array, number][]): string {
    const path = join(dir, name);
    const w = new PcapWriter(path);
    for (const [f, t] of frames) w.write(f, t, 0);
    w.close();
    return path;
  }

  it('TCP handshake, RST, DNS query, protocols, destinations, tunnel', async () => {
    const t0 = 1_767_225_600; // 2026-01-01T00:00:00Z, an interval boundary
    const dnsQuery = hex('1234 0100 0001 0000 0000 0000');
    const dnsAnswer = hex('1234 8180 0001 0001 0000 0000');
    const path = write('handshake.pcap', [
      [up(tcp(bytes(0), { src: 40000, dst: 8883, flags: 0x02 }), 6), t0 + 1],
      [down(tcp(bytes(0), { src: 8883, dst: 40000, flags: 0x12 }), 6), t0 + 1],
      [up(tcp(bytes(100), { src: 40000, dst: 8883, flags: 0x18 }), 6), t0 + 2],
      [up(udp(dnsQuery, { src: 5353, dst: 53 }), 17, '192.0.2.53'), t0 + 3],
      [down(udp(dnsAnswer, { src: 53, dst: 5353 }), 17, '192.0.2.53'), t0 + 3],
      [up(tcp(bytes(0), { src: 40001, dst: 23, flags: 0x02 }), 6, '198.51.100.9'), t0 + 4],
      [down(tcp(bytes(0), { src: 23, dst: 40001, flags: 0x14 }), 6, '198.51.100.9'), t0 + 4],
      [ethernet(ipv4(udp(bytes(8), { src: 1, dst: 2 }), { src: '192.0.2.1', dst: '192.0.2.2', proto: 17 })), t0 + 5], // not a device
      [up(tcp(bytes(0), { src: 40000, dst: 8883, flags: 0x11 }), 6), t0 + 61], // next interval
    ]);
    const inv = join(dir, 'inventory.csv');
    writeFileSync(inv, 'ip,id,imsi,imei,group\n10.128.0.5,meter-5,440101234567890,356938035643809,meters\n');
    const records = await collect(path, {}, Inventory.load(inv));
    expect(records.length).toBe(2);
    const [r, next] = records;
    expect(r.interval).toEqual({ start: '2026-01-01T00:00:00.000Z', end: '2026-01-01T00:01:00.000Z', seconds: 60, complete: true });
    expect(next.interval.complete).toBe(false);
    expect(r.device).toEqual({ id: 'meter-5', ip: DEV, imsi: '440101234567890', imei: '356938035643809', group: 'meters', known: true });
    expect(r.tunnel).toEqual({ type: 'gre', key: 42, mirror_source: '192.0.2.1' });
    expect(r.tcp).toEqual({ syn: 2, syn_ack: 1, rst: 1 });
    expect(r.dns.queries).toBe(1);
    expect(r.uplink.packets).toBe(4);
    expect(r.downlink.packets).toBe(3);
    expect(r['traffic.statistics']['unique.flows']).toBe(3);
    expect(r['traffic.statistics']['tcp.pkts']).toBe(5);
    expect(r['traffic.statistics']['udp.pkts']).toBe(2);
    expect(r['detected.protos'].map((p) => [p.name, p.packets, p.flows])).toEqual([['mqtts', 3, 1], ['dns', 2, 1], ['telnet', 2, 1]]);
    expect(r.destinations.distinct).toBe(3);
    expect(r.destinations.distinct_ports).toBe(3);
    expect(r.destinations.top[0]).toMatchObject({ ip: SRV, port: 8883, transport: 'tcp', packets: 3 });
  });

  it('VXLAN-mirrored device, and the device table bound is counted, not exceeded', async () => {
    const t0 = 1_767_225_600;
    const frames: [Uint8Array, number][] = [];
    for (let i = 1; i <= 5; i++) {
      const inner = ethernet(ipv4(udp(bytes(10), { src: 1000, dst: 5683 }), { src: `10.128.1.${i}`, dst: SRV, proto: 17 }));
      frames.push([ethernet(ipv4(udp(vxlan(inner, { vni: 77 }), { src: 50000, dst: 4789 }), { src: '192.0.2.9', dst: '198.51.100.1', proto: 17 })), t0]);
    }
    const { records, collector } = await collectWith(write('vx.pcap', frames), { maxDevices: 3 });
    expect(records.map((r) => r.device.ip)).toEqual(['10.128.1.1', '10.128.1.2', '10.128.1.3']);
    expect(collector.agg.stats.deviceOverflow).toBe(2);
    expect(collector.agg.stats.attributed).toBe(5);
    expect(records[0].tunnel).toEqual({ type: 'vxlan', vni: 77, mirror_source: '192.0.2.9' });
    expect(records[0]['detected.protos'][0].name).toBe('coap');
  });

  it('counts the destinations and flows that did not fit, and keeps the ones that did exact', async () => {
    const t0 = 1_767_225_600;
    const frames: [Uint8Array, number][] = [];
    // One device: 6 far ends on one port each (destinations), then 4 more source ports to the first far end (flows).
    for (let i = 1; i <= 6; i++) frames.push([ethernet(ipv4(udp(bytes(10), { src: 1000, dst: 5683 }), { src: DEV, dst: `198.51.100.${i}`, proto: 17 })), t0]);
    for (let p = 1; p <= 4; p++) frames.push([ethernet(ipv4(udp(bytes(10), { src: 2000 + p, dst: 5683 }), { src: DEV, dst: '198.51.100.1', proto: 17 })), t0]);
    const { records, collector } = await collectWith(write('bounded.pcap', frames), { maxDestinations: 4, maxFlows: 6 });
    const s = collector.agg.stats;
    // Far ends 5 and 6 found no destination slot: neither their destination nor their flow is counted.
    expect(s.destinationOverflow).toBe(2);
    // Flows: 4 single-port ones to far ends 1-4, then 2 of the 4 extra ports fit; 2 more + the 2 above did not.
    expect(s.flowOverflow).toBe(4);
    const [r] = records;
    expect(r.destinations.distinct).toBe(4);
    expect(r['traffic.statistics']['unique.flows']).toBe(6);
    // Volumes are per device and never lost to a full table.
    expect(r.uplink.packets).toBe(10);
  });
});

describe('inventory', () => {
  it('reads CSV and JSON, and says what is wrong with a bad file', () => {
    const csv = join(dir, 'inv.csv');
    writeFileSync(csv, '# fleet\nip,id,group\n10.128.0.1,dev-1,a\n10.128.0.2,,b\n');
    const inv = Inventory.load(csv);
    expect(inv.lookup('10.128.0.1')).toEqual({ id: 'dev-1', group: 'a' });
    expect(inv.lookup('10.128.0.2')).toEqual({ id: '10.128.0.2', group: 'b' });
    const json = join(dir, 'inv.json');
    writeFileSync(json, JSON.stringify([{ ip: '10.128.0.3', id: 'x', imsi: 440100000000001 }]));
    expect(Inventory.load(json).lookup('10.128.0.3')).toEqual({ id: 'x', imsi: '440100000000001' });
    writeFileSync(json, '[{"ip": ');
    expect(() => Inventory.load(json)).toThrow(/malformed JSON/);
    writeFileSync(csv, 'id,group\nx,y\n');
    expect(() => Inventory.load(csv)).toThrow(/'ip' column/);
  });
});
