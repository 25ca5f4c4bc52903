// Application protocol by well-known port, as a dense table built once: per packet it is one
// typed-array index. The remote end's port decides first (a device talking to a broker on 8883
// is MQTTS whatever its own ephemeral port), then the device's own (a device serving SSH).

import { L_TCP, L_UDP, L_ICMP, L_ICMPV6 } from '../gre-decap/layers.js';

/** Protocol names, indexed by id. 0 is unused so a zero table entry means "no port match". */
export const PROTO_NAMES: readonly string[] = [
  '', 'tcp-other', 'udp-other', 'icmp', 'ip-other',
  'dns', 'ntp', 'http', 'https', 'quic', 'mqtt', 'mqtts', 'coap', 'coaps', 'ssh', 'telnet',
  'amqp', 'dhcp', 'snmp', 'syslog', 'sip', 'rtsp', 'smtp', 'ftp', 'modbus', 'lwm2m-bootstrap', 'stun', 'ipsec-nat-t',
];
export const PROTO_COUNT = PROTO_NAMES.length;
export const P_TCP_OTHER = 1;
export const P_UDP_OTHER = 2;
export const P_ICMP = 3;
export const P_IP_OTHER = 4;

const id = (name: string): number => PROTO_NAMES.indexOf(name);

const TCP: [number, string][] = [
  [53, 'dns'], [80, 'http'], [8080, 'http'], [443, 'https'], [8443, 'https'], [1883, 'mqtt'], [8883, 'mqtts'],
  [22, 'ssh'], [23, 'telnet'], [2323, 'telnet'], [5672, 'amqp'], [5671, 'amqp'], [5060, 'sip'], [554, 'rtsp'],
  [25, 'smtp'], [587, 'smtp'], [21, 'ftp'], [502, 'modbus'],
];
const UDP: [number, string][] = [
  [53, 'dns'], [123, 'ntp'], [443, 'quic'], [5683, 'coap'], [5684, 'coaps'], [67, 'dhcp'], [68, 'dhcp'],
  [161, 'snmp'], [162, 'snmp'], [514, 'syslog'], [5060, 'sip'], [5693, 'lwm2m-bootstrap'], [3478, 'stun'], [4500, 'ipsec-nat-t'],
];

/** Port → protocol id: TCP at [port], UDP at [65536 + port]. */
export const PORT_PROTO = new Uint8Array(2 * 65536);
for (const [port, name] of TCP) PORT_PROTO[port] = id(name);
for (const [port, name] of UDP) PORT_PROTO[65536 + port] = id(name);

/** Protocol of a packet from its transport layer and the remote and device ports. */
export function protoOf(l4: number, remotePort: number, devicePort: number): number {
  if (l4 === L_TCP) return PORT_PROTO[remotePort] || PORT_PROTO[devicePort] || P_TCP_OTHER;
  if (l4 === L_UDP) return PORT_PROTO[65536 + remotePort] || PORT_PROTO[65536 + devicePort] || P_UDP_OTHER;
  if (l4 === L_ICMP || l4 === L_ICMPV6) return P_ICMP;
  return P_IP_OTHER;
}

export const DNS = id('dns');
