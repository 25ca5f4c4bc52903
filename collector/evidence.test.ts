// The evidence blocks of InspectionRecord v2 from hand-built frames: DNS per registered domain, names
// for destinations from DNS answers and SNI (kept across intervals), failed first contacts, contacts
// with their bursts, TLS ClientHellos. Each case states what the packets were and what the record
// must say about them.

import { describe, expect, it } from 'vitest';
import { ethernet, ipv4, ipv6, gre, udp, tcp, icmp, icmpv6, bytes } from '../synth/packets.js';
import { dnsQuery, dnsResponse, clientHello } from '../synth/app-payloads.js';
import type { InspectionRecord } from '../contracts/inspection-record.js';
import {
  collectFrames, mirror, up, down, query, answer, syn, synAck, rst, data, byDevice, RESOLVER, type Timed,
} from '../test/helpers/evidence-frames.js';

describe('DNS evidence', () => {
  const TUNNEL = '10.128.0.7';
  const PLAIN = '10.128.0.5';
  // A tunnel-like device: 20 TXT queries, each a new 60-character random label under one domain.
  const label = (i: number) => Array.from({ length: 60 }, (_, j) => 'abcdefghijklmnopqrstuvwxyz234567'[(i * 7919 + j * 104729 + j * j * 31) % 32]).join('');
  const frames: Timed[] = [];
  for (let i = 0; i < 20; i++) {
    frames.push([query(TUNNEL, `${label(i)}.t.BadTunnel.com`, 'txt', i), 1 + i]);
    frames.push([answer(TUNNEL, `${label(i)}.t.badtunnel.com`, 'txt', [{ txt: 'ok' }], 'noerror', i), 1.01 + i]);
  }
  // An ordinary device: the same name ten times, answered with two addresses; one NXDOMAIN, one SERVFAIL.
  for (let i = 0; i < 10; i++) {
    frames.push([query(PLAIN, 'api.example.com', 'a', 100 + i), 2 + i * 3]);
    frames.push([answer(PLAIN, 'api.example.com', 'a', ['203.0.113.7', '203.0.113.8'], 'noerror', 100 + i), 2.02 + i * 3]);
  }
  frames.push([query(PLAIN, 'gw.example.com', 'aaaa', 200), 40]);
  frames.push([answer(PLAIN, 'gw.example.com', 'aaaa', [], 'nxdomain', 200), 40.01]);
  frames.push([query(PLAIN, 'time.example.net', 'a', 201, '8.8.8.8'), 41]);
  frames.push([down(PLAIN, '8.8.8.8', udp(dnsResponse('time.example.net', 'a', [], 'servfail', 201), { src: 53, dst: 40201 }), 17), 41.01]);

  it('a tunnel-like device: many distinct long random names under one domain, unusual types', () => {
    const [r] = byDevice(collectFrames(frames), TUNNEL);
    expect(r.dns).toMatchObject({ queries: 20, responses: 20, nxdomain: 0, distinct_names: 20, label_max: 60, name_length_max: 76, malformed: 0 });
    expect(r.dns.types).toEqual({ a: 0, aaaa: 0, txt: 20, null: 0, cname: 0, mx: 0, any: 0, other: 0 });
    expect(r.dns.resolvers).toEqual([{ ip: RESOLVER, queries: 20 }]);
    expect(r.dns.domains).toHaveLength(1);
    const d = r.dns.domains[0];
    expect(d).toMatchObject({ domain: 'badtunnel.com', queries: 20, distinct_names: 20, name_bytes: 20 * 76, name_length_max: 76, label_max: 60, unusual_types: 20, nxdomain: 0 });
    expect(d.entropy).toBeGreaterThan(4.5); // 32 symbols, about evenly used: close to 5 bits
    expect(d.examples).toEqual([0, 1, 2].map((i) => `${label(i)}…`)); // first seen first, cut to 60 characters
    expect(r.dns.entropy_mean).toBeGreaterThan(4);
  });

  it('an ordinary device: one name asked again and again is one distinct name; NXDOMAIN and SERVFAIL counted', () => {
    const [r] = byDevice(collectFrames(frames), PLAIN);
    expect(r.dns).toMatchObject({ queries: 12, responses: 12, nxdomain: 1, servfail: 1, distinct_names: 3, name_length_max: 16, label_max: 7, domains_dropped: 0, names_dropped: 0 });
    expect(r.dns.types).toMatchObject({ a: 11, aaaa: 1 });
    expect(r.dns.name_length_mean).toBe(15); // (15 + 14 + 16) / 3
    expect(r.dns.resolvers).toEqual([{ ip: RESOLVER, queries: 11 }, { ip: '8.8.8.8', queries: 1 }]);
    expect(r.dns.domains.map((d) => [d.domain, d.queries, d.distinct_names, d.nxdomain, d.unusual_types])).toEqual([
      ['example.com', 11, 2, 1, 0],
      ['example.net', 1, 1, 0, 0],
    ]);
    expect(r.dns.domains[0].examples).toEqual(['api.example.com', 'gw.example.com']);
    // entropy of "api" + "gw" pooled: a, p, i, g, w once each
    expect(r.dns.domains[0].entropy).toBeCloseTo(Math.log2(5), 3);
  });

  it('counts malformed messages, escapes binary names, drops names past the table and counts them', () => {
    const DEV = '10.128.0.9';
    const lying = dnsQuery('x.io');
    lying[5] = 3; // qdcount 3, one question present: the query still counts, its name is not trusted
    const loop = Uint8Array.from([...dnsQuery('x.io').subarray(0, 12), 0xc0, 0x0c, 0, 1, 0, 1]);
    const recs = collectFrames([
      [up(DEV, RESOLVER, udp(bytes(8), { src: 1, dst: 53 }), 17), 1], // too short for a header
      [up(DEV, RESOLVER, udp(loop, { src: 1, dst: 53 }), 17), 2],
      [query(DEV, 'a\x00\xff"b.example.com', 'a', 3), 3],
      [up(DEV, RESOLVER, udp(lying, { src: 1, dst: 53 }), 17), 4],
      [query(DEV, 'one.example.org', 'a', 5), 5],
      [query(DEV, 'two.example.org', 'null', 6), 6],
      [query(DEV, 'three.example.org', 'a', 7), 7],
    ], { maxNames: 2 });
    const [r] = recs;
    expect(r.dns.malformed).toBe(2); // the too-short message and the pointer loop
    expect(r.dns.queries).toBe(6); // all but the one too short for a header
    // The lying count is in a query, read only for its first question: x.io takes the second name slot.
    expect(r.dns.distinct_names).toBe(2);
    expect(r.dns.names_dropped).toBe(3);
    expect(r.dns.types).toMatchObject({ a: 4, null: 1 });
    expect(r.dns.domains[0].examples).toEqual(['a\\x00\\xff"b.example.com']);
    expect(JSON.parse(JSON.stringify(r)).dns.domains[0].examples[0]).toBe('a\\x00\\xff"b.example.com');
  });
});

