import {
  ETHERTYPE_CMD, ETHERTYPE_ERSPAN12, ETHERTYPE_ERSPAN3, ETHERTYPE_PPP, L_CMD, L_ERSPAN1, L_ERSPAN2, L_ERSPAN3, L_PPP,
  T_GRE, T_PPTP,
} from './layers.js';
import { etherTypeLayer } from './ethernet.js';
import { R_GRE_TOO_SHORT, R_GRE_BAD_VERSION, R_GRE_BAD_ROUTING, R_GRE_V1_BAD_HEADER } from './malformed.js';
import type { PacketMeta } from './meta.js';

// GRE (RFC 2784, key and sequence from RFC 2890, routing from RFC 1701, enhanced v1 from RFC 2637):
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6
// +-+-+-+-+-+-----+-+---------+-----+-------------------------------+
// |C|R|K|S|s|Recur|A|  Flags  | Ver |         Protocol Type         |
// |      Checksum (C or R)          |       Offset (C or R)         |
// |                         Key (K)  — v1: payload length | call id |
// |                    Sequence Number (S)                          |
// |                    Acknowledgment Number (A, v1 only)           |
// |                    Routing SREs (R, v0 only) ... null SRE       |
// GRE is identified by IP protocol 47, so any inconsistency here is malformed (not "not GRE").

const F_C = 0x8000;
const F_R = 0x4000;
const F_K = 0x2000;
const F_S = 0x1000;
const F_A = 0x0080;
const MAX_SRE = 16;

/** Bytes of the fixed part of a GRE header with these flags (SREs not included). */
export function greHeaderLen(flags: number): number {
  let len = 4;
  if ((flags & (F_C | F_R)) !== 0) len += 4;
  if ((flags & F_K) !== 0) len += 4;
  if ((flags & F_S) !== 0) len += 4;
  if ((flags & 7) === 1 && (flags & F_A) !== 0) len += 4;
  return len;
}

export function decodeGre(b: Uint8Array, off: number, end: number, m: PacketMeta): number {
  if (end - off < 4) return -R_GRE_TOO_SHORT;
  const flags = (b[off] << 8) | b[off + 1];
  const proto = (b[off + 2] << 8) | b[off + 3];
  const version = flags & 7;
  if (version > 1) return -R_GRE_BAD_VERSION;
  let p = off + greHeaderLen(flags);
  if (p > end) return -R_GRE_TOO_SHORT;

  const depth = m.tunDepth++;
  m.tunFlags[depth] = flags;
  let keyOff = off + 4;
  if ((flags & (F_C | F_R)) !== 0) keyOff += 4;
  if (version === 1) {
    // Enhanced GRE (PPTP) always has a key (payload length, call id), carries PPP and has no routing.
    if ((flags & F_K) === 0 || (flags & (F_R | F_C)) !== 0 || proto !== ETHERTYPE_PPP) return -R_GRE_V1_BAD_HEADER;
    m.tunType[depth] = T_PPTP;
    m.tunId[depth] = (b[keyOff + 2] << 8) | b[keyOff + 3];
    m.tunHasId[depth] = 1;
    m.next = p;
    m.nextEnd = end;
    return L_PPP;
  }

  m.tunType[depth] = T_GRE;
  if ((flags & F_K) !== 0) {
    m.tunId[depth] = ((b[keyOff] << 24) | (b[keyOff + 1] << 16) | (b[keyOff + 2] << 8) | b[keyOff + 3]) >>> 0;
    m.tunHasId[depth] = 1;
  } else {
    m.tunId[depth] = 0;
    m.tunHasId[depth] = 0;
  }
  if ((flags & F_R) !== 0) {
    // Source route entries: address family(2) SRE offset(1) SRE length(1) then length bytes, until a null SRE.
    for (let i = 0; ; i++) {
      if (i === MAX_SRE || p + 4 > end) return -R_GRE_BAD_ROUTING;
      const af = (b[p] << 8) | b[p + 1];
      const len = b[p + 3];
      p += 4 + len;
      if (af === 0 && len === 0) break;
      if (p > end) return -R_GRE_BAD_ROUTING;
    }
  }
  m.next = p;
  m.nextEnd = end;
  switch (proto) {
    case ETHERTYPE_ERSPAN12:
      // Type II has the sequence bit and an 8-byte header; type I has neither (Ethernet follows).
      return (flags & F_S) !== 0 ? L_ERSPAN2 : L_ERSPAN1;
    case ETHERTYPE_ERSPAN3:
      return L_ERSPAN3;
    case ETHERTYPE_CMD:
      return L_CMD;
    default:
      return etherTypeLayer(proto, m);
  }
}
