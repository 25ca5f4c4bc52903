import { describe, expect, it } from 'vitest';
import { bytes, erspan2, erspan3, ethernet, geneve, gre, hex, icmp, icmpv6, ipv4, ipv6, tcp, udp, vxlan } from './packets.js';
import { internetChecksum } from './checksum.js';

const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const expectHex = (b: Uint8Array, annotated: string): void => expect(toHex(b)).toBe(toHex(hex(annotated)));

describe('hex and bytes', () => {
  it('reads spaced and packed hex alike', () => {
    expect(toHex(hex('45 00\n 00 73'))).toBe('45000073');
    expect(toHex(hex('4500'))).toBe('4500');
  });
  it('rejects odd or non-hex text', () => {
    expect(() => hex('450')).toThrow(RangeError);
    expect(() => hex('zz')).toThrow(RangeError);
  });
  it('fills', () => expect(toHex(bytes(3, 0xab))).toBe('ababab'));
});

describe('ethernet', () => {
  it('writes addresses, 802.1Q tags outermost first, then the EtherType', () => {
    const f = ethernet(hex('aa'), { dst: 'ff:ff:ff:ff:ff:ff', src: '00:11:22:33:44:55', vlans: [100, 200], etherType: 0x86dd });
    expectHex(f, `ffffffffffff 001122334455
                  8100 0064   8100 00c8
                  86dd        aa`);
  });
  it('defaults to IPv4', () => expect(toHex(ethernet(bytes(0)).subarray(12))).toBe('0800'));
});

describe('ipv4', () => {
  it('computes the header checksum (the RFC 1071-style textbook header, checksum b861)', () => {
    const p = ipv4(bytes(95), { src: '192.168.0.1', dst: '192.168.0.199', proto: 17, dontFragment: true });
    expectHex(p.subarray(0, 20), `45 00 0073  0000 4000  40 11 b861
                                  c0a8 0001  c0a8 00c7`);
    expect(p.length).toBe(115);
  });
  it('encodes fragments, options and a total length override', () => {
    const p = ipv4(bytes(8), {
      src: '10.0.0.1', dst: '10.0.0.2', proto: 6, id: 0x1234, moreFragments: true, fragOffset: 1480,
      options: hex('01010100'), totalLength: 9999, ttl: 1,
    });
    expect(p[0]).toBe(0x46); // IHL 6 words
    expect(toHex(p.subarray(2, 8))).toBe('270f' + '1234' + '20b9'); // 9999, id, MF | 1480/8
    expect(p[8]).toBe(1);
    expect(internetChecksum(p, 0, 24)).toBe(0); // a valid header sums to 0xffff
    expect(() => ipv4(bytes(0), { src: '1.2.3.4', dst: '1.2.3.4', proto: 6, fragOffset: 3 })).toThrow(RangeError);
  });
});

describe('ipv6', () => {
  it('chains extension headers and pads them to 8 bytes', () => {
    const p = ipv6(bytes(0), {
      src: '2001:db8::1', dst: '::ffff:192.0.2.1', nextHeader: 17,
      ext: [{ type: 0 }, { type: 44, body: hex('0009 00000001') }],
    });
    expectHex(p, `6000 0000  0010 00 40
                  2001 0db8 0000 0000 0000 0000 0000 0001
                  0000 0000 0000 0000 0000 ffff c000 0201
                  2c 00 0000 0000 0000
                  11 00 0009 00000001`);
  });
  it('counts Hdr Ext Len in 8-byte units past the first 8', () => {
    const p = ipv6(bytes(0), { src: '::1', dst: '::2', nextHeader: 59, ext: [{ type: 60, body: bytes(7) }] });
    expect(p[6]).toBe(60);
    expect(p.length).toBe(40 + 16);
    expect(p[40]).toBe(59);
    expect(p[41]).toBe(1);
  });
});

