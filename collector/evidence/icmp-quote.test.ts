import { describe, expect, it } from 'vitest';
import { ipv4, ipv6, tcp, udp, icmp, bytes } from '../../synth/packets.js';
import { L_TCP, L_UDP, L_ICMP } from '../../gre-decap/layers.js';
import { QuotedPacket, decodeQuoted } from './icmp-quote.js';

// What a router quotes: the IP header and the first 8 bytes of the transport header (RFC 792).
const quote = (packet: Uint8Array, ihl = 20) => packet.subarray(0, ihl + 8);

describe('decodeQuoted', () => {
  it('gives the quoted destination address, transport and port (IPv4, IPv6)', () => {
    const q = new QuotedPacket();
    const b = quote(ipv4(udp(bytes(20), { src: 40000, dst: 5683 }), { src: '10.128.0.5', dst: '203.0.113.9', proto: 17 }));
    expect(decodeQuoted(b, 0, b.length, q)).toBe(true);
    expect([q.version, q.l4, q.dstPort, [...b.subarray(q.dstOff, q.dstOff + 4)].join('.')]).toEqual([4, L_UDP, 5683, '203.0.113.9']);
    const t = quote(ipv4(tcp(bytes(0), { src: 40000, dst: 23, flags: 2 }), { src: '10.128.0.5', dst: '198.51.100.1', proto: 6 }));
    expect(decodeQuoted(t, 0, t.length, q)).toBe(true);
    expect([q.l4, q.dstPort]).toEqual([L_TCP, 23]);
    const six = quote(ipv6(udp(bytes(4), { src: 1, dst: 443 }), { src: 'fd00::5', dst: '2001:db8::9', nextHeader: 17 }), 40);
    expect(decodeQuoted(six, 0, six.length, q)).toBe(true);
    expect([q.version, q.l4, q.dstPort, six[q.dstOff + 15]]).toEqual([6, L_UDP, 443, 9]);
    const ping = quote(ipv4(icmp(bytes(8), { type: 8 }), { src: '10.128.0.5', dst: '192.0.2.1', proto: 1 }));
    expect(decodeQuoted(ping, 0, ping.length, q)).toBe(true);
    expect([q.l4, q.dstPort]).toEqual([L_ICMP, 0]);
  });

  it('refuses a quote too short for its header or its ports, or of another IP version', () => {
    const q = new QuotedPacket();
    const b = quote(ipv4(udp(bytes(20), { src: 1, dst: 2 }), { src: '10.128.0.5', dst: '203.0.113.9', proto: 17 }));
    expect(decodeQuoted(b, 0, 19, q)).toBe(false);
    expect(decodeQuoted(b, 0, 23, q)).toBe(false); // ports not all there
    expect(decodeQuoted(b, 0, 24, q)).toBe(true);
    expect(decodeQuoted(b, 0, 0, q)).toBe(false);
    const v5 = b.slice();
    v5[0] = 0x55;
    expect(decodeQuoted(v5, 0, v5.length, q)).toBe(false);
  });
});
