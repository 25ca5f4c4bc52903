// The fast path: the shapes nearly every mirrored frame has, decoded in one straight run before the
// walker (./decap.ts) is tried:
//
//   Ethernet → IPv4 → GRE (version 0, no checksum/routing; key and sequence allowed) → IPv4 | Ethernet → IPv4
//   Ethernet → IPv4 → UDP to a VXLAN port → VXLAN → Ethernet → IPv4
//   … → inner IPv4 (not a fragment) → TCP | UDP (not to a tunnel port)
//
// Everything is checked before anything is written, so a frame that is not exactly one of these
// shapes (a VLAN tag, a fragment, a truncated or short header, IPv6, an option the walker would note)
// leaves the PacketMeta untouched and goes to the walker. A frame it takes ends with every field the
// walker would have set, set to the same value (test/fast-path.test.ts: every fixture, 1M fuzzed
// frames). Returns false when it does not take the frame.

import {
  L_ETHERNET, L_IPV4, L_GRE, L_VXLAN, L_TCP, L_UDP, T_GRE, T_VXLAN, ETHERTYPE_IPV4, ETHERTYPE_TEB,
} from './layers.js';
import type { PacketMeta } from './meta.js';

const GRE_ALLOWED = 0x2000 | 0x1000; // K, S: anything else (C, R, recursion, flags, version) goes to the walker

const SEEN_GRE = (1 << L_ETHERNET) | (1 << L_IPV4) | (1 << L_GRE);
const SEEN_VXLAN = (1 << L_ETHERNET) | (1 << L_IPV4) | (1 << L_UDP) | (1 << L_VXLAN);

