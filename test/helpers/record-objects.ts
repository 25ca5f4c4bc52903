// The object-based record builder that collector/records.ts replaced (as of 12ffa1a: snapshot() and
// the EvidenceReport of collector/evidence/report.ts, renamed, otherwise unchanged), kept only as the
// reference the byte writer is held to: test/record-bytes.test.ts checks that JSON.stringify of these
// objects, one per line, is byte for byte the NDJSON that writeRecords() writes. Nothing else uses it.

import { L_TCP, L_UDP, T_GRE, T_PPTP, T_VXLAN, T_GENEVE, TUNNEL_NAMES } from '../../gre-decap/layers.js';
import {
  type Aggregator, F_UP_BYTES, F_UP_PACKETS, F_DOWN_BYTES, F_DOWN_PACKETS, F_MAX_SIZE, F_HIST, F_TCP, F_UDP, F_FRAGMENTED,
  F_SYN, F_SYN_ACK, F_RST, STRIDE, FLOW_STRIDE, FL_UP_PACKETS, FL_DOWN_PACKETS,
  F_DNS_QUERIES, F_DNS_RESPONSES, F_DNS_NXDOMAIN, F_DNS_SERVFAIL, F_DNS_MALFORMED, F_DNS_TYPES, F_DNS_NAME_MAX,
  F_DNS_LABEL_MAX, F_DNS_NAMES_DROPPED, F_TLS_HELLOS, F_TLS_NO_SNI, F_TLS_MALFORMED, F_ICMP_UNREACH,
} from '../../collector/aggregate.js';
import { transportName } from '../../collector/transport.js';
import { PROTO_NAMES, protoOf } from '../../collector/protocols.js';
import type { AddressNames, IntervalInfo } from '../../collector/records.js';
import type { Inventory } from '../../inventory/inventory.js';
import { RECORD_SCHEMA_ID, trafficStatistics, type Contact, type Destination, type Host, type InspectionRecord } from '../../contracts/inspection-record.js';
import { X_SYN, X_SYN_ACK, X_RST, X_UDP_STARTS, X_ICMP_UNREACH, X_DNS_QUERIES } from '../../collector/evidence/destinations.js';
import { registeredDomain } from '../../net/registered-domain.js';
import { subdomainOf, countChars, entropy } from '../../collector/evidence/domains.js';
import { escapeName, latin1 } from '../../collector/evidence/name-text.js';

const V_UP_PACKETS = FL_UP_PACKETS;
const V_UP_BYTES = FL_UP_PACKETS + 1;
const V_DOWN_PACKETS = FL_DOWN_PACKETS;
const V_DOWN_BYTES = FL_DOWN_PACKETS + 1;

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
  const evidence = new ObjectEvidenceReport(agg, names, maxContacts, volume);
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
    // Far hosts over all their ports and transports, shown by their busiest far end (most packets; ties: first seen).
    const hosts = new Map<string, { host: Host; pairs: Set<string>; busiest: number; busiestPackets: number }>();
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
      let h = hosts.get(farIp);
      if (!h) hosts.set(farIp, (h = { host: { ip: farIp, port, transport: transportName(l4), up_packets: 0, down_packets: 0, up_bytes: 0, down_bytes: 0, ports: 0 }, pairs: new Set(), busiest: d, busiestPackets: packets }));
      else if (packets > h.busiestPackets) {
        h.busiest = d;
        h.busiestPackets = packets;
        h.host.port = port;
        h.host.transport = transportName(l4);
      }
      const v = evidence.volumeOf(d);
      h.host.up_packets += v.upPackets;
      h.host.down_packets += v.downPackets;
      h.host.up_bytes += v.upBytes;
      h.host.down_bytes += v.downBytes;
      h.pairs.add(`${transportName(l4)}/${port}`);
    }
    dests.sort((a, b) => b.bytes - a.bytes || b.packets - a.packets || (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : a.port - b.port));

    const topHosts = [...hosts.values()]
      .filter((h) => h.host.up_packets > 0)
      .sort((a, b) => b.host.up_packets - a.host.up_packets || (a.host.ip < b.host.ip ? -1 : a.host.ip > b.host.ip ? 1 : 0))
      .slice(0, 4)
      .map((h): Host => {
        const n = evidence.nameOf(slot, h.busiest);
        const host = { ...h.host, ports: h.pairs.size };
        return n ? { ...host, name: n.name, name_source: n.source } : host;
      });

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
        hosts: topHosts,
      },
      tcp: { syn: c[base + F_SYN], syn_ack: c[base + F_SYN_ACK], rst: c[base + F_RST] },
      ...evidence.device(slot),
    });
  }
  records.sort((a, b) => (a.device.id < b.device.id ? -1 : a.device.id > b.device.id ? 1 : 0));
  return records;
}

