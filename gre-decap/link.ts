import { etherTypeLayer } from './ethernet.js';
import { L_IPV4, L_IPV6, L_END } from './layers.js';
import { R_LINK_TOO_SHORT, R_RAW_BAD_VERSION, N_UNDECODED_PAYLOAD } from './malformed.js';
import type { PacketMeta } from './meta.js';

// Link layers other than Ethernet that captures of a mirror port or a tunnel endpoint use.

// LINKTYPE_LINUX_SLL (113), 16 bytes: packet type(2) ARPHRD(2) addr len(2) addr(8) protocol(2).
export function decodeSll(b: Uint8Array, off: number, end: number, m: PacketMeta): number {
  if (end - off < 16) return -R_LINK_TOO_SHORT;
  m.next = off + 16;
  m.nextEnd = end;
  return etherTypeLayer((b[off + 14] << 8) | b[off + 15], m);
}

// LINKTYPE_LINUX_SLL2 (276), 20 bytes: protocol(2) reserved(2) ifindex(4) ARPHRD(2) type(1) addr len(1) addr(8).
export function decodeSll2(b: Uint8Array, off: number, end: number, m: PacketMeta): number {
  if (end - off < 20) return -R_LINK_TOO_SHORT;
  m.next = off + 20;
  m.nextEnd = end;
  return etherTypeLayer((b[off] << 8) | b[off + 1], m);
}

// LINKTYPE_NULL (0): a 4-byte address family in the byte order of the host that wrote the file.
// Families are small numbers, so a zero first byte means big-endian. AF_INET is 2 everywhere;
// AF_INET6 is 24 (NetBSD, OpenBSD), 28 (FreeBSD) or 30 (macOS).
export function decodeNull(b: Uint8Array, off: number, end: number, m: PacketMeta): number {
  if (end - off < 4) return -R_LINK_TOO_SHORT;
  const family = b[off] === 0 && b[off + 1] === 0 ? b[off + 3] : b[off];
  m.next = off + 4;
  m.nextEnd = end;
  if (family === 2) return L_IPV4;
  if (family === 24 || family === 28 || family === 30) return L_IPV6;
  m.stopType = family;
  m.notes |= N_UNDECODED_PAYLOAD;
  return L_END;
}

// Raw IP (LINKTYPE_RAW 101, and ERSPAN III frame type 2): the version nibble says which.
export function decodeRaw(b: Uint8Array, off: number, end: number, m: PacketMeta): number {
  if (end - off < 1) return -R_LINK_TOO_SHORT;
  const version = b[off] >> 4;
  m.next = off;
  m.nextEnd = end;
  if (version === 4) return L_IPV4;
  if (version === 6) return L_IPV6;
  return -R_RAW_BAD_VERSION;
}
