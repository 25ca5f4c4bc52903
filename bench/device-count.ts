// Bench workload "gre-decap read + decode + per-device counting": the floor under the collector.
// Devices are innermost IPv4 endpoints inside a device network (default 10.128.0.0/9); traffic from
// a device is uplink, to it downlink. Prints one JSON line: packets, devices, totals, young GCs.

import { openCaptureFile } from '../collector/sources/capture-file.js';
import { Decapsulator } from '../gre-decap/decap.js';
import { Frame } from '../gre-decap/readers/frame.js';
import { PacketMeta } from '../gre-decap/meta.js';
import { AddrTable } from '../net/addr-table.js';
import { startGcCount } from './gc-count.js';

export class DeviceCounter {
  readonly table: AddrTable;
  readonly upPackets: Float64Array;
  readonly upBytes: Float64Array;
  readonly downPackets: Float64Array;
  readonly downBytes: Float64Array;
  overflow = 0;
  other = 0;

  constructor(maxDevices: number, private readonly net = 0x0a800000, private readonly mask = 0xff800000 | 0) {
    this.table = new AddrTable(maxDevices, maxDevices);
    this.upPackets = new Float64Array(maxDevices);
    this.upBytes = new Float64Array(maxDevices);
    this.downPackets = new Float64Array(maxDevices);
    this.downBytes = new Float64Array(maxDevices);
  }

  add(b: Uint8Array, m: PacketMeta): void {
    if (m.ipVersion !== 4) {
      this.other++;
      return;
    }
    if ((m.ipSrc4 & this.mask) === this.net) {
      const id = this.table.findAddr(b, m.ipSrcOff, 4, true);
      if (id < 0) this.overflow++;
      else {
        this.upPackets[id]++;
        this.upBytes[id] += m.ipTotalLen;
      }
    } else if ((m.ipDst4 & this.mask) === this.net) {
      const id = this.table.findAddr(b, m.ipDstOff, 4, true);
      if (id < 0) this.overflow++;
      else {
        this.downPackets[id]++;
        this.downBytes[id] += m.ipTotalLen;
      }
    } else this.other++;
  }
}

/** One pass over a capture: read → decapsulate → count per device. */
export function countDevices(path: string, counter: DeviceCounter, decap = new Decapsulator()): number {
  const reader = openCaptureFile(path);
  const frame = new Frame();
  const meta = new PacketMeta();
  let packets = 0;
  try {
    while (reader.next(frame)) {
      decap.decodeFrame(frame, meta);
      counter.add(frame.buf, meta);
      packets++;
    }
  } finally {
    reader.close();
  }
  if (reader.stats.error) throw new Error(`${path}: ${reader.stats.error}`);
  return packets;
}

async function main(): Promise<void> {
  const path = process.argv[2];
  if (!path || path === '--help') {
    process.stdout.write('Usage: node dist/bench/device-count.js <capture> [max-devices]\n');
    process.exitCode = path ? 0 : 2;
    return;
  }
  const counter = new DeviceCounter(Number(process.argv[3] ?? 1 << 20));
  const gc = startGcCount();
  const t0 = process.hrtime.bigint();
  const packets = countDevices(path, counter);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const gcs = await gc.stop();
  let up = 0;
  let down = 0;
  for (let i = 0; i < counter.table.size; i++) {
    up += counter.upBytes[i];
    down += counter.downBytes[i];
  }
  process.stdout.write(
    JSON.stringify({ packets, devices: counter.table.size, upBytes: up, downBytes: down, other: counter.other, overflow: counter.overflow, seconds, youngGcs: gcs.young }) + '\n',
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
