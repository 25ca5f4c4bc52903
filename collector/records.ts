// Turns the aggregator's counters for a closed interval into InspectionRecords: the cold half of
// the collector, run once per interval, where strings, objects and sorting are fine.

import { AddrTable } from '../net/addr-table.js';
import { formatAddrKey } from '../net/ip-format.js';
import { L_TCP, L_UDP, T_GRE, T_PPTP, T_VXLAN, T_GENEVE, TUNNEL_NAMES } from '../gre-decap/layers.js';
import {
  type Aggregator, F_UP_BYTES, F_UP_PACKETS, F_DOWN_BYTES, F_DOWN_PACKETS, F_MAX_SIZE, F_HIST, F_TCP, F_UDP, F_FRAGMENTED,
  F_SYN, F_SYN_ACK, F_RST, STRIDE, FLOW_STRIDE, FL_UP_PACKETS, FL_DOWN_PACKETS,
} from './aggregate.js';
import { transportName } from './transport.js';
import { EvidenceReport } from './evidence/report.js';
import { PROTO_NAMES, protoOf } from './protocols.js';
import type { Inventory } from '../inventory/inventory.js';
import { RECORD_SCHEMA_ID, trafficStatistics, type Destination, type InspectionRecord } from '../contracts/inspection-record.js';

export interface IntervalInfo {
  startSec: number;
  seconds: number;
  complete: boolean;
  source: string;
}


/**
 * Text of addresses, remembered across intervals: devices by slot (forgotten when the slot is evicted),
 * far ends in a bounded table. A fleet talks to few servers, and formatting the same addresses for
 * every record of every interval showed up in the collector's profile.
 */
export class AddressNames {
  private readonly devices: (string | undefined)[] = [];
  private readonly far: AddrTable;
  private readonly farText: string[] = [];
  private readonly key = new Uint32Array(4);

  constructor(maxFar = 1 << 16) {
    this.far = new AddrTable(maxFar);
  }

  device(agg: Aggregator, slot: number): string {
    return (this.devices[slot] ??= formatAddrKey(agg.devices.keyOf(slot, this.key)));
  }

  /** The device in `slot` was evicted: the slot will name another. */
  forgetDevice(slot: number): void {
    this.devices[slot] = undefined;
  }

  /** Text of the far-end address in words[at, at + 4). */
  farEnd(words: Uint32Array, at: number): string {
    const k = this.far.probe;
    for (let i = 0; i < 4; i++) k[i] = words[at + i];
    const id = this.far.find(true);
    if (id < 0) return formatAddrKey(words.subarray(at, at + 4));
    return (this.farText[id] ??= formatAddrKey(this.far.probe));
  }
}

interface Tally {
  packets: number;
  bytes: number;
}
interface DeviceFlows {
  flows: number;
  protos: Map<number, Tally & { flows: number }>;
}

/**
 * Per device: its flows' packets and bytes by protocol, and how many flows; per destination id, its
 * flows' packets and bytes each way, FLOW_STRIDE numbers per destination in `volume`.
 */
function summarizeFlows(agg: Aggregator): { perDevice: Map<number, DeviceFlows>; volume: Float64Array } {
  const out = new Map<number, DeviceFlows>();
  const volume = new Float64Array(agg.dests.size * FLOW_STRIDE);
  const flowKey = new Uint32Array(2);
  const destKey = new Uint32Array(6);
  const fs = agg.flowStats;
  for (let f = 0; f < agg.flows.size; f++) {
    agg.flows.keyOf(f, flowKey);
    const d = flowKey[0];
    agg.dests.keyOf(d, destKey);
    const slot = destKey[0];
    let dev = out.get(slot);
    if (!dev) out.set(slot, (dev = { flows: 0, protos: new Map() }));
    const at = f * FLOW_STRIDE;
    for (let i = 0; i < FLOW_STRIDE; i++) volume[d * FLOW_STRIDE + i] += fs[at + i];
    const packets = fs[at + FL_UP_PACKETS] + fs[at + FL_DOWN_PACKETS];
    const bytes = fs[at + FL_UP_PACKETS + 1] + fs[at + FL_DOWN_PACKETS + 1];
    dev.flows++;
    const proto = protoOf(destKey[5] >>> 16, destKey[5] & 0xffff, flowKey[1]);
    const p = dev.protos.get(proto) ?? { packets: 0, bytes: 0, flows: 0 };
    p.packets += packets;
    p.bytes += bytes;
    p.flows++;
    dev.protos.set(proto, p);
  }
  return { perDevice: out, volume };
}

