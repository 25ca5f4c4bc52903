// Turns the aggregator's counters for a closed interval into InspectionRecords: the cold half of the
// collector, run once per interval. The records are written as JSON text (NDJSON, in the schema's field
// order: contracts/inspection-record.ts) straight from the typed arrays into the interval's reusable
// RecordBatch (./record-batch.ts): no object per record, flow or destination. Flows are grouped by
// destination and destinations by device with counting sorts, so each device's protocols, top
// destinations, far hosts and evidence come from one walk over its own entries.

import { AddrTable } from '../net/addr-table.js';
import { formatAddrKey } from '../net/ip-format.js';
import { L_TCP, L_UDP, T_GRE, T_PPTP, T_VXLAN, T_GENEVE, TUNNEL_NAMES } from '../gre-decap/layers.js';
import {
  type Aggregator, F_UP_BYTES, F_UP_PACKETS, F_DOWN_BYTES, F_DOWN_PACKETS, F_MAX_SIZE, F_HIST, F_TCP, F_UDP, F_FRAGMENTED,
  F_SYN, F_SYN_ACK, F_RST, STRIDE, FLOW_STRIDE, FL_UP_PACKETS, FL_DOWN_PACKETS,
} from './aggregate.js';
import { EvidenceReport, insertTop } from './evidence/report.js';
import { PROTO_COUNT, PROTO_NAMES, protoOf } from './protocols.js';
import type { Inventory, InventoryEntry } from '../inventory/inventory.js';
import { RECORD_SCHEMA_ID } from '../contracts/record-names.js';
import type { RecordBatch } from './record-batch.js';
import { ReusedArrays } from './reused-arrays.js';

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

/** destinations.hosts: the far hosts with most uplink packets, over all their ports. */
export const HOSTS_LISTED = 4;
// Per host number, in the interval's host arrays: packets and bytes each way (HOST_STRIDE numbers, in the
// order EvidenceReport.addVolume adds them and HOST_VOLUME_KEYS writes them, as one run).
const H_UP_PACKETS = 0;
const HOST_STRIDE = 4;
const HOST_VOLUME_KEYS = [',"up_packets":', ',"down_packets":', ',"up_bytes":', ',"down_bytes":'] as const;

const ETHERNET_HEADER = 14; // as in contracts/inspection-record.ts trafficStatistics()

// Runs of consecutive counters (collector/device-counters.ts), each written by one JsonWriter.nums: the six
// packet-size buckets, then tcp, udp and fragmented packets; the TCP flags. The check keeps a new counter
// from slipping into a run unnoticed.
const SIZE_AND_L4_KEYS = [
  ',"pkt.len_min64":', ',"pkt.len_64_128":', ',"pkt.len_128_256":', ',"pkt.len_256_1024":', ',"pkt.len_1024_1500":', ',"pkt.len_grt1500":',
  ',"tcp.pkts":', ',"udp.pkts":', ',"fragmented.pkts":',
] as const;
const TCP_FLAG_KEYS = ['{"syn":', ',"syn_ack":', ',"rst":'] as const;
if (F_TCP !== F_HIST + 6 || F_UDP !== F_TCP + 1 || F_FRAGMENTED !== F_UDP + 1 || F_SYN_ACK !== F_SYN + 1 || F_RST !== F_SYN + 2) {
  throw new Error('collector/records.ts: the counters written as runs are no longer consecutive');
}

/** Arrays reused from interval to interval by one collector's record writer. */
export class RecordScratch {
  order = new Int32Array(256);
  ids: string[] = [];
  entries: (InventoryEntry | undefined)[] = [];
  readonly protoTally = new Float64Array(PROTO_COUNT * 3); // packets, bytes, flows
  readonly protoSeen = new Uint8Array(PROTO_COUNT);
  readonly protos: number[] = [];
  top = new Int32Array(16);
  /** The device's far hosts (address text → host number), with per host number its address, and its busiest far end. */
  readonly farHosts = new Map<string, number>();
  readonly hostIp: string[] = [];
  readonly hostTop = new Int32Array(HOSTS_LISTED);
  readonly farPorts = new Set<number>();
  readonly flowKey = new Uint32Array(2);
  readonly destKey = new Uint32Array(6);
  /** Slots 0–15 for groupFlows(), 16 and up for the EvidenceReport. */
  readonly arrays = new ReusedArrays();
  readonly byProto = (a: number, b: number): number => {
    const t = this.protoTally;
    return t[b * 3 + 1] - t[a * 3 + 1] || t[b * 3] - t[a * 3] || (PROTO_NAMES[a] < PROTO_NAMES[b] ? -1 : 1);
  };
}

