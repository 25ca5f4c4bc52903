// The frame writer: one inner IPv4 packet (TCP or UDP) of a device, as the gateway mirrors it
// (outer Ethernet / IPv4 / GRE with a key / inner Ethernet / IPv4 / transport / payload), written
// straight into a reused scratch buffer and streamed to a classic pcap. No allocation per packet:
// tens of millions of packets must take minutes at most.
//
// The outer 42 bytes come from synth/mirror-wrap.ts (wrapInGre on an empty frame, once), so the
// mirror encapsulation is the same code the injector and the demo capture use; only its length and
// header checksum change per packet. Inner IPv4 header, TCP and UDP checksums are computed (Suricata
// and Zeek verify them by default), with the RFC 768/9293 pseudo-header summed in place.

import { PcapWriter } from '../capture-file.js';
import { internetChecksum, patchIpv4Checksum } from '../checksum.js';
import { GRE_MIRROR_OVERHEAD, wrapInGre } from '../mirror-wrap.js';
import { LINKTYPE_ETHERNET } from '../../gre-decap/layers.js';
import { Rand } from './random.js';
import { put16, put32 } from '../../net/put.js';

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

/** Payload kinds for tcp()/udp(). */
export const PAY_NONE = 0;
export const PAY_BYTES = 1; // the given bytes
export const PAY_FILL = 2; // seeded random bytes (ciphertext, tunnel data, flood payload)
export const PAY_TLS = 3; // one TLS 1.2/1.3 application-data record (RFC 8446 §5.1) filling the payload

const OUTER = GRE_MIRROR_OVERHEAD; // 42: outer Ethernet + IPv4 + GRE with key
const ETH = OUTER; // inner Ethernet
const IP = ETH + 14; // inner IPv4
const L4 = IP + 20; // transport
const FILLER = 1 << 16;
const MAX_PAYLOAD = 1500;

/** Devices live in 10.128.0.0/9 (the SORACOM VPG default the collector also assumes). */
export function isDevice(ip: number): boolean {
  return ip >>> 23 === 21;
}

