// The record's transport name of a layer id (PacketMeta.l4, as kept in destination keys).

import { L_TCP, L_UDP, L_ICMP, L_ICMPV6 } from '../gre-decap/layers.js';
import type { Destination } from '../contracts/inspection-record.js';

export function transportName(l4: number): Destination['transport'] {
  if (l4 === L_TCP) return 'tcp';
  if (l4 === L_UDP) return 'udp';
  if (l4 === L_ICMP || l4 === L_ICMPV6) return 'icmp';
  return 'other';
}