/** One record per device active in the interval, ordered by device id. */
export function snapshot(
  agg: Aggregator, iv: IntervalInfo, inventory: Inventory, topK: number, names: AddressNames, maxContacts: number,
): InspectionRecord[] {
  const start = new Date(iv.startSec * 1000).toISOString();
  const end = new Date((iv.startSec + iv.seconds) * 1000).toISOString();
  const { perDevice, volume } = summarizeFlows(agg);
  const evidence = new EvidenceReport(agg, names, maxContacts, volume);
  const records: InspectionRecord[] = [];
  for (let i = 0; i < agg.activeCount; i++) {
    const slot = agg.active[i];
    const c = agg.counters;
    const base = slot * STRIDE;
    const ip = names.device(agg, slot);
    const entry = inventory.lookup(ip);
    const upPackets = c[base + F_UP_PACKETS];
    const downPackets = c[base + F_DOWN_PACKETS];
    const packets = upPackets + downPackets;
    const ipBytes = c[base + F_UP_BYTES] + c[base + F_DOWN_BYTES];

    const flows = perDevice.get(slot) ?? { flows: 0, protos: new Map() };
    const protos = [...flows.protos.entries()].map(([p, x]) => ({ name: PROTO_NAMES[p], ...x }));
    protos.sort((a, b) => b.bytes - a.bytes || b.packets - a.packets || (a.name < b.name ? -1 : 1));
    const dests: (Destination & { id: number })[] = [];
    const farAddrs = new Set<string>();
    const farPorts = new Set<number>();
    // A destination that only an ICMP error was about has no packets and is not listed.
    for (const d of evidence.destinationsOf(slot)) {
      const packets = evidence.packets(d);
      if (packets === 0) continue;
      const farIp = evidence.ip(d);
      const l4 = evidence.l4(d);
      const port = evidence.port(d);
      farAddrs.add(farIp);
      if (l4 === L_TCP || l4 === L_UDP) farPorts.add((l4 << 16) | port);
      dests.push({ id: d, ip: farIp, port, transport: transportName(l4), packets, bytes: evidence.bytes(d) });
    }
    dests.sort((a, b) => b.bytes - a.bytes || b.packets - a.packets || (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : a.port - b.port));

    const t = agg.tunType[slot];
    const tunnel: InspectionRecord['tunnel'] = { type: TUNNEL_NAMES[t] };
    if (t !== 0) {
      if (agg.tunHasId[slot]) {
        const id = agg.tunId[slot];
        if (t === T_GRE) tunnel.key = id;
        else if (t === T_PPTP) tunnel.call_id = id;
        else if (t === T_VXLAN || t === T_GENEVE) tunnel.vni = id;
        else tunnel.session = id;
      }
      tunnel.mirror_source = names.farEnd(agg.mirrorSrc, slot * 4);
    }

    const device: InspectionRecord['device'] = { id: entry?.id ?? ip, ip, known: entry !== undefined };
    if (entry?.imsi) device.imsi = entry.imsi;
    if (entry?.imei) device.imei = entry.imei;
    if (entry?.group) device.group = entry.group;

    records.push({
      schema: RECORD_SCHEMA_ID,
      '@timestamp': start,
      interval: { start, end, seconds: iv.seconds, complete: iv.complete },
      device,
      collector: { source: iv.source },
      tunnel,
      'traffic.statistics': trafficStatistics({
        ipBytes,
        packets,
        maxSize: c[base + F_MAX_SIZE],
        sizeHistogram: c.subarray(base + F_HIST, base + F_HIST + 6),
        tcp: c[base + F_TCP],
        udp: c[base + F_UDP],
        fragmented: c[base + F_FRAGMENTED],
        flows: flows.flows,
      }),
      uplink: { bytes: c[base + F_UP_BYTES], packets: upPackets },
      downlink: { bytes: c[base + F_DOWN_BYTES], packets: downPackets },
      'detected.protos': protos,
      destinations: {
        distinct: farAddrs.size,
        distinct_ports: farPorts.size,
        top: dests.slice(0, topK).map((x) => {
          const n = evidence.nameOf(slot, x.id);
          return n
            ? { ip: x.ip, port: x.port, transport: x.transport, packets: x.packets, bytes: x.bytes, name: n.name, name_source: n.source }
            : { ip: x.ip, port: x.port, transport: x.transport, packets: x.packets, bytes: x.bytes };
        }),
      },
      tcp: { syn: c[base + F_SYN], syn_ack: c[base + F_SYN_ACK], rst: c[base + F_RST] },
      ...evidence.device(slot),
    });
  }
  records.sort((a, b) => (a.device.id < b.device.id ? -1 : a.device.id > b.device.id ? 1 : 0));
  return records;
}
