import { expect, it } from 'vitest';
import { udpSocketDrops } from './live-source.js';

// Two sockets of /proc/net/udp (Linux 6.1): port 4789 (0x12B5) with 17 drops, and another port.
const TABLE = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  120: 00000000:12B5 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 31337 2 0000000000000000 17
  121: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 31338 2 0000000000000000 4
`;

it('reads the drops of the socket on the port from /proc/net/udp; null when no socket has that port', () => {
  expect(udpSocketDrops(4789, false, TABLE)).toBe(17);
  expect(udpSocketDrops(53, false, TABLE)).toBe(4);
  expect(udpSocketDrops(6081, false, TABLE)).toBeNull();
});
