import { IPPROTO_LAYER, L_END } from './layers.js';
import {
  R_IPV4_TOO_SHORT, R_IPV4_BAD_VERSION, R_IPV4_BAD_IHL, R_IPV4_BAD_TOTAL_LENGTH,
  N_IP_TRUNCATED, N_FRAGMENT, N_UNDECODED_PAYLOAD,
} from './malformed.js';
import type { PacketMeta } from './meta.js';

// IPv4 (RFC 791):
//  0       4       8              16    19                    31
// +-------+-------+---------------+-----+---------------------+
// |Version|  IHL  |      TOS      |        Total Length       |
// |        Identification         |Flags|   Fragment Offset   |
// |      TTL      |   Protocol    |      Header Checksum      |
// |                      Source Address                       |
// |                   Destination Address                     |
// |                   Options (IHL > 5) ...                   |
//
// Every IP header met becomes the innermost one; the first also becomes the outer one.
// A declared length past the captured bytes is a note, not a failure: GSO super-packets and
// snaplen-cut frames still have a valid header, and their declared length is what was sent.
// Only the first fragment carries the next header, so later fragments end the walk.

export function decodeIpv4(b: Uint8Array, off: number, end: number, m: PacketMeta): number {
  if (end - off < 20) return -R_IPV4_TOO_SHORT;
  const vihl = b[off];
  if (vihl >> 4 !== 4) return -R_IPV4_BAD_VERSION;
  const ihl = (vihl & 0x0f) << 2;
  if (ihl < 20) return -R_IPV4_BAD_IHL;
  if (off + ihl > end) return -R_IPV4_TOO_SHORT;

  const total = (b[off + 2] << 8) | b[off + 3];
  const proto = b[off + 9];
  m.enterIp(4, off + 12, off + 16);
  m.ipSrc4 = ((b[off + 12] << 24) | (b[off + 13] << 16) | (b[off + 14] << 8) | b[off + 15]) >>> 0;
  m.ipDst4 = ((b[off + 16] << 24) | (b[off + 17] << 16) | (b[off + 18] << 8) | b[off + 19]) >>> 0;
  m.ipTotalLen = total;
  m.ipProto = proto;
  const fragWord = (b[off + 6] << 8) | b[off + 7];
  m.ipFragOffset = (fragWord & 0x1fff) << 3;
  m.l4 = 0; // the transport belongs to this header now, not to one outside it
  if (total < ihl) return -R_IPV4_BAD_TOTAL_LENGTH;

  let ipEnd = off + total;
  if (ipEnd > end) {
    m.notes |= N_IP_TRUNCATED;
    ipEnd = end;
  }
  m.next = off + ihl;
  m.nextEnd = ipEnd; // trims Ethernet padding
  if ((fragWord & 0x3fff) !== 0) {
    m.notes |= N_FRAGMENT;
    if (m.ipFragOffset !== 0) return L_END;
  }
  const layer = IPPROTO_LAYER[proto];
  if (layer === L_END) {
    m.stopType = proto;
    m.notes |= N_UNDECODED_PAYLOAD;
  }
  return layer;
}