const MAX_BURSTS_LISTED = 64;
const MAX_DOMAINS = 8;
const MAX_RESOLVERS = 4;
const MAX_EXAMPLES = 3;
const EXAMPLE_CHARS = 60;
const FAILED_SAMPLE = 8;

type Evidence = Pick<InspectionRecord, 'connections' | 'contacts' | 'dns' | 'tls'>;
type Dns = InspectionRecord['dns'];

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

/** Built once per closed interval, before the aggregator is reset; then one call per device. */
const NONE: readonly number[] = [];

class ObjectEvidenceReport {
  // By device slot: its destination ids, query-name ids and chosen contacts, each in first-seen order
  // (arrays indexed by slot: a Map per device cost more than the rest of the record).
  private readonly destsOf: number[][];
  private readonly namesOf: number[][];
  private readonly contactsOf: number[][];
  // By destination id: the index of its burst list in `bursts`, -1 when it is no contact.
  private readonly burstList: Int32Array;
  private readonly bursts: number[][] = [];
  private readonly domainOf = new Map<string, string>();
  private readonly key = new Uint32Array(6);
  private readonly deviceKey = new Uint32Array(4);
  // Per destination id, read once: the key's transport and port, and the far address text when asked.
  private readonly l4Of: Uint8Array;
  private readonly portOf: Uint16Array;
  private readonly ipOf: (string | undefined)[];

  /** `volume`: per destination id, its packets and bytes up, then down (FLOW_STRIDE numbers), summed over its flows. */
  constructor(private readonly agg: Aggregator, private readonly addr: AddressNames, maxContacts: number, private readonly volume: Float64Array) {
    const ev = agg.ev;
    const n = agg.dests.size;
    this.l4Of = new Uint8Array(n);
    this.portOf = new Uint16Array(n);
    this.ipOf = new Array<string | undefined>(n);
    this.burstList = new Int32Array(n).fill(-1);
    const devices = agg.devices.size;
    this.destsOf = new Array<number[]>(devices);
    this.namesOf = new Array<number[]>(devices);
    this.contactsOf = new Array<number[]>(devices);
    for (let d = 0; d < n; d++) {
      const k = agg.dests.keyOf(d, this.key);
      this.l4Of[d] = k[5] >>> 16;
      this.portOf[d] = k[5] & 0xffff;
      (this.destsOf[k[0]] ??= []).push(d);
    }
    for (let id = 0; id < ev.names.size; id++) (this.namesOf[ev.names.tag[id]] ??= []).push(id);
    // Contacts first, so that only their bursts are gathered from the log: the device's far ends by
    // bursts, then bytes, then first seen (destination ids are given in first-seen order).
    const bursts = (d: number) => ev.dests.bursts(d);
    const before = (a: number, b: number) => bursts(b) - bursts(a) || this.bytes(b) - this.bytes(a) || a - b;
    this.destsOf.forEach((ds, slot) => {
      const chosen: number[] = [];
      for (const d of ds) {
        if (this.packets(d) === 0) continue; // only an ICMP error was about it
        insertTop(chosen, d, maxContacts, before);
      }
      this.contactsOf[slot] = chosen;
      for (const d of chosen) {
        this.burstList[d] = this.bursts.length;
        this.bursts.push([]);
      }
    });
    const log = ev.dests.log;
    for (let i = 0; i < ev.dests.logLen; i += 2) {
      const at = this.burstList[log[i]];
      if (at >= 0 && this.bursts[at].length < MAX_BURSTS_LISTED) this.bursts[at].push(log[i + 1]);
    }
  }

