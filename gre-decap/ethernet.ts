import { ETHERTYPE_LAYER, L_END } from './layers.js';
import { R_ETHERNET_TOO_SHORT, N_UNDECODED_PAYLOAD } from './malformed.js';
import type { PacketMeta } from './meta.js';

// Ethernet II (IEEE 802.3 clause 3.1.1):
//  0                   6                  12      14
// +-------------------+-------------------+-------+---------
// | destination MAC   | source MAC        | type  | payload
// +-------------------+-------------------+-------+---------
// A type below 0x0600 is an 802.3 length (LLC: STP, CDP, ...): not decoded, like any unknown type.

export function decodeEthernet(b: Uint8Array, off: number, end: number, m: PacketMeta): number {
  if (end - off < 14) return -R_ETHERNET_TOO_SHORT;
  // A new Ethernet header starts a new innermost L2: VLAN tags above it belong to another hop.
  m.vlanCount = 0;
  m.vlanId = 0;
  m.next = off + 14;
  m.nextEnd = end;
  return etherTypeLayer((b[off + 12] << 8) | b[off + 13], m);
}

/** The layer an EtherType (or GRE/Geneve protocol type) leads to; records the type when not decoded. */
export function etherTypeLayer(type: number, m: PacketMeta): number {
  const layer = ETHERTYPE_LAYER[type];
  if (layer === L_END) {
    m.stopType = type;
    m.notes |= N_UNDECODED_PAYLOAD;
  }
  return layer;
}
