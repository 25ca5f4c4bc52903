import { IPPROTO_LAYER, L_END } from './layers.js';
import {
  R_IPV6_TOO_SHORT, R_IPV6_BAD_VERSION, R_IPV6_EXT_TOO_SHORT, R_IPV6_TOO_MANY_EXT,
  N_IP_TRUNCATED, N_FRAGMENT, N_UNDECODED_PAYLOAD,
} from './malformed.js';
import type { PacketMeta } from './meta.js';

// IPv6 (RFC 8200):
// +-------+---------------+---------------------------------------+
// |Version| Traffic Class |              Flow Label               |
// |        Payload Length         |  Next Header  |   Hop Limit   |
// |                  Source Address (16 bytes)                    |
// |               Destination Address (16 bytes)                  |
// Extension headers walked here (each checked against the captured bytes, at most
// MAX_EXT of them): hop-by-hop (0), routing (43), destination options (60), mobility (135)
// — length in 8-byte units after the first 8 —, authentication (51) — length in 4-byte
// units after the first 8 —, and fragment (44), a fixed 8 bytes.

const MAX_EXT = 8;

export function decodeIpv6(b: Uint8Array, off: number, end: number, m: PacketMeta): number {
  if (end - off < 40) return -R_IPV6_TOO_SHORT;
  if (b[off] >> 4 !== 6) return -R_IPV6_BAD_VERSION;
  const plen = (b[off + 4] << 8) | b[off + 5];
  m.enterIp(6, off + 8, off + 24);
  m.ipSrc4 = 0;
  m.ipDst4 = 0;
  m.ipTotalLen = plen + 40;
  m.ipFragOffset = 0;
  m.l4 = 0;

  // Payload length 0 is a jumbogram (RFC 2675) or a GSO super-packet: the captured bytes are all there is.
  let ipEnd = plen === 0 ? end : off + 40 + plen;
  if (ipEnd > end) {
    m.notes |= N_IP_TRUNCATED;
    ipEnd = end;
  }
  let nh = b[off + 6];
  let p = off + 40;
  for (let i = 0; ; i++) {
    if (nh !== 0 && nh !== 43 && nh !== 60 && nh !== 135 && nh !== 51 && nh !== 44) break;
    if (i === MAX_EXT) {
      m.ipProto = nh;
      return -R_IPV6_TOO_MANY_EXT;
    }
    if (p + 8 > ipEnd) {
      m.ipProto = nh;
      return -R_IPV6_EXT_TOO_SHORT;
    }
    const next = b[p];
    if (nh === 44) {
      const fragWord = (b[p + 2] << 8) | b[p + 3];
      m.ipFragOffset = fragWord & 0xfff8;
      m.notes |= N_FRAGMENT;
      p += 8;
    } else {
      const len = nh === 51 ? (b[p + 1] + 2) << 2 : (b[p + 1] + 1) << 3;
      if (p + len > ipEnd) {
        m.ipProto = nh;
        return -R_IPV6_EXT_TOO_SHORT;
      }
      p += len;
    }
    nh = next;
  }
  m.ipProto = nh;
  m.next = p;
  m.nextEnd = ipEnd;
  if (m.ipFragOffset !== 0) return L_END;
  const layer = IPPROTO_LAYER[nh];
  if (layer === L_END) {
    m.stopType = nh;
    m.notes |= N_UNDECODED_PAYLOAD;
  }
  return layer;
}
