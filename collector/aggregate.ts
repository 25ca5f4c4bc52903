// Per-device, per-interval counters: the hot half of the collector. add() runs for every decoded
// frame and allocates nothing: devices are slots in an AddrTable, counters live in preallocated
// typed arrays (one stride of doubles per device, so a device's counters share cache lines),
// and the interval's destinations and flows are exact keys in bounded KeyTables that are
// cleared when the interval closes. Packets and bytes are counted per flow, the entry just looked
// up: protocols, destinations and flow counts are functions of the flow key, so snapshot() derives
// them once per interval instead of touching more per-device arrays for every packet (measured:
// dense per-device protocol arrays cost a cache miss each). Strings and objects wait for snapshot().
//
// A device is an inner endpoint inside the device networks: traffic from it is uplink, traffic
// to it downlink, and the far end is "the destination" in both directions.

import { AddrTable, writeAddrKey } from '../net/addr-table.js';
import { KeyTable } from '../net/key-table.js';
import { L_TCP, L_UDP } from '../gre-decap/layers.js';
import { N_FRAGMENT } from '../gre-decap/malformed.js';
import type { PacketMeta } from '../gre-decap/meta.js';
import type { DeviceNets } from './device-nets.js';

// Offsets of a device's counters within its stride.
export const F_UP_BYTES = 0;
export const F_UP_PACKETS = 1;
export const F_DOWN_BYTES = 2;
export const F_DOWN_PACKETS = 3;
export const F_MAX_SIZE = 4;
export const F_HIST = 5; // six buckets: <64, 64–127, 128–255, 256–1023, 1024–1500, >1500
export const F_TCP = 11;
export const F_UDP = 12;
export const F_FRAGMENTED = 13;
export const F_SYN = 14;
export const F_SYN_ACK = 15;
export const F_RST = 16;
export const F_DNS_QUERIES = 17;
export const F_FIRST_TS = 18; // capture time of the device's first packet in the interval (seconds)
export const STRIDE = 19;

export interface AggregatorOptions {
  maxDevices: number;
  /** Distinct flows (device, far end, ports, transport) per interval before new ones go uncounted. */
  maxFlows: number;
  /** Distinct destinations (device, far end, far port, transport) per interval. */
  maxDestinations: number;
}

/** What the aggregator dropped and why (never silently). */
export class AggregatorCounters {
  frames = 0;
  attributed = 0; // frames counted for at least one device
  noIp = 0; // frames with no IP header (ARP, STP, ... inside the mirror)
  notDevice = 0; // innermost IP has no endpoint in a device network
  deviceOverflow = 0; // a new device arrived with the device table full
  flowOverflow = 0;
  destinationOverflow = 0;
}

export class Aggregator {
  readonly devices: AddrTable;
  readonly counters: Float64Array;
  // the tunnel each device's traffic arrived in (first packet of the interval)
  readonly tunType: Uint8Array;
  readonly tunId: Uint32Array;
  readonly tunHasId: Uint8Array;
  readonly mirrorSrc: Uint32Array; // 4 words per device (AddrTable key form)
  // devices with traffic in the open interval
  readonly active: Int32Array;
  activeCount = 0;
  private readonly isActive: Uint8Array;
  // the open interval's flows and destinations
  readonly dests: KeyTable; // [device, far addr ×4, l4 << 16 | far port]
  readonly flows: KeyTable; // [destination id, device port]: a destination already names device, far end and transport
  readonly flowPackets: Float64Array;
  readonly flowBytes: Float64Array;
  readonly stats = new AggregatorCounters();
  /** Frames seen in the open interval (attributed or not). */
  intervalFrames = 0;

  constructor(private readonly nets: DeviceNets, opts: AggregatorOptions) {
    const d = opts.maxDevices;
    this.devices = new AddrTable(d, d);
    this.counters = new Float64Array(d * STRIDE);
    this.tunType = new Uint8Array(d);
    this.tunId = new Uint32Array(d);
    this.tunHasId = new Uint8Array(d);
    this.mirrorSrc = new Uint32Array(d * 4);
    this.active = new Int32Array(d);
    this.isActive = new Uint8Array(d);
    // Start small and grow: tables sized for the worst case would spread every lookup over tens
    // of megabytes of cold memory, while a typical interval needs a few thousand entries.
    this.dests = new KeyTable(6, opts.maxDestinations, Math.min(opts.maxDestinations, 4096));
    this.flows = new KeyTable(2, opts.maxFlows, Math.min(opts.maxFlows, 4096));
    this.flowPackets = new Float64Array(opts.maxFlows);
    this.flowBytes = new Float64Array(opts.maxFlows);
  }