describe('names for destinations', () => {
  const DEV = '10.128.0.5';

  it('from A/AAAA answers (VLAN-tagged too) and from SNI, kept across intervals, the newest winning', () => {
    const taggedAnswer = ethernet(ipv4(gre(ethernet(ipv4(udp(dnsResponse('cloud.example.com', 'a', ['203.0.113.9']), { src: 53, dst: 40000 }), { src: RESOLVER, dst: DEV, proto: 17 }), { vlans: [100] }), { protocol: 0x6558 }), { src: '192.0.2.1', dst: '198.51.100.1', proto: 47 }));
    const six = mirror(ipv6(udp(dnsResponse('v6.example.com', 'aaaa', ['2001:db8::9']), { src: 53, dst: 40000 }), { src: '2001:db8::53', dst: 'fd00::5', nextHeader: 17 }));
    const recs = collectFrames([
      [answer(DEV, 'api.example.com', 'a', ['203.0.113.7']), 1],
      [taggedAnswer, 2],
      [six, 3],
      [syn(DEV, '203.0.113.7', 8883), 4],
      [data(DEV, '198.51.100.20', 443, 0), 5],
      [up(DEV, '198.51.100.20', tcp(clientHello('Mqtt.Example.com'), { src: 40001, dst: 443, flags: 0x18 }), 6), 6],
      // next interval: the connection comes long after the answer
      [syn(DEV, '203.0.113.9', 443), 61],
      [mirror(ipv6(udp(bytes(10), { src: 40000, dst: 443 }), { src: 'fd00::5', dst: '2001:db8::9', nextHeader: 17 })), 62],
      // the address now answers for another name: the newest mapping wins
      [answer(DEV, 'other.example.com', 'a', ['203.0.113.7']), 63],
      [syn(DEV, '203.0.113.7', 8883), 64],
    ]);
    const [first, second] = byDevice(recs, DEV);
    const named = (r: InspectionRecord) => Object.fromEntries(r.destinations.top.map((d) => [`${d.ip}:${d.port}`, [d.name, d.name_source]]));
    expect(named(first)).toMatchObject({ '203.0.113.7:8883': ['api.example.com', 'dns'], '198.51.100.20:443': ['mqtt.example.com', 'sni'], [`${RESOLVER}:53`]: [undefined, undefined] });
    expect(named(second)).toMatchObject({ '203.0.113.9:443': ['cloud.example.com', 'dns'], '203.0.113.7:8883': ['other.example.com', 'dns'] });
    expect(byDevice(recs, 'fd00::5')[1].destinations.top[0]).toMatchObject({ ip: '2001:db8::9', name: 'v6.example.com', name_source: 'dns' });
    expect(first.contacts.find((c) => c.port === 8883)).toMatchObject({ name: 'api.example.com', name_source: 'dns' });
    // Names belong to the device that got the answer.
    const other = collectFrames([[answer(DEV, 'api.example.com', 'a', ['203.0.113.7']), 1], [syn('10.128.0.6', '203.0.113.7', 8883), 2]]);
    expect(byDevice(other, '10.128.0.6')[0].destinations.top[0].name).toBeUndefined();
  });
});

