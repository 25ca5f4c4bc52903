// The closed table of reasons a frame stops decoding early. Codes index counter arrays;
// names are the dotted form that reaches logs, metrics and records. A decoder returns the
// negative code; the walker stores the positive one in PacketMeta.reason.
//
// Kept apart from the reasons: non-fatal notes (PacketMeta.notes bits) such as an IP length
// past the captured bytes (GSO super-packets, snaplen), or a UDP port that looked like VXLAN
// but was not (guessed tunnels fall back to plain UDP, as Suricata does).

export const R_OK = 0;
export const R_LINKTYPE_UNSUPPORTED = 1;
export const R_LINK_TOO_SHORT = 2;
export const R_ETHERNET_TOO_SHORT = 3;
export const R_VLAN_TOO_SHORT = 4;
export const R_IPV4_TOO_SHORT = 5;
export const R_IPV4_BAD_VERSION = 6;
export const R_IPV4_BAD_IHL = 7;
export const R_IPV4_BAD_TOTAL_LENGTH = 8;
export const R_IPV6_TOO_SHORT = 9;
export const R_IPV6_BAD_VERSION = 10;
export const R_IPV6_EXT_TOO_SHORT = 11;
export const R_IPV6_TOO_MANY_EXT = 12;
export const R_GRE_TOO_SHORT = 13;
export const R_GRE_BAD_VERSION = 14;
export const R_GRE_BAD_ROUTING = 15;
export const R_GRE_V1_BAD_HEADER = 16;
export const R_ERSPAN_TOO_SHORT = 17;
export const R_ERSPAN_BAD_VERSION = 18;
export const R_PPP_TOO_SHORT = 19;
export const R_TCP_TOO_SHORT = 20;
export const R_TCP_BAD_OFFSET = 21;
export const R_UDP_TOO_SHORT = 22;
export const R_ICMP_TOO_SHORT = 23;
export const R_TUNNEL_TOO_DEEP = 24;
export const R_TOO_MANY_LAYERS = 25;
export const R_RAW_BAD_VERSION = 26;
export const R_CMD_BAD_HEADER = 27;
export const REASON_COUNT = 28;

export const REASON_NAMES: readonly string[] = [
  'ok',
  'decap.link.unsupported_linktype',
  'decap.link.too_short',
  'decap.ethernet.too_short',
  'decap.vlan.too_short',
  'decap.ipv4.too_short',
  'decap.ipv4.bad_version',
  'decap.ipv4.bad_ihl',
  'decap.ipv4.bad_total_length',
  'decap.ipv6.too_short',
  'decap.ipv6.bad_version',
  'decap.ipv6.ext_too_short',
  'decap.ipv6.too_many_ext',
  'decap.gre.too_short',
  'decap.gre.bad_version',
  'decap.gre.bad_routing',
  'decap.gre.v1_bad_header',
  'decap.erspan.too_short',
  'decap.erspan.bad_version',
  'decap.ppp.too_short',
  'decap.tcp.too_short',
  'decap.tcp.bad_data_offset',
  'decap.udp.too_short',
  'decap.icmp.too_short',
  'decap.tunnel.too_deep',
  'decap.layers.too_many',
  'decap.raw.bad_version',
  'decap.cmd.bad_header',
];

// Non-fatal notes: bits in PacketMeta.notes, each counted on its own.
export const N_IP_TRUNCATED = 1 << 0; // an IP header declares more bytes than were captured
export const N_NOT_VXLAN = 1 << 1; // UDP on a VXLAN port failed VXLAN's checks; decoded as plain UDP
export const N_NOT_GENEVE = 1 << 2; // same for Geneve
export const N_FRAGMENT = 1 << 3; // an IP fragment was seen (only the first carries ports)
export const N_UNDECODED_PAYLOAD = 1 << 4; // stopped at a type we do not decode (ARP, STP, OSPF, ...)
export const NOTE_COUNT = 5;
export const NOTE_NAMES: readonly string[] = [
  'decap.note.ip_truncated',
  'decap.note.not_vxlan',
  'decap.note.not_geneve',
  'decap.note.ip_fragment',
  'decap.note.undecoded_payload',
];
