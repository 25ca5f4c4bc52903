// The evidence blocks of a closed interval's records (connections, contacts, dns, tls) and the names
// of destinations: the cold half of ./evidence.ts, run once per interval, written straight into the
// interval's JSON text (../record-batch.ts) from typed arrays: destinations, names and contacts are
// grouped by device in flat arrays (counting sorts), not per-device lists or per-flow objects. Strings
// are made only for DNS names and far-end names. Everything is ordered with full tie-breaks, so the
// same capture gives the same records byte for byte.

import { L_TCP, L_UDP } from '../../gre-decap/layers.js';
import {
  F_DNS_QUERIES, F_DNS_RESPONSES, F_DNS_NXDOMAIN, F_DNS_SERVFAIL, F_DNS_MALFORMED, F_DNS_TYPES, F_DNS_NAME_MAX,
  F_DNS_LABEL_MAX, F_DNS_NAMES_DROPPED, F_TLS_HELLOS, F_TLS_NO_SNI, F_TLS_MALFORMED, F_ICMP_UNREACH, STRIDE,
} from '../device-counters.js';
import type { Aggregator } from '../aggregate.js';
import { DNS_TYPES } from '../../contracts/record-names.js';
import type { AddressNames } from '../records.js';
import type { JsonWriter } from '../record-batch.js';
import type { ReusedArrays } from '../reused-arrays.js';
import { transportName } from '../transport.js';
import { X_SYN, X_SYN_ACK, X_RST, X_UDP_STARTS, X_ICMP_UNREACH, X_DNS_QUERIES } from './destinations.js';
import { FLOW_STRIDE, FL_UP_PACKETS, FL_DOWN_PACKETS } from '../aggregate.js';
import { registeredDomain } from '../../net/registered-domain.js';
import { subdomainOf, countChars, entropy } from './domains.js';
import { escapeName, latin1 } from './name-text.js';

// Runs of consecutive counters (../device-counters.ts), each written by one JsonWriter.nums: the query types
// in DNS_TYPES order (F_DNS_TYPES), and the TLS counts.
const DNS_TYPE_KEYS = DNS_TYPES.map((t, k) => `${k === 0 ? '{' : ','}"${t}":`);
const TLS_KEYS = ['{"client_hellos":', ',"without_sni":', ',"malformed":'] as const;
if (F_TLS_NO_SNI !== F_TLS_HELLOS + 1 || F_TLS_MALFORMED !== F_TLS_HELLOS + 2) throw new Error('collector/evidence/report.ts: the TLS counters are no longer consecutive');

const V_UP_PACKETS = FL_UP_PACKETS;
const V_UP_BYTES = FL_UP_PACKETS + 1;
const V_DOWN_PACKETS = FL_DOWN_PACKETS;
const V_DOWN_BYTES = FL_DOWN_PACKETS + 1;

export const MAX_BURSTS_LISTED = 64;
const MAX_DOMAINS = 8;
const MAX_RESOLVERS = 4;
const MAX_EXAMPLES = 3;
const EXAMPLE_CHARS = 60;
const FAILED_SAMPLE = 8;

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

// Per far host of one device, while its connections are judged.
const H_SYN = 1;
const H_ANSWERED = 2;
const H_ICMP = 4;
const H_RST = 8;
const H_NAMED = 16;

/** Built once per closed interval, before the aggregator is reset; then one call per device. */
export class EvidenceReport {
  // Destination ids grouped by device slot, first seen first: slot s has destIds[destStart[s], destStart[s + 1]).
  private readonly destStart: Int32Array;
  private readonly destIds: Int32Array;
  // Query-name ids grouped by device slot the same way.
  private readonly nameStart: Int32Array;
  private readonly nameIds: Int32Array;
  // A device's chosen contacts: contactIds[destStart[s], destStart[s] + contactCount[s]) (a subset of its destinations).
  private readonly contactIds: Int32Array;
  private readonly contactCount: Int32Array;
  // By destination id: its contact number k, -1 when it is no contact; contact k's listed burst starts are
  // burstVal[burstStart[k], burstStart[k] + burstLen[k]), ascending.
  private readonly contactOf: Int32Array;
  private readonly burstStart: Int32Array;
  private readonly burstLen: Int32Array;
  private readonly burstVal: Uint32Array;
  private readonly domainOf = new Map<string, string>();
  private readonly key = new Uint32Array(6);
  private readonly deviceKey = new Uint32Array(4);
  // Per destination id, read once: the key's transport and port, and the far address text when asked.
  private readonly l4Of: Uint8Array;
  private readonly portOf: Uint16Array;
  private readonly ipOf: (string | undefined)[];
  // Reused per device.
  private readonly hostSeen = new Set<string>();
  private readonly hostFlags = new Map<string, number>();
  private readonly sample = new Int32Array(FAILED_SAMPLE);
  private readonly resolverQueries = new Map<string, number>();
  /** Character histograms for writeDns: one per name in turn, and one per domain of a record (256 counts each, reused). */
  private readonly nameHist = new Float64Array(256);
  private readonly domainHists: Float64Array[] = [];

