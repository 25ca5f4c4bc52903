import { etherTypeLayer } from './ethernet.js';
import { L_END, T_GENEVE } from './layers.js';
import { N_NOT_GENEVE } from './malformed.js';
import type { PacketMeta } from './meta.js';

// Geneve (RFC 8926), 8 bytes after UDP, then options:
// |Ver|Opt Len|O|C|  Rsvd.  |          Protocol Type          |
// |        Virtual Network Identifier (VNI)      |    Reserved  |
// |                    Variable-Length Options                  |
// Each option: class(16) type(8) rsvd(3) length(5, in 4-byte words) then data.
// Options are skipped, but walked once so their lengths must add up to Opt Len (as Suricata
// checks); like VXLAN, a failed check means "not Geneve" and the datagram stays plain UDP.

export function decodeGeneve(b: Uint8Array, off: number, end: number, m: PacketMeta): number {
  if (end - off < 8 || b[off] >> 6 !== 0) return notGeneve(m);
  const optEnd = off + 8 + ((b[off] & 0x3f) << 2);
  if (optEnd > end) return notGeneve(m);
  let p = off + 8;
  while (p < optEnd) {
    // Each step advances at least 4 bytes inside at most 252 bytes: bounded without a counter.
    p += 4 + ((b[p + 3] & 0x1f) << 2);
  }
  if (p !== optEnd) return notGeneve(m);

  const depth = m.tunDepth++;
  m.tunType[depth] = T_GENEVE;
  m.tunId[depth] = (b[off + 4] << 16) | (b[off + 5] << 8) | b[off + 6];
  m.tunHasId[depth] = 1;
  m.tunFlags[depth] = b[off + 1];
  m.next = optEnd;
  m.nextEnd = end;
  return etherTypeLayer((b[off + 2] << 8) | b[off + 3], m);
}

function notGeneve(m: PacketMeta): number {
  m.notes |= N_NOT_GENEVE;
  return L_END;
}
