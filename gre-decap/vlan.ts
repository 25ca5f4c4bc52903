import { etherTypeLayer } from './ethernet.js';
import { R_VLAN_TOO_SHORT } from './malformed.js';
import type { PacketMeta } from './meta.js';

// IEEE 802.1Q / 802.1ad tag, after the EtherType 0x8100 / 0x88A8 / 0x9100 that announced it:
// +-----+---+--------------+--------------+
// | PCP |DEI| VID (12 bits)| inner type   |
// +-----+---+--------------+--------------+
// Stacked tags (Q-in-Q) simply come back here; the walker's layer cap bounds the stack.

export function decodeVlan(b: Uint8Array, off: number, end: number, m: PacketMeta): number {
  if (end - off < 4) return -R_VLAN_TOO_SHORT;
  m.vlanCount++;
  m.vlanId = ((b[off] & 0x0f) << 8) | b[off + 1];
  m.next = off + 4;
  m.nextEnd = end;
  return etherTypeLayer((b[off + 2] << 8) | b[off + 3], m);
}
