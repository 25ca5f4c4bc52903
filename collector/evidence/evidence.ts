// The evidence half of the packet loop: what DNS, TLS ClientHellos and ICMP errors say about a
// device, beyond volumes. The aggregator calls in only for the packets that can carry it (UDP to or
// from port 53, a TCP segment from the device whose payload starts with a TLS handshake byte, an ICMP
// destination-unreachable to the device), so other packets pay one or two compares. Everything here
// is preallocated: parsers write into reusable results, names go into the interval's arena the first
// time a device asks for them, and strings wait for record time (./report.ts).

import { BytesTable, KEY_DROPPED } from '../../net/bytes-table.js';
import type { KeyTable } from '../../net/key-table.js';
import { writeAddrKey } from '../../net/addr-table.js';
import type { PacketMeta } from '../../gre-decap/meta.js';
import {
  F_DNS_QUERIES, F_DNS_RESPONSES, F_DNS_NXDOMAIN, F_DNS_SERVFAIL, F_DNS_MALFORMED, F_DNS_TYPES, F_DNS_NAME_MAX,
  F_DNS_LABEL_MAX, F_DNS_NAMES_DROPPED, F_TLS_HELLOS, F_TLS_NO_SNI, F_TLS_MALFORMED, F_ICMP_UNREACH,
} from '../device-counters.js';
import { DnsMessage, decodeDns, DNS_REASON_NAMES, D_TOO_SHORT, MAX_NAME } from './dns.js';
import { ClientHello, decodeClientHello, isClientHello, TLS_REASON_NAMES, T_CUT } from './tls.js';
import { QuotedPacket, decodeQuoted, QUOTE_SKIP } from './icmp-quote.js';
import { HostNames, SOURCE_DNS, SOURCE_SNI } from './host-names.js';
import { DestinationEvidence, X_DNS_QUERIES, X_ICMP_UNREACH } from './destinations.js';

const RCODE_SERVFAIL = 2;
const RCODE_NXDOMAIN = 3;

/** Bucket of a query type in F_DNS_TYPES (DNS_TYPES order: a aaaa txt null cname mx any other). */
function typeBucket(qtype: number): number {
  switch (qtype) {
    case 1: return 0;
    case 28: return 1;
    case 16: return 2;
    case 10: return 3;
    case 5: return 4;
    case 15: return 5;
    case 255: return 6;
    default: return 7;
  }
}

/** A, AAAA, PTR, SRV and HTTPS are what devices ordinarily ask; every other type can carry data. */
export function isUnusualType(qtype: number): boolean {
  return qtype !== 1 && qtype !== 28 && qtype !== 12 && qtype !== 33 && qtype !== 65;
}

export interface EvidenceOptions {
  /** Distinct (device, query name) per interval; queries for names beyond it count as names_dropped. */
  maxNames: number;
  /** Bytes of name text per interval (the arena). */
  nameArenaBytes: number;
  /** (device, address) → name mappings per generation (two generations are kept). */
  hostNames: number;
  /** Burst starts logged per interval. */
  maxBursts: number;
  maxDestinations: number;
}

export class Evidence {
  readonly dests: DestinationEvidence;
  readonly hosts: HostNames;
  /** The interval's query names: (device slot, lower-cased name) → id in first-seen order. */
  readonly names: BytesTable;
  readonly nameQueries: Uint32Array;
  readonly nameUnusual: Uint32Array;
  readonly nameNxdomain: Uint32Array;
  readonly nameLabelMax: Uint8Array;
  /** Malformed messages by reason since the collector started (index = D_* / T_* code; 0 unused). */
  readonly dnsReasons = new Float64Array(DNS_REASON_NAMES.length);
  readonly tlsReasons = new Float64Array(TLS_REASON_NAMES.length);
  private readonly msg = new DnsMessage();
  private readonly name = new Uint8Array(MAX_NAME);
  private readonly hello = new ClientHello();
  private readonly quoted = new QuotedPacket();

  constructor(opts: EvidenceOptions) {
    this.dests = new DestinationEvidence(opts.maxDestinations, opts.maxBursts);
    this.hosts = new HostNames(opts.hostNames);
    this.names = new BytesTable(opts.maxNames, opts.nameArenaBytes);
    this.nameQueries = new Uint32Array(opts.maxNames);
    this.nameUnusual = new Uint32Array(opts.maxNames);
    this.nameNxdomain = new Uint32Array(opts.maxNames);
    this.nameLabelMax = new Uint8Array(opts.maxNames);
  }