export function fastDecode(b: Uint8Array, off: number, capLen: number, m: PacketMeta, udpTunnel: Uint8Array, maxLayers: number): boolean {
  const end = off + capLen;
  // Outer Ethernet + IPv4.
  if (capLen < 34 || b[off + 12] !== 0x08 || b[off + 13] !== 0x00) return false;
  const o4 = off + 14;
  const ovihl = b[o4];
  if (ovihl >> 4 !== 4) return false;
  const oihl = (ovihl & 0x0f) << 2;
  if (oihl < 20 || o4 + oihl > end) return false;
  const ototal = (b[o4 + 2] << 8) | b[o4 + 3];
  const oEnd = o4 + ototal;
  if (ototal < oihl || oEnd > end || (((b[o4 + 6] << 8) | b[o4 + 7]) & 0x3fff) !== 0) return false;
  const oproto = b[o4 + 9];
  let t = o4 + oihl; // the tunnel header
  let layers: number;
  let seen: number;
  let tunType: number;
  let tunId: number;
  let tunHasId: number;
  let tunFlags: number;
  let innerEth: boolean;
  let i4: number; // inner IPv4 header
  if (oproto === 47) {
    if (oEnd - t < 4) return false;
    const flags = (b[t] << 8) | b[t + 1];
    if ((flags & ~GRE_ALLOWED) !== 0) return false;
    const proto = (b[t + 2] << 8) | b[t + 3];
    let p = t + 4;
    if ((flags & 0x2000) !== 0) {
      tunId = ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
      tunHasId = 1;
      p += 4;
    } else {
      tunId = 0;
      tunHasId = 0;
    }
    if ((flags & 0x1000) !== 0) p += 4;
    if (p > oEnd) return false;
    tunType = T_GRE;
    tunFlags = flags;
    seen = SEEN_GRE;
    if (proto === ETHERTYPE_IPV4) {
      innerEth = false;
      i4 = p;
      layers = 5;
    } else if (proto === ETHERTYPE_TEB) {
      if (oEnd - p < 14 || b[p + 12] !== 0x08 || b[p + 13] !== 0x00) return false;
      innerEth = true;
      i4 = p + 14;
      layers = 6;
    } else return false;
  } else if (oproto === 17) {
    if (oEnd - t < 8) return false;
    const sp = (b[t] << 8) | b[t + 1];
    const dp = (b[t + 2] << 8) | b[t + 3];
    if ((udpTunnel[dp] || udpTunnel[sp]) !== L_VXLAN) return false;
    const v = t + 8;
    // VXLAN with the I flag, then Ethernet carrying IPv4.
    if (oEnd - v < 8 + 14 || (b[v] & 0x08) === 0 || b[v + 8 + 12] !== 0x08 || b[v + 8 + 13] !== 0x00) return false;
    tunType = T_VXLAN;
    tunId = (b[v + 4] << 16) | (b[v + 5] << 8) | b[v + 6];
    tunHasId = 1;
    tunFlags = b[v];
    seen = SEEN_VXLAN;
    innerEth = true;
    i4 = v + 8 + 14;
    layers = 7;
  } else return false;

  // Inner IPv4: whole (not cut short by the capture or the outer datagram), not a fragment.
  if (oEnd - i4 < 20) return false;
  const ivihl = b[i4];
  if (ivihl >> 4 !== 4) return false;
  const iihl = (ivihl & 0x0f) << 2;
  if (iihl < 20 || i4 + iihl > oEnd) return false;
  const itotal = (b[i4 + 2] << 8) | b[i4 + 3];
  const iEnd = i4 + itotal;
  if (itotal < iihl || iEnd > oEnd || (((b[i4 + 6] << 8) | b[i4 + 7]) & 0x3fff) !== 0) return false;
  const iproto = b[i4 + 9];
  const l = i4 + iihl; // transport header
  let hlen = 0;
  if (iproto === 6) {
    if (iEnd - l < 20) return false;
    hlen = (b[l + 12] >> 4) << 2;
    if (hlen < 20 || l + hlen > iEnd) return false;
  } else if (iproto === 17) {
    if (iEnd - l < 8) return false;
    if ((udpTunnel[(b[l + 2] << 8) | b[l + 3]] || udpTunnel[(b[l] << 8) | b[l + 1]]) !== 0) return false;
  } else return false;
  if (layers > maxLayers) return false;

  // Taken: the walker's end state.
  m.reason = 0;
  m.notes = 0;
  m.stopType = 0;
  m.vlanCount = 0;
  m.vlanId = 0;
  m.outerVersion = 4;
  m.outerSrcOff = o4 + 12;
  m.outerDstOff = o4 + 16;
  m.ipCount = 2;
  m.ipVersion = 4;
  m.ipSrcOff = i4 + 12;
  m.ipDstOff = i4 + 16;
  m.ipSrc4 = ((b[i4 + 12] << 24) | (b[i4 + 13] << 16) | (b[i4 + 14] << 8) | b[i4 + 15]) >>> 0;
  m.ipDst4 = ((b[i4 + 16] << 24) | (b[i4 + 17] << 16) | (b[i4 + 18] << 8) | b[i4 + 19]) >>> 0;
  m.ipTotalLen = itotal;
  m.ipProto = iproto;
  m.ipFragOffset = 0;
  m.tunDepth = 1;
  m.tunType[0] = tunType;
  m.tunId[0] = tunId;
  m.tunHasId[0] = tunHasId;
  m.tunFlags[0] = tunFlags;
  m.srcPort = (b[l] << 8) | b[l + 1];
  m.dstPort = (b[l + 2] << 8) | b[l + 3];
  if (iproto === 6) {
    m.l4 = L_TCP;
    m.tcpFlags = ((b[l + 12] & 0x01) << 8) | b[l + 13];
    m.tcpHeaderLen = hlen;
    m.payloadOff = l + hlen;
    m.payloadLen = iEnd - l - hlen;
    m.next = l; // a TCP header moves no cursor: it stays where the inner IPv4 left it
    m.nextEnd = iEnd;
    m.seen = seen | (1 << L_TCP) | (innerEth ? 1 << L_ETHERNET : 0);
  } else {
    m.l4 = L_UDP;
    m.payloadOff = l + 8;
    m.payloadLen = iEnd - l - 8;
    m.next = l + 8;
    m.nextEnd = iEnd;
    m.seen = seen | (1 << L_UDP) | (innerEth ? 1 << L_ETHERNET : 0);
  }
  m.layerCount = layers;
  return true;
}
