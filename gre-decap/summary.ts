// What `tapwatch decap` reports about a capture: the same quantities, with the same meaning, as
// the tshark-computed .ref.json files beside the real fixtures (fixtures/real/README.md):
// frames, frames with each tunnel type, and the innermost IP header of each frame.
// `add` runs per frame and allocates nothing; `toJSON` builds the report once at the end.

import { AddrTable } from '../net/addr-table.js';
import { formatAddrKey } from '../net/ip-format.js';
import { L_TCP, L_UDP, SEEN_GRE, SEEN_ERSPAN, SEEN_VXLAN, SEEN_GENEVE, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6 } from './layers.js';
import { REASON_NAMES, NOTE_NAMES, N_FRAGMENT } from './malformed.js';
import type { Decapsulator } from './decap.js';
import type { PacketMeta } from './meta.js';
import type { ReaderStats } from './readers/frame.js';

export interface DecapSummaryJson {
  file: string;
  format: string;
  outer_packet_count: number;
  encapsulation: { frames_with: { gre: number; erspan: number; vxlan: number; geneve: number } };
  innermost_ip: {
    packets: number;
    ipv4_packets: number;
    ipv6_packets: number;
    frames_without_ip: number;
    frames_with_ip_fragment: number;
    ip_bytes_total: number;
    transport: { tcp: number; udp: number; icmp: number; other: number };
    dst_ip_counts: Record<string, number>;
    dst_port_counts: Record<string, number>;
    distinct_src_ip_count: number;
  };
  malformed: Record<string, number>;
  notes: Record<string, number>;
  reader: { truncated_tail_bytes: number; skipped_blocks: number; odd_lengths: number; error: string | null };
}

export class DecapSummary {
  frames = 0;
  withGre = 0;
  withErspan = 0;
  withVxlan = 0;
  withGeneve = 0;
  ipPackets = 0;
  ipv4Packets = 0;
  ipv6Packets = 0;
  fragmentFrames = 0;
  ipBytes = 0;
  tcp = 0;
  udp = 0;
  icmp = 0;
  other = 0;
  /** Addresses beyond the tables' capacity (counted, never silently lost). */
  addrOverflow = 0;
  private readonly dst: AddrTable;
  private dstCounts: Float64Array;
  private readonly src: AddrTable;
  /** Destination ports of the innermost transport: TCP at [port], UDP at [65536 + port]. */
  private readonly dstPorts = new Float64Array(2 * 65536);

  constructor(maxAddresses = 1 << 22) {
    this.dst = new AddrTable(maxAddresses);
    this.src = new AddrTable(maxAddresses);
    this.dstCounts = new Float64Array(1024);
  }

  add(b: Uint8Array, m: PacketMeta): void {
    this.frames++;
    const seen = m.seen;
    if ((seen & SEEN_GRE) !== 0) this.withGre++;
    if ((seen & SEEN_ERSPAN) !== 0) this.withErspan++;
    if ((seen & SEEN_VXLAN) !== 0) this.withVxlan++;
    if ((seen & SEEN_GENEVE) !== 0) this.withGeneve++;
    if ((m.notes & N_FRAGMENT) !== 0) this.fragmentFrames++;
    if (m.ipCount === 0) return;
    this.ipPackets++;
    if (m.ipVersion === 4) this.ipv4Packets++;
    else this.ipv6Packets++;
    this.ipBytes += m.ipTotalLen;
    const proto = m.ipProto;
    if (proto === IPPROTO_TCP) this.tcp++;
    else if (proto === IPPROTO_UDP) this.udp++;
    else if (proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6) this.icmp++;
    else this.other++;

    const d = this.dst.findAddr(b, m.ipDstOff, m.ipVersion, true);
    if (d < 0) this.addrOverflow++;
    else {
      if (d === this.dstCounts.length) this.growCounts();
      this.dstCounts[d]++;
    }
    const s = this.src.findAddr(b, m.ipSrcOff, m.ipVersion, true);
    if (s < 0) this.addrOverflow++;
    if (m.l4 === L_TCP) this.dstPorts[m.dstPort]++;
    else if (m.l4 === L_UDP) this.dstPorts[65536 + m.dstPort]++;
  }

  private growCounts(): void {
    const counts = new Float64Array(this.dstCounts.length * 2);
    counts.set(this.dstCounts);
    this.dstCounts = counts;
  }

