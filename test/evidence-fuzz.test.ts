// Seeded fuzzing of the collector's evidence parsers (DNS, ClientHello, ICMP quote) and of the
// collector on mutated DNS/TLS/ICMP frames, the way test/fuzz.test.ts fuzzes the decoder: nothing may
// throw or hang, results stay within their bounds, and each parser gives the same result for a
// message followed by poison bytes as for an exact copy, which proves it read nothing past `end`.

import { describe, expect, it } from 'vitest';
import { Prng } from '../net/prng.js';
import { dnsQuery, dnsResponse, clientHello, dnsName } from '../synth/app-payloads.js';
import { ethernet, ipv4, ipv6, gre, udp, tcp, icmp, icmpv6, bytes, hex } from '../synth/packets.js';
import { DnsMessage, decodeDns, readName, MAX_NAME, MAX_ANSWERS, DNS_REASON_NAMES } from '../collector/evidence/dns.js';
import { ClientHello, decodeClientHello, isClientHello, TLS_REASON_NAMES } from '../collector/evidence/tls.js';
import { QuotedPacket, decodeQuoted } from '../collector/evidence/icmp-quote.js';
import { Collector } from '../collector/collector.js';
import { DeviceNets } from '../collector/device-nets.js';
import { Frame } from '../gre-decap/readers/frame.js';
import { LINKTYPE_ETHERNET } from '../gre-decap/layers.js';
import { recordErrors, type InspectionRecord } from '../contracts/inspection-record.js';

const N = 100_000;
const BASE = 64;

function mutate(rng: Prng, src: Uint8Array): Uint8Array {
  switch (rng.int(0, 5)) {
    case 0: {
      const out = src.slice();
      for (let i = rng.int(1, 8); i > 0 && out.length > 0; i--) out[rng.int(0, out.length - 1)] ^= 1 << rng.int(0, 7);
      return out;
    }
    case 1:
      return src.slice(0, rng.int(0, src.length));
    case 2: {
      const out = src.slice(0, rng.int(0, src.length));
      for (let i = 0; i < out.length; i++) if (rng.float() < 0.05) out[i] = rng.u32() & 255;
      return out;
    }
    case 3: {
      // Counts and lengths that lie: overwrite a 16-bit word at an even offset with a random value.
      const out = src.slice();
      if (out.length >= 2) {
        const at = rng.int(0, (out.length >> 1) - 1) * 2;
        out[at] = rng.float() < 0.5 ? 0 : rng.u32() & 255;
        out[at + 1] = rng.u32() & 255;
      }
      return out;
    }
    case 4: {
      // A compression pointer (or a label length of an extended type) dropped somewhere.
      const out = src.slice();
      if (out.length >= 2) {
        const at = rng.int(0, out.length - 2);
        out[at] = [0xc0, 0xc0, 0x40, 0x80, 0x3f][rng.int(0, 4)] | (rng.float() < 0.5 ? 0 : rng.int(0, 0x3f));
        out[at + 1] = rng.u32() & 255;
      }
      return out;
    }
    default: {
      const out = new Uint8Array(rng.int(0, 300));
      for (let i = 0; i < out.length; i++) out[i] = rng.u32() & 255;
      return out;
    }
  }
}

/** The message copied to BASE inside a buffer of poison bytes that run on well past its end. */
function poisoned(rng: Prng, data: Uint8Array, buf: Uint8Array): void {
  buf.fill(rng.u32() & 255, 0, BASE + data.length + 300);
  for (let i = BASE + data.length; i < BASE + data.length + 300; i += 7) buf[i] = 0xc0; // pointer-looking poison
  buf.set(data, BASE);
}

