// The walker and every layer decoder on frames built with synth/packets: one case per layer,
// one per malformed reason, and a sweep that cuts frames at every length.

import { describe, expect, it } from 'vitest';
import { Decapsulator } from './decap.js';
import { PacketMeta } from './meta.js';
import {
  L_TCP, L_UDP, L_ICMP, L_ICMPV6, LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_NULL,
  LINKTYPE_IPV6, T_GRE, T_PPTP, T_ERSPAN1, T_ERSPAN2, T_ERSPAN3, T_VXLAN, T_GENEVE, SEEN_GRE, SEEN_ERSPAN, SEEN_VXLAN,
  SEEN_GENEVE,
} from './layers.js';
import * as R from './malformed.js';
import { ethernet, ipv4, ipv6, gre, erspan2, erspan3, vxlan, geneve, udp, tcp, icmp, icmpv6, bytes, hex } from '../synth/packets.js';
import { formatIpv4 } from '../net/ip-format.js';

const DEVICE = '10.128.0.7';
const SERVER = '203.0.113.10';
const MIRROR = '192.0.2.1';
const COLLECTOR = '198.51.100.1';

let lastFrame: Uint8Array = new Uint8Array(0);

/** Dotted quad of the IPv4 address at `off` in the frame decoded last. */
const ipv4At = (off: number) => Array.from(lastFrame.subarray(off, off + 4)).join('.');

function decode(frame: Uint8Array, linkType = LINKTYPE_ETHERNET, d = new Decapsulator()): PacketMeta {
  lastFrame = frame;
  const m = new PacketMeta();
  d.decode(frame, 0, frame.length, linkType, m);
  return m;
}

const innerUdp = () => ipv4(udp(bytes(20), { src: 40000, dst: 53 }), { src: DEVICE, dst: SERVER, proto: 17 });
const innerTcp = () => ipv4(tcp(bytes(10), { src: 51000, dst: 8883, flags: 0x02 }), { src: DEVICE, dst: SERVER, proto: 6 });
const outer = (payload: Uint8Array, proto = 47) => ethernet(ipv4(payload, { src: MIRROR, dst: COLLECTOR, proto }));

function expectInner(m: PacketMeta, l4 = L_UDP) {
  expect(m.reason).toBe(0);
  expect(formatIpv4(m.ipSrc4)).toBe(DEVICE);
  expect(formatIpv4(m.ipDst4)).toBe(SERVER);
  expect(ipv4At(m.outerSrcOff)).toBe(MIRROR);
  expect(ipv4At(m.ipSrcOff)).toBe(DEVICE);
  expect(m.l4).toBe(l4);
}

