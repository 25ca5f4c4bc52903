// Per-device, per-interval counters: the hot half of the collector. add() runs for every decoded
// frame and allocates nothing: devices are slots in an AddrTable, counters live in preallocated
// typed arrays (one stride of doubles per device, so a device's counters share cache lines),
// and the interval's destinations and flows are exact keys in bounded KeyTables that are
// cleared when the interval closes. Packets and bytes are counted per flow and direction, in the entry
// just looked up: protocols, destinations, their volume each way and flow counts are functions of the
// flow key, so snapshot() derives them once per interval instead of touching more per-device arrays
// for every packet (measured: dense per-device protocol arrays cost a cache miss each). The one other
// thing a packet touches is its destination's burst state (8 bytes: ./evidence/destinations.ts); DNS,
// TLS ClientHellos and ICMP errors go to ./evidence/ only for the packets that can carry them. Strings
// and objects wait for snapshot().
//
// A device is an inner endpoint inside the device networks: traffic from it is uplink, traffic
// to it downlink, and the far end is "the destination" in both directions.
//
// The device table is bounded and fair (issue 12). Anyone can send to every address of a /16 (a
// scanning device, the internet), so downlink alone must not fill the table: an address that sends
// gets its entry as long as there is room, while downlink to an address with no entry creates one only
// while fewer than `maxDownlinkOnly` entries are held by addresses that have not sent; such an entry is
// given back after one interval without traffic, and becomes an ordinary device when its address
// sends. 65,536 probes then cost at most maxDownlinkOnly records per interval and never a sender's slot.
// (Creating entries only for senders would be simpler, but loses what a device receives before its
// first packet out: DNS answers, a server speaking first.) Past that cap, downlink to an unknown address
// is counted (downlinkUnknown). Devices with no traffic for `idleIntervals` closed intervals are evicted
// and their slots reused. Frames of a sender that finds the table full are counted (deviceOverflow) with
// their source's /24 (IPv4) or /64 (IPv6), reported once per interval.

import { AddrTable, writeAddrKey } from '../net/addr-table.js';
import { KeyTable } from '../net/key-table.js';
import { formatAddrKey } from '../net/ip-format.js';
import { L_TCP, L_UDP, L_ICMP, L_ICMPV6 } from '../gre-decap/layers.js';
import { N_FRAGMENT } from '../gre-decap/malformed.js';
import type { PacketMeta } from '../gre-decap/meta.js';
import type { DeviceNets } from './device-nets.js';
import {
  F_UP_BYTES, F_UP_PACKETS, F_DOWN_BYTES, F_DOWN_PACKETS, F_MAX_SIZE, F_HIST, F_TCP, F_UDP, F_FRAGMENTED, F_SYN,
  F_SYN_ACK, F_RST, F_FIRST_TS, STRIDE,
} from './device-counters.js';
import { Evidence } from './evidence/evidence.js';
import { X_SYN, X_SYN_ACK, X_RST, X_UDP_STARTS } from './evidence/destinations.js';
import { ICMP_UNREACHABLE, ICMPV6_UNREACHABLE } from './evidence/icmp-quote.js';

export * from './device-counters.js';

// A flow's line of flowStats (FL_UP_PACKETS + 1 is its bytes up, FL_DOWN_PACKETS + 1 its bytes down).
export const FL_UP_PACKETS = 0;
export const FL_DOWN_PACKETS = 2;
export const FLOW_STRIDE = 4;

// A device's last destination, its key and its last flow (ids of the open interval): most packets of a
// device belong to the destination and flow of its previous packet, so a direct-indexed memo answers them
// without hashing and probing two tables spread over megabytes (no flooding risk: indexed by the device's
// slot, not by anything the traffic chooses). 8 int32 per device, one half cache line.
const M_DEST = 0; // destination id, or -1
const M_KEY = 1; // the destination key's words 1..5 (far address ×4, l4 << 16 | far port): 5 words
const M_FLOW = 6; // flow id of the memoised destination, or -1
const M_PORT = 7; // that flow's device port
const MEMO = 8;

export interface AggregatorOptions {
  maxDevices: number;
  /** Distinct flows (device, far end, ports, transport) per interval before new ones go uncounted. */
  maxFlows: number;
  /** Distinct destinations (device, far end, far port, transport) per interval. */
  maxDestinations: number;
  /** Distinct (device, DNS query name) per interval (default 65536); more count as names_dropped. */
  maxNames?: number;
  /** (device, address) → name mappings kept per generation, two generations (default 65536). */
  maxHostNames?: number;
  /** Contact burst starts logged per interval (default 1048576). */
  maxBursts?: number;
  /** Intervals with no traffic after which a device's slot is given back (default 10). */
  idleIntervals?: number;
  /** Entries held at once by addresses that only received so far (default maxDevices / 64, at least 64). */
  maxDownlinkOnly?: number;
}

