import { L_ETHERNET, L_RAW, T_ERSPAN1, T_ERSPAN2, T_ERSPAN3 } from './layers.js';
import { R_ERSPAN_TOO_SHORT, R_ERSPAN_BAD_VERSION } from './malformed.js';
import type { PacketMeta } from './meta.js';

// ERSPAN rides on the GRE layer just pushed: it retypes that tunnel entry rather than adding one,
// because GRE+ERSPAN is one encapsulation with one session id.

// Type I (GRE 0x88BE without sequence bit): no header of its own.
export function decodeErspan1(_b: Uint8Array, off: number, end: number, m: PacketMeta): number {
  m.tunType[m.tunDepth - 1] = T_ERSPAN1;
  m.next = off;
  m.nextEnd = end;
  return L_ETHERNET;
}

// Type II (draft-foschiano-erspan, GRE 0x88BE with sequence bit), 8 bytes:
// | Ver=1 (4) | VLAN (12) | COS (3) | En (2) | T | Session ID (10) |
// | Reserved (12)        | Index (20)                              |
export function decodeErspan2(b: Uint8Array, off: number, end: number, m: PacketMeta): number {
  if (end - off < 8) return -R_ERSPAN_TOO_SHORT;
  if (b[off] >> 4 !== 1) return -R_ERSPAN_BAD_VERSION;
  const top = m.tunDepth - 1;
  m.tunType[top] = T_ERSPAN2;
  m.tunId[top] = ((b[off + 2] & 0x03) << 8) | b[off + 3];
  m.tunHasId[top] = 1;
  m.next = off + 8;
  m.nextEnd = end;
  return L_ETHERNET;
}

// Type III (GRE 0x22EB), 12 bytes, then an 8-byte platform sub-header when O is set:
// | Ver=2 (4) | VLAN (12) | COS (3) | BSO (2) | T | Session ID (10) |
// | Timestamp (32)                                                 |
// | SGT (16) | P | FT (5) | Hw ID (6) | D | Gra (2) | O            |
// Frame type 0 is Ethernet; 2 is an IP packet without L2.
export function decodeErspan3(b: Uint8Array, off: number, end: number, m: PacketMeta): number {
  if (end - off < 12) return -R_ERSPAN_TOO_SHORT;
  if (b[off] >> 4 !== 2) return -R_ERSPAN_BAD_VERSION;
  const len = (b[off + 11] & 1) !== 0 ? 20 : 12;
  if (end - off < len) return -R_ERSPAN_TOO_SHORT;
  const top = m.tunDepth - 1;
  m.tunType[top] = T_ERSPAN3;
  m.tunId[top] = ((b[off + 2] & 0x03) << 8) | b[off + 3];
  m.tunHasId[top] = 1;
  m.next = off + len;
  m.nextEnd = end;
  const frameType = (b[off + 10] >> 2) & 0x1f;
  return frameType === 2 ? L_RAW : L_ETHERNET;
}
