// The aggregator remembers each device's last destination and flow ids (collector/aggregate.ts, the memo)
// to skip two hash lookups a packet. Ids are handed out again every interval, so a memo that outlived its
// interval would count a device's packets into another device's destination: these captures make the ids
// collide on purpose and check every packet lands where it belongs.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, expect, it } from 'vitest';
import { PcapWriter } from '../synth/capture-file.js';
import { ethernet, ipv4, gre, udp, bytes } from '../synth/packets.js';
import { patchIpv4Checksum } from '../synth/checksum.js';
import { Collector } from './collector.js';
import { DeviceNets } from './device-nets.js';
import { Pipeline } from './pipeline.js';
import { replayCapture } from './sources/replay.js';
import { RecordBus } from './sinks/bus.js';
import type { InspectionRecord } from '../contracts/inspection-record.js';

const dir = mkdtempSync(join(tmpdir(), 'tapwatch-memo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const T0 = 1_767_225_600; // an interval boundary
const INNER = 14 + 20 + 4;
const template = ethernet(ipv4(gre(ipv4(udp(bytes(16), { src: 40000, dst: 5683 }), { src: '10.128.0.1', dst: '203.0.113.1', proto: 17 }), { protocol: 0x0800 }), { src: '192.0.2.1', dst: '198.51.100.1', proto: 47 }));

/** [src, dst, src port, dst port, second] as a capture, addresses as dotted quads. */
function capture(name: string, packets: [string, string, number, number, number][]): string {
  const path = join(dir, name);
  const w = new PcapWriter(path);
  for (const [src, dst, sport, dport, sec] of packets) {
    template.set(src.split('.').map(Number), INNER + 12);
    template.set(dst.split('.').map(Number), INNER + 16);
    template[INNER + 20] = sport >> 8;
    template[INNER + 21] = sport & 0xff;
    template[INNER + 22] = dport >> 8;
    template[INNER + 23] = dport & 0xff;
    patchIpv4Checksum(template, INNER);
    w.write(template, sec, 0);
  }
  w.close();
  return path;
}

async function records(path: string): Promise<InspectionRecord[]> {
  const out: InspectionRecord[] = [];
  const bus = new RecordBus();
  bus.subscribe((r) => {
    out.push(...r);
  });
  const pipeline = new Pipeline(bus, pino({ level: 'silent' }));
  const c = new Collector({
    nets: new DeviceNets(['10.128.0.0/16']),
    intervalSeconds: 60, topK: 10, maxDevices: 64, maxFlows: 1024, maxDestinations: 1024,
    clock: 'packet', source: 'test',
    onBatch: (b) => pipeline.enqueue(b),
  });
  await replayCapture(path, c, pipeline, { speed: 0, stopRequested: () => false });
  return out;
}

const X = '10.128.0.1';
const Y = '10.128.0.2';
const A = '203.0.113.1';
const B = '203.0.113.2';

it("a device's packets land in its own destinations and flows when the interval's ids are handed out again", async () => {
  const out = await records(capture('reuse.pcap', [
    // Interval 1: X's destination A and its flow get ids 0.
    [X, A, 40000, 5683, T0 + 1], [X, A, 40000, 5683, T0 + 2], [X, A, 40000, 5683, T0 + 3],
    // Interval 2: Y comes first, so ids 0 are now Y's destination B and flow; X's A is id 1.
    [Y, B, 50000, 53, T0 + 61],
    [X, A, 40000, 5683, T0 + 62], [X, A, 40000, 5683, T0 + 63],
    [X, A, 40001, 5683, T0 + 64], // a second flow to the same destination
    [X, A, 40000, 5683, T0 + 65], // back to the first flow
    [X, B, 40000, 53, T0 + 66], // X to Y's destination's address: X's own destination
    [Y, B, 50000, 53, T0 + 130], // closes interval 2
  ]));
  const at = (sec: number, device: string) => out.find((r) => r.device.id === device && Date.parse(r.interval.start) === sec * 1000)!;
  const x1 = at(T0, X);
  expect(x1.destinations.top).toEqual([expect.objectContaining({ ip: A, port: 5683, packets: 3 })]);
  expect(x1['traffic.statistics']['unique.flows']).toBe(1);

  const y2 = at(T0 + 60, Y);
  expect(y2['traffic.statistics']['ip.packets']).toBe(1);
  expect(y2.destinations.top).toEqual([expect.objectContaining({ ip: B, port: 53, packets: 1 })]);
  expect(y2['traffic.statistics']['unique.flows']).toBe(1);

  const x2 = at(T0 + 60, X);
  expect(x2['traffic.statistics']['ip.packets']).toBe(5);
  expect(x2['traffic.statistics']['unique.flows']).toBe(3);
  expect(x2.destinations.top).toEqual([
    expect.objectContaining({ ip: A, port: 5683, packets: 4 }),
    expect.objectContaining({ ip: B, port: 53, packets: 1 }),
  ]);
});
