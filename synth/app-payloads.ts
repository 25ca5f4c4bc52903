// Application payloads for tests and scenarios: DNS messages (RFC 1035 §4) and a TLS ClientHello
// (RFC 8446 §4.1.2, with the server_name extension of RFC 6066 §3). Each returns the bytes that go
// inside udp() or tcp() from ./packets.js, e.g.
//   ipv4(udp(dnsQuery('a1b2.t.example.com', 'txt', 7), { src: 40000, dst: 53 }), { src, dst, proto: 17 })
// Written for clarity, not speed: scenario generators build templates once and patch them.
//
// Names are text; each character becomes one byte (its code, which must be below 256), so a test
// can put binary bytes in a label ('a\x00b.example.com'). Labels are split on '.'; '' is the root.

const te = (s: string): Uint8Array => {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255) throw new RangeError(`character U+${c.toString(16)} in ${JSON.stringify(s)} is not one byte`);
    out[i] = c;
  }
  return out;
};

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

const u16 = (v: number): Uint8Array => Uint8Array.of((v >>> 8) & 0xff, v & 0xff);
const u24 = (v: number): Uint8Array => Uint8Array.of((v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
const u32 = (v: number): Uint8Array => Uint8Array.of((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);

/** Query types by name (RFC 1035 §3.2.2, RFC 3596, RFC 2782, RFC 9460); a number passes through. */
export const DNS_TYPE = { a: 1, ns: 2, cname: 5, null: 10, ptr: 12, mx: 15, txt: 16, aaaa: 28, srv: 33, https: 65, any: 255 } as const;
export type DnsTypeName = keyof typeof DNS_TYPE;
const typeCode = (t: DnsTypeName | number): number => (typeof t === 'number' ? t : DNS_TYPE[t]);

/** Response codes (RFC 1035 §4.1.1). */
export const DNS_RCODE = { noerror: 0, formerr: 1, servfail: 2, nxdomain: 3, notimp: 4, refused: 5 } as const;
export type DnsRcodeName = keyof typeof DNS_RCODE;

/** A name in wire form: length-prefixed labels, then the zero byte (no compression). */
export function dnsName(name: string): Uint8Array {
  const labels = name === '' || name === '.' ? [] : name.replace(/\.$/, '').split('.');
  const parts: Uint8Array[] = [];
  for (const l of labels) {
    if (l.length === 0 || l.length > 63) throw new RangeError(`label '${l}' of ${JSON.stringify(name)} must be 1..63 bytes`);
    parts.push(Uint8Array.of(l.length), te(l));
  }
  parts.push(Uint8Array.of(0));
  return concat(parts);
}

function header(id: number, flags: number, qd: number, an: number): Uint8Array {
  return concat([u16(id), u16(flags), u16(qd), u16(an), u16(0), u16(0)]);
}

const question = (name: string, qtype: DnsTypeName | number): Uint8Array => concat([dnsName(name), u16(typeCode(qtype)), u16(1)]);

/** A standard query (RD set) for one name, class IN. */
export function dnsQuery(name: string, qtype: DnsTypeName | number = 'a', id = 0x1234): Uint8Array {
  return concat([header(id, 0x0100, 1, 0), question(name, qtype)]);
}

/**
 * One answer record: an address text ('192.0.2.1' → A, '2001:db8::1' → AAAA), or a CNAME / TXT
 * record. Its owner is the question name, written as a compression pointer to offset 12.
 */
export type DnsAnswer = string | { cname: string } | { txt: string };

function answerRecord(a: DnsAnswer, ttl: number): Uint8Array {
  let type: number;
  let rdata: Uint8Array;
  if (typeof a === 'string') {
    if (a.includes(':')) {
      type = DNS_TYPE.aaaa;
      rdata = ipv6Bytes(a);
    } else {
      type = DNS_TYPE.a;
      rdata = Uint8Array.from(a.split('.').map((p) => {
        const v = Number(p);
        if (!Number.isInteger(v) || v < 0 || v > 255) throw new RangeError(`bad IPv4 address ${a}`);
        return v;
      }));
      if (rdata.length !== 4) throw new RangeError(`bad IPv4 address ${a}`);
    }
  } else if ('cname' in a) {
    type = DNS_TYPE.cname;
    rdata = dnsName(a.cname);
  } else {
    if (a.txt.length > 255) throw new RangeError('a TXT string is at most 255 bytes');
    type = DNS_TYPE.txt;
    rdata = concat([Uint8Array.of(a.txt.length), te(a.txt)]);
  }
  return concat([u16(0xc00c), u16(type), u16(1), u32(ttl), u16(rdata.length), rdata]);
}

function ipv6Bytes(s: string): Uint8Array {
  const halves = s.split('::');
  if (halves.length > 2) throw new RangeError(`bad IPv6 address ${s}`);
  const words = (h: string) => (h === '' ? [] : h.split(':').map((w) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(w)) throw new RangeError(`bad IPv6 address ${s}`);
    return parseInt(w, 16);
  }));
  const head = words(halves[0]);
  const tail = halves.length === 2 ? words(halves[1]) : [];
  const fill = 8 - head.length - tail.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) throw new RangeError(`bad IPv6 address ${s}`);
  return concat([...head, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...tail].map(u16));
}