describe('TLS ClientHellos', () => {
  it('counts hellos, those without SNI, and the malformed (cut) ones; any port; only from the device', () => {
    const DEV = '10.128.0.5';
    const cut = clientHello('x.example.com', { padding: 500 }).subarray(0, 300);
    const hello = (payload: Uint8Array, port: number) => up(DEV, '198.51.100.20', tcp(payload, { src: 40001, dst: port, flags: 0x18 }), 6);
    const [r] = collectFrames([
      [hello(clientHello('a.example.com'), 443), 1],
      [hello(clientHello('b.example.com'), 8883), 2],
      [hello(clientHello(), 443), 3],
      [hello(cut, 443), 4],
      [hello(Uint8Array.of(0x16, 3, 1, 0, 10, 2, 0, 0, 6, 3, 3), 443), 5], // a ServerHello-like record: not a ClientHello
      [down(DEV, '198.51.100.20', tcp(clientHello('c.example.com'), { src: 443, dst: 40001, flags: 0x18 }), 6), 6], // to the device
    ]);
    expect(r.tls).toEqual({ client_hellos: 4, without_sni: 1, malformed: 1 });
  });
});

describe('connections: failed first contacts', () => {
  const DEV = '10.128.0.5';

  it('silent and refused hosts, failed ports of answering hosts, ICMP unreachables attributed through their quote', () => {
    const frames: Timed[] = [];
    for (let i = 1; i <= 6; i++) frames.push([syn(DEV, `198.51.100.${i}`, 23), i], [syn(DEV, `198.51.100.${i}`, 23), i + 1]); // silent, twice
    frames.push([syn(DEV, '198.51.100.50', 23), 10], [rst(DEV, '198.51.100.50', 23), 10.1]); // refused
    frames.push([syn(DEV, '203.0.113.7', 443), 11], [synAck(DEV, '203.0.113.7', 443), 11.1], [syn(DEV, '203.0.113.7', 8080, 40001), 12]); // one port fails, the host answers
    // UDP to .60:5000, and an ICMP port unreachable from a router quoting it.
    const sent = ipv4(udp(bytes(20), { src: 40002, dst: 5000 }), { src: DEV, dst: '198.51.100.60', proto: 17 });
    frames.push([mirror(sent), 13], [down(DEV, '192.0.2.254', icmp(sent.subarray(0, 28), { type: 3, code: 3 }), 1), 13.1]);
    frames.push([up(DEV, '198.51.100.70', udp(bytes(20), { src: 40003, dst: 5000 }), 17), 14]); // UDP with no answer: attempted, not failed
    // ICMPv6 unreachable over IPv6 to another device
    const sent6 = ipv6(udp(bytes(8), { src: 40000, dst: 9000 }), { src: 'fd00::5', dst: '2001:db8::77', nextHeader: 17 });
    frames.push([mirror(sent6), 15], [mirror(ipv6(icmpv6(sent6.subarray(0, 48), { type: 1, code: 4 }), { src: '2001:db8::1', dst: 'fd00::5', nextHeader: 58 })), 15.1]);
    const recs = collectFrames(frames);
    const [r] = byDevice(recs, DEV);
    expect(r.connections).toEqual({
      attempted_hosts: 10, // 6 silent + refused + the answering host + 2 UDP
      failed_hosts: 8, // 6 silent + refused + the one an ICMP unreachable came back for
      failed_named_hosts: 0, // the device asked no name for any of them
      failed_ports: 9, // those 8 + the answering host's port 8080
      refused_hosts: 1,
      icmp_unreachable: 1,
      failed_sample: [1, 2, 3, 4, 5, 6].map((i) => ({ ip: `198.51.100.${i}`, port: 23, transport: 'tcp' })).concat(
        [{ ip: '198.51.100.50', port: 23, transport: 'tcp' }, { ip: '203.0.113.7', port: 8080, transport: 'tcp' }],
      ),
    });
    expect(byDevice(recs, 'fd00::5')[0].connections).toMatchObject({ attempted_hosts: 1, failed_hosts: 1, icmp_unreachable: 1, failed_sample: [{ ip: '2001:db8::77', port: 9000, transport: 'udp' }] });
  });

  it('a reconnect storm to one server is one failed host, however many SYNs', () => {
    const frames: Timed[] = [];
    for (let i = 0; i < 72; i++) frames.push([syn(DEV, '8.209.66.141', 9999, 14947), i * 0.8]);
    const [r] = collectFrames(frames);
    expect(r.connections).toMatchObject({ attempted_hosts: 1, failed_hosts: 1, failed_ports: 1, refused_hosts: 0 });
    expect(r.tcp.syn).toBe(72);
  });

  it('a failed host the device resolved itself is named: its own service down, not a host tried blind', () => {
    const [r] = collectFrames([
      [answer(DEV, 'api.example.com', 'a', ['203.0.113.9']), 1],
      [syn(DEV, '203.0.113.9', 443), 2],
      [syn(DEV, '198.51.100.3', 23), 3],
    ]);
    expect(r.connections).toMatchObject({ attempted_hosts: 2, failed_hosts: 2, failed_named_hosts: 1 }); // the answer alone: no query sent to the resolver
    expect(r.connections.failed_sample).toEqual([
      { ip: '203.0.113.9', port: 443, transport: 'tcp', name: 'api.example.com', name_source: 'dns' },
      { ip: '198.51.100.3', port: 23, transport: 'tcp' },
    ]);
  });
});