describe('layers', () => {
  it('plain Ethernet/IPv4/TCP: ports, flags, payload', () => {
    const m = decode(ethernet(innerTcp()));
    expect(m.reason).toBe(0);
    expect(m.tunDepth).toBe(0);
    expect(m.l4).toBe(L_TCP);
    expect([m.srcPort, m.dstPort, m.tcpFlags, m.tcpHeaderLen, m.payloadLen]).toEqual([51000, 8883, 0x02, 20, 10]);
    expect(m.ipTotalLen).toBe(20 + 20 + 10);
    expect(m.outerSrcOff).toBe(m.ipSrcOff);
  });

  it('stacked 802.1ad/802.1Q tags', () => {
    const m = decode(ethernet(innerUdp(), { vlans: [100, 200] }));
    expect(m.reason).toBe(0);
    expect(m.vlanCount).toBe(2);
    expect(m.vlanId).toBe(200);
    expect(m.l4).toBe(L_UDP);
  });

  it('GRE with checksum, key and sequence carrying IPv4', () => {
    const m = decode(outer(gre(innerUdp(), { protocol: 0x0800, key: 0xdeadbeef, seq: 7, checksum: true })));
    expectInner(m);
    expect(m.tunDepth).toBe(1);
    expect(m.tunType[0]).toBe(T_GRE);
    expect(m.tunHasId[0]).toBe(1);
    expect(m.tunId[0]).toBe(0xdeadbeef);
    expect(m.seen & SEEN_GRE).not.toBe(0);
  });

  it('GRE with RFC 1701 routing entries skips them', () => {
    const sre = hex('0800 00 04 c0000201 0000 00 00'); // one IPv4 SRE then the null SRE
    const m = decode(outer(gre(innerUdp(), { protocol: 0x0800, routing: sre })));
    expectInner(m);
  });

  it('GRE carrying IPv6, and GRE directly over IPv6', () => {
    const inner6 = ipv6(udp(bytes(4), { src: 1, dst: 5683 }), { src: '2001:db8::7', dst: '2001:db8::1', nextHeader: 17 });
    const m = decode(ethernet(ipv6(gre(inner6, { protocol: 0x86dd }), { src: '2001:db8:ffff::1', dst: '2001:db8:ffff::2', nextHeader: 47 }), { etherType: 0x86dd }));
    expect(m.reason).toBe(0);
    expect(m.outerVersion).toBe(6);
    expect(m.ipVersion).toBe(6);
    expect(m.ipCount).toBe(2);
    expect(m.dstPort).toBe(5683);
    expect(m.ipTotalLen).toBe(40 + 12);
  });

  it('IPv6 extension headers: hop-by-hop, routing, destination options, fragment', () => {
    const frame = ethernet(
      ipv6(udp(bytes(4), { src: 1, dst: 123 }), {
        src: '2001:db8::7', dst: '2001:db8::1', nextHeader: 0,
        ext: [{ type: 0 }, { type: 43 }, { type: 60 }, { type: 44, next: 17 }],
      }),
      { etherType: 0x86dd },
    );
    const m = decode(frame);
    expect(m.reason).toBe(0);
    expect(m.ipProto).toBe(17);
    expect(m.dstPort).toBe(123);
    expect(m.notes & R.N_FRAGMENT).not.toBe(0);
  });

  it('transparent Ethernet bridging over GRE (0x6558)', () => {
    const m = decode(outer(gre(ethernet(innerUdp()), { protocol: 0x6558, key: 5 })));
    expectInner(m);
    expect(m.tunType[0]).toBe(T_GRE);
  });

  it('ERSPAN type I, II and III (with platform sub-header)', () => {
    const t1 = decode(outer(gre(ethernet(innerUdp()), { protocol: 0x88be })));
    expectInner(t1);
    expect(t1.tunType[0]).toBe(T_ERSPAN1);
    const t2 = decode(outer(gre(erspan2(ethernet(innerUdp()), { session: 513 }), { protocol: 0x88be, seq: 1 })));
    expectInner(t2);
    expect([t2.tunType[0], t2.tunId[0]]).toEqual([T_ERSPAN2, 513]);
    const t3 = decode(outer(gre(erspan3(ethernet(innerTcp()), { session: 1023, platform: bytes(8) }), { protocol: 0x22eb })));
    expectInner(t3, L_TCP);
    expect([t3.tunType[0], t3.tunId[0]]).toEqual([T_ERSPAN3, 1023]);
    for (const m of [t1, t2, t3]) expect(m.seen & SEEN_ERSPAN).not.toBe(0);
  });

  it('VXLAN on 4789 and on a configured port', () => {
    const frame = outer(udp(vxlan(ethernet(innerTcp()), { vni: 4242 }), { src: 55555, dst: 4789 }), 17);
    const m = decode(frame);
    expectInner(m, L_TCP);
    expect([m.tunType[0], m.tunId[0]]).toEqual([T_VXLAN, 4242]);
    expect(m.seen & SEEN_VXLAN).not.toBe(0);
    const onLinuxPort = outer(udp(vxlan(ethernet(innerTcp()), { vni: 1 }), { src: 55555, dst: 8472 }), 17);
    expect(decode(onLinuxPort).tunDepth).toBe(0);
    expect(decode(onLinuxPort, LINKTYPE_ETHERNET, new Decapsulator({ vxlanPorts: [4789, 8472] })).tunDepth).toBe(1);
  });

  it('a UDP datagram on 4789 without the VXLAN I flag stays plain UDP, noted', () => {
    const m = decode(outer(udp(vxlan(ethernet(innerTcp()), { vni: 1, flags: 0 }), { src: 1000, dst: 4789 }), 17));
    expect(m.reason).toBe(0);
    expect(m.tunDepth).toBe(0);
    expect(m.l4).toBe(L_UDP);
    expect(m.dstPort).toBe(4789);
    expect(m.notes & R.N_NOT_VXLAN).not.toBe(0);
    expect(m.seen & SEEN_VXLAN).toBe(0);
  });

  it('Geneve with options, carrying Ethernet, IPv4 and IPv6', () => {
    const opts = hex('0102 03 01 aabbccdd  0104 05 02 0000000000000000');
    const eth = decode(outer(udp(geneve(ethernet(innerUdp()), { vni: 11, options: opts }), { src: 1, dst: 6081 }), 17));
    expectInner(eth);
    expect([eth.tunType[0], eth.tunId[0]]).toEqual([T_GENEVE, 11]);
    expect(eth.seen & SEEN_GENEVE).not.toBe(0);
    const ip = decode(outer(udp(geneve(innerUdp(), { vni: 12, protocol: 0x0800 }), { src: 1, dst: 6081 }), 17));
    expectInner(ip);
    const inner6 = ipv6(icmpv6(bytes(4), { type: 128 }), { src: '2001:db8::7', dst: '2001:db8::1', nextHeader: 58 });
    const ip6 = decode(outer(udp(geneve(inner6, { vni: 13, protocol: 0x86dd }), { src: 1, dst: 6081 }), 17));
    expect([ip6.reason, ip6.ipVersion, ip6.l4, ip6.icmpType]).toEqual([0, 6, L_ICMPV6, 128]);
  });

  it('Geneve whose option lengths do not add up is not Geneve', () => {
    const bad = hex('0102 03 05 aabbccdd'); // claims 20 bytes of data in a 4-byte option area
    const m = decode(outer(udp(geneve(ethernet(innerUdp()), { vni: 1, options: bad }), { src: 1, dst: 6081 }), 17));
    expect(m.reason).toBe(0);
    expect(m.tunDepth).toBe(0);
    expect(m.notes & R.N_NOT_GENEVE).not.toBe(0);
  });

  it('enhanced GRE v1 (PPTP) carrying PPP/IPv4', () => {
    const ppp = new Uint8Array([0xff, 0x03, 0x00, 0x21, ...innerUdp()]);
    const m = decode(outer(gre(ppp, { protocol: 0x880b, version: 1, key: (ppp.length << 16) | 77, seq: 1, ack: 2 })));
    expectInner(m);
    expect([m.tunType[0], m.tunId[0]]).toEqual([T_PPTP, 77]);
  });

  it('Cisco MetaData inside GRE: EtherType first, then the SGT option', () => {
    const m = decode(outer(gre(new Uint8Array([...hex('0800 01 01 0001 0028'), ...innerUdp()]), { protocol: 0x8909, key: 40 })));
    expectInner(m);
  });

  it('nested: ERSPAN II carrying VXLAN carrying GRE', () => {
    const innermost = outer(gre(innerTcp(), { protocol: 0x0800 }));
    const vx = outer(udp(vxlan(innermost, { vni: 9 }), { src: 2, dst: 4789 }), 17);
    const m = decode(outer(gre(erspan2(vx, { session: 3 }), { protocol: 0x88be, seq: 9 })));
    expectInner(m, L_TCP);
    expect(Array.from(m.tunType.subarray(0, m.tunDepth))).toEqual([T_ERSPAN2, T_VXLAN, T_GRE]);
    expect(m.ipCount).toBe(4);
  });

  it('ICMP type and code; the quoted header of an ICMP error is not decoded', () => {
    const err = icmp(innerUdp(), { type: 3, code: 3 });
    const m = decode(ethernet(ipv4(err, { src: SERVER, dst: DEVICE, proto: 1 })));
    expect([m.l4, m.icmpType, m.icmpCode, m.ipCount]).toEqual([L_ICMP, 3, 3, 1]);
  });

  it('IPv4 fragments: only the first carries ports', () => {
    const first = decode(ethernet(ipv4(udp(bytes(16), { src: 9, dst: 53 }), { src: DEVICE, dst: SERVER, proto: 17, moreFragments: true })));
    expect([first.dstPort, first.notes & R.N_FRAGMENT]).toEqual([53, R.N_FRAGMENT]);
    const later = decode(ethernet(ipv4(bytes(24), { src: DEVICE, dst: SERVER, proto: 17, fragOffset: 24 })));
    expect([later.reason, later.l4, later.ipFragOffset]).toEqual([0, 0, 24]);
  });

  it('IPv4 options are skipped; Ethernet padding is not payload', () => {
    const m = decode(ethernet(ipv4(udp(bytes(2), { src: 1, dst: 2 }), { src: DEVICE, dst: SERVER, proto: 17, options: hex('01010101') })));
    expect([m.reason, m.dstPort]).toEqual([0, 2]);
    const padded = new Uint8Array(60);
    padded.set(ethernet(ipv4(udp(bytes(2), { src: 1, dst: 2 }), { src: DEVICE, dst: SERVER, proto: 17 })));
    expect(decode(padded).payloadLen).toBe(2);
  });

  it('a declared IP length past the captured bytes is a note, not a failure', () => {
    const m = decode(ethernet(ipv4(udp(bytes(4), { src: 1, dst: 2 }), { src: DEVICE, dst: SERVER, proto: 17, totalLength: 9000 })));
    expect([m.reason, m.ipTotalLen, m.dstPort]).toEqual([0, 9000, 2]);
    expect(m.notes & R.N_IP_TRUNCATED).not.toBe(0);
  });

  it('link types: raw IP, Linux SLL, SLL2, BSD loopback (both byte orders), IPv6-only', () => {
    const ip = innerUdp();
    expectInnerOnly(decode(ip, LINKTYPE_RAW));
    const sll = new Uint8Array([0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00, ...ip]);
    expectInnerOnly(decode(sll, LINKTYPE_LINUX_SLL));
    const sll2 = new Uint8Array([0x08, 0x00, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, ...ip]);
    expectInnerOnly(decode(sll2, LINKTYPE_LINUX_SLL2));
    expectInnerOnly(decode(new Uint8Array([2, 0, 0, 0, ...ip]), LINKTYPE_NULL));
    expectInnerOnly(decode(new Uint8Array([0, 0, 0, 2, ...ip]), LINKTYPE_NULL));
    const v6 = ipv6(udp(bytes(1), { src: 1, dst: 2 }), { src: '::1', dst: '::2', nextHeader: 17 });
    expect(decode(v6, LINKTYPE_IPV6).dstPort).toBe(2);
    expect(decode(new Uint8Array([30, 0, 0, 0, ...v6]), LINKTYPE_NULL).ipVersion).toBe(6);
  });

  it('ARP inside VXLAN leaves the outer IP as the innermost, with its UDP transport', () => {
    const arp = ethernet(bytes(28), { etherType: 0x0806 });
    const m = decode(outer(udp(vxlan(arp, { vni: 1 }), { src: 3, dst: 4789 }), 17));
    expect([m.reason, m.ipCount, m.l4, m.dstPort, m.stopType]).toEqual([0, 1, L_UDP, 4789, 0x0806]);
    expect(m.notes & R.N_UNDECODED_PAYLOAD).not.toBe(0);
  });
});