/**
 * Flows grouped by destination (flowIds[flowStart[d], flowStart[d + 1]), in id order) with each flow's
 * device port, and per destination its flows' packets and bytes each way (FLOW_STRIDE numbers).
 */
function groupFlows(agg: Aggregator, s: RecordScratch): { flowStart: Int32Array; flowIds: Int32Array; devicePort: Uint16Array; volume: Float64Array } {
  const nd = agg.dests.size;
  const nf = agg.flows.size;
  const a = s.arrays;
  const volume = a.float64(0, nd * FLOW_STRIDE);
  const flowStart = a.int32(1, nd + 1);
  const destOf = a.int32(2, nf);
  const devicePort = a.uint16(3, nf);
  const fs = agg.flowStats;
  for (let f = 0; f < nf; f++) {
    agg.flows.keyOf(f, s.flowKey);
    const d = s.flowKey[0];
    destOf[f] = d;
    devicePort[f] = s.flowKey[1];
    flowStart[d + 1]++;
    const at = f * FLOW_STRIDE;
    for (let i = 0; i < FLOW_STRIDE; i++) volume[d * FLOW_STRIDE + i] += fs[at + i];
  }
  for (let d = 0; d < nd; d++) flowStart[d + 1] += flowStart[d];
  const fill = a.int32(4, nd);
  fill.set(flowStart.subarray(0, nd));
  const flowIds = a.int32(5, nf);
  for (let f = 0; f < nf; f++) flowIds[fill[destOf[f]]++] = f;
  return { flowStart, flowIds, devicePort, volume };
}

