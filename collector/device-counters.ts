// Offsets of a device's counters within its stride of the aggregator's `counters` (one Float64Array,
// STRIDE doubles per device, so a device's counters share cache lines). The first ones are touched by
// every packet; the evidence counters after F_FIRST_TS only by DNS, TLS and ICMP-error packets.

export const F_UP_BYTES = 0;
export const F_UP_PACKETS = 1;
export const F_DOWN_BYTES = 2;
export const F_DOWN_PACKETS = 3;
export const F_MAX_SIZE = 4;
export const F_HIST = 5; // six buckets: <64, 64–127, 128–255, 256–1023, 1024–1500, >1500
export const F_TCP = 11;
export const F_UDP = 12;
export const F_FRAGMENTED = 13;
export const F_SYN = 14;
export const F_SYN_ACK = 15;
export const F_RST = 16;
export const F_DNS_QUERIES = 17;
export const F_FIRST_TS = 18; // capture time of the device's first packet in the interval (seconds)
export const F_DNS_RESPONSES = 19;
export const F_DNS_NXDOMAIN = 20;
export const F_DNS_SERVFAIL = 21;
export const F_DNS_MALFORMED = 22;
export const F_DNS_TYPES = 23; // eight buckets, in the order of DNS_TYPES: a aaaa txt null cname mx any other
export const F_DNS_NAME_MAX = 31;
export const F_DNS_LABEL_MAX = 32;
export const F_DNS_NAMES_DROPPED = 33;
export const F_TLS_HELLOS = 34;
export const F_TLS_NO_SNI = 35;
export const F_TLS_MALFORMED = 36;
export const F_ICMP_UNREACH = 37;
export const STRIDE = 38;