  /** The device's destination ids, first seen first. */
  destinationsOf(slot: number): readonly number[] {
    return this.destsOf[slot] ?? NONE;
  }

  /** Packets to and from destination d in the interval. */
  packets(d: number): number {
    return this.vol(d, V_UP_PACKETS) + this.vol(d, V_DOWN_PACKETS);
  }

  bytes(d: number): number {
    return this.vol(d, V_UP_BYTES) + this.vol(d, V_DOWN_BYTES);
  }

  /** Destination d's packets and bytes each way. */
  volumeOf(d: number): { upPackets: number; downPackets: number; upBytes: number; downBytes: number } {
    return { upPackets: this.vol(d, V_UP_PACKETS), downPackets: this.vol(d, V_DOWN_PACKETS), upBytes: this.vol(d, V_UP_BYTES), downBytes: this.vol(d, V_DOWN_BYTES) };
  }

  l4(d: number): number {
    return this.l4Of[d];
  }

  port(d: number): number {
    return this.portOf[d];
  }

  /** Text of destination d's far address. */
  ip(d: number): string {
    return (this.ipOf[d] ??= this.addr.farEnd(this.agg.dests.keyOf(d, this.key), 1));
  }

  /** The name of destination d's far address for the device, from DNS answers or SNI, when known. */
  nameOf(slot: number, d: number): { name: string; source: 'dns' | 'sni' } | undefined {
    const hosts = this.agg.ev.hosts;
    return hosts.empty ? undefined : hosts.lookup(this.agg.devices.keyOf(slot, this.deviceKey), 0, this.agg.dests.keyOf(d, this.key), 1);
  }

  device(slot: number): Evidence {
    const c = this.agg.counters;
    const base = slot * STRIDE;
    return {
      connections: this.connections(slot, c[base + F_ICMP_UNREACH]),
      contacts: (this.contactsOf[slot] ?? NONE).map((d) => this.contact(slot, d)),
      dns: this.dns(slot, c, base),
      tls: { client_hellos: c[base + F_TLS_HELLOS], without_sni: c[base + F_TLS_NO_SNI], malformed: c[base + F_TLS_MALFORMED] },
    };
  }

  /** Destination d's volume: field is one of V_*. */
  private vol(d: number, field: number): number {
    return this.volume[d * FLOW_STRIDE + field];
  }

  private rare(d: number, field: number): number {
    return this.agg.ev.dests.get(d, field);
  }

  /**
   * Per far host: attempted when the device sent a SYN or a UDP datagram to it; failed when it was
   * attempted and either no port answered a SYN with a SYN-ACK (silence or RST) or an ICMP unreachable
   * came back for one of its attempted ports. A (host, transport, port) fails the same way.
   */
  private connections(slot: number, icmpUnreachable: number): Evidence['connections'] {
    const ds = this.destsOf[slot] ?? NONE;
    // Most devices in most intervals: nothing failed, and only the attempted hosts need counting.
    let failing = false;
    const attempted = new Set<string>();
    for (const d of ds) {
      if (!this.attempted(d)) continue;
      attempted.add(this.ip(d));
      if (this.portFailed(d)) failing = true;
    }
    if (!failing) return { attempted_hosts: attempted.size, failed_hosts: 0, failed_named_hosts: 0, failed_ports: 0, refused_hosts: 0, icmp_unreachable: icmpUnreachable, failed_sample: [] };

    const hosts = new Map<string, { syn: boolean; answered: boolean; icmp: boolean; rst: boolean; named: boolean }>();
    let failedPorts = 0;
    const sample: Evidence['connections']['failed_sample'] = [];
    for (const d of ds) {
      const ip = this.ip(d);
      let h = hosts.get(ip);
      if (!h) hosts.set(ip, (h = { syn: false, answered: false, icmp: false, rst: false, named: false }));
      // A SYN-ACK to a SYN of the previous interval still shows the host answers.
      if (this.rare(d, X_SYN_ACK) > 0) h.answered = true;
      if (!this.attempted(d)) continue;
      const syn = this.rare(d, X_SYN) > 0;
      const icmp = this.rare(d, X_ICMP_UNREACH) > 0;
      if (syn) h.syn = true;
      if (icmp) h.icmp = true;
      if (this.portFailed(d)) {
        if (syn && this.rare(d, X_SYN_ACK) === 0 && this.rare(d, X_RST) > 0) h.rst = true;
        failedPorts++;
        // A host the device knows by name is a service of its own that is down, not one it tried blind.
        const n = this.nameOf(slot, d);
        if (n) h.named = true;
        if (sample.length < FAILED_SAMPLE) {
          const port = this.portOf[d];
          const transport = transportName(this.l4Of[d]);
          sample.push(n ? { ip, port, transport, name: n.name, name_source: n.source } : { ip, port, transport });
        }
      }
    }
    let failed = 0;
    let named = 0;
    let refused = 0;
    for (const [ip, h] of hosts) {
      if (attempted.has(ip) && ((h.syn && !h.answered) || h.icmp)) {
        failed++;
        if (h.named) named++;
        if (h.rst) refused++;
      }
    }
    return { attempted_hosts: attempted.size, failed_hosts: failed, failed_named_hosts: named, failed_ports: failedPorts, refused_hosts: refused, icmp_unreachable: icmpUnreachable, failed_sample: sample };
  }