function dnsSeeds(): Uint8Array[] {
  const long = (last: number) => ['a'.repeat(63), 'b'.repeat(63), 'c'.repeat(63), 'd'.repeat(last)].join('.');
  const names = [long(61), long(63), 'a.io', 'API.example.com', 'x'.repeat(63) + '.t.tunnel.example.org', '', 'a\x00\xff.b', 'n1.n2.n3.n4.n5.n6.n7.example.co.uk'];
  const seeds: Uint8Array[] = [];
  for (const n of names) {
    for (const t of ['a', 'aaaa', 'txt', 'null', 'cname', 'any'] as const) seeds.push(dnsQuery(n, t, 7));
    seeds.push(dnsResponse(n, 'a', ['192.0.2.1', '2001:db8::1', { cname: 'c.example.com' }, { txt: 'hello' }, '198.51.100.2']));
    seeds.push(dnsResponse(n, 'aaaa', Array.from({ length: 20 }, (_, i) => `2001:db8::${i}`)));
    seeds.push(dnsResponse(n, 'a', [], 'nxdomain'));
  }
  // Two questions, the second compressed against the first; and a chain of backward pointers.
  const two = [...hex('0001 8180 0002 0001 0000 0000'), ...dnsName('www.example.com'), 0, 1, 0, 1, 0xc0, 16, 0, 1, 0, 1, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 9];
  seeds.push(Uint8Array.from(two));
  const chain = [...hex('0000 8100 0001 0000 0000 0000'), ...dnsName('z.example')];
  for (let i = 0; i < 20; i++) chain.push(0xc0, i === 0 ? 12 : 23 + 2 * (i - 1));
  seeds.push(Uint8Array.from(chain));
  return seeds;
}

