import { describe, expect, it } from 'vitest';
import { isUnicastPublic } from './ip-class.js';

describe('isUnicastPublic', () => {
  it('IPv4 on the internet, not in the special-purpose ranges (RFC 6890)', () => {
    for (const ip of ['8.8.8.8', '35.158.107.239', '1.0.0.1', '223.255.255.255', '100.63.255.255', '100.128.0.0', '172.32.0.1', '192.0.3.1'])
      expect(isUnicastPublic(ip), ip).toBe(true);
    for (const ip of ['0.1.2.3', '10.128.1.7', '100.64.0.1', '127.0.0.1', '169.254.1.1', '172.16.5.4', '192.0.0.9', '192.168.1.1', '224.0.0.251', '239.255.255.250', '255.255.255.255'])
      expect(isUnicastPublic(ip), ip).toBe(false);
  });

  it('anything that is not a dotted quad is not an IPv4 address', () => {
    for (const ip of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', '.1.2.3', '1.2.3.', 'a.b.c.d', '1.2.3.4 ', '1234.1.1.1', '8.8.8.8x'])
      expect(isUnicastPublic(ip), JSON.stringify(ip)).toBe(false);
    expect(isUnicastPublic('008.008.008.008')).toBe(true); // three digits a part, as before
  });

  it('IPv6: global unicast only; mapped IPv4 judged as IPv4', () => {
    for (const ip of ['2001:db8::1', '2a00:1450:4001::200e', '::ffff:8.8.8.8']) expect(isUnicastPublic(ip), ip).toBe(true);
    for (const ip of ['::', '::1', 'fe80::1', 'fc00::1', 'ff02::fb', '::ffff:10.0.0.1']) expect(isUnicastPublic(ip), ip).toBe(false);
  });
});