describe('contacts', () => {
  const DEV = '10.128.0.5';

  it('bursts start after a gap of more than a second, in ms from the interval start; starts and answers', () => {
    const recs = collectFrames([
      [syn(DEV, '203.0.113.7', 443), 0.25],
      [synAck(DEV, '203.0.113.7', 443), 0.3],
      [data(DEV, '203.0.113.7', 443), 1.2], // 0.9 s later: same burst
      [data(DEV, '203.0.113.7', 443), 2.3], // 1.1 s later: a new burst
      [data(DEV, '203.0.113.7', 443), 30],
      [up(DEV, '192.0.2.123', udp(bytes(48), { src: 123, dst: 123 }), 17), 5],
      [down(DEV, '192.0.2.123', udp(bytes(48), { src: 123, dst: 123 }), 17), 5.01],
      [down(DEV, '198.51.100.9', udp(bytes(10), { src: 5683, dst: 5683 }), 17), 6], // from the far end first: no start
      [up(DEV, '198.51.100.9', udp(bytes(10), { src: 5683, dst: 5683 }), 17), 6.1],
    ]);
    const [r] = recs;
    expect(r.contacts.map((c) => [c.ip, c.port, c.transport, c.starts, c.answered, c.bursts])).toEqual([
      ['203.0.113.7', 443, 'tcp', 1, true, [250, 2300, 30000]],
      ['192.0.2.123', 123, 'udp', 1, true, [5000]],
      ['198.51.100.9', 5683, 'udp', 0, true, [6000]],
    ]);
    expect(r.contacts[0]).toMatchObject({ bursts_dropped: 0, up_packets: 4, down_packets: 1, up_bytes: 40 + 140 * 3, down_bytes: 40 });
  });

  it('at most --contacts far ends, by bursts then bytes; at most 64 bursts listed, the rest counted', () => {
    const frames: Timed[] = [];
    for (let i = 0; i < 70; i++) frames.push([data(DEV, '203.0.113.1', 443, 10), i * 1.5]); // 1.5 s apart: 70 bursts in 105 s
    for (let i = 0; i < 3; i++) frames.push([data(DEV, '203.0.113.2', 443, 1000), 1 + i * 5]);
    frames.push([data(DEV, '203.0.113.3', 443, 10), 3]);
    const [r] = collectFrames(frames, { contacts: 2, intervalSeconds: 120 });
    expect(r.contacts.map((c) => [c.ip, c.bursts.length, c.bursts_dropped])).toEqual([['203.0.113.1', 64, 6], ['203.0.113.2', 3, 0]]);
    expect(r.contacts[0].bursts).toEqual([...r.contacts[0].bursts].sort((a, b) => a - b));
    expect(collectFrames(frames, { contacts: 0 })[0].contacts).toEqual([]);
  });
});