export function ip4(a: number, b: number, c: number, d: number): number {
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

export function ipText(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}

export function parseIp(s: string): number {
  const p = s.split('.').map(Number);
  return ip4(p[0], p[1], p[2], p[3]);
}

export interface MirrorOptions {
  /** The gateway that mirrors, and the collector it sends to. */
  src?: string;
  dst?: string;
  /** GRE key: the mirror session. */
  key?: number;
  seed: number;
}

export class MirrorWriter {
  packets = 0;
  fileBytes = 24;
  lastUs = 0;
  private readonly out: PcapWriter;
  private readonly b = new Uint8Array(OUTER + 14 + 60 + 60 + MAX_PAYLOAD);
  private readonly filler: Uint8Array;
  private readonly r: Rand;
  private readonly upId = new Uint16Array(65536);
  private downId = 0;

  constructor(path: string, o: MirrorOptions) {
    this.r = new Rand(o.seed);
    this.filler = this.r.bytes(FILLER + MAX_PAYLOAD);
    const empty = new Uint8Array(14);
    const wrapped = wrapInGre({ buf: empty, off: 0, capLen: 14, linkType: LINKTYPE_ETHERNET },
      { src: o.src ?? '192.0.2.1', dst: o.dst ?? '192.0.2.2', key: o.key ?? 100 });
    if (wrapped.length !== OUTER + 14) throw new Error(`unexpected GRE mirror overhead ${wrapped.length - 14}`);
    this.b.set(wrapped.subarray(0, OUTER), 0);
    this.out = new PcapWriter(path, { linkType: LINKTYPE_ETHERNET });
  }

  /**
   * One TCP segment at time `us` (µs since the epoch). `kind` says what the payload is (PAY_*);
   * `opts` are TCP options (SYN/SYN-ACK); `ipId` -1 picks the sender's next IP id; `df` sets Don't Fragment.
   */
  tcp(us: number, src: number, dst: number, sport: number, dport: number, flags: number, seq: number, ack: number,
    win: number, kind: number, len: number, bytes: Uint8Array | null = null, opts: Uint8Array | null = null,
    ipId = -1, df = true): void {
    const b = this.b;
    const ol = opts === null ? 0 : (opts.length + 3) & ~3;
    const hl = 20 + ol;
    const pay = L4 + hl;
    put16(b, L4, sport);
    put16(b, L4 + 2, dport);
    put32(b, L4 + 4, seq >>> 0);
    put32(b, L4 + 8, flags & TCP_ACK ? ack >>> 0 : 0);
    b[L4 + 12] = (hl >>> 2) << 4;
    b[L4 + 13] = flags;
    put16(b, L4 + 14, win);
    b[L4 + 16] = 0; b[L4 + 17] = 0; b[L4 + 18] = 0; b[L4 + 19] = 0;
    if (opts !== null) {
      b.set(opts, L4 + 20);
      for (let i = L4 + 20 + opts.length; i < pay; i++) b[i] = 0;
    }
    this.payload(pay, kind, len, bytes);
    const l4len = hl + len;
    put16(b, L4 + 16, this.l4Checksum(6, src, dst, l4len));
    this.finish(us, src, dst, 6, l4len, ipId, df);
  }

  /** One UDP datagram (checksum computed; 0 is sent as 0xffff, RFC 768). */
  udp(us: number, src: number, dst: number, sport: number, dport: number, kind: number, len: number,
    bytes: Uint8Array | null = null, ipId = -1): void {
    const b = this.b;
    put16(b, L4, sport);
    put16(b, L4 + 2, dport);
    put16(b, L4 + 4, 8 + len);
    b[L4 + 6] = 0; b[L4 + 7] = 0;
    this.payload(L4 + 8, kind, len, bytes);
    const c = this.l4Checksum(17, src, dst, 8 + len);
    put16(b, L4 + 6, c === 0 ? 0xffff : c);
    this.finish(us, src, dst, 17, 8 + len, ipId, false);
  }

  close(): void {
    this.out.close();
  }

  private payload(at: number, kind: number, len: number, bytes: Uint8Array | null): void {
    if (len > MAX_PAYLOAD) throw new RangeError(`payload of ${len} bytes exceeds ${MAX_PAYLOAD}`);
    const b = this.b;
    if (kind === PAY_NONE || len === 0) return;
    if (kind === PAY_BYTES) {
      if (bytes === null || bytes.length < len) throw new RangeError('PAY_BYTES needs the bytes');
      b.set(len === bytes.length ? bytes : bytes.subarray(0, len), at);
      return;
    }
    const from = this.r.u32() & (FILLER - 1);
    b.set(this.filler.subarray(from, from + len), at);
    if (kind === PAY_TLS) {
      if (len < 6) throw new RangeError(`a TLS record needs at least 6 bytes, got ${len}`);
      b[at] = 0x17; b[at + 1] = 0x03; b[at + 2] = 0x03;
      put16(b, at + 3, len - 5);
    }
  }

  /**
   * Transport checksum over the pseudo-header (RFC 9293 §3.1): the IPv4 header's TTL, protocol and
   * checksum bytes (offsets 8–11) sit right before the addresses, so they are set to 0, proto and
   * the transport length, and one sum over [IP+8, end) covers pseudo-header and segment. finish()
   * then writes the real TTL and header checksum.
   */
  private l4Checksum(proto: number, src: number, dst: number, l4len: number): number {
    const b = this.b;
    b[IP + 8] = 0;
    b[IP + 9] = proto;
    put16(b, IP + 10, l4len);
    put32(b, IP + 12, src);
    put32(b, IP + 16, dst);
    return internetChecksum(b, IP + 8, L4 + l4len);
  }

  private finish(us: number, src: number, dst: number, proto: number, l4len: number, ipId: number, df: boolean): void {
    if (us < this.lastUs) throw new Error(`packet at ${us} µs written after one at ${this.lastUs} µs: generators must run in time order`);
    this.lastUs = us;
    const b = this.b;
    const up = isDevice(src);
    // Inner Ethernet: the device's locally administered MAC and the gateway's; multicast per RFC 1112 §6.4.
    if (up) {
      if (dst >>> 28 === 14) { b[ETH] = 0x01; b[ETH + 1] = 0x00; b[ETH + 2] = 0x5e; b[ETH + 3] = (dst >>> 16) & 0x7f; b[ETH + 4] = (dst >>> 8) & 0xff; b[ETH + 5] = dst & 0xff; }
      else gatewayMac(b, ETH);
      deviceMac(b, ETH + 6, src);
    } else {
      deviceMac(b, ETH, dst);
      gatewayMac(b, ETH + 6);
    }
    b[ETH + 12] = 0x08; b[ETH + 13] = 0x00;
    const ipLen = 20 + l4len;
    b[IP] = 0x45;
    b[IP + 1] = 0;
    put16(b, IP + 2, ipLen);
    put16(b, IP + 4, ipId >= 0 ? ipId : up ? this.upId[src & 0xffff]++ : (this.downId = (this.downId + 1 + (mixByte(src) & 7)) & 0xffff));
    put16(b, IP + 6, df ? 0x4000 : 0);
    // Multicast TTLs: 255 on the link-local block (mDNS, RFC 6762 §11), 2 for SSDP (UPnP DA 1.1 §1.1.2).
    b[IP + 8] = !up ? senderTtl(src) : dst >>> 8 === 0xe00000 ? 255 : dst >>> 28 === 14 ? 2 : 64;
    b[IP + 9] = proto;
    patchIpv4Checksum(b, IP);
    const frameLen = IP + ipLen;
    put16(b, 14 + 2, frameLen - 14); // outer IPv4 total length
    patchIpv4Checksum(b, 14);
    const sec = Math.floor(us / 1e6);
    this.out.write(b, sec, (us - sec * 1e6) * 1000, frameLen, frameLen);
    this.packets++;
    this.fileBytes += 16 + frameLen;
  }
}

function mixByte(x: number): number {
  x = Math.imul(x ^ (x >>> 15), 0x2c1b3c6d);
  return (x ^ (x >>> 12)) & 0xff;
}

/** TTL as received from a sender: the operator's own hosts are one hop away, servers 8–21 hops (initial 64). */
function senderTtl(src: number): number {
  return src >>> 24 === 10 ? 63 : 64 - 8 - (mixByte(src) % 14);
}

function deviceMac(b: Uint8Array, p: number, ip: number): void {
  b[p] = 0x02; b[p + 1] = 0x1a;
  put32(b, p + 2, ip);
}

function gatewayMac(b: Uint8Array, p: number): void {
  b[p] = 0x02; b[p + 1] = 0x00; b[p + 2] = 0x5e; b[p + 3] = 0x10; b[p + 4] = 0x00; b[p + 5] = 0x01;
}
