// Application payloads the scenario devices and attackers send, as real protocol bytes so that a
// decoder (the collector's DNS and TLS parsing, tshark) sees what it would on a real mirror:
// DNS queries and answers (RFC 1035), TLS ClientHello/ServerHello (RFC 8446), MQTT 3.1.1 (OASIS),
// CoAP (RFC 7252), NTPv4 (RFC 5905), SSDP M-SEARCH (UPnP Device Architecture 1.1 §1.3.2),
// mDNS (RFC 6762), syslog (RFC 5424) and telnet option negotiation (RFC 854/855).
//
// NOTE for the lead: the DNS and ClientHello builders here stand in for synth/app-payloads.ts, which
// another branch (`evidence`) is adding; they can be unified once that lands.

import type { Rand } from './random.js';

export const QTYPE = { A: 1, NS: 2, CNAME: 5, NULL: 10, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33 } as const;
export type QTypeName = keyof typeof QTYPE;
export const RCODE = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3 } as const;

/** One answer record: an IPv4 address (A), a name (CNAME, MX), text (TXT) or raw bytes (NULL). */
export type Answer =
  | { type: 'A'; ttl: number; addr: number; owner?: string }
  | { type: 'CNAME'; ttl: number; name: string; owner?: string }
  | { type: 'MX'; ttl: number; pref: number; name: string }
  | { type: 'TXT'; ttl: number; text: string }
  | { type: 'NULL'; ttl: number; data: Uint8Array };

class Buf {
  b: number[] = [];
  u8(v: number): void { this.b.push(v & 0xff); }
  u16(v: number): void { this.b.push((v >>> 8) & 0xff, v & 0xff); }
  u32(v: number): void { this.u16(v >>> 16); this.u16(v & 0xffff); }
  bytes(x: ArrayLike<number>): void { for (let i = 0; i < x.length; i++) this.b.push(x[i]); }
  ascii(s: string): void { for (let i = 0; i < s.length; i++) this.b.push(s.charCodeAt(i) & 0xff); }
  /** A length-prefixed block: `len` bytes (1, 2 or 3) holding the size of what `fill` writes. */
  block(len: 1 | 2 | 3, fill: () => void): void {
    const at = this.b.length;
    for (let i = 0; i < len; i++) this.b.push(0);
    fill();
    const n = this.b.length - at - len;
    for (let i = 0; i < len; i++) this.b[at + i] = (n >>> (8 * (len - 1 - i))) & 0xff;
  }
  out(): Uint8Array { return Uint8Array.from(this.b); }
}

/** A domain name as labels (RFC 1035 §3.1); labels over 63 bytes or names over 255 are a bug here. */
function putName(w: Buf, name: string): void {
  if (name.length > 253) throw new RangeError(`DNS name of ${name.length} characters: ${name.slice(0, 40)}…`);
  for (const label of name.split('.')) {
    if (label.length === 0) continue;
    if (label.length > 63) throw new RangeError(`DNS label of ${label.length} characters in ${name}`);
    w.u8(label.length);
    w.ascii(label);
  }
  w.u8(0);
}

function header(w: Buf, id: number, flags: number, qd: number, an: number, ar: number): void {
  w.u16(id); w.u16(flags); w.u16(qd); w.u16(an); w.u16(0); w.u16(ar);
}

/** EDNS(0) OPT pseudo-record (RFC 6891) advertising a 1232-byte UDP payload (the DNS flag day 2020 value). */
function opt(w: Buf): void {
  w.u8(0); w.u16(41); w.u16(1232); w.u32(0); w.u16(0);
}

/** A standard query, recursion desired. */
export function dnsQuery(id: number, name: string, qtype: number, edns = false): Uint8Array {
  const w = new Buf();
  header(w, id, 0x0100, 1, 0, edns ? 1 : 0);
  putName(w, name);
  w.u16(qtype); w.u16(1);
  if (edns) opt(w);
  return w.out();
}

/** The resolver's answer to dnsQuery(id, name, qtype): RD|RA, the rcode, the answer records. */
export function dnsResponse(id: number, name: string, qtype: number, rcode: number, answers: readonly Answer[], edns = false): Uint8Array {
  const w = new Buf();
  header(w, id, 0x8180 | rcode, 1, answers.length, edns ? 1 : 0);
  putName(w, name);
  w.u16(qtype); w.u16(1);
  for (const a of answers) {
    const owner = 'owner' in a && a.owner !== undefined ? a.owner : undefined;
    if (owner === undefined) w.u16(0xc00c); // compression pointer to the question's name
    else putName(w, owner);
    w.u16(QTYPE[a.type]); w.u16(1); w.u32(a.ttl);
    w.block(2, () => {
      switch (a.type) {
        case 'A': w.u32(a.addr); break;
        case 'CNAME': putName(w, a.name); break;
        case 'MX': w.u16(a.pref); putName(w, a.name); break;
        case 'TXT':
          for (let i = 0; i < a.text.length; i += 255) { const s = a.text.slice(i, i + 255); w.u8(s.length); w.ascii(s); }
          if (a.text.length === 0) w.u8(0);
          break;
        case 'NULL': w.bytes(a.data); break;
      }
    });
  }
  if (edns) opt(w);
  return w.out();
}