function expectInnerOnly(m: PacketMeta) {
  expect(m.reason).toBe(0);
  expect(formatIpv4(m.ipDst4)).toBe(SERVER);
  expect(m.dstPort).toBe(53);
}

// One frame per reason code, each asserting exactly that code and its counter.
const byReason: [number, () => Uint8Array, number?][] = [
  [R.R_LINKTYPE_UNSUPPORTED, () => innerUdp(), 147],
  [R.R_LINK_TOO_SHORT, () => new Uint8Array(10), LINKTYPE_LINUX_SLL],
  [R.R_ETHERNET_TOO_SHORT, () => new Uint8Array(13)],
  [R.R_VLAN_TOO_SHORT, () => ethernet(new Uint8Array(2), { etherType: 0x8100 })],
  [R.R_IPV4_TOO_SHORT, () => ethernet(innerUdp().subarray(0, 19))],
  [R.R_IPV4_BAD_VERSION, () => ethernet(ipv6(bytes(0), { src: '::1', dst: '::2', nextHeader: 59 }))],
  [R.R_IPV4_BAD_IHL, () => { const f = ethernet(innerUdp()); f[14] = 0x44; return f; }],
  [R.R_IPV4_BAD_TOTAL_LENGTH, () => ethernet(ipv4(bytes(8), { src: DEVICE, dst: SERVER, proto: 17, totalLength: 12 }))],
  [R.R_IPV6_TOO_SHORT, () => ethernet(bytes(39, 0x60), { etherType: 0x86dd })],
  [R.R_IPV6_BAD_VERSION, () => ethernet(innerUdp(), { etherType: 0x86dd })],
  [R.R_IPV6_EXT_TOO_SHORT, () => ethernet(ipv6(bytes(4), { src: '::1', dst: '::2', nextHeader: 0 }), { etherType: 0x86dd })],
  [R.R_IPV6_TOO_MANY_EXT, () => ethernet(ipv6(udp(bytes(1), { src: 1, dst: 2 }), { src: '::1', dst: '::2', nextHeader: 60, ext: Array.from({ length: 9 }, (_, i) => ({ type: 60 as const, next: i === 8 ? 17 : 60 })) }), { etherType: 0x86dd })],
  [R.R_GRE_TOO_SHORT, () => outer(gre(bytes(0), { protocol: 0x0800, key: 1 }).subarray(0, 6))],
  [R.R_GRE_BAD_VERSION, () => { const g = gre(innerUdp(), { protocol: 0x0800 }); g[1] |= 2; return outer(g); }],
  [R.R_GRE_BAD_ROUTING, () => outer(gre(innerUdp(), { protocol: 0x0800, routing: hex('0800 00 ff') }))],
  [R.R_GRE_V1_BAD_HEADER, () => { const g = gre(innerUdp(), { protocol: 0x0800 }); g[1] |= 1; return outer(g); }],
  [R.R_ERSPAN_TOO_SHORT, () => outer(gre(bytes(4, 0x10), { protocol: 0x88be, seq: 1 }))],
  [R.R_ERSPAN_BAD_VERSION, () => { const e = erspan2(ethernet(innerUdp()), { session: 1 }); e[0] = 0x20; return outer(gre(e, { protocol: 0x88be, seq: 1 })); }],
  [R.R_PPP_TOO_SHORT, () => outer(gre(new Uint8Array([0xff, 0x03]), { protocol: 0x880b, version: 1, key: 1 }))],
  [R.R_TCP_TOO_SHORT, () => ethernet(ipv4(bytes(12), { src: DEVICE, dst: SERVER, proto: 6 }))],
  [R.R_TCP_BAD_OFFSET, () => { const t = tcp(bytes(0), { src: 1, dst: 2 }); t[12] = 0x40; return ethernet(ipv4(t, { src: DEVICE, dst: SERVER, proto: 6 })); }],
  [R.R_UDP_TOO_SHORT, () => ethernet(ipv4(bytes(7), { src: DEVICE, dst: SERVER, proto: 17 }))],
  [R.R_ICMP_TOO_SHORT, () => ethernet(ipv4(bytes(3), { src: DEVICE, dst: SERVER, proto: 1 }))],
  [R.R_TUNNEL_TOO_DEEP, () => { let f = innerUdp(); for (let i = 0; i < 9; i++) f = ipv4(gre(f, { protocol: 0x0800 }), { src: MIRROR, dst: COLLECTOR, proto: 47 }); return ethernet(f); }],
  [R.R_TOO_MANY_LAYERS, () => ethernet(innerUdp(), { vlans: Array.from({ length: 40 }, (_, i) => i + 1) })],
  [R.R_RAW_BAD_VERSION, () => new Uint8Array([0x50, 0, 0, 0]), LINKTYPE_RAW],
  [R.R_CMD_BAD_HEADER, () => outer(gre(hex('0800 01 00'), { protocol: 0x8909 }))],
];