/** One record per device active in the interval, ordered by device id, into `out` (emptied first). */
export function writeRecords(
  agg: Aggregator, iv: IntervalInfo, inventory: Inventory, topK: number, names: AddressNames, maxContacts: number,
  out: RecordBatch, s: RecordScratch,
): void {
  out.begin();
  const n = agg.activeCount;
  if (n === 0) return;
  const start = new Date(iv.startSec * 1000).toISOString();
  const end = new Date((iv.startSec + iv.seconds) * 1000).toISOString();
  const { flowStart, flowIds, devicePort, volume } = groupFlows(agg, s);
  const evidence = new EvidenceReport(agg, names, maxContacts, volume, s.arrays);
  const w = out.w;
  const c = agg.counters;
  const fs = agg.flowStats;

  // Devices by id (ties: first active first, as the stable sort of the records did).
  if (s.order.length < n) s.order = new Int32Array(Math.max(n, s.order.length * 2));
  if (s.top.length < topK) s.top = new Int32Array(topK);
  for (let i = 0; i < n; i++) {
    const ip = names.device(agg, agg.active[i]);
    const entry = inventory.lookup(ip);
    s.entries[i] = entry;
    s.ids[i] = entry?.id ?? ip;
    s.order[i] = i;
  }
  const ids = s.ids;
  s.order.subarray(0, n).sort((a, b) => (ids[a] < ids[b] ? -1 : ids[a] > ids[b] ? 1 : a - b));

  // The record head up to the device is the same for every record of the interval.
  const head = `{"schema":${JSON.stringify(RECORD_SCHEMA_ID)},"@timestamp":"${start}","interval":{"start":"${start}","end":"${end}","seconds":${iv.seconds},"complete":${iv.complete}},"device":{"id":`;
  const collector = JSON.stringify(iv.source);
  const tally = s.protoTally;
  const seen = s.protoSeen;
  const protos = s.protos;
  const farHosts = s.farHosts;
  const hostIp = s.hostIp;
  const hostTop = s.hostTop;
  // Per host number of the device being written (at most one per destination): volume, far ends, busiest far end.
  const nd = agg.dests.size;
  const hostVol = s.arrays.float64(6, nd * HOST_STRIDE);
  const hostPorts = s.arrays.int32(7, nd);
  const hostDest = s.arrays.int32(8, nd);
  const hostBefore = (a: number, b: number): number => {
    const pa = hostVol[a * HOST_STRIDE + H_UP_PACKETS];
    const pb = hostVol[b * HOST_STRIDE + H_UP_PACKETS];
    if (pa !== pb) return pb - pa;
    return hostIp[a] < hostIp[b] ? -1 : hostIp[a] > hostIp[b] ? 1 : 0;
  };
  const farPorts = s.farPorts;
  const top = s.top;
  const destBefore = (a: number, b: number): number => {
    const ba = evidence.bytes(a);
    const bb = evidence.bytes(b);
    if (ba !== bb) return bb - ba;
    const pa = evidence.packets(a);
    const pb = evidence.packets(b);
    if (pa !== pb) return pb - pa;
    const ia = evidence.ip(a);
    const ib = evidence.ip(b);
    if (ia !== ib) return ia < ib ? -1 : 1;
    return evidence.port(a) - evidence.port(b) || a - b;
  };

  for (let o = 0; o < n; o++) {
    const i = s.order[o];
    const slot = agg.active[i];
    const base = slot * STRIDE;
    const ip = names.device(agg, slot);
    const entry = s.entries[i];
    const upPackets = c[base + F_UP_PACKETS];
    const downPackets = c[base + F_DOWN_PACKETS];
    const packets = upPackets + downPackets;
    const ipBytes = c[base + F_UP_BYTES] + c[base + F_DOWN_BYTES];

    // One walk over the device's destinations and their flows: protocols, flows, far hosts and ports, top destinations.
    let flows = 0;
    let topLen = 0;
    protos.length = 0;
    farHosts.clear();
    farPorts.clear();
    for (let j = evidence.destFrom(slot), to = evidence.destTo(slot); j < to; j++) {
      const d = evidence.destAt(j);
      const l4 = evidence.l4(d);
      const port = evidence.port(d);
      for (let k = flowStart[d]; k < flowStart[d + 1]; k++) {
        const f = flowIds[k];
        const p = protoOf(l4, port, devicePort[f]);
        if (seen[p] === 0) {
          seen[p] = 1;
          protos.push(p);
        }
        const at = f * FLOW_STRIDE;
        tally[p * 3] += fs[at + FL_UP_PACKETS] + fs[at + FL_DOWN_PACKETS];
        tally[p * 3 + 1] += fs[at + FL_UP_PACKETS + 1] + fs[at + FL_DOWN_PACKETS + 1];
        tally[p * 3 + 2]++;
        flows++;
      }
      // A destination that only an ICMP error was about has no packets and is not listed.
      if (evidence.packets(d) === 0) continue;
      const far = evidence.ip(d);
      let h = farHosts.get(far);
      if (h === undefined) {
        h = farHosts.size;
        farHosts.set(far, h);
        hostIp[h] = far;
        hostDest[h] = d;
        hostPorts[h] = 0;
        hostVol.fill(0, h * HOST_STRIDE, (h + 1) * HOST_STRIDE);
      } else if (evidence.packets(d) > evidence.packets(hostDest[h])) hostDest[h] = d;
      evidence.addVolume(d, hostVol, h * HOST_STRIDE);
      hostPorts[h]++;
      if (l4 === L_TCP || l4 === L_UDP) farPorts.add((l4 << 16) | port);
      topLen = insertTop(top, 0, topLen, d, topK, destBefore);
    }
    protos.sort(s.byProto);
    let hostLen = 0;
    for (let h = 0, nh = farHosts.size; h < nh; h++) {
      if (hostVol[h * HOST_STRIDE + H_UP_PACKETS] > 0) hostLen = insertTop(hostTop, 0, hostLen, h, HOSTS_LISTED, hostBefore);
    }

    w.raw(head);
    w.str(ids[i]);
    w.raw(',"ip":');
    w.str(ip);
    w.raw(entry !== undefined ? ',"known":true' : ',"known":false');
    if (entry?.imsi) {
      w.raw(',"imsi":');
      w.str(entry.imsi);
    }
    if (entry?.imei) {
      w.raw(',"imei":');
      w.str(entry.imei);
    }
    if (entry?.group) {
      w.raw(',"group":');
      w.str(entry.group);
    }
    w.raw('},"collector":{"source":');
    w.text(collector);
    w.raw('},"tunnel":{"type":');
    const t = agg.tunType[slot];
    w.str(TUNNEL_NAMES[t]);
    if (t !== 0) {
      if (agg.tunHasId[slot]) {
        w.raw(t === T_GRE ? ',"key":' : t === T_PPTP ? ',"call_id":' : t === T_VXLAN || t === T_GENEVE ? ',"vni":' : ',"session":');
        w.num(agg.tunId[slot]);
      }
      w.raw(',"mirror_source":');
      w.str(names.farEnd(agg.mirrorSrc, slot * 4));
    }
    w.raw('},"traffic.statistics":{"ethernet.bytes":');
    w.num(ipBytes + ETHERNET_HEADER * packets);
    w.raw(',"ip.bytes":');
    w.num(ipBytes);
    w.raw(',"ip.packets":');
    w.num(packets);
    w.raw(',"total.packets":');
    w.num(packets);
    w.raw(',"avg.pkt.size":');
    w.num(packets > 0 ? Math.floor(ipBytes / packets) : 0);
    w.raw(',"max.pkt.size":');
    w.num(c[base + F_MAX_SIZE]);
    w.nums(SIZE_AND_L4_KEYS, c, base + F_HIST);
    w.raw(',"unique.flows":');
    w.num(flows);
    w.raw('},"uplink":{"bytes":');
    w.num(c[base + F_UP_BYTES]);
    w.raw(',"packets":');
    w.num(upPackets);
    w.raw('},"downlink":{"bytes":');
    w.num(c[base + F_DOWN_BYTES]);
    w.raw(',"packets":');
    w.num(downPackets);
    w.raw('},"detected.protos":[');
    for (let k = 0; k < protos.length; k++) {
      const p = protos[k];
      w.raw(k > 0 ? ',{"name":' : '{"name":');
      w.str(PROTO_NAMES[p]);
      w.raw(',"packets":');
      w.num(tally[p * 3]);
      w.raw(',"bytes":');
      w.num(tally[p * 3 + 1]);
      w.raw(',"flows":');
      w.num(tally[p * 3 + 2]);
      w.byte(0x7d);
      tally[p * 3] = tally[p * 3 + 1] = tally[p * 3 + 2] = 0;
      seen[p] = 0;
    }
    w.raw('],"destinations":{"distinct":');
    w.num(farHosts.size);
    w.raw(',"distinct_ports":');
    w.num(farPorts.size);
    w.raw(',"top":[');
    for (let k = 0; k < topLen; k++) {
      const d = top[k];
      w.raw(k > 0 ? ',{' : '{');
      evidence.writeEnd(w, d);
      w.raw(',"packets":');
      w.num(evidence.packets(d));
      w.raw(',"bytes":');
      w.num(evidence.bytes(d));
      evidence.writeName(w, slot, d);
      w.byte(0x7d);
    }
    w.raw('],"hosts":[');
    for (let k = 0; k < hostLen; k++) {
      const h = hostTop[k];
      const at = h * HOST_STRIDE;
      w.raw(k > 0 ? ',{' : '{');
      evidence.writeEnd(w, hostDest[h]);
      w.nums(HOST_VOLUME_KEYS, hostVol, at);
      w.raw(',"ports":');
      w.num(hostPorts[h]);
      evidence.writeName(w, slot, hostDest[h]);
      w.byte(0x7d);
    }
    w.raw(']},"tcp":');
    w.nums(TCP_FLAG_KEYS, c, base + F_SYN);
    w.raw('},');
    evidence.writeDevice(w, slot);
    w.byte(0x7d);
    out.endRecord(ids[i]);
  }
  s.entries.length = 0;
}