  /** `volume`: per destination id, its packets and bytes up, then down (FLOW_STRIDE numbers), summed over its flows. */
  constructor(
    private readonly agg: Aggregator, private readonly addr: AddressNames, maxContacts: number, private readonly volume: Float64Array,
    a: ReusedArrays,
  ) {
    const ev = agg.ev;
    const n = agg.dests.size;
    const devices = agg.devices.size;
    this.l4Of = a.uint8(16, n);
    this.portOf = a.uint16(17, n);
    this.ipOf = new Array<string | undefined>(n);
    const slotOf = a.int32(18, n);
    this.destStart = a.int32(19, devices + 1);
    for (let d = 0; d < n; d++) {
      const k = agg.dests.keyOf(d, this.key);
      this.l4Of[d] = k[5] >>> 16;
      this.portOf[d] = k[5] & 0xffff;
      slotOf[d] = k[0];
      this.destStart[k[0] + 1]++;
    }
    this.destIds = groupBy(slotOf, n, this.destStart, a.int32(20, devices), a.int32(21, n));
    const names = ev.names.size;
    this.nameStart = a.int32(22, devices + 1);
    for (let id = 0; id < names; id++) this.nameStart[ev.names.tag[id] + 1]++;
    this.nameIds = groupBy(ev.names.tag, names, this.nameStart, a.int32(23, devices), a.int32(24, names));

    // Contacts first, so that only their bursts are gathered from the log: the device's far ends by
    // bursts, then bytes, then first seen (destination ids are given in first-seen order).
    const bursts = (d: number) => ev.dests.bursts(d);
    const before = (a: number, b: number) => bursts(b) - bursts(a) || this.bytes(b) - this.bytes(a) || a - b;
    this.contactIds = a.int32(25, n);
    this.contactCount = a.int32(26, devices);
    this.contactOf = a.int32(27, n, -1);
    let contacts = 0;
    for (let slot = 0; slot < devices; slot++) {
      const from = this.destStart[slot];
      const to = this.destStart[slot + 1];
      let len = 0;
      for (let i = from; i < to; i++) {
        const d = this.destIds[i];
        if (this.packets(d) === 0) continue; // only an ICMP error was about it
        len = insertTop(this.contactIds, from, len, d, maxContacts, before);
      }
      this.contactCount[slot] = len;
      for (let i = 0; i < len; i++) this.contactOf[this.contactIds[from + i]] = contacts++;
    }
    // The first MAX_BURSTS_LISTED burst starts of each contact in the log, in log order, then sorted.
    this.burstStart = a.int32(28, contacts + 1);
    this.burstLen = a.int32(29, contacts);
    const log = ev.dests.log;
    const logLen = ev.dests.logLen;
    for (let i = 0; i < logLen; i += 2) {
      const k = this.contactOf[log[i]];
      if (k >= 0 && this.burstStart[k + 1] < MAX_BURSTS_LISTED) this.burstStart[k + 1]++;
    }
    for (let k = 0; k < contacts; k++) this.burstStart[k + 1] += this.burstStart[k];
    this.burstVal = a.uint32(30, this.burstStart[contacts]);
    for (let i = 0; i < logLen; i += 2) {
      const k = this.contactOf[log[i]];
      if (k < 0) continue;
      const at = this.burstStart[k];
      const len = this.burstLen[k];
      if (at + len < this.burstStart[k + 1]) {
        this.burstVal[at + len] = log[i + 1];
        this.burstLen[k] = len + 1;
      }
    }
    for (let k = 0; k < contacts; k++) sortRange(this.burstVal, this.burstStart[k], this.burstStart[k] + this.burstLen[k]);
  }

  /** Where device `slot`'s destination ids are in destIds (first seen first): [destFrom(slot), destTo(slot)). */
  destFrom(slot: number): number {
    return slot + 1 < this.destStart.length ? this.destStart[slot] : 0;
  }

  destTo(slot: number): number {
    return slot + 1 < this.destStart.length ? this.destStart[slot + 1] : 0;
  }

  destAt(i: number): number {
    return this.destIds[i];
  }

