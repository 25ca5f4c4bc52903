import { etherTypeLayer } from './ethernet.js';
import { R_CMD_BAD_HEADER } from './malformed.js';
import type { PacketMeta } from './meta.js';

// Cisco MetaData (GRE protocol 0x8909), as DMVPN/GETVPN routers tag mirrored or tunnelled traffic
// with a Security Group Tag. Inside GRE the payload's EtherType comes first:
// | EtherType (16) | Version (8) | Length (8, 4-byte units of options) | Option type (16) | SGT (16) ...
// Seen in tcpdump's various_gre capture, which tshark decodes as gre:cmd:ip.

export function decodeCmd(b: Uint8Array, off: number, end: number, m: PacketMeta): number {
  if (end - off < 4) return -R_CMD_BAD_HEADER;
  const len = 4 + (b[off + 3] << 2);
  if (len === 4 || off + len > end) return -R_CMD_BAD_HEADER;
  m.next = off + len;
  m.nextEnd = end;
  return etherTypeLayer((b[off] << 8) | b[off + 1], m);
}