  /** The device sent destination d a SYN, or UDP. */
  private attempted(d: number): boolean {
    return this.rare(d, X_SYN) > 0 || (this.l4Of[d] === L_UDP && this.vol(d, V_UP_PACKETS) > 0);
  }

  /** An attempted destination failed: SYNs and no SYN-ACK (silence or RST), or an ICMP unreachable about it. */
  private portFailed(d: number): boolean {
    return (this.rare(d, X_SYN) > 0 && this.rare(d, X_SYN_ACK) === 0) || this.rare(d, X_ICMP_UNREACH) > 0;
  }

  private contact(slot: number, d: number): Contact {
    const l4 = this.l4Of[d];
    const bursts = this.bursts[this.burstList[d]].sort((a, b) => a - b);
    const starts = l4 === L_TCP ? this.rare(d, X_SYN) : l4 === L_UDP ? this.rare(d, X_UDP_STARTS) : 0;
    const answered = this.vol(d, V_DOWN_PACKETS) > 0;
    const dropped = this.agg.ev.dests.bursts(d) - bursts.length;
    const upP = this.vol(d, V_UP_PACKETS);
    const upB = this.vol(d, V_UP_BYTES);
    const downP = this.vol(d, V_DOWN_PACKETS);
    const downB = this.vol(d, V_DOWN_BYTES);
    const ip = this.ip(d);
    const port = this.portOf[d];
    const transport = transportName(l4);
    const n = this.nameOf(slot, d);
    // Two literal shapes in the schema's field order (JSON.stringify is fastest on plain literals).
    return n
      ? { ip, port, transport, name: n.name, name_source: n.source, starts, answered, bursts, bursts_dropped: dropped, up_packets: upP, up_bytes: upB, down_packets: downP, down_bytes: downB }
      : { ip, port, transport, starts, answered, bursts, bursts_dropped: dropped, up_packets: upP, up_bytes: upB, down_packets: downP, down_bytes: downB };
  }

