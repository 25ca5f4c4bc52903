import { L_END, L_TCP, L_UDP, L_ICMP, L_ICMPV6 } from './layers.js';
import { R_TCP_TOO_SHORT, R_TCP_BAD_OFFSET, R_UDP_TOO_SHORT, R_ICMP_TOO_SHORT } from './malformed.js';
import type { PacketMeta } from './meta.js';

// Transport headers of the innermost IP. Each sets m.l4 and the payload span; the walker decides
// whether a UDP port leads into a tunnel (ports are configuration, decoders stay pure).

// TCP (RFC 9293): src port(2) dst port(2) seq(4) ack(4) data offset(4 bits) flags(12 bits) ...
// Ports and flags are kept even when options run past the capture: they are in the first 14 bytes.
export function decodeTcp(b: Uint8Array, off: number, end: number, m: PacketMeta): number {
  if (end - off < 20) return -R_TCP_TOO_SHORT;
  const hlen = (b[off + 12] >> 4) << 2;
  if (hlen < 20) return -R_TCP_BAD_OFFSET;
  m.l4 = L_TCP;
  m.srcPort = (b[off] << 8) | b[off + 1];
  m.dstPort = (b[off + 2] << 8) | b[off + 3];
  m.tcpFlags = ((b[off + 12] & 0x01) << 8) | b[off + 13];
  m.tcpHeaderLen = hlen;
  if (off + hlen > end) {
    m.payloadOff = end;
    m.payloadLen = 0;
    return -R_TCP_TOO_SHORT;
  }
  m.payloadOff = off + hlen;
  m.payloadLen = end - off - hlen;
  return L_END;
}

// UDP (RFC 768): src port(2) dst port(2) length(2) checksum(2).
export function decodeUdp(b: Uint8Array, off: number, end: number, m: PacketMeta): number {
  if (end - off < 8) return -R_UDP_TOO_SHORT;
  m.l4 = L_UDP;
  m.srcPort = (b[off] << 8) | b[off + 1];
  m.dstPort = (b[off + 2] << 8) | b[off + 3];
  m.payloadOff = off + 8;
  m.payloadLen = end - off - 8;
  m.next = off + 8;
  m.nextEnd = end;
  return L_END;
}

// ICMP (RFC 792) and ICMPv6 (RFC 4443): type(1) code(1) checksum(2). A quoted IP header in an
// error message is not decoded: it is not traffic of this frame.
export function decodeIcmp(b: Uint8Array, off: number, end: number, m: PacketMeta): number {
  if (end - off < 4) return -R_ICMP_TOO_SHORT;
  m.l4 = L_ICMP;
  m.icmpType = b[off];
  m.icmpCode = b[off + 1];
  m.payloadOff = off + 4;
  m.payloadLen = end - off - 4;
  return L_END;
}

export function decodeIcmpv6(b: Uint8Array, off: number, end: number, m: PacketMeta): number {
  const r = decodeIcmp(b, off, end, m);
  if (r === L_END) m.l4 = L_ICMPV6;
  return r;
}