describe('malformed reasons', () => {
  it('has one test frame per reason and names that line up', () => {
    expect(R.REASON_NAMES.length).toBe(R.REASON_COUNT);
    expect(R.NOTE_NAMES.length).toBe(R.NOTE_COUNT);
    expect(new Set(byReason.map(([r]) => r)).size).toBe(R.REASON_COUNT - 1);
    for (const name of R.REASON_NAMES.slice(1)) expect(name).toMatch(/^decap\.[a-z0-9]+\.[a-z0-9_]+$/);
  });

  for (const [reason, build, linkType] of byReason) {
    it(R.REASON_NAMES[reason], () => {
      const d = new Decapsulator();
      const m = decode(build(), linkType ?? LINKTYPE_ETHERNET, d);
      expect(R.REASON_NAMES[m.reason]).toBe(R.REASON_NAMES[reason]);
      expect(d.reasons[reason]).toBe(1);
      expect(d.frames).toBe(1);
    });
  }
});

describe('robustness', () => {
  const frames = [
    outer(gre(innerUdp(), { protocol: 0x0800, key: 1, seq: 2, checksum: true })),
    outer(gre(erspan3(ethernet(innerTcp(), { vlans: [5] }), { session: 1, platform: bytes(8) }), { protocol: 0x22eb, seq: 1 })),
    outer(udp(geneve(ethernet(innerUdp()), { vni: 1, options: hex('0102 03 01 aabbccdd') }), { src: 1, dst: 6081 }), 17),
    outer(udp(vxlan(ethernet(ipv6(tcp(bytes(3), { src: 1, dst: 2 }), { src: '::1', dst: '::2', nextHeader: 0, ext: [{ type: 0, next: 6 }] }), { etherType: 0x86dd }), { vni: 1 }), { src: 1, dst: 4789 }), 17),
  ];

  it('cutting frames at every length never throws and never reads past the cut', () => {
    const d = new Decapsulator();
    const m = new PacketMeta();
    for (const frame of frames) {
      for (let cut = 0; cut <= frame.length; cut++) {
        // The bytes after the cut are poison: a decoder that read them would see 0xEE everywhere.
        const buf = new Uint8Array(frame.length + 64).fill(0xee);
        buf.set(frame.subarray(0, cut), 16);
        d.decode(buf, 16, cut, LINKTYPE_ETHERNET, m);
        const clean = new PacketMeta();
        const exact = frame.slice(0, cut);
        new Decapsulator().decode(exact, 0, cut, LINKTYPE_ETHERNET, clean);
        expect([m.reason, m.l4, m.l4 && m.dstPort, m.tunDepth, m.ipCount, m.seen]).toEqual([clean.reason, clean.l4, clean.l4 && clean.dstPort, clean.tunDepth, clean.ipCount, clean.seen]);
      }
    }
    expect(d.frames).toBe(frames.reduce((n, f) => n + f.length + 1, 0));
  });

  it('rejects bad configuration with a coded error', () => {
    expect(() => new Decapsulator({ maxTunnelDepth: 0 })).toThrow(/maxTunnelDepth/);
    expect(() => new Decapsulator({ vxlanPorts: [70000] })).toThrow(/not a UDP port/);
    expect(() => new Decapsulator({ vxlanPorts: [6081] })).toThrow(/already mapped/);
  });
});