  add(b: Uint8Array, m: PacketMeta): void {
    this.stats.frames++;
    this.intervalFrames++;
    if (m.ipCount === 0) {
      this.stats.noIp++;
      return;
    }
    const v = m.ipVersion;
    const fromDevice = this.nets.contains(b, m.ipSrcOff, v);
    const toDevice = this.nets.contains(b, m.ipDstOff, v);
    if (!fromDevice && !toDevice) {
      this.stats.notDevice++;
      return;
    }
    this.stats.attributed++;
    // Device-to-device traffic is uplink for one and downlink for the other: both see it.
    if (fromDevice) this.account(b, m, true);
    if (toDevice) this.account(b, m, false);
  }

  private account(b: Uint8Array, m: PacketMeta, up: boolean): void {
    const v = m.ipVersion;
    const slot = this.devices.findAddr(b, up ? m.ipSrcOff : m.ipDstOff, v, true);
    if (slot < 0) {
      this.stats.deviceOverflow++;
      return;
    }
    if (this.isActive[slot] === 0) this.activate(slot, b, m);
    const c = this.counters;
    const base = slot * STRIDE;
    const len = m.ipTotalLen;
    if (up) {
      c[base + F_UP_BYTES] += len;
      c[base + F_UP_PACKETS]++;
    } else {
      c[base + F_DOWN_BYTES] += len;
      c[base + F_DOWN_PACKETS]++;
    }
    if (len > c[base + F_MAX_SIZE]) c[base + F_MAX_SIZE] = len;
    c[base + F_HIST + (len < 64 ? 0 : len < 128 ? 1 : len < 256 ? 2 : len < 1024 ? 3 : len <= 1500 ? 4 : 5)]++;
    if ((m.notes & N_FRAGMENT) !== 0) c[base + F_FRAGMENTED]++;

    const l4 = m.l4;
    let farPort = 0;
    let devicePort = 0;
    if (l4 === L_TCP || l4 === L_UDP) {
      farPort = up ? m.dstPort : m.srcPort;
      devicePort = up ? m.srcPort : m.dstPort;
      if (l4 === L_TCP) {
        c[base + F_TCP]++;
        const f = m.tcpFlags & 0x16; // SYN, RST, ACK
        if (f === 0x02) c[base + F_SYN]++;
        else if (f === 0x12) c[base + F_SYN_ACK]++;
        if ((m.tcpFlags & 0x04) !== 0) c[base + F_RST]++;
      } else c[base + F_UDP]++;
    }
    // A DNS query: uplink to port 53 with the header's QR bit clear (RFC 1035 §4.1.1).
    if (up && farPort === 53 && l4 === L_UDP && m.payloadLen >= 12 && (b[m.payloadOff + 2] & 0x80) === 0) c[base + F_DNS_QUERIES]++;

    const dk = this.dests.probe;
    dk[0] = slot;
    writeAddrKey(b, up ? m.ipDstOff : m.ipSrcOff, v, dk, 1);
    dk[5] = (l4 << 16) | farPort;
    const d = this.dests.find(true);
    if (d < 0) {
      // Without a destination id the flow cannot be keyed either: both go uncounted, both counted as dropped.
      this.stats.destinationOverflow++;
      this.stats.flowOverflow++;
      return;
    }
    const fk = this.flows.probe;
    fk[0] = d;
    fk[1] = devicePort;
    const f = this.flows.find(true);
    if (f < 0) {
      this.stats.flowOverflow++;
      return;
    }
    this.flowPackets[f]++;
    this.flowBytes[f] += len;
  }

  /** First packet of a device in this interval: remember the tunnel and the mirror that carried it. */
  private activate(slot: number, b: Uint8Array, m: PacketMeta): void {
    this.isActive[slot] = 1;
    this.active[this.activeCount++] = slot;
    this.counters[slot * STRIDE + F_FIRST_TS] = m.tsSec + m.tsNsec / 1e9;
    if (m.tunDepth > 0) {
      this.tunType[slot] = m.tunType[0];
      this.tunId[slot] = m.tunId[0];
      this.tunHasId[slot] = m.tunHasId[0];
      writeAddrKey(b, m.outerSrcOff, m.outerVersion, this.mirrorSrc, slot * 4);
    } else {
      this.tunType[slot] = 0;
    }
  }

  /** Forget the interval: zero the active devices' counters and the flow and destination tables. */
  reset(): void {
    for (let i = 0; i < this.activeCount; i++) {
      const slot = this.active[i];
      this.isActive[slot] = 0;
      this.counters.fill(0, slot * STRIDE, slot * STRIDE + STRIDE);
    }
    this.flowPackets.fill(0, 0, this.flows.size);
    this.flowBytes.fill(0, 0, this.flows.size);
    this.activeCount = 0;
    this.intervalFrames = 0;
    this.flows.clear();
    this.dests.clear();
  }
}