/** An mDNS query (RFC 6762 §5, §18): id 0, no flags, QU bit for a one-shot query at start-up. */
export function mdnsQuery(names: readonly string[], qtype: number): Uint8Array {
  const w = new Buf();
  header(w, 0, 0, names.length, 0, 0);
  for (const n of names) { putName(w, n); w.u16(qtype); w.u16(0x8001); }
  return w.out();
}

// ---------------------------------------------------------------------------------------------
// TLS

const CIPHER_SUITES = [0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035];

/**
 * A TLS 1.3-capable ClientHello (RFC 8446 §4.1.2) in one handshake record: SNI (RFC 6066 §3) when a
 * name is given, supported groups, signature algorithms, supported versions, an x25519 key share and,
 * optionally, ALPN. Embedded TLS stacks (mbedTLS, wolfSSL) send hellos of this shape and size.
 */
export function clientHello(r: Rand, sni: string | null, alpn: string | null = null): Uint8Array {
  const w = new Buf();
  w.u8(0x16); w.u16(0x0301);
  w.block(2, () => {
    w.u8(1);
    w.block(3, () => {
      w.u16(0x0303);
      w.bytes(r.bytes(32));
      w.u8(32); w.bytes(r.bytes(32));
      w.block(2, () => { for (const c of CIPHER_SUITES) w.u16(c); });
      w.u8(1); w.u8(0);
      w.block(2, () => {
        if (sni !== null) {
          w.u16(0); w.block(2, () => w.block(2, () => { w.u8(0); w.block(2, () => w.ascii(sni)); }));
        }
        w.u16(11); w.block(2, () => w.block(1, () => w.u8(0))); // ec_point_formats: uncompressed
        w.u16(10); w.block(2, () => w.block(2, () => { w.u16(0x001d); w.u16(0x0017); w.u16(0x0018); })); // x25519, P-256, P-384
        w.u16(13); w.block(2, () => w.block(2, () => { for (const s of [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501]) w.u16(s); }));
        if (alpn !== null) { w.u16(16); w.block(2, () => w.block(2, () => w.block(1, () => w.ascii(alpn)))); }
        w.u16(43); w.block(2, () => w.block(1, () => { w.u16(0x0304); w.u16(0x0303); }));
        w.u16(45); w.block(2, () => w.block(1, () => w.u8(1))); // psk_dhe_ke
        w.u16(51); w.block(2, () => w.block(2, () => { w.u16(0x001d); w.block(2, () => w.bytes(r.bytes(32))); }));
      });
    });
  });
  return w.out();
}

/**
 * The first segment of a TLS 1.3 server flight: ServerHello (§4.1.3, TLS_AES_128_GCM_SHA256, x25519),
 * the middlebox-compatibility ChangeCipherSpec, then one encrypted record to `size` bytes in all
 * (EncryptedExtensions, Certificate … travel encrypted, so random bytes stand for them).
 */
export function serverFlightHead(r: Rand, size: number): Uint8Array {
  const w = new Buf();
  w.u8(0x16); w.u16(0x0303);
  w.block(2, () => {
    w.u8(2);
    w.block(3, () => {
      w.u16(0x0303); w.bytes(r.bytes(32)); w.u8(32); w.bytes(r.bytes(32)); w.u16(0x1301); w.u8(0);
      w.block(2, () => {
        w.u16(43); w.block(2, () => w.u16(0x0304));
        w.u16(51); w.block(2, () => { w.u16(0x001d); w.block(2, () => w.bytes(r.bytes(32))); });
      });
    });
  });
  w.bytes([0x14, 0x03, 0x03, 0x00, 0x01, 0x01]);
  const rest = Math.max(6, size - w.b.length);
  w.u8(0x17); w.u16(0x0303); w.u16(rest - 5); w.bytes(r.bytes(rest - 5));
  return w.out();
}

// ---------------------------------------------------------------------------------------------
// MQTT 3.1.1 (plain, port 1883): what the lock hubs in the real captures speak

function mqttPacket(type: number, body: Buf): Uint8Array {
  const w = new Buf();
  w.u8(type);
  let n = body.b.length;
  do { let d = n % 128; n = Math.floor(n / 128); if (n > 0) d |= 0x80; w.u8(d); } while (n > 0);
  w.bytes(body.b);
  return w.out();
}

function mqttStr(w: Buf, s: string): void { w.u16(s.length); w.ascii(s); }

export function mqttConnect(clientId: string, keepAliveSec: number): Uint8Array {
  const w = new Buf();
  mqttStr(w, 'MQTT'); w.u8(4); w.u8(0x02); w.u16(keepAliveSec); mqttStr(w, clientId);
  return mqttPacket(0x10, w);
}

export function mqttConnack(): Uint8Array { return Uint8Array.of(0x20, 0x02, 0x00, 0x00); }

/** A QoS 0 PUBLISH of `payloadLen` bytes of JSON-ish text to `topic`. */
export function mqttPublish(topic: string, payload: string): Uint8Array {
  const w = new Buf();
  mqttStr(w, topic); w.ascii(payload);
  return mqttPacket(0x30, w);
}