describe('gre', () => {
  it('sets K and S and writes key then sequence (RFC 2890)', () => {
    expectHex(gre(hex('45'), { protocol: 0x0800, key: 0x01020304, seq: 5 }), '3000 0800 01020304 00000005 45');
  });
  it('computes the checksum over header and payload (RFC 2784)', () => {
    const p = gre(hex('4500'), { protocol: 0x0800, checksum: true });
    expectHex(p, '8000 0800 32ff 0000 4500');
    expect(internetChecksum(p, 0, p.length)).toBe(0);
  });
  it('writes the routing list after the offset field with R set (RFC 1701)', () => {
    const sre = hex('0800 00 04 c0000201  0000 00 00');
    expectHex(gre(bytes(0), { protocol: 0x0800, routing: sre }), '4000 0800 0000 0000 0800 00 04 c0000201 0000 0000');
  });
  it('writes version 1 with key, sequence and acknowledgment (RFC 2637)', () => {
    expectHex(gre(bytes(4), { protocol: 0x880b, version: 1, key: (4 << 16) | 7, seq: 1, ack: 2 }),
      '3081 880b 00040007 00000001 00000002 00000000');
    expect(toHex(gre(bytes(4), { protocol: 0x880b, version: 1 }).subarray(0, 8))).toBe('2001880b00040000');
    expect(() => gre(bytes(0), { protocol: 0x0800, ack: 1 })).toThrow(RangeError);
  });
});

describe('mirror headers', () => {
  it('ERSPAN II: version 1, VLAN, COS, session, index', () => {
    expectHex(erspan2(bytes(0), { session: 0x155, vlan: 100, cos: 5, index: 0x12345 }), '1064 a155 0001 2345');
  });
  it('ERSPAN III: version 2, timestamp, O bit with the platform subheader', () => {
    expectHex(erspan3(bytes(0), { session: 7, vlan: 10, timestamp: 0x01020304 }), '200a 0007 01020304 0000 0000');
    const p = erspan3(hex('ee'), { session: 7, platform: bytes(8, 0x11) });
    expectHex(p, '2000 0007 00000000 0000 0001 1111111111111111 ee');
  });
  it('VXLAN: I flag and 24-bit VNI', () => {
    expectHex(vxlan(bytes(0), { vni: 0x123456 }), '08 000000 123456 00');
  });
  it('Geneve: option length in 4-byte units, protocol type, VNI', () => {
    const opt = hex('0102 03 01 aabbccdd'); // class 0x0102, type 3, 1 word of data
    expectHex(geneve(hex('ee'), { vni: 5, options: opt }), '02 00 6558 000005 00 0102 03 01 aabbccdd ee');
    expect(() => geneve(bytes(0), { vni: 1, options: bytes(3) })).toThrow(RangeError);
  });
});

describe('transport', () => {
  it('UDP length covers header and payload', () => {
    expectHex(udp(hex('abcd'), { src: 53, dst: 1024 }), '0035 0400 000a 0000 abcd');
  });
  it('TCP data offset, flags, window', () => {
    expectHex(tcp(bytes(0), { src: 1883, dst: 50000, flags: 0x18, seq: 1, ack: 2 }),
      '075b c350 00000001 00000002 5018 ffff 0000 0000');
    expect(tcp(bytes(0), { src: 1, dst: 2, options: hex('020405b4 01') })[12]).toBe(0x70);
  });
  it('ICMP checksum; ICMPv6 left 0', () => {
    expectHex(icmp(bytes(0), { type: 8 }), '08 00 f7ff 00000000');
    expectHex(icmpv6(bytes(0), { type: 128 }), '80 00 0000 00000000');
  });
});

describe('composition', () => {
  it('nests a GRE-mirrored UDP packet with every length right', () => {
    const inner = ipv4(udp(bytes(10), { src: 5683, dst: 40000 }), { src: '10.128.0.1', dst: '203.0.113.10', proto: 17 });
    const f = ethernet(ipv4(gre(inner, { protocol: 0x0800 }), { src: '192.0.2.1', dst: '198.51.100.1', proto: 47 }));
    expect(f.length).toBe(14 + 20 + 4 + 20 + 8 + 10);
    expect((f[16] << 8) | f[17]).toBe(f.length - 14);
    expect(f[23]).toBe(47);
    expect((f[40] << 8) | f[41]).toBe(38);
  });
});