describe('fuzz: evidence parsers', () => {
  it(`DNS: ${N} mutated messages (and names at random offsets): no throw, bounded results, no read past the end`, () => {
    const rng = new Prng(20261202);
    const seeds = dnsSeeds();
    const a = new DnsMessage();
    const b = new DnsMessage();
    const nameA = new Uint8Array(MAX_NAME);
    const nameB = new Uint8Array(MAX_NAME);
    const buf = new Uint8Array(BASE + 2048);
    const reasons = new Float64Array(DNS_REASON_NAMES.length);
    let answers = 0;
    for (let i = 0; i < N; i++) {
      const data = mutate(rng, seeds[rng.int(0, seeds.length - 1)]);
      const ra = decodeDns(data, 0, data.length, a, nameA);
      poisoned(rng, data, buf);
      const rb = decodeDns(buf, BASE, BASE + data.length, b, nameB);
      if (ra !== rb || (ra === 0 && !sameDns(a, nameA, b, nameB))) throw new Error(`message ${i} (${Buffer.from(data).toString('hex')}) decoded differently with bytes after its end`);
      expect(ra).toBeLessThanOrEqual(0);
      reasons[-ra]++;
      if (ra === 0) {
        expect(a.nameLen).toBeLessThanOrEqual(MAX_NAME);
        expect(a.answers).toBeLessThanOrEqual(MAX_ANSWERS);
        for (let k = 0; k < a.answers; k++) expect(a.answerOff[k] + (a.answerVersion[k] === 4 ? 4 : 16)).toBeLessThanOrEqual(data.length);
        answers += a.answers;
      }
      // The general name reader, from a random place of the message: pointers, loops, jumps.
      if (data.length > 12) {
        const p = rng.int(12, data.length - 1);
        const na = readName(data, 0, p, data.length, a, nameA);
        const nb = readName(buf, BASE, BASE + p, BASE + data.length, b, nameB);
        if ((na < 0 ? na : na - p) !== (nb < 0 ? nb : nb - BASE - p) || (na >= 0 && !sameName(a, nameA, b, nameB))) throw new Error(`name at ${p} of message ${i} read differently with bytes after its end`);
        if (na < 0) reasons[-na]++;
      }
    }
    // Every reason reached, and plenty of whole messages: the mutations exercise what they should.
    expect(DNS_REASON_NAMES.filter((_, r) => r > 0 && reasons[r] === 0)).toEqual([]);
    expect(reasons[0]).toBeGreaterThan(N / 5);
    expect(answers).toBeGreaterThan(N / 10);
  });

  it(`ClientHello: ${N} mutated hellos: no throw, the server name inside the bytes, no read past the end`, () => {
    const rng = new Prng(7_2026);
    const seeds = [clientHello('api.example.com'), clientHello(), clientHello('x'.repeat(200), { padding: 100 }), clientHello('a.io', { padding: 1200 })];
    const a = new ClientHello();
    const b = new ClientHello();
    const buf = new Uint8Array(BASE + 4096);
    const reasons = new Float64Array(TLS_REASON_NAMES.length);
    let withSni = 0;
    let decoded = 0;
    for (let i = 0; decoded < N; i++) {
      const data = mutate(rng, seeds[rng.int(0, seeds.length - 1)]);
      // As the collector does: only what looks like a ClientHello is decoded (the rest too, sometimes).
      if (!isClientHello(data, 0, data.length) && rng.float() < 0.5) continue;
      decoded++;
      const ra = decodeClientHello(data, 0, data.length, a);
      poisoned(rng, data, buf);
      const rb = decodeClientHello(buf, BASE, BASE + data.length, b);
      if (ra !== rb || a.sniLen !== b.sniLen || (a.sniLen >= 0 && a.sniOff !== b.sniOff - BASE)) throw new Error(`hello ${i} decoded differently with bytes after its end`);
      reasons[-ra]++;
      if (a.sniLen >= 0) {
        withSni++;
        expect(a.sniLen).toBeGreaterThan(0);
        expect(a.sniOff + a.sniLen).toBeLessThanOrEqual(data.length);
      }
    }
    expect(Array.from(reasons).filter((n) => n > 0).length).toBe(TLS_REASON_NAMES.length);
    expect(withSni).toBeGreaterThan(N / 10);
  });

  it(`ICMP quotes: ${N} mutated quoted headers: no throw, the destination inside the bytes, no read past the end`, () => {
    const rng = new Prng(33);
    const sent = [
      ipv4(udp(bytes(20), { src: 40000, dst: 5683 }), { src: '10.128.0.5', dst: '203.0.113.9', proto: 17 }).subarray(0, 28),
      ipv4(tcp(bytes(0), { src: 40000, dst: 23, flags: 2 }), { src: '10.128.0.5', dst: '198.51.100.1', proto: 6, options: new Uint8Array(8) }).subarray(0, 36),
      ipv6(udp(bytes(8), { src: 1, dst: 443 }), { src: 'fd00::5', dst: '2001:db8::9', nextHeader: 17, ext: [{ type: 0 }, { type: 60 }] }).subarray(0, 64),
      ipv6(tcp(bytes(0), { src: 1, dst: 80 }), { src: 'fd00::5', dst: '2001:db8::9', nextHeader: 6 }).subarray(0, 48),
    ];
    const a = new QuotedPacket();
    const b = new QuotedPacket();
    const buf = new Uint8Array(BASE + 1024);
    let ok = 0;
    for (let i = 0; i < N; i++) {
      const data = mutate(rng, sent[rng.int(0, sent.length - 1)]);
      const ra = decodeQuoted(data, 0, data.length, a);
      poisoned(rng, data, buf);
      const rb = decodeQuoted(buf, BASE, BASE + data.length, b);
      if (ra !== rb || (ra && (a.version !== b.version || a.l4 !== b.l4 || a.dstPort !== b.dstPort || a.dstOff !== b.dstOff - BASE))) throw new Error(`quote ${i} decoded differently with bytes after its end`);
      if (ra) {
        ok++;
        expect(a.dstOff + (a.version === 4 ? 4 : 16)).toBeLessThanOrEqual(data.length);
      }
    }
    expect(ok).toBeGreaterThan(N / 5);
    expect(ok).toBeLessThan(N);
  });
});

