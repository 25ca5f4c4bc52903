// Small composable packet builders for tests: each wraps a payload in one header and returns
// new bytes, so a frame reads inside out: ethernet(ipv4(gre(ipv4(udp(bytes(8)), ...), ...), ...)).
// Written for clarity, not speed (the fleet generator uses them only to build templates once).
// Transport checksums (UDP, TCP, ICMPv6) are left 0; IPv4 header, ICMP and GRE checksums are computed.

import { internetChecksum, patchIpv4Checksum } from './checksum.js';
import { put16, put32 } from '../net/put.js';

function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function checkRange(name: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`${name} ${v} is not an integer in 0..${max}`);
}

function mac(s: string): Uint8Array {
  const parts = s.split(/[:-]/);
  if (parts.length !== 6) throw new RangeError(`bad MAC address ${s}`);
  const out = new Uint8Array(6);
  for (let i = 0; i < 6; i++) {
    if (!/^[0-9a-fA-F]{1,2}$/.test(parts[i])) throw new RangeError(`bad MAC address ${s}`);
    out[i] = parseInt(parts[i], 16);
  }
  return out;
}

function ipv4Addr(s: string): Uint8Array {
  const parts = s.split('.');
  if (parts.length !== 4) throw new RangeError(`bad IPv4 address ${s}`);
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const v = Number(parts[i]);
    checkRange('IPv4 octet', v, 255);
    out[i] = v;
  }
  return out;
}

