import { L_END, L_IPV4, L_IPV6 } from './layers.js';
import { R_PPP_TOO_SHORT, N_UNDECODED_PAYLOAD } from './malformed.js';
import type { PacketMeta } from './meta.js';

// PPP (RFC 1661) as PPTP carries it inside enhanced GRE: an optional HDLC address/control
// pair 0xFF 0x03, then a protocol field of 2 bytes, or 1 byte when compressed (RFC 1661 §6.5:
// protocol numbers are odd in their last byte, so an odd first byte means the short form).

export function decodePpp(b: Uint8Array, off: number, end: number, m: PacketMeta): number {
  let p = off;
  if (end - p >= 2 && b[p] === 0xff && b[p + 1] === 0x03) p += 2;
  if (p >= end) return -R_PPP_TOO_SHORT;
  let proto = b[p];
  if ((proto & 1) !== 0) {
    p += 1;
  } else {
    if (p + 2 > end) return -R_PPP_TOO_SHORT;
    proto = (proto << 8) | b[p + 1];
    p += 2;
  }
  m.next = p;
  m.nextEnd = end;
  if (proto === 0x21) return L_IPV4;
  if (proto === 0x57) return L_IPV6;
  m.stopType = proto;
  m.notes |= N_UNDECODED_PAYLOAD;
  return L_END;
}
