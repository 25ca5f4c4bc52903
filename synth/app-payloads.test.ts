import { describe, expect, it } from 'vitest';
import { clientHello, dnsName, dnsQuery, dnsResponse } from './app-payloads.js';
import { hex } from './packets.js';

describe('DNS builders', () => {
  it('a query is the RFC 1035 header and one question, byte for byte', () => {
    expect(dnsQuery('Example.com', 'a', 0xbeef)).toEqual(hex(`
      beef 0100 0001 0000 0000 0000
      07 4578616d706c65 03 636f6d 00  0001 0001`));
    expect(dnsQuery('x.io', 'txt', 1).subarray(-4)).toEqual(hex('0010 0001'));
    expect(dnsName('')).toEqual(hex('00'));
    expect(dnsName('a\x00b.c')).toEqual(hex('03 610062 01 63 00'));
    expect(() => dnsName('a..b')).toThrow(/label/);
    expect(() => dnsName('x'.repeat(64) + '.com')).toThrow(/label/);
  });

  it('a response repeats the question and points its answers at it', () => {
    const r = dnsResponse('a.io', 'a', ['192.0.2.1', '2001:db8::1', { cname: 'b.io' }], 'nxdomain', 7, { ttl: 300 });
    expect(r.subarray(0, 12)).toEqual(hex('0007 8183 0001 0003 0000 0000'));
    expect(r.subarray(12, 22)).toEqual(hex('01 61 02 696f 00 0001 0001'));
    expect(r.subarray(22, 38)).toEqual(hex('c00c 0001 0001 0000012c 0004 c0000201'));
    expect(r.subarray(38, 66)).toEqual(hex('c00c 001c 0001 0000012c 0010 20010db8000000000000000000000001'));
    expect(r.subarray(66)).toEqual(hex('c00c 0005 0001 0000012c 0006 01 62 02 696f 00'));
  });
});

describe('ClientHello builder', () => {
  it('nests its lengths consistently and carries the SNI in a server_name extension', () => {
    const h = clientHello('Api.Example.com');
    const view = new DataView(h.buffer);
    expect([h[0], view.getUint16(1)]).toEqual([0x16, 0x0301]);
    expect(view.getUint16(3)).toBe(h.length - 5);
    expect(h[5]).toBe(1);
    expect((h[6] << 16) | view.getUint16(7)).toBe(h.length - 9);
    // extensions start after version(2) random(32) sid(1+32) suites(2+6) compression(1+1)
    const extStart = 9 + 2 + 32 + 33 + 8 + 2;
    expect(view.getUint16(extStart)).toBe(h.length - extStart - 2);
    expect(view.getUint16(extStart + 2)).toBe(0); // server_name first
    const host = new TextDecoder().decode(h.subarray(extStart + 11, extStart + 11 + view.getUint16(extStart + 9)));
    expect(host).toBe('Api.Example.com');
    expect(clientHello().length).toBe(h.length - 4 - 5 - 15);
    expect(clientHello(undefined, { padding: 100 }).length).toBe(clientHello().length + 104);
  });
});