/** RFC 4291 §2.2 text forms: full, '::'-compressed, and a dotted IPv4 tail. */
function ipv6Addr(s: string): Uint8Array {
  let text = s;
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) >= 0) {
    const v4 = ipv4Addr(text.slice(lastColon + 1));
    const hex16 = (a: number, b: number): string => ((a << 8) | b).toString(16);
    text = `${text.slice(0, lastColon + 1)}${hex16(v4[0], v4[1])}:${hex16(v4[2], v4[3])}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) throw new RangeError(`bad IPv6 address ${s}`);
  const words = (h: string): number[] => (h === '' ? [] : h.split(':').map((w) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(w)) throw new RangeError(`bad IPv6 address ${s}`);
    return parseInt(w, 16);
  }));
  const head = words(halves[0]);
  const tail = halves.length === 2 ? words(halves[1]) : [];
  const given = head.length + tail.length;
  if (halves.length === 1 ? given !== 8 : given > 7) throw new RangeError(`bad IPv6 address ${s}`);
  const all = [...head, ...new Array<number>(8 - given).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((w, i) => put16(out, i * 2, w));
  return out;
}

/** Ethernet II (IEEE 802.3 clause 3) with optional 802.1Q tags (IEEE 802.1Q §9.6), outermost first. */
export function ethernet(
  payload: Uint8Array,
  o: { etherType?: number; src?: string; dst?: string; vlans?: number[] } = {},
): Uint8Array {
  const vlans = o.vlans ?? [];
  const h = new Uint8Array(14 + 4 * vlans.length);
  h.set(mac(o.dst ?? '02:00:00:00:00:02'), 0);
  h.set(mac(o.src ?? '02:00:00:00:00:01'), 6);
  let off = 12;
  for (const vid of vlans) {
    checkRange('VLAN id', vid, 0xfff);
    put16(h, off, 0x8100);
    put16(h, off + 2, vid); // PCP 0, DEI 0
    off += 4;
  }
  put16(h, off, o.etherType ?? 0x0800);
  return concat(h, payload);
}

/** IPv4 (RFC 791 §3.1); the header checksum is computed over the final header. */
export function ipv4(
  payload: Uint8Array,
  o: {
    src: string; dst: string; proto: number; ttl?: number; id?: number; dontFragment?: boolean;
    moreFragments?: boolean; fragOffset?: number; totalLength?: number; options?: Uint8Array;
  },
): Uint8Array {
  const opts = o.options ?? new Uint8Array(0);
  if (opts.length % 4 !== 0 || opts.length > 40) throw new RangeError('IPv4 options must be a multiple of 4, at most 40 bytes');
  const fragOffset = o.fragOffset ?? 0;
  if (fragOffset % 8 !== 0) throw new RangeError('fragOffset is in bytes and must be a multiple of 8');
  checkRange('fragOffset / 8', fragOffset / 8, 0x1fff);
  const hlen = 20 + opts.length;
  const h = new Uint8Array(hlen);
  h[0] = 0x40 | (hlen >>> 2);
  put16(h, 2, o.totalLength ?? hlen + payload.length);
  put16(h, 4, o.id ?? 0);
  put16(h, 6, (o.dontFragment ? 0x4000 : 0) | (o.moreFragments ? 0x2000 : 0) | (fragOffset >>> 3));
  h[8] = o.ttl ?? 64;
  h[9] = o.proto;
  h.set(ipv4Addr(o.src), 12);
  h.set(ipv4Addr(o.dst), 16);
  h.set(opts, 20);
  patchIpv4Checksum(h, 0);
  return concat(h, payload);
}

const IPV6_FRAGMENT = 44;

/**
 * IPv6 (RFC 8200 §3) with extension headers (§4) chained in order. `nextHeader` is the protocol
 * after the last extension header; each extension's `next` overrides its own Next Header field.
 * Hop-by-hop (0), routing (43) and destination options (60) are next, length and `body`, zero padded
 * to a multiple of 8 (zero bytes are Pad1 options, RFC 8200 §4.2). The fragment header (44, §4.5) is
 * 8 bytes: next, reserved, then `body` (up to 6 bytes: offset/flags word and identification).
 */
export function ipv6(
  payload: Uint8Array,
  o: {
    src: string; dst: string; nextHeader: number; hopLimit?: number;
    ext?: Array<{ type: 0 | 43 | 44 | 60; next?: number; body?: Uint8Array }>; payloadLength?: number;
  },
): Uint8Array {
  const ext = o.ext ?? [];
  const exts = ext.map((e, i) => {
    const next = e.next ?? (i + 1 < ext.length ? ext[i + 1].type : o.nextHeader);
    const body = e.body ?? new Uint8Array(0);
    if (e.type === IPV6_FRAGMENT) {
      if (body.length > 6) throw new RangeError('fragment header body is at most 6 bytes');
      const h = new Uint8Array(8);
      h[0] = next;
      h.set(body, 2);
      return h;
    }
    const len = Math.ceil((2 + body.length) / 8) * 8;
    checkRange('extension header length units', len / 8 - 1, 255);
    const h = new Uint8Array(len);
    h[0] = next;
    h[1] = len / 8 - 1; // Hdr Ext Len: 8-octet units, not counting the first 8
    h.set(body, 2);
    return h;
  });
  const rest = concat(...exts, payload);
  const h = new Uint8Array(40);
  h[0] = 0x60; // version 6, traffic class 0, flow label 0
  put16(h, 4, o.payloadLength ?? rest.length);
  h[6] = ext.length > 0 ? ext[0].type : o.nextHeader;
  h[7] = o.hopLimit ?? 64;
  h.set(ipv6Addr(o.src), 8);
  h.set(ipv6Addr(o.dst), 24);
  return concat(h, rest);
}

/**
 * GRE: RFC 2784 (C bit, version 0), RFC 2890 (K and S bits), RFC 1701 (R bit, offset and SRE
 * routing list), RFC 2637 §4.1 (version 1 "enhanced GRE": K always set, key = payload length << 16
 * | call id, A bit and acknowledgment after the sequence number). Field order: checksum/offset,
 * key, sequence, acknowledgment (v1), routing. The checksum, when asked for, covers header and
 * payload. With `routing`, the offset field is 0: the first SRE is the active one.
 */
export function gre(
  payload: Uint8Array,
  o: {
    protocol: number; key?: number; seq?: number; checksum?: boolean; version?: 0 | 1; ack?: number;
    routing?: Uint8Array;
  },
): Uint8Array {
  const version = o.version ?? 0;
  if (o.ack !== undefined && version !== 1) throw new RangeError('GRE ack is only defined for version 1');
  const key = version === 1 ? (o.key ?? (payload.length << 16) >>> 0) : o.key;
  const hasCsumField = o.checksum === true || o.routing !== undefined;
  let flags = version;
  if (o.checksum) flags |= 0x8000;
  if (o.routing) flags |= 0x4000;
  if (key !== undefined) flags |= 0x2000;
  if (o.seq !== undefined) flags |= 0x1000;
  if (o.ack !== undefined) flags |= 0x0080;
  const hlen = 4 + (hasCsumField ? 4 : 0) + (key !== undefined ? 4 : 0) + (o.seq !== undefined ? 4 : 0)
    + (o.ack !== undefined ? 4 : 0);
  const h = new Uint8Array(hlen);
  put16(h, 0, flags);
  put16(h, 2, o.protocol);
  let off = hasCsumField ? 8 : 4;
  if (key !== undefined) { put32(h, off, key); off += 4; }
  if (o.seq !== undefined) { put32(h, off, o.seq); off += 4; }
  if (o.ack !== undefined) put32(h, off, o.ack);
  const out = concat(h, o.routing ?? new Uint8Array(0), payload);
  if (o.checksum) put16(out, 4, internetChecksum(out, 0, out.length));
  return out;
}

/**
 * ERSPAN type II header (draft-foschiano-erspan-03 §4.1), 8 bytes: Ver=1 | VLAN, COS | En=0 | T=0 |
 * session id, reserved | index. Goes inside GRE protocol 0x88BE with the S bit.
 */
export function erspan2(payload: Uint8Array, o: { session: number; vlan?: number; cos?: number; index?: number }): Uint8Array {
  const vlan = o.vlan ?? 0, cos = o.cos ?? 0, index = o.index ?? 0;
  checkRange('ERSPAN session', o.session, 0x3ff);
  checkRange('ERSPAN vlan', vlan, 0xfff);
  checkRange('ERSPAN cos', cos, 7);
  checkRange('ERSPAN index', index, 0xfffff);
  const h = new Uint8Array(8);
  put16(h, 0, (1 << 12) | vlan);
  put16(h, 2, (cos << 13) | o.session);
  put32(h, 4, index);
  return concat(h, payload);
}

/**
 * ERSPAN type III header (draft-foschiano-erspan-03 §4.2), 12 bytes: Ver=2 | VLAN, COS=0 | BSO=0 |
 * T=0 | session id, timestamp, SGT=0 | P=0 | FT=0 | HwID=0 | D=0 | Gra=0 | O. With `platform`, the
 * O bit is set and the 8-byte platform-specific subheader follows. Goes inside GRE protocol 0x22EB.
 */
export function erspan3(
  payload: Uint8Array,
  o: { session: number; vlan?: number; timestamp?: number; platform?: Uint8Array },
): Uint8Array {
  const vlan = o.vlan ?? 0;
  checkRange('ERSPAN session', o.session, 0x3ff);
  checkRange('ERSPAN vlan', vlan, 0xfff);
  if (o.platform && o.platform.length !== 8) throw new RangeError('ERSPAN III platform subheader is 8 bytes');
  const h = new Uint8Array(12);
  put16(h, 0, (2 << 12) | vlan);
  put16(h, 2, o.session);
  put32(h, 4, o.timestamp ?? 0);
  if (o.platform) h[11] = 0x01;
  return concat(h, o.platform ?? new Uint8Array(0), payload);
}

/** VXLAN (RFC 7348 §5): flags (I = 0x08), 24 reserved bits, 24-bit VNI, 8 reserved bits. */
export function vxlan(payload: Uint8Array, o: { vni: number; flags?: number }): Uint8Array {
  checkRange('VNI', o.vni, 0xffffff);
  const h = new Uint8Array(8);
  h[0] = o.flags ?? 0x08;
  put32(h, 4, o.vni << 8);
  return concat(h, payload);
}

/** Geneve (RFC 8926 §3.4): Ver | Opt Len (4-byte units), O=0 | C=0, protocol type, VNI, options. */
export function geneve(
  payload: Uint8Array,
  o: { vni: number; protocol?: number; options?: Uint8Array; version?: number },
): Uint8Array {
  const opts = o.options ?? new Uint8Array(0);
  if (opts.length % 4 !== 0) throw new RangeError('Geneve options must be a multiple of 4 bytes');
  checkRange('Geneve option length units', opts.length / 4, 0x3f);
  checkRange('Geneve version', o.version ?? 0, 3);
  checkRange('VNI', o.vni, 0xffffff);
  const h = new Uint8Array(8);
  h[0] = ((o.version ?? 0) << 6) | (opts.length / 4);
  put16(h, 2, o.protocol ?? 0x6558);
  put32(h, 4, o.vni << 8);
  return concat(h, opts, payload);
}

/** UDP (RFC 768); checksum 0 ("not computed", valid over IPv4). */
export function udp(payload: Uint8Array, o: { src: number; dst: number; length?: number }): Uint8Array {
  const h = new Uint8Array(8);
  put16(h, 0, o.src);
  put16(h, 2, o.dst);
  put16(h, 4, o.length ?? 8 + payload.length);
  return concat(h, payload);
}

/**
 * TCP (RFC 9293 §3.1); options are zero padded (End of Option List) to a multiple of 4, window
 * 65535, checksum 0. `flags` holds the 8 flag bits (FIN 0x01 .. CWR 0x80).
 */
export function tcp(
  payload: Uint8Array,
  o: { src: number; dst: number; flags?: number; seq?: number; ack?: number; options?: Uint8Array },
): Uint8Array {
  const opts = o.options ?? new Uint8Array(0);
  const hlen = 20 + Math.ceil(opts.length / 4) * 4;
  if (hlen > 60) throw new RangeError('TCP options are at most 40 bytes');
  const h = new Uint8Array(hlen);
  put16(h, 0, o.src);
  put16(h, 2, o.dst);
  put32(h, 4, o.seq ?? 0);
  put32(h, 8, o.ack ?? 0);
  h[12] = (hlen >>> 2) << 4;
  h[13] = o.flags ?? 0x10;
  put16(h, 14, 65535);
  h.set(opts, 20);
  return concat(h, payload);
}

/**
 * ICMP (RFC 792): type, code, checksum and a zero 4-byte rest-of-header, so the message has the
 * 8 bytes every decoder expects; the checksum covers the whole message.
 */
export function icmp(payload: Uint8Array, o: { type: number; code?: number }): Uint8Array {
  const h = new Uint8Array(8);
  h[0] = o.type;
  h[1] = o.code ?? 0;
  const out = concat(h, payload);
  put16(out, 2, internetChecksum(out, 0, out.length));
  return out;
}

/** ICMPv6 (RFC 4443 §2.1): as icmp(), but the checksum (which needs the IPv6 pseudo-header) is 0. */
export function icmpv6(payload: Uint8Array, o: { type: number; code?: number }): Uint8Array {
  const h = new Uint8Array(8);
  h[0] = o.type;
  h[1] = o.code ?? 0;
  return concat(h, payload);
}

/** `n` bytes of `fill` (default 0). */
export function bytes(n: number, fill = 0): Uint8Array {
  return new Uint8Array(n).fill(fill);
}

/** Hex text to bytes; whitespace is ignored, so annotated dumps ('45 00 00 73') paste as they are. */
export function hex(s: string): Uint8Array {
  const t = s.replace(/\s+/g, '');
  if (t.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(t)) throw new RangeError(`bad hex string: ${s}`);
  const out = new Uint8Array(t.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(t.slice(i * 2, i * 2 + 2), 16);
  return out;
}