  /**
   * A UDP datagram between device `slot` and a far port 53: from the device (up) a query, to it a
   * response. `d` is the far end's destination id, or -1 when the destination table was full.
   */
  dns(b: Uint8Array, m: PacketMeta, up: boolean, slot: number, c: Float64Array, base: number, d: number): void {
    const r = this.msg;
    const name = this.name;
    const rc = decodeDns(b, m.payloadOff, m.payloadOff + m.payloadLen, r, name);
    if (rc === -D_TOO_SHORT) {
      c[base + F_DNS_MALFORMED]++;
      this.dnsReasons[D_TOO_SHORT]++;
      return;
    }
    // The header is there: queries, responses and response codes count whether or not the rest parses.
    if (up) {
      if (r.qr !== 0) return; // a response sent to port 53 is not the device asking
      c[base + F_DNS_QUERIES]++;
      if (d >= 0) this.dests.count(d, X_DNS_QUERIES);
    } else {
      if (r.qr !== 1) return;
      c[base + F_DNS_RESPONSES]++;
      if (r.rcode === RCODE_NXDOMAIN) c[base + F_DNS_NXDOMAIN]++;
      else if (r.rcode === RCODE_SERVFAIL) c[base + F_DNS_SERVFAIL]++;
    }
    if (rc < 0) {
      c[base + F_DNS_MALFORMED]++;
      this.dnsReasons[-rc]++;
      return;
    }
    const len = r.nameLen;
    if (up) {
      c[base + F_DNS_TYPES + typeBucket(r.qtype)]++;
      if (len > c[base + F_DNS_NAME_MAX]) c[base + F_DNS_NAME_MAX] = len;
      if (r.labelMax > c[base + F_DNS_LABEL_MAX]) c[base + F_DNS_LABEL_MAX] = r.labelMax;
      const before = this.names.size;
      const id = this.names.find(slot, name, 0, len, true);
      if (id === KEY_DROPPED) {
        c[base + F_DNS_NAMES_DROPPED]++;
        return;
      }
      if (this.names.size !== before) this.nameLabelMax[id] = r.labelMax;
      this.nameQueries[id]++;
      if (isUnusualType(r.qtype)) this.nameUnusual[id]++;
      return;
    }
    if (r.rcode === RCODE_NXDOMAIN) {
      // Only names the device asked for in this interval: an answer alone does not make a name distinct.
      const id = this.names.find(slot, name, 0, len, false);
      if (id >= 0) this.nameNxdomain[id]++;
    }
    for (let i = 0; i < r.answers; i++) this.hosts.set(b, m.ipDstOff, m.ipVersion, r.answerOff[i], r.answerVersion[i], name, 0, len, SOURCE_DNS);
  }

  /** A TCP segment from device `slot` (payload starting with 0x16): a ClientHello names the far address. */
  tls(b: Uint8Array, m: PacketMeta, slot: number, c: Float64Array, base: number): void {
    const off = m.payloadOff;
    const end = off + m.payloadLen;
    if (!isClientHello(b, off, end)) return;
    c[base + F_TLS_HELLOS]++;
    const h = this.hello;
    const rc = decodeClientHello(b, off, end, h);
    if (rc < 0) {
      c[base + F_TLS_MALFORMED]++;
      this.tlsReasons[-rc]++;
    } else if (h.sniLen < 0) c[base + F_TLS_NO_SNI]++;
    // A cut hello whose server name was already complete still names the address; an inconsistent one does not.
    if (h.sniLen > 0 && (rc === 0 || rc === -T_CUT)) this.hosts.set(b, m.ipSrcOff, m.ipVersion, m.ipDstOff, m.ipVersion, b, h.sniOff, h.sniLen, SOURCE_SNI);
  }

  /**
   * An ICMP/ICMPv6 destination-unreachable received by device `slot`: attributed to the destination it
   * quotes, (device, quoted destination address, transport, port), entered in `dests` if new.
   */
  unreachable(b: Uint8Array, m: PacketMeta, slot: number, c: Float64Array, base: number, dests: KeyTable): void {
    c[base + F_ICMP_UNREACH]++;
    const q = this.quoted;
    if (!decodeQuoted(b, m.payloadOff + QUOTE_SKIP, m.payloadOff + m.payloadLen, q)) return;
    const k = dests.probe;
    k[0] = slot;
    writeAddrKey(b, q.dstOff, q.version, k, 1);
    k[5] = (q.l4 << 16) | q.dstPort;
    const d = dests.find(true);
    if (d < 0) return;
    this.dests.ensure(d);
    this.dests.count(d, X_ICMP_UNREACH);
  }

  /** Forget the interval (the host names stay: they are kept across intervals). */
  reset(destinations: number): void {
    const n = this.names.size;
    this.nameQueries.fill(0, 0, n);
    this.nameUnusual.fill(0, 0, n);
    this.nameNxdomain.fill(0, 0, n);
    this.names.clear();
    this.dests.reset(destinations);
  }
}
