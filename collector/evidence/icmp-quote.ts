// The packet an ICMP or ICMPv6 destination-unreachable message is about: the IP header it quotes
// (RFC 792; RFC 4443 §3.1) and the first bytes of its transport header, enough for the destination
// address, the transport and the destination port. Decoded with gre-decap's own IP decoders into a
// scratch PacketMeta, so the quoted header gets the same bounds checks as any other; the transport
// header is only read for its ports (the quote may hold just 8 bytes of it, less than decodeTcp needs).

import { decodeIpv4 } from '../../gre-decap/ipv4.js';
import { decodeIpv6 } from '../../gre-decap/ipv6.js';
import { L_ICMP, L_ICMPV6, L_TCP, L_UDP } from '../../gre-decap/layers.js';
import { PacketMeta } from '../../gre-decap/meta.js';

export const ICMP_UNREACHABLE = 3;
export const ICMPV6_UNREACHABLE = 1;
/** The ICMP header before the quote: type, code, checksum (what PacketMeta.payloadOff skips) and 4 unused bytes. */
export const QUOTE_SKIP = 4;

export class QuotedPacket {
  version = 0;
  dstOff = 0;
  /** L_TCP, L_UDP, L_ICMP or L_ICMPV6 as in PacketMeta.l4; 0 for another protocol or a later fragment. */
  l4 = 0;
  dstPort = 0;
  /** Scratch for the IP decoders. */
  readonly meta = new PacketMeta();
}

/** Decodes the quoted packet at b[off, end); true when its destination (and port, for TCP/UDP) is known. */
export function decodeQuoted(b: Uint8Array, off: number, end: number, q: QuotedPacket): boolean {
  if (off >= end) return false;
  const m = q.meta;
  m.reset();
  const v = b[off] >> 4;
  const next = v === 4 ? decodeIpv4(b, off, end, m) : v === 6 ? decodeIpv6(b, off, end, m) : -1;
  if (next < 0) return false;
  q.version = v;
  q.dstOff = m.ipDstOff;
  q.l4 = next === L_TCP || next === L_UDP || next === L_ICMP || next === L_ICMPV6 ? next : 0;
  q.dstPort = 0;
  if (q.l4 === L_TCP || q.l4 === L_UDP) {
    if (m.next + 4 > m.nextEnd) return false;
    q.dstPort = (b[m.next + 2] << 8) | b[m.next + 3];
  }
  return true;
}