  /**
   * The report as `JSON.stringify(report, null, indent)` would write it. Built as text because the two
   * count maps hold tens of thousands of keys (the 5M-packet bench capture: 10,290 addresses, 39,722
   * ports): as objects they took 130-200 ms to build and stringify at the end of a 0.8 s run, sorted and
   * written as text (the whole report) 45-55 ms.
   */
  toJSONText(file: string, format: string, decap: Decapsulator, reader: ReaderStats, indent: number): string {
    indent = Math.max(0, Math.min(10, Math.trunc(indent) || 0)); // as JSON.stringify takes a number of spaces
    const key = new Uint32Array(4);
    const ipNames = new Array<string>(this.dst.size);
    const ips = new Int32Array(this.dst.size);
    for (let i = 0; i < ips.length; i++) {
      ips[i] = i;
      ipNames[i] = formatAddrKey(this.dst.keyOf(i, key));
    }
    const counts = this.dstPorts;
    let n = 0;
    for (let i = 0; i < counts.length; i++) if (counts[i] !== 0) n++;
    const ports = new Int32Array(n);
    const portNames = new Array<string>(counts.length);
    n = 0;
    for (let i = 0; i < counts.length; i++) {
      if (counts[i] === 0) continue;
      ports[n++] = i;
      portNames[i] = `${i < 65536 ? 'tcp' : 'udp'}/${i & 0xffff}`;
    }
    const text = JSON.stringify(this.report(file, format, decap, reader, IPS_HERE, PORTS_HERE), null, indent);
    // Both maps are members of innermost_ip: depth 2.
    return splice(splice(text, IPS_HERE, countsText(ipNames, this.dstCounts, ips, indent, 2)), PORTS_HERE, countsText(portNames, counts, ports, indent, 2));
  }

  /** The report as an object (tests, the table view): parsed from the text, so there is one builder. */
  toJSON(file: string, format: string, decap: Decapsulator, reader: ReaderStats): DecapSummaryJson {
    return JSON.parse(this.toJSONText(file, format, decap, reader, 0)) as DecapSummaryJson;
  }

  private report(file: string, format: string, decap: Decapsulator, reader: ReaderStats, ips: string, ports: string): Omit<DecapSummaryJson, 'innermost_ip'> & { innermost_ip: Record<string, unknown> } {
    return {
      file,
      format,
      outer_packet_count: this.frames,
      encapsulation: {
        frames_with: { gre: this.withGre, erspan: this.withErspan, vxlan: this.withVxlan, geneve: this.withGeneve },
      },
      innermost_ip: {
        packets: this.ipPackets,
        ipv4_packets: this.ipv4Packets,
        ipv6_packets: this.ipv6Packets,
        frames_without_ip: this.frames - this.ipPackets,
        frames_with_ip_fragment: this.fragmentFrames,
        ip_bytes_total: this.ipBytes,
        transport: { tcp: this.tcp, udp: this.udp, icmp: this.icmp, other: this.other },
        dst_ip_counts: ips,
        dst_port_counts: ports,
        distinct_src_ip_count: this.src.size,
      },
      malformed: countsByName(decap.reasons, REASON_NAMES, 1),
      notes: countsByName(decap.notes, NOTE_NAMES, 0),
      reader: {
        truncated_tail_bytes: reader.truncatedTailBytes,
        skipped_blocks: reader.skippedBlocks,
        odd_lengths: reader.oddLengths,
        error: reader.error,
      },
    };
  }
}

// Stand-ins for the count maps in the stringified report. Only `file` comes before them, and a path cannot hold a
// NUL (Node refuses to open one), so the first match is the stand-in.
const IPS_HERE = '\0dst_ip_counts';
const PORTS_HERE = '\0dst_port_counts';

function splice(text: string, placeholder: string, value: string): string {
  const quoted = JSON.stringify(placeholder);
  const at = text.indexOf(quoted);
  return text.slice(0, at) + value + text.slice(at + quoted.length);
}

/**
 * `{ name: count }` for the given ids, most frequent first, ties by name (as the reference files order
 * them), written as JSON.stringify writes an object member at `depth` with `indent`. The names are
 * addresses and `tcp/443`-like ports: nothing in them needs escaping.
 */
function countsText(names: readonly string[], counts: Float64Array, ids: Int32Array, indent: number, depth: number): string {
  if (ids.length === 0) return '{}';
  ids.sort((a, b) => counts[b] - counts[a] || (names[a] < names[b] ? -1 : names[a] > names[b] ? 1 : 0));
  const inner = indent > 0 ? '\n' + ' '.repeat(indent * (depth + 1)) : '';
  const colon = indent > 0 ? '": ' : '":';
  const parts = new Array<string>(ids.length);
  for (let k = 0; k < ids.length; k++) parts[k] = `"${names[ids[k]]}${colon}${counts[ids[k]]}`;
  return `{${inner}${parts.join(`,${inner}`)}${indent > 0 ? '\n' + ' '.repeat(indent * depth) : ''}}`;
}

function countsByName(counts: Float64Array, names: readonly string[], from: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = from; i < counts.length; i++) if (counts[i] !== 0) out[names[i]] = counts[i];
  return out;
}