/** Source networks kept per interval for the device-overflow report. */
const OVERFLOW_SOURCES = 256;

/** What the aggregator dropped and why (never silently). */
export class AggregatorCounters {
  frames = 0;
  attributed = 0; // frames counted for at least one device
  noIp = 0; // frames with no IP header (ARP, STP, ... inside the mirror)
  notDevice = 0; // innermost IP has no endpoint in a device network
  deviceOverflow = 0; // a new device arrived with the device table full
  downlinkUnknown = 0; // to a device-network address with no entry, maxDownlinkOnly entries held already
  devicesEvicted = 0; // idle for idleIntervals: slot given back
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
  /** Per flow id, FLOW_STRIDE doubles: packets and bytes up, then down (one cache line per packet). */
  flowStats: Float64Array;
  readonly stats = new AggregatorCounters();
  /** DNS, TLS, ICMP errors, contacts and connection outcomes (./evidence/). */
  readonly ev: Evidence;
  /** Frames seen in the open interval (attributed or not). */
  intervalFrames = 0;
  /** Start of the open interval (seconds since the epoch): contact times are kept as ms after it. */
  private startSec = 0;
  /** Intervals reset so far; per slot, the one it last had traffic in (1 + index), 0 for a free slot. */
  private intervalNo = 1;
  private readonly lastActive: Uint32Array;
  private readonly idleIntervals: number;
  /** Per slot: 1 once its address sent a packet; entries created by downlink hold 0 until then. */
  private readonly sender: Uint8Array;
  private readonly maxDownlinkOnly: number;
  private downlinkOnly = 0;
  /** Slots evicted by the last reset() (their text, cached elsewhere by slot, is stale). */
  readonly evicted: Int32Array;
  evictedCount = 0;
  /** Frames refused for a full device table in the open interval, by source network. */
  readonly overflowNets: KeyTable;
  private readonly overflowFrames: Float64Array;
  intervalOverflow = 0;
  private readonly foreignNets = new KeyTable(4, OVERFLOW_SOURCES, OVERFLOW_SOURCES);
  private readonly foreignFrames = new Float64Array(OVERFLOW_SOURCES);
  private readonly memo: Int32Array;

  constructor(private readonly nets: DeviceNets, opts: AggregatorOptions) {
    const d = opts.maxDevices;
    this.devices = new AddrTable(d, d);
    this.counters = new Float64Array(d * STRIDE);
    this.tunType = new Uint8Array(d);
    this.tunId = new Uint32Array(d);
    this.tunHasId = new Uint8Array(d);
    this.mirrorSrc = new Uint32Array(d * 4);
    this.memo = new Int32Array(d * MEMO).fill(-1);
    this.active = new Int32Array(d);
    this.isActive = new Uint8Array(d);
    this.lastActive = new Uint32Array(d);
    this.evicted = new Int32Array(d);
    this.idleIntervals = opts.idleIntervals ?? 10;
    this.sender = new Uint8Array(d);
    this.maxDownlinkOnly = opts.maxDownlinkOnly ?? Math.max(64, d >> 6);
    this.overflowNets = new KeyTable(4, OVERFLOW_SOURCES, OVERFLOW_SOURCES);
    this.overflowFrames = new Float64Array(OVERFLOW_SOURCES);
    // Start small and grow: tables sized for the worst case would spread every lookup over tens
    // of megabytes of cold memory, while a typical interval needs a few thousand entries.
    this.dests = new KeyTable(6, opts.maxDestinations, Math.min(opts.maxDestinations, 4096));
    this.flows = new KeyTable(2, opts.maxFlows, Math.min(opts.maxFlows, 4096));
    this.flowStats = new Float64Array(Math.min(opts.maxFlows, 4096) * FLOW_STRIDE); // grows with the flow table
    const maxNames = opts.maxNames ?? 1 << 16;
    this.ev = new Evidence({
      maxNames,
      nameArenaBytes: maxNames * 48, // names average well under 48 bytes; a full arena drops names, counted
      hostNames: opts.maxHostNames ?? 1 << 16,
      maxBursts: opts.maxBursts ?? 1 << 20,
      maxDestinations: opts.maxDestinations,
    });
  }

