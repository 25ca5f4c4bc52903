// What a mirroring gateway does to each copied frame: outer Ethernet / IPv4 / GRE, carrying the
// original Ethernet frame (GRE protocol 0x6558, transparent Ethernet bridging) or, for a capture
// without a link layer, its IP packet (0x0800 / 0x86DD). One function, so the injector that plays a
// gateway on a veth and the tests that predict what the collector must see build the same bytes.
// Built with synth/packets.ts (a few small allocations per frame: a test and replay tool, not a hot path).

import { ethernet, gre, ipv4 } from './packets.js';
import {
  LINKTYPE_ETHERNET, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_RAW,
  ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_TEB,
} from '../gre-decap/layers.js';
import type { ErrorCode } from '../contracts/errors.js';

const IPPROTO_GRE = 47;
/** Outer Ethernet + IPv4 (no options) + GRE with a key: what wrapping adds at most. */
export const GRE_MIRROR_OVERHEAD = 14 + 20 + 8;

export interface GreMirrorOptions {
  /** Outer IPv4 source (the gateway) and destination (the collector). */
  src: string;
  dst: string;
  /** Outer Ethernet addresses; defaults are locally administered unicast addresses. */
  srcMac?: string;
  dstMac?: string;
  /** GRE key (RFC 2890), e.g. a session or tenant id; omitted: no K bit. */
  key?: number;
  /** Outer IPv4 TTL (default 64). The outer header has DF set and identification 0 (RFC 6864 atomic datagram). */
  ttl?: number;
}

/** The bytes of one captured frame and the link type they are in (a gre-decap Frame fits). */
export interface LinkFrame {
  buf: Uint8Array;
  off: number;
  capLen: number;
  linkType: number;
}

/** Thrown for a frame that cannot be mirrored: unknown link type, no IP where IP is needed, too large for IPv4. */
export class MirrorWrapError extends RangeError {
  readonly code: ErrorCode = 'TWM0001';
}

/**
 * The GRE protocol type and the bytes to carry for a captured frame: an Ethernet frame travels whole
 * (0x6558); raw IP (LINKTYPE_RAW/IPV4/IPV6) travels as IP (0x0800/0x86DD by version nibble); Linux
 * cooked captures (SLL, SLL2) lose their pseudo-header and travel as the protocol it names.
 */
export function grePayloadOf(f: LinkFrame): { protocol: number; off: number; len: number } {
  const b = f.buf;
  const o = f.off;
  const n = f.capLen;
  switch (f.linkType) {
    case LINKTYPE_ETHERNET:
      return { protocol: ETHERTYPE_TEB, off: o, len: n };
    case LINKTYPE_RAW:
    case LINKTYPE_IPV4:
    case LINKTYPE_IPV6: {
      const v = n > 0 ? b[o] >>> 4 : 0;
      if (v === 4) return { protocol: ETHERTYPE_IPV4, off: o, len: n };
      if (v === 6) return { protocol: ETHERTYPE_IPV6, off: o, len: n };
      throw new MirrorWrapError(`raw IP frame of ${n} bytes has IP version ${v}`);
    }
    case LINKTYPE_LINUX_SLL:
      if (n < 16) throw new MirrorWrapError(`Linux SLL frame of ${n} bytes is shorter than its 16-byte header`);
      return { protocol: (b[o + 14] << 8) | b[o + 15], off: o + 16, len: n - 16 };
    case LINKTYPE_LINUX_SLL2:
      if (n < 20) throw new MirrorWrapError(`Linux SLL2 frame of ${n} bytes is shorter than its 20-byte header`);
      return { protocol: (b[o] << 8) | b[o + 1], off: o + 20, len: n - 20 };
    default:
      throw new MirrorWrapError(`link type ${f.linkType} cannot be mirrored in GRE (Ethernet, raw IP, Linux SLL/SLL2 can)`);
  }
}

/** The frame as a gateway mirrors it: a new Ethernet frame, Ethernet / IPv4 / GRE / original. */
export function wrapInGre(f: LinkFrame, o: GreMirrorOptions): Uint8Array {
  if (o.key !== undefined && (!Number.isInteger(o.key) || o.key < 0 || o.key > 0xffffffff)) {
    throw new MirrorWrapError(`GRE key ${o.key} is not an integer in 0..4294967295`);
  }
  const p = grePayloadOf(f);
  const greLen = 4 + (o.key !== undefined ? 4 : 0);
  if (20 + greLen + p.len > 0xffff) {
    throw new MirrorWrapError(`a ${p.len}-byte frame does not fit in one IPv4 packet once wrapped in GRE`);
  }
  const inner = f.buf.subarray(p.off, p.off + p.len);
  return ethernet(
    ipv4(gre(inner, { protocol: p.protocol, key: o.key }), { src: o.src, dst: o.dst, proto: IPPROTO_GRE, ttl: o.ttl, dontFragment: true }),
    { src: o.srcMac ?? '02:00:00:00:00:01', dst: o.dstMac ?? '02:00:00:00:00:02', etherType: ETHERTYPE_IPV4 },
  );
}