  private dns(slot: number, c: Float64Array, base: number): Dns {
    const ev = this.agg.ev;
    const t = base + F_DNS_TYPES;
    const types = { a: c[t], aaaa: c[t + 1], txt: c[t + 2], null: c[t + 3], cname: c[t + 4], mx: c[t + 5], any: c[t + 6], other: c[t + 7] };
    const queries = c[base + F_DNS_QUERIES];
    const responses = c[base + F_DNS_RESPONSES];
    const malformed = c[base + F_DNS_MALFORMED];
    if (queries === 0 && responses === 0 && malformed === 0) {
      // Most devices in most intervals: no DNS, so none of the per-domain work below.
      return {
        queries, responses, nxdomain: 0, servfail: 0, types, distinct_names: 0, name_length_max: 0, name_length_mean: 0, label_max: 0,
        entropy_mean: 0, resolvers: [], domains: [], domains_dropped: 0, names_dropped: c[base + F_DNS_NAMES_DROPPED], malformed,
      };
    }

    const resolverQueries = new Map<string, number>();
    for (const d of this.destsOf[slot] ?? NONE) {
      const q = this.rare(d, X_DNS_QUERIES);
      if (q > 0) resolverQueries.set(this.ip(d), (resolverQueries.get(this.ip(d)) ?? 0) + q);
    }
    const resolvers = [...resolverQueries].map(([ip, queries]) => ({ ip, queries }));
    resolvers.sort((a, b) => b.queries - a.queries || (a.ip < b.ip ? -1 : 1));

    interface Domain {
      domain: string; queries: number; distinct_names: number; name_bytes: number; name_length_max: number; label_max: number;
      hist: Float64Array; chars: number; unusual_types: number; nxdomain: number; examples: string[];
    }
    const domains = new Map<string, Domain>();
    const ids = this.namesOf[slot] ?? NONE;
    let lengthSum = 0;
    let entropySum = 0;
    const one = new Float64Array(256);
    for (const id of ids) {
      const len = ev.names.len[id];
      const raw = latin1(ev.names.arena, ev.names.off[id], len);
      let dom = this.domainOf.get(raw);
      if (dom === undefined) this.domainOf.set(raw, (dom = registeredDomain(raw)));
      const sub = subdomainOf(raw, dom);
      let x = domains.get(dom);
      if (!x) {
        x = { domain: escapeName(dom), queries: 0, distinct_names: 0, name_bytes: 0, name_length_max: 0, label_max: 0, hist: new Float64Array(256), chars: 0, unusual_types: 0, nxdomain: 0, examples: [] };
        domains.set(dom, x);
      }
      x.queries += ev.nameQueries[id];
      x.distinct_names++;
      x.name_bytes += len;
      x.name_length_max = Math.max(x.name_length_max, len);
      x.label_max = Math.max(x.label_max, ev.nameLabelMax[id]);
      x.chars += countChars(sub, x.hist);
      x.unusual_types += ev.nameUnusual[id];
      x.nxdomain += ev.nameNxdomain[id];
      if (x.examples.length < MAX_EXAMPLES) x.examples.push(escapeName(raw, EXAMPLE_CHARS));
      lengthSum += len;
      one.fill(0);
      entropySum += entropy(one, countChars(sub, one));
    }
    const listed = [...domains.values()];
    listed.sort((a, b) => b.distinct_names - a.distinct_names || b.queries - a.queries || (a.domain < b.domain ? -1 : a.domain > b.domain ? 1 : 0));
    return {
      queries,
      responses,
      nxdomain: c[base + F_DNS_NXDOMAIN],
      servfail: c[base + F_DNS_SERVFAIL],
      types,
      distinct_names: ids.length,
      name_length_max: c[base + F_DNS_NAME_MAX],
      // Over the distinct names (a name asked a hundred times is one name), like entropy_mean.
      name_length_mean: ids.length > 0 ? round(lengthSum / ids.length, 2) : 0,
      label_max: c[base + F_DNS_LABEL_MAX],
      entropy_mean: ids.length > 0 ? round(entropySum / ids.length, 3) : 0,
      resolvers: resolvers.slice(0, MAX_RESOLVERS),
      domains: listed.slice(0, MAX_DOMAINS).map((x) => ({
        domain: x.domain, queries: x.queries, distinct_names: x.distinct_names, name_bytes: x.name_bytes, name_length_max: x.name_length_max,
        label_max: x.label_max, entropy: round(entropy(x.hist, x.chars), 3), unusual_types: x.unusual_types, nxdomain: x.nxdomain, examples: x.examples,
      })),
      domains_dropped: Math.max(0, listed.length - MAX_DOMAINS),
      names_dropped: c[base + F_DNS_NAMES_DROPPED],
      malformed,
    };
  }
}

/** Inserts d into `top` (kept sorted by `before`, at most n long) when it belongs there. */
function insertTop(top: number[], d: number, n: number, before: (a: number, b: number) => number): void {
  if (n === 0 || (top.length === n && before(d, top[n - 1]) >= 0)) return;
  let i = top.length < n ? top.length : n - 1;
  while (i > 0 && before(d, top[i - 1]) < 0) {
    top[i] = top[i - 1];
    i--;
  }
  top[i] = d;
}