describe('fuzz: the collector on mutated DNS, TLS and ICMP frames', () => {
  it('20k frames: no throw, every record valid, names valid JSON text', () => {
    const rng = new Prng(99);
    const DEV = '10.128.0.5';
    const mirror = (inner: Uint8Array) => ethernet(ipv4(gre(inner, { protocol: inner[0] >> 4 === 6 ? 0x86dd : 0x0800 }), { src: '192.0.2.1', dst: '198.51.100.1', proto: 47 }));
    const payloads = dnsSeeds();
    const hellos = [clientHello('api.example.com'), clientHello(), clientHello('b\x00\xff.io')];
    const out: InspectionRecord[] = [];
    const c = new Collector({
      nets: new DeviceNets(['10.128.0.0/9', 'fd00::/8']), intervalSeconds: 10, topK: 10, maxDevices: 64, maxFlows: 4096, maxDestinations: 4096,
      maxNames: 256, maxHostNames: 64, maxBursts: 512, clock: 'packet', source: 'fuzz', onRecords: (r) => out.push(...r),
    });
    const f = new Frame();
    for (let i = 0; i < 20_000; i++) {
      let frame: Uint8Array;
      const kind = rng.int(0, 4);
      if (kind <= 1) {
        const msg = mutate(rng, payloads[rng.int(0, payloads.length - 1)]);
        const far = `198.51.100.${rng.int(1, 40)}`;
        frame = kind === 0
          ? mirror(ipv4(udp(msg, { src: 40000, dst: 53 }), { src: DEV, dst: far, proto: 17 }))
          : mirror(ipv4(udp(msg, { src: 53, dst: 40000 }), { src: far, dst: DEV, proto: 17 }));
      } else if (kind === 2) {
        frame = mirror(ipv4(tcp(mutate(rng, hellos[rng.int(0, 2)]), { src: 40000, dst: rng.int(1, 65535), flags: 0x18 }), { src: DEV, dst: `203.0.113.${rng.int(1, 40)}`, proto: 6 }));
      } else if (kind === 3) {
        const quoted = mutate(rng, ipv4(udp(bytes(8), { src: 1, dst: rng.int(1, 9) }), { src: DEV, dst: `192.0.2.${rng.int(1, 40)}`, proto: 17 }).subarray(0, 28));
        frame = mirror(ipv4(icmp(quoted, { type: 3, code: 3 }), { src: '192.0.2.254', dst: DEV, proto: 1 }));
      } else {
        frame = mirror(ipv6(icmpv6(mutate(rng, ipv6(udp(bytes(8), { src: 1, dst: 2 }), { src: 'fd00::5', dst: '2001:db8::1', nextHeader: 17 }).subarray(0, 48)), { type: 1 }), { src: '2001:db8::ff', dst: 'fd00::5', nextHeader: 58 }));
      }
      f.buf = frame;
      f.off = 0;
      f.capLen = f.wireLen = frame.length;
      f.tsSec = 1_767_225_600 + Math.floor(i / 200);
      f.tsNsec = (i % 200) * 5_000_000;
      f.linkType = LINKTYPE_ETHERNET;
      c.onFrame(f);
    }
    c.finish();
    expect(out.length).toBeGreaterThan(10);
    for (const r of out) {
      expect(recordErrors(r)).toBeNull();
      // Printable ASCII throughout (binary name bytes are \xHH), the cut mark '…' aside.
      expect(JSON.stringify(r)).toMatch(/^[\x20-\x7e…]*$/);
    }
    const dns = out.reduce((n, r) => n + r.dns.malformed, 0);
    const tls = out.reduce((n, r) => n + r.tls.malformed, 0);
    expect(dns).toBeGreaterThan(100);
    expect(tls).toBeGreaterThan(100);
    expect(out.some((r) => r.dns.domains.some((d) => d.examples.some((e) => e.includes('\\x'))))).toBe(true);
  });
});

function sameName(a: DnsMessage, na: Uint8Array, b: DnsMessage, nb: Uint8Array): boolean {
  if (a.nameLen !== b.nameLen || a.labelMax !== b.labelMax) return false;
  for (let i = 0; i < a.nameLen; i++) if (na[i] !== nb[i]) return false;
  return true;
}

function sameDns(a: DnsMessage, na: Uint8Array, b: DnsMessage, nb: Uint8Array): boolean {
  if (a.id !== b.id || a.qr !== b.qr || a.rcode !== b.rcode || a.qdcount !== b.qdcount || a.ancount !== b.ancount) return false;
  if (a.qtype !== b.qtype || a.qclass !== b.qclass || a.answers !== b.answers || !sameName(a, na, b, nb)) return false;
  for (let k = 0; k < a.answers; k++) if (a.answerOff[k] !== b.answerOff[k] - BASE || a.answerVersion[k] !== b.answerVersion[k]) return false;
  return true;
}