/**
 * A response (QR, RD, RA set) repeating the question, with `answers` in order and the response code,
 * e.g. dnsResponse('api.example.com', 'a', ['192.0.2.1', '192.0.2.2']) or
 * dnsResponse('nope.example.com', 'a', [], 'nxdomain').
 */
export function dnsResponse(
  name: string,
  qtype: DnsTypeName | number = 'a',
  answers: readonly DnsAnswer[] = [],
  rcode: DnsRcodeName | number = 'noerror',
  id = 0x1234,
  o: { ttl?: number } = {},
): Uint8Array {
  const rc = typeof rcode === 'number' ? rcode : DNS_RCODE[rcode];
  if (!Number.isInteger(rc) || rc < 0 || rc > 15) throw new RangeError(`rcode ${rcode} is not 0..15`);
  return concat([header(id, 0x8180 | rc, 1, answers.length), question(name, qtype), ...answers.map((a) => answerRecord(a, o.ttl ?? 60))]);
}

const TLS_HANDSHAKE = 0x16;
const CLIENT_HELLO = 1;

function extension(type: number, body: Uint8Array): Uint8Array {
  return concat([u16(type), u16(body.length), body]);
}

/**
 * A TLS 1.3-style ClientHello in one TLS record (legacy version 1.2 on the wire, as browsers send it):
 * 32-byte random and session id, three cipher suites, null compression, then the extensions:
 * server_name (when `sni` is given, RFC 6066 §3: one host_name entry), supported_groups,
 * signature_algorithms, supported_versions, and a padding extension (RFC 7685) of `padding` bytes.
 * Everything but `sni` is fixed, so the same arguments give the same bytes.
 */
export function clientHello(sni?: string, o: { padding?: number } = {}): Uint8Array {
  const exts: Uint8Array[] = [];
  if (sni !== undefined) {
    const host = te(sni);
    const entry = concat([Uint8Array.of(0), u16(host.length), host]);
    exts.push(extension(0, concat([u16(entry.length), entry])));
  }
  exts.push(extension(10, concat([u16(4), u16(0x001d), u16(0x0017)]))); // x25519, secp256r1
  exts.push(extension(13, concat([u16(4), u16(0x0403), u16(0x0804)]))); // ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256
  exts.push(extension(43, Uint8Array.of(2, 0x03, 0x04))); // TLS 1.3
  if (o.padding) exts.push(extension(21, new Uint8Array(o.padding)));
  const extBytes = concat(exts);
  const random = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff);
  const sessionId = Uint8Array.from({ length: 32 }, (_, i) => (i * 53 + 7) & 0xff);
  const body = concat([
    u16(0x0303),
    random,
    Uint8Array.of(sessionId.length), sessionId,
    u16(6), u16(0x1301), u16(0x1302), u16(0xc02f),
    Uint8Array.of(1, 0),
    u16(extBytes.length), extBytes,
  ]);
  const handshake = concat([Uint8Array.of(CLIENT_HELLO), u24(body.length), body]);
  return concat([Uint8Array.of(TLS_HANDSHAKE), u16(0x0301), u16(handshake.length), handshake]);
}
