// The inspection record's fixed names, without the schema machinery: the packet path and the record
// writer need these lists, and importing them from the schema module loaded TypeBox (hundreds of
// files, ~0.3 s) into `decap` and `collect`, which validate nothing. The schema (inspection-record.ts)
// builds its enums from these same lists.

export const RECORD_SCHEMA_ID = 'tapwatch.inspection.v2';

export const TRANSPORTS = ['tcp', 'udp', 'icmp', 'other'] as const;

/** Where a destination's name came from: a DNS answer the device received for that address, or the TLS SNI of a connection to it. */
export const NAME_SOURCES = ['dns', 'sni'] as const;

/** Tunnel types, indexed by gre-decap's T_* constants; 'none' at 0 for a frame that came in no tunnel. */
export const TUNNEL_NAMES = ['none', 'gre', 'pptp', 'erspan1', 'erspan2', 'erspan3', 'vxlan', 'geneve'] as const;

export const DNS_TYPES = ['a', 'aaaa', 'txt', 'null', 'cname', 'mx', 'any', 'other'] as const;
