// Layer IDs, link types and the dense dispatch tables the walker indexes.
// IDs are small integers so the walker's `switch` compiles to a jump table; tables are
// typed arrays built once at startup (gopacket's EthernetTypeMetadata idea, without objects).

export const L_END = 0; // nothing more to decode (payload reached, or a type we do not decode)
export const L_ETHERNET = 1;
export const L_VLAN = 2;
export const L_IPV4 = 3;
export const L_IPV6 = 4;
export const L_GRE = 5;
export const L_ERSPAN2 = 6; // ERSPAN type II header (GRE 0x88BE with the sequence bit)
export const L_ERSPAN3 = 7; // ERSPAN type III header (GRE 0x22EB)
export const L_VXLAN = 8;
export const L_GENEVE = 9;
export const L_PPP = 10; // PPP inside enhanced GRE (version 1, PPTP)
export const L_TCP = 11;
export const L_UDP = 12;
export const L_ICMP = 13;
export const L_ICMPV6 = 14;
export const L_SLL = 15;
export const L_SLL2 = 16;
export const L_NULL = 17; // BSD loopback: 4-byte address family in the writer's byte order
export const L_RAW = 18; // raw IP: version nibble picks IPv4 or IPv6
export const L_ERSPAN1 = 19; // ERSPAN type I: no header of its own, Ethernet follows GRE directly
export const L_CMD = 20; // Cisco MetaData (SGT) inside GRE
export const LAYER_COUNT = 21;

export const LAYER_NAMES: readonly string[] = [
  'end', 'ethernet', 'vlan', 'ipv4', 'ipv6', 'gre', 'erspan2', 'erspan3', 'vxlan', 'geneve',
  'ppp', 'tcp', 'udp', 'icmp', 'icmpv6', 'sll', 'sll2', 'null', 'raw', 'erspan1', 'cmd',
];

// Tunnel types as kept in PacketMeta.tunType (one entry per encapsulation, outermost first).
export const T_GRE = 1; // GRE carrying IP or Ethernet (key in tunId when present)
export const T_PPTP = 2; // enhanced GRE v1 (call id in tunId)
export const T_ERSPAN1 = 3;
export const T_ERSPAN2 = 4; // session id in tunId
export const T_ERSPAN3 = 5; // session id in tunId
export const T_VXLAN = 6; // VNI in tunId
export const T_GENEVE = 7; // VNI in tunId
// By tunnel type (T_*): the record contract's names, indexed by the constants above.
export { TUNNEL_NAMES } from '../contracts/record-names.js';

// Bits of PacketMeta.seen: one per layer ID, so "frames with GRE" is a mask test.
export const SEEN_GRE = 1 << L_GRE;
export const SEEN_ERSPAN = (1 << L_ERSPAN1) | (1 << L_ERSPAN2) | (1 << L_ERSPAN3);
export const SEEN_VXLAN = 1 << L_VXLAN;
export const SEEN_GENEVE = 1 << L_GENEVE;

// LINKTYPE_* values (tcpdump.org/linktypes.html) the readers pass through with each frame.
export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;

/** First layer for a link type, or L_END when the link type is not decoded. */
export function firstLayer(linkType: number): number {
  switch (linkType) {
    case LINKTYPE_ETHERNET: return L_ETHERNET;
    case LINKTYPE_RAW: return L_RAW;
    case LINKTYPE_IPV4: return L_IPV4;
    case LINKTYPE_IPV6: return L_IPV6;
    case LINKTYPE_LINUX_SLL: return L_SLL;
    case LINKTYPE_LINUX_SLL2: return L_SLL2;
    case LINKTYPE_NULL: return L_NULL;
    default: return L_END;
  }
}

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_QINQ = 0x88a8;
export const ETHERTYPE_QINQ_OLD = 0x9100;
export const ETHERTYPE_TEB = 0x6558; // transparent Ethernet bridging
export const ETHERTYPE_ERSPAN12 = 0x88be;
export const ETHERTYPE_ERSPAN3 = 0x22eb;
export const ETHERTYPE_PPP = 0x880b;
export const ETHERTYPE_CMD = 0x8909; // Cisco MetaData

/** EtherType → layer, shared by Ethernet, VLAN, SLL, GRE and Geneve. 0 = not decoded. */
export const ETHERTYPE_LAYER = new Uint8Array(65536);
ETHERTYPE_LAYER[ETHERTYPE_IPV4] = L_IPV4;
ETHERTYPE_LAYER[ETHERTYPE_IPV6] = L_IPV6;
ETHERTYPE_LAYER[ETHERTYPE_VLAN] = L_VLAN;
ETHERTYPE_LAYER[ETHERTYPE_QINQ] = L_VLAN;
ETHERTYPE_LAYER[ETHERTYPE_QINQ_OLD] = L_VLAN;
ETHERTYPE_LAYER[ETHERTYPE_TEB] = L_ETHERNET;

export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_IPV4 = 4; // IP-in-IP
export const IPPROTO_IPV6 = 41;
export const IPPROTO_GRE = 47;
export const IPPROTO_ICMPV6 = 58;

/** IP protocol → layer (after IPv4/IPv6 extension headers). 0 = not decoded. */
export const IPPROTO_LAYER = new Uint8Array(256);
IPPROTO_LAYER[IPPROTO_ICMP] = L_ICMP;
IPPROTO_LAYER[IPPROTO_TCP] = L_TCP;
IPPROTO_LAYER[IPPROTO_UDP] = L_UDP;
IPPROTO_LAYER[IPPROTO_IPV4] = L_IPV4;
IPPROTO_LAYER[IPPROTO_IPV6] = L_IPV6;
IPPROTO_LAYER[IPPROTO_GRE] = L_GRE;
IPPROTO_LAYER[IPPROTO_ICMPV6] = L_ICMPV6;

export const VXLAN_PORT = 4789;
export const GENEVE_PORT = 6081;