  /** Packets to and from destination d in the interval. */
  packets(d: number): number {
    return this.vol(d, V_UP_PACKETS) + this.vol(d, V_DOWN_PACKETS);
  }

  bytes(d: number): number {
    return this.vol(d, V_UP_BYTES) + this.vol(d, V_DOWN_BYTES);
  }

  /** Adds destination d's packets up, packets down, bytes up and bytes down to out[at, at + 4). */
  addVolume(d: number, out: Float64Array, at: number): void {
    out[at] += this.vol(d, V_UP_PACKETS);
    out[at + 1] += this.vol(d, V_DOWN_PACKETS);
    out[at + 2] += this.vol(d, V_UP_BYTES);
    out[at + 3] += this.vol(d, V_DOWN_BYTES);
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

  /** `,"name":…,"name_source":…` when destination d has a name for the device, else nothing. */
  writeName(w: JsonWriter, slot: number, d: number): void {
    const n = this.nameOf(slot, d);
    if (!n) return;
    w.raw(',"name":');
    w.str(n.name);
    w.raw(',"name_source":');
    w.str(n.source);
  }

  /** `"ip":…,"port":…,"transport":…` of destination d. */
  writeEnd(w: JsonWriter, d: number): void {
    w.raw('"ip":');
    w.str(this.ip(d));
    w.raw(',"port":');
    w.num(this.portOf[d]);
    w.raw(',"transport":"');
    w.raw(transportName(this.l4Of[d]));
    w.byte(0x22);
  }

  /** The record's `"connections":…,"contacts":…,"dns":…,"tls":…` for device `slot`. */
  writeDevice(w: JsonWriter, slot: number): void {
    const c = this.agg.counters;
    const base = slot * STRIDE;
    w.raw('"connections":');
    this.writeConnections(w, slot, c[base + F_ICMP_UNREACH]);
    w.raw(',"contacts":[');
    const from = this.destFrom(slot);
    const len = slot < this.contactCount.length ? this.contactCount[slot] : 0;
    for (let i = 0; i < len; i++) {
      if (i > 0) w.byte(0x2c);
      this.writeContact(w, slot, this.contactIds[from + i]);
    }
    w.raw('],"dns":');
    this.writeDns(w, slot, c, base);
    w.raw(',"tls":');
    w.nums(TLS_KEYS, c, base + F_TLS_HELLOS);
    w.byte(0x7d);
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
  private writeConnections(w: JsonWriter, slot: number, icmpUnreachable: number): void {
    const from = this.destFrom(slot);
    const to = this.destTo(slot);
    // Most devices in most intervals: nothing failed, and only the attempted hosts need counting.
    let failing = false;
    const attempted = this.hostSeen;
    attempted.clear();
    for (let i = from; i < to; i++) {
      const d = this.destIds[i];
      if (!this.attempted(d)) continue;
      attempted.add(this.ip(d));
      if (this.portFailed(d)) failing = true;
    }
    let failed = 0;
    let named = 0;
    let refused = 0;
    let failedPorts = 0;
    let sampled = 0;
    if (failing) {
      const hosts = this.hostFlags;
      hosts.clear();
      for (let i = from; i < to; i++) {
        const d = this.destIds[i];
        const ip = this.ip(d);
        let h = hosts.get(ip) ?? 0;
        // A SYN-ACK to a SYN of the previous interval still shows the host answers.
        if (this.rare(d, X_SYN_ACK) > 0) h |= H_ANSWERED;
        if (this.attempted(d)) {
          const syn = this.rare(d, X_SYN) > 0;
          if (syn) h |= H_SYN;
          if (this.rare(d, X_ICMP_UNREACH) > 0) h |= H_ICMP;
          if (this.portFailed(d)) {
            if (syn && this.rare(d, X_SYN_ACK) === 0 && this.rare(d, X_RST) > 0) h |= H_RST;
            failedPorts++;
            // A host the device knows by name is a service of its own that is down, not one it tried blind.
            if (this.nameOf(slot, d)) h |= H_NAMED;
            if (sampled < FAILED_SAMPLE) this.sample[sampled++] = d;
          }
        }
        hosts.set(ip, h);
      }
      for (const [ip, h] of hosts) {
        if (attempted.has(ip) && (((h & H_SYN) !== 0 && (h & H_ANSWERED) === 0) || (h & H_ICMP) !== 0)) {
          failed++;
          if ((h & H_NAMED) !== 0) named++;
          if ((h & H_RST) !== 0) refused++;
        }
      }
    }
    w.raw('{"attempted_hosts":');
    w.num(attempted.size);
    w.raw(',"failed_hosts":');
    w.num(failed);
    w.raw(',"failed_named_hosts":');
    w.num(named);
    w.raw(',"failed_ports":');
    w.num(failedPorts);
    w.raw(',"refused_hosts":');
    w.num(refused);
    w.raw(',"icmp_unreachable":');
    w.num(icmpUnreachable);
    w.raw(',"failed_sample":[');
    for (let i = 0; i < sampled; i++) {
      w.raw(i > 0 ? ',{' : '{');
      this.writeEnd(w, this.sample[i]);
      this.writeName(w, slot, this.sample[i]);
      w.byte(0x7d);
    }
    w.raw(']}');
  }

  /** The device sent destination d a SYN, or UDP. */
  private attempted(d: number): boolean {
    return this.rare(d, X_SYN) > 0 || (this.l4Of[d] === L_UDP && this.vol(d, V_UP_PACKETS) > 0);
  }

  /** An attempted destination failed: SYNs and no SYN-ACK (silence or RST), or an ICMP unreachable about it. */
  private portFailed(d: number): boolean {
    return (this.rare(d, X_SYN) > 0 && this.rare(d, X_SYN_ACK) === 0) || this.rare(d, X_ICMP_UNREACH) > 0;
  }

  private writeContact(w: JsonWriter, slot: number, d: number): void {
    const l4 = this.l4Of[d];
    const k = this.contactOf[d];
    const at = this.burstStart[k];
    const listed = this.burstLen[k];
    w.byte(0x7b);
    this.writeEnd(w, d);
    this.writeName(w, slot, d);
    w.raw(',"starts":');
    w.num(l4 === L_TCP ? this.rare(d, X_SYN) : l4 === L_UDP ? this.rare(d, X_UDP_STARTS) : 0);
    w.raw(',"answered":');
    w.bool(this.vol(d, V_DOWN_PACKETS) > 0);
    w.raw(',"bursts":[');
    for (let i = 0; i < listed; i++) {
      if (i > 0) w.byte(0x2c);
      w.num(this.burstVal[at + i]);
    }
    w.raw('],"bursts_dropped":');
    w.num(this.agg.ev.dests.bursts(d) - listed);
    w.raw(',"up_packets":');
    w.num(this.vol(d, V_UP_PACKETS));
    w.raw(',"up_bytes":');
    w.num(this.vol(d, V_UP_BYTES));
    w.raw(',"down_packets":');
    w.num(this.vol(d, V_DOWN_PACKETS));
    w.raw(',"down_bytes":');
    w.num(this.vol(d, V_DOWN_BYTES));
    w.byte(0x7d);
  }

  private writeDns(w: JsonWriter, slot: number, c: Float64Array, base: number): void {
    const ev = this.agg.ev;
    const queries = c[base + F_DNS_QUERIES];
    const responses = c[base + F_DNS_RESPONSES];
    const malformed = c[base + F_DNS_MALFORMED];
    w.raw('{"queries":');
    w.num(queries);
    w.raw(',"responses":');
    w.num(responses);
    const types = (): void => {
      w.raw(',"types":');
      w.nums(DNS_TYPE_KEYS, c, base + F_DNS_TYPES);
      w.byte(0x7d);
    };
    if (queries === 0 && responses === 0 && malformed === 0) {
      // Most devices in most intervals: no DNS, so none of the per-domain work below.
      w.raw(',"nxdomain":0,"servfail":0');
      types();
      w.raw(',"distinct_names":0,"name_length_max":0,"name_length_mean":0,"label_max":0,"entropy_mean":0,"resolvers":[],"domains":[],"domains_dropped":0,"names_dropped":');
      w.num(c[base + F_DNS_NAMES_DROPPED]);
      w.raw(',"malformed":');
      w.num(malformed);
      w.byte(0x7d);
      return;
    }

    const resolverQueries = this.resolverQueries;
    resolverQueries.clear();
    for (let i = this.destFrom(slot); i < this.destTo(slot); i++) {
      const d = this.destIds[i];
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
    const idsFrom = slot + 1 < this.nameStart.length ? this.nameStart[slot] : 0;
    const idsTo = slot + 1 < this.nameStart.length ? this.nameStart[slot + 1] : 0;
    const distinct = idsTo - idsFrom;
    let lengthSum = 0;
    let entropySum = 0;
    const one = this.nameHist;
    for (let i = idsFrom; i < idsTo; i++) {
      const id = this.nameIds[i];
      const len = ev.names.len[id];
      const raw = latin1(ev.names.arena, ev.names.off[id], len);
      let dom = this.domainOf.get(raw);
      if (dom === undefined) this.domainOf.set(raw, (dom = registeredDomain(raw)));
      const sub = subdomainOf(raw, dom);
      let x = domains.get(dom);
      if (!x) {
        const hist = (this.domainHists[domains.size] ??= new Float64Array(256)).fill(0);
        x = { domain: escapeName(dom), queries: 0, distinct_names: 0, name_bytes: 0, name_length_max: 0, label_max: 0, hist, chars: 0, unusual_types: 0, nxdomain: 0, examples: [] };
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

    w.raw(',"nxdomain":');
    w.num(c[base + F_DNS_NXDOMAIN]);
    w.raw(',"servfail":');
    w.num(c[base + F_DNS_SERVFAIL]);
    types();
    w.raw(',"distinct_names":');
    w.num(distinct);
    w.raw(',"name_length_max":');
    w.num(c[base + F_DNS_NAME_MAX]);
    // Over the distinct names (a name asked a hundred times is one name), like entropy_mean.
    w.raw(',"name_length_mean":');
    w.num(distinct > 0 ? round(lengthSum / distinct, 2) : 0);
    w.raw(',"label_max":');
    w.num(c[base + F_DNS_LABEL_MAX]);
    w.raw(',"entropy_mean":');
    w.num(distinct > 0 ? round(entropySum / distinct, 3) : 0);
    w.raw(',"resolvers":[');
    for (let i = 0; i < resolvers.length && i < MAX_RESOLVERS; i++) {
      w.raw(i > 0 ? ',{"ip":' : '{"ip":');
      w.str(resolvers[i].ip);
      w.raw(',"queries":');
      w.num(resolvers[i].queries);
      w.byte(0x7d);
    }
    w.raw('],"domains":[');
    for (let i = 0; i < listed.length && i < MAX_DOMAINS; i++) {
      const x = listed[i];
      w.raw(i > 0 ? ',{"domain":' : '{"domain":');
      w.str(x.domain);
      w.raw(',"queries":');
      w.num(x.queries);
      w.raw(',"distinct_names":');
      w.num(x.distinct_names);
      w.raw(',"name_bytes":');
      w.num(x.name_bytes);
      w.raw(',"name_length_max":');
      w.num(x.name_length_max);
      w.raw(',"label_max":');
      w.num(x.label_max);
      w.raw(',"entropy":');
      w.num(round(entropy(x.hist, x.chars), 3));
      w.raw(',"unusual_types":');
      w.num(x.unusual_types);
      w.raw(',"nxdomain":');
      w.num(x.nxdomain);
      w.raw(',"examples":[');
      for (let j = 0; j < x.examples.length; j++) {
        if (j > 0) w.byte(0x2c);
        w.str(x.examples[j]);
      }
      w.raw(']}');
    }
    w.raw('],"domains_dropped":');
    w.num(Math.max(0, listed.length - MAX_DOMAINS));
    w.raw(',"names_dropped":');
    w.num(c[base + F_DNS_NAMES_DROPPED]);
    w.raw(',"malformed":');
    w.num(malformed);
    w.byte(0x7d);
  }
}

/**
 * Ids 0..n-1 grouped by key (keys[id] < start.length - 1), each group in id order, into `out` (n long);
 * `start` holds each key's count at start[key + 1] on entry and the groups' offsets on return; `fill`
 * (start.length - 1 long) is scratch.
 */
function groupBy(keys: ArrayLike<number>, n: number, start: Int32Array, fill: Int32Array, out: Int32Array): Int32Array {
  for (let k = 1; k < start.length; k++) start[k] += start[k - 1];
  fill.set(start.subarray(0, start.length - 1));
  for (let id = 0; id < n; id++) out[fill[keys[id]]++] = id;
  return out;
}

/** Ascending insertion sort of a[from, to) (burst starts arrive nearly sorted). */
function sortRange(a: Uint32Array, from: number, to: number): void {
  for (let i = from + 1; i < to; i++) {
    const x = a[i];
    let j = i;
    while (j > from && a[j - 1] > x) {
      a[j] = a[j - 1];
      j--;
    }
    a[j] = x;
  }
}

/**
 * Inserts d into the top list at top[at, at + len) (kept sorted by `before`, at most n long) when it
 * belongs there; returns the list's new length.
 */
export function insertTop(top: Int32Array, at: number, len: number, d: number, n: number, before: (a: number, b: number) => number): number {
  if (n === 0 || (len === n && before(d, top[at + n - 1]) >= 0)) return len;
  let i = len < n ? len : n - 1;
  while (i > 0 && before(d, top[at + i - 1]) < 0) {
    top[at + i] = top[at + i - 1];
    i--;
  }
  top[at + i] = d;
  return len < n ? len + 1 : len;
}