describe('far hosts over all their ports (destinations.hosts)', () => {
  const DEV = '10.128.0.9';
  const VICTIM = '198.51.100.77';

  it("a random-port flood's packets add up on its one host; 4 hosts by packets up, named, only hosts sent to", () => {
    const frames: Timed[] = [
      [query(DEV, 'api.example.com'), 0.5],
      [answer(DEV, 'api.example.com', 'a', ['203.0.113.7']), 0.51],
    ];
    // 300 datagrams of 64 bytes to the victim, each to its own port from its own port: 92 bytes of IP each.
    for (let i = 0; i < 300; i++) frames.push([up(DEV, VICTIM, udp(bytes(64), { src: 1024 + ((i * 7919) % 60000), dst: 1 + ((i * 104729) % 65000) }), 17), 1 + i * 0.1]);
    // Its own server both ways on two ports; three more hosts sent fewer (two as many as each other, listed by
    // address, the third cut like the resolver); one that only sent to the device.
    for (let i = 0; i < 20; i++) {
      frames.push([data(DEV, '203.0.113.7', i % 2 ? 443 : 8883, 10), 2 + i]);
      frames.push([down(DEV, '203.0.113.7', tcp(bytes(30), { src: i % 2 ? 443 : 8883, dst: 40000, flags: 0x18 }), 6), 2.1 + i]);
    }
    frames.push([data(DEV, '203.0.113.7', 443, 10), 22.5]); // one more on 443: its busiest far end
    for (const [host, n] of [['203.0.113.22', 2], ['203.0.113.21', 2], ['203.0.113.23', 1]] as const) for (let i = 0; i < n; i++) frames.push([data(DEV, host, 443, 10), 3 + i]);
    for (let i = 0; i < 50; i++) frames.push([down(DEV, '192.0.2.99', udp(bytes(10), { src: 123, dst: 123 }), 17), 4 + i]);
    const [r] = byDevice(collectFrames(frames, { topK: 2 }), DEV);
    expect(r.destinations.distinct).toBe(7);
    // Each (host, port) of the flood is a packet: the top destinations show none of it.
    expect(r.destinations.top.map((d) => d.ip)).not.toContain(VICTIM);
    expect(r.destinations.hosts).toEqual([
      // Shown by its busiest far end: the victim's are all alike, so the first seen (i = 0: port 1).
      { ip: VICTIM, port: 1, transport: 'udp', up_packets: 300, down_packets: 0, up_bytes: 300 * 92, down_bytes: 0, ports: new Set(Array.from({ length: 300 }, (_, i) => 1 + ((i * 104729) % 65000))).size },
      { ip: '203.0.113.7', port: 443, transport: 'tcp', up_packets: 21, down_packets: 20, up_bytes: 21 * 50, down_bytes: 20 * 70, ports: 2, name: 'api.example.com', name_source: 'dns' },
      { ip: '203.0.113.21', port: 443, transport: 'tcp', up_packets: 2, down_packets: 0, up_bytes: 100, down_bytes: 0, ports: 1 },
      { ip: '203.0.113.22', port: 443, transport: 'tcp', up_packets: 2, down_packets: 0, up_bytes: 100, down_bytes: 0, ports: 1 },
    ]);
  });
});

describe('determinism', () => {
  it('the same frames give the same records, whatever the per-process hash keys', () => {
    const frames: Timed[] = [];
    for (let i = 0; i < 200; i++) {
      const dev = `10.128.0.${1 + (i % 7)}`;
      frames.push([query(dev, `n${i % 37}.x${i % 5}.example.com`, i % 3 ? 'a' : 'txt', i), i * 0.2]);
      frames.push([answer(dev, `n${i % 37}.x${i % 5}.example.com`, 'a', [`203.0.113.${i % 50}`], 'noerror', i), i * 0.2 + 0.01]);
      frames.push([syn(dev, `203.0.113.${i % 50}`, 443 + (i % 3)), i * 0.2 + 0.02]);
    }
    const a = JSON.stringify(collectFrames(frames));
    expect(JSON.stringify(collectFrames(frames))).toBe(a);
    expect(a.length).toBeGreaterThan(10_000);
  });
});