// ---------------------------------------------------------------------------------------------
// CoAP (RFC 7252): confirmable POST of a position report and its piggybacked 2.04 ACK

export function coapPost(msgId: number, token: number, path: string, payloadLen: number, r: Rand): Uint8Array {
  const w = new Buf();
  w.u8(0x44); w.u8(0x02); w.u16(msgId); w.u32(token); // ver 1, CON, TKL 4; POST
  let prev = 0;
  for (const seg of path.split('/')) { // Uri-Path (option 11), short segments only
    w.u8(((11 - prev) << 4) | seg.length); w.ascii(seg); prev = 11;
  }
  w.u8(0x10 | 1); w.u8(60); // Content-Format (12): delta 1 from 11, length 1, 60 = application/cbor
  w.u8(0xff);
  w.u8(0x58); w.u8(payloadLen); // one CBOR byte string (RFC 8949 §3.1, major type 2): the encoded fix
  w.bytes(r.bytes(payloadLen));
  return w.out();
}

export function coapAck(msgId: number, token: number): Uint8Array {
  const w = new Buf();
  w.u8(0x64); w.u8(0x44); w.u16(msgId); w.u32(token); // ver 1, ACK, TKL 4; 2.04 Changed
  return w.out();
}

// ---------------------------------------------------------------------------------------------
// NTPv4 (RFC 5905 §7.3): 48-byte client request (mode 3) and server reply (mode 4)

const NTP_UNIX_OFFSET = 2208988800;

function ntpTime(w: Buf, us: number): void {
  const sec = Math.floor(us / 1e6);
  w.u32((sec + NTP_UNIX_OFFSET) >>> 0);
  w.u32(Math.floor(((us - sec * 1e6) / 1e6) * 4294967296) >>> 0);
}

export function ntpRequest(us: number): Uint8Array {
  const w = new Buf();
  w.u8(0x23); w.u8(0); w.u8(6); w.u8(0xe9); // LI 0, VN 4, mode 3; poll 2^6; precision
  w.u32(0); w.u32(0); w.u32(0);
  w.u32(0); w.u32(0); w.u32(0); w.u32(0); w.u32(0); w.u32(0);
  ntpTime(w, us);
  return w.out();
}

export function ntpResponse(us: number, stratum: number, refId: number): Uint8Array {
  const w = new Buf();
  w.u8(0x24); w.u8(stratum); w.u8(6); w.u8(0xe9); // mode 4
  w.u32(0x00000010); w.u32(0x00000020); w.u32(refId);
  ntpTime(w, us - 16e6); ntpTime(w, us - 1000); ntpTime(w, us - 500); ntpTime(w, us);
  return w.out();
}

// ---------------------------------------------------------------------------------------------
// Discovery and logging text protocols

export function ssdpSearch(st: string): Uint8Array {
  return ascii(`M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\nMX: 2\r\nST: ${st}\r\n\r\n`);
}

/** RFC 5424 syslog line as a gateway's agent sends it over UDP 514. */
export function syslogLine(pri: number, isoTime: string, host: string, app: string, msg: string): Uint8Array {
  return ascii(`<${pri}>1 ${isoTime} ${host} ${app} - - - ${msg}`);
}

/** Telnet server greeting: DO ECHO, DO NAWS, WILL SGA (RFC 857, 1073, 858) — what a BusyBox telnetd opens with. */
export const TELNET_GREETING = Uint8Array.of(0xff, 0xfd, 0x01, 0xff, 0xfd, 0x1f, 0xff, 0xfb, 0x03);
export const TELNET_REPLY = Uint8Array.of(0xff, 0xfc, 0x01, 0xff, 0xfc, 0x1f, 0xff, 0xfd, 0x03);

export function ascii(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Encodings that DNS tunnels put in labels

const B32 = 'abcdefghijklmnopqrstuvwxyz012345'; // iodine's base32 alphabet (case-insensitive)
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'; // base64url, RFC 4648 §5
const HEX = '0123456789abcdef';

export function base32(data: Uint8Array): string {
  let out = '', acc = 0, bits = 0;
  for (const x of data) {
    acc = (acc << 8) | x; bits += 8;
    while (bits >= 5) { out += B32[(acc >>> (bits - 5)) & 31]; bits -= 5; }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += B32[(acc << (5 - bits)) & 31];
  return out;
}

export function base64url(data: Uint8Array): string {
  let out = '', acc = 0, bits = 0;
  for (const x of data) {
    acc = (acc << 8) | x; bits += 8;
    while (bits >= 6) { out += B64[(acc >>> (bits - 6)) & 63]; bits -= 6; }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += B64[(acc << (6 - bits)) & 63];
  return out;
}

export function hex(data: Uint8Array): string {
  let out = '';
  for (const x of data) out += HEX[x >>> 4] + HEX[x & 15];
  return out;
}

/** Splits an encoded string into DNS labels of at most `max` characters. */
export function labels(s: string, max: number): string {
  const out: string[] = [];
  for (let i = 0; i < s.length; i += max) out.push(s.slice(i, i + max));
  return out.join('.');
}
