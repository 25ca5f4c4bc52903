// Issue 12: a device cannot fill the device table by sending to addresses of its own network, idle
// devices give their slots back, and a full table is reported once per interval with its sources.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { PcapWriter } from '../synth/capture-file.js';
import { ethernet, ipv4, gre, udp, bytes } from '../synth/packets.js';
import { patchIpv4Checksum } from '../synth/checksum.js';
import { Collector, type CollectorOptions } from './collector.js';
import { DeviceNets } from './device-nets.js';
import { Pipeline } from './pipeline.js';
import { replayCapture } from './sources/replay.js';
import { RecordBus } from './sinks/bus.js';
import type { InspectionRecord } from '../contracts/inspection-record.js';

const dir = mkdtempSync(join(tmpdir(), 'tapwatch-devtable-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const T0 = 1_767_225_600; // an interval boundary
const INNER = 14 + 20 + 4;
const template = ethernet(ipv4(gre(ipv4(udp(bytes(16), { src: 40000, dst: 5683 }), { src: '10.128.0.1', dst: '10.128.0.2', proto: 17 }), { protocol: 0x0800 }), { src: '192.0.2.1', dst: '198.51.100.1', proto: 47 }));
const word = (ip: string) => ip.split('.').reduce((a, x) => a * 256 + Number(x), 0);

/** [src, dst, second] triples as a capture; src and dst as uint32 IPv4. */
function capture(name: string, packets: [number, number, number][]): string {
  const path = join(dir, name);
  const w = new PcapWriter(path);
  for (const [src, dst, sec] of packets) {
    for (let i = 0; i < 4; i++) {
      template[INNER + 12 + i] = src >>> (24 - 8 * i);
      template[INNER + 16 + i] = dst >>> (24 - 8 * i);
    }
    patchIpv4Checksum(template, INNER);
    w.write(template, sec, 0);
  }
  w.close();
  return path;
}

async function run(path: string, opts: Partial<CollectorOptions> = {}) {
  const records: InspectionRecord[][] = [];
  const overflows: Parameters<NonNullable<CollectorOptions['onDeviceOverflow']>>[0][] = [];
  const bus = new RecordBus();
  bus.subscribe((r) => {
    records.push(r);
  });
  const pipeline = new Pipeline(bus, pino({ level: 'silent' }));
  const c = new Collector({
    nets: new DeviceNets(['10.128.0.0/9']),
    intervalSeconds: 60, topK: 10, maxDevices: 65536, maxFlows: 1 << 20, maxDestinations: 1 << 20,
    clock: 'packet', source: 'test',
    onBatch: (b) => pipeline.enqueue(b),
    onDeviceOverflow: (o) => overflows.push(o),
    ...opts,
  });
  await replayCapture(path, c, pipeline, { speed: 0, stopRequested: () => false });
  return { records, overflows, collector: c };
}

describe('the device table', () => {
  it('one device sending to each of the 65,536 addresses of its /16 neither crowds out a real device nor emits 65,536 records', async () => {
    const scanner = word('10.128.0.1');
    const base = word('10.128.0.0');
    const pkts: [number, number, number][] = [];
    for (let i = 0; i < 65536; i++) pkts.push([scanner, base + i, T0 + Math.floor(i / 2048)]);
    // The real device appears later, in the same interval and in the next, and is answered.
    pkts.push([word('10.128.7.7'), word('198.51.100.9'), T0 + 40], [word('198.51.100.9'), word('10.128.7.7'), T0 + 41]);
    for (let i = 0; i < 65536; i++) pkts.push([scanner, base + i, T0 + 60 + Math.floor(i / 2048)]);
    pkts.push([word('10.128.7.8'), word('198.51.100.9'), T0 + 100]);
    const { records, collector } = await run(capture('scan.pcap', pkts));
    expect(records).toHaveLength(2);
    // At most maxDownlinkOnly (65536 / 64) entries for addresses that only received, plus the scanner and the real devices.
    for (const r of records) expect(r.length).toBeLessThanOrEqual(1024 + 3);
    const ips = records.map((r) => r.map((x) => x.device.ip));
    expect(ips[0]).toContain('10.128.7.7');
    expect(ips[1]).toContain('10.128.7.8');
    const scan = records[0].find((r) => r.device.ip === '10.128.0.1')!;
    expect(scan.destinations.distinct).toBe(65536); // the scan itself is all there, as the scanner's uplink
    const real = records[0].find((r) => r.device.ip === '10.128.7.7')!;
    expect([real.uplink.packets, real.downlink.packets]).toEqual([1, 1]);
    expect(collector.agg.stats.downlinkUnknown).toBeGreaterThan(2 * (65536 - 1024) - 1024);
    expect(collector.agg.stats.deviceOverflow).toBe(0);
    expect(collector.agg.devices.count).toBeLessThanOrEqual(1024 + 3);
  });

  it('a device that receives before it sends keeps that downlink, and sends on as one device', async () => {
    const dev = word('10.128.0.9');
    const far = word('198.51.100.9');
    const { records } = await run(capture('first.pcap', [[far, dev, T0], [far, dev, T0 + 61], [dev, far, T0 + 62], [dev, far, T0 + 125]]));
    expect(records.map((r) => r.map((x) => [x.device.ip, x.uplink.packets, x.downlink.packets]))).toEqual([
      [['10.128.0.9', 0, 1]], [['10.128.0.9', 1, 1]], [['10.128.0.9', 1, 0]],
    ]);
  });

  it('idle devices give their slots back; a full table is reported once per interval with its top source networks', async () => {
    const pkts: [number, number, number][] = [];
    const far = word('198.51.100.9');
    for (let i = 0; i < 8; i++) pkts.push([word('10.128.1.0') + i, far, T0 + i]); // fills a table of 8
    for (let i = 0; i < 5; i++) pkts.push([word('10.128.2.0') + i, far, T0 + 10 + i], [word('10.128.3.0') + i % 2, far, T0 + 20 + i]);
    pkts.push([word('10.128.1.0'), far, T0 + 60]); // one of the 8 stays busy, the other 7 go idle
    pkts.push([word('10.128.1.0'), far, T0 + 120]);
    pkts.push([word('10.128.4.4'), far, T0 + 180]); // slots are free again
    const { records, overflows, collector } = await run(capture('full.pcap', pkts), { maxDevices: 8, idleIntervals: 2 });
    expect(overflows).toHaveLength(1);
    expect(overflows[0]).toMatchObject({ startSec: T0, frames: 10, maxDevices: 8, sources: [{ net: '10.128.2.0/24', frames: 5 }, { net: '10.128.3.0/24', frames: 5 }] });
    expect(records.at(-1)!.map((r) => r.device.ip)).toEqual(['10.128.4.4']);
    expect(collector.agg.stats.devicesEvicted).toBe(7);
  });
});