  /** The open interval begins at `sec`. */
  startInterval(sec: number): void {
    this.startSec = sec;
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
      // Until some frame matches, remember where the traffic came from: the operator's hint for --device-net.
      if (this.stats.attributed === 0) this.tallyNet(this.foreignNets, this.foreignFrames, b, m.ipSrcOff, v, 16);
      return;
    }
    this.stats.attributed++;
    // Device-to-device traffic is uplink for one and downlink for the other: both see it.
    if (fromDevice) this.account(b, m, true);
    if (toDevice) this.account(b, m, false);
  }

  private account(b: Uint8Array, m: PacketMeta, up: boolean): void {
    const v = m.ipVersion;
    const devices = this.devices;
    const before = devices.count;
    const mayCreate = up || this.downlinkOnly < this.maxDownlinkOnly;
    const slot = devices.findAddr(b, up ? m.ipSrcOff : m.ipDstOff, v, mayCreate);
    if (slot < 0) {
      if (up) this.overflow(b, m.ipSrcOff, v);
      else if (mayCreate) this.stats.deviceOverflow++;
      else this.stats.downlinkUnknown++;
      return;
    }
    if (devices.count !== before) {
      this.sender[slot] = up ? 1 : 0;
      if (!up) this.downlinkOnly++;
    } else if (up && this.sender[slot] === 0) {
      this.sender[slot] = 1;
      this.downlinkOnly--;
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
    let tcpFlags = 0;
    if (l4 === L_TCP || l4 === L_UDP) {
      farPort = up ? m.dstPort : m.srcPort;
      devicePort = up ? m.srcPort : m.dstPort;
      if (l4 === L_TCP) {
        c[base + F_TCP]++;
        tcpFlags = m.tcpFlags & 0x16; // SYN, RST, ACK
        if (tcpFlags === 0x02) c[base + F_SYN]++;
        else if (tcpFlags === 0x12) c[base + F_SYN_ACK]++;
        if ((m.tcpFlags & 0x04) !== 0) c[base + F_RST]++;
      } else c[base + F_UDP]++;
    }

    const dk = this.dests.probe;
    dk[0] = slot;
    writeAddrKey(b, up ? m.ipDstOff : m.ipSrcOff, v, dk, 1);
    dk[5] = (l4 << 16) | farPort;
    const memo = this.memo;
    const mo = slot * MEMO;
    let d = memo[mo + M_DEST];
    if (d < 0 || memo[mo + M_KEY] !== (dk[1] | 0) || memo[mo + M_KEY + 1] !== (dk[2] | 0) || memo[mo + M_KEY + 2] !== (dk[3] | 0)
      || memo[mo + M_KEY + 3] !== (dk[4] | 0) || memo[mo + M_KEY + 4] !== (dk[5] | 0)) {
      d = this.dests.find(true);
      if (d >= 0) {
        memo[mo + M_DEST] = d;
        for (let i = 0; i < 5; i++) memo[mo + M_KEY + i] = dk[1 + i];
        memo[mo + M_FLOW] = -1;
      }
    }
    if (d < 0) {
      // Without a destination id the flow cannot be keyed either: both go uncounted, both counted as dropped.
      this.stats.destinationOverflow++;
      this.stats.flowOverflow++;
    } else {
      const de = this.ev.dests;
      de.ensure(d);
      // Integer ms after the interval start (a frame's nanoseconds cut to whole ms).
      de.packet(d, (m.tsSec - this.startSec) * 1000 + ((m.tsNsec / 1e6) | 0));
      if (l4 === L_TCP) {
        if (up) {
          if (tcpFlags === 0x02) de.count(d, X_SYN);
        } else if (tcpFlags === 0x12) de.count(d, X_SYN_ACK);
        else if ((tcpFlags & 0x04) !== 0) de.count(d, X_RST);
      }
      let f = memo[mo + M_FLOW];
      if (f < 0 || memo[mo + M_PORT] !== devicePort) {
        const fk = this.flows.probe;
        fk[0] = d;
        fk[1] = devicePort;
        const before = this.flows.size;
        f = this.flows.find(true);
        if (f >= 0) {
          if (this.flows.size !== before) {
            if (f * FLOW_STRIDE === this.flowStats.length) this.growFlows();
            // A UDP flow the device opened in this interval: a connection start for contacts.
            if (up && l4 === L_UDP) de.count(d, X_UDP_STARTS);
          }
          memo[mo + M_FLOW] = f;
          memo[mo + M_PORT] = devicePort;
        }
      }
      if (f < 0) this.stats.flowOverflow++;
      else {
        const p = f * FLOW_STRIDE + (up ? FL_UP_PACKETS : FL_DOWN_PACKETS);
        this.flowStats[p]++;
        this.flowStats[p + 1] += len;
      }
    }

    // Evidence beyond volumes, only from the packets that can carry it.
    if (l4 === L_UDP) {
      if (farPort === 53) this.ev.dns(b, m, up, slot, c, base, d);
    } else if (l4 === L_TCP) {
      if (up && m.payloadLen >= 6 && b[m.payloadOff] === 0x16) this.ev.tls(b, m, slot, c, base);
    } else if (!up && ((l4 === L_ICMP && m.icmpType === ICMP_UNREACHABLE) || (l4 === L_ICMPV6 && m.icmpType === ICMPV6_UNREACHABLE))) {
      this.ev.unreachable(b, m, slot, c, base, this.dests);
    }
  }

  private growFlows(): void {
    const stats = new Float64Array(Math.min(this.flowStats.length * 2, this.flows.maxEntries * FLOW_STRIDE));
    stats.set(this.flowStats);
    this.flowStats = stats;
  }

  /** A sender found the device table full: counted, and its source network remembered for the interval's report. */
  private overflow(b: Uint8Array, off: number, v: number): void {
    this.stats.deviceOverflow++;
    this.intervalOverflow++;
    this.tallyNet(this.overflowNets, this.overflowFrames, b, off, v, 24);
  }

  /** One frame for the network (IPv4 /v4Bits, IPv6 /v4Bits + 40) of the address at b[off]. */
  private tallyNet(t: KeyTable, frames: Float64Array, b: Uint8Array, off: number, v: number, v4Bits: number): void {
    const k = t.probe;
    writeAddrKey(b, off, v, k, 0);
    if (v === 4) k[3] &= (0xffffffff << (32 - v4Bits)) | 0;
    else if (v4Bits === 24) {
      k[2] = 0; // a /64
      k[3] = 0;
    } else {
      k[1] &= 0xffff0000; // a /48
      k[2] = 0;
      k[3] = 0;
    }
    const id = t.find(true);
    if (id >= 0) frames[id]++;
  }

  /** The open interval's refused frames by source network, most first (for a log line: allocates). */
  overflowSources(top: number): { net: string; frames: number }[] {
    return topNets(this.overflowNets, this.overflowFrames, top, 24, 64);
  }

  /** While no frame has matched a device network: the busiest source networks seen (IPv4 /16, IPv6 /48). */
  foreignSources(top: number): { net: string; frames: number }[] {
    return topNets(this.foreignNets, this.foreignFrames, top, 16, 48);
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
      this.lastActive[slot] = this.intervalNo;
      this.counters.fill(0, slot * STRIDE, slot * STRIDE + STRIDE);
      this.memo[slot * MEMO + M_DEST] = -1; // the interval's ids are handed out again
      this.memo[slot * MEMO + M_FLOW] = -1;
    }
    // Devices idle for idleIntervals give their slots back (a slot created in this interval was active),
    // entries of addresses that never sent after one interval without traffic.
    this.evictedCount = 0;
    const last = this.lastActive;
    for (let slot = 0; slot < this.devices.size; slot++) {
      if (last[slot] !== 0 && this.intervalNo - last[slot] >= (this.sender[slot] === 1 ? this.idleIntervals : 1)) {
        if (this.sender[slot] === 0) this.downlinkOnly--;
        last[slot] = 0;
        this.devices.remove(slot);
        this.evicted[this.evictedCount++] = slot;
        this.stats.devicesEvicted++;
      }
    }
    this.intervalNo++;
    this.overflowFrames.fill(0, 0, this.overflowNets.size);
    this.overflowNets.clear();
    this.intervalOverflow = 0;
    this.flowStats.fill(0, 0, this.flows.size * FLOW_STRIDE);
    this.ev.reset(this.dests.size);
    this.activeCount = 0;
    this.intervalFrames = 0;
    this.flows.clear();
    this.dests.clear();
  }
}

function topNets(t: KeyTable, frames: Float64Array, top: number, v4Bits: number, v6Bits: number): { net: string; frames: number }[] {
  const out: { net: string; frames: number }[] = [];
  const k = new Uint32Array(4);
  for (let id = 0; id < t.size; id++) {
    t.keyOf(id, k);
    const v4 = k[0] === 0 && k[1] === 0 && k[2] === 0xffff;
    out.push({ net: `${formatAddrKey(k)}/${v4 ? v4Bits : v6Bits}`, frames: frames[id] });
  }
  return out.sort((a, b) => b.frames - a.frames).slice(0, top);
}
