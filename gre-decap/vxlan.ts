import { L_END, L_ETHERNET, T_VXLAN } from './layers.js';
import { N_NOT_VXLAN } from './malformed.js';
import type { PacketMeta } from './meta.js';

// VXLAN (RFC 7348), 8 bytes after UDP:
// |R|R|R|R|I|R|R|R|            Reserved (24)              |
// |                VNI (24)                |  Reserved (8) |
// VXLAN is only guessed from the UDP port, so a datagram that fails the checks is plain UDP
// (the UDP fields already in the meta stay the transport), noted, never malformed.

export function decodeVxlan(b: Uint8Array, off: number, end: number, m: PacketMeta): number {
  if (end - off < 8 || (b[off] & 0x08) === 0) {
    m.notes |= N_NOT_VXLAN;
    return L_END;
  }
  const depth = m.tunDepth++;
  m.tunType[depth] = T_VXLAN;
  m.tunId[depth] = (b[off + 4] << 16) | (b[off + 5] << 8) | b[off + 6];
  m.tunHasId[depth] = 1;
  m.tunFlags[depth] = b[off];
  m.next = off + 8;
  m.nextEnd = end;
  return L_ETHERNET;
}
