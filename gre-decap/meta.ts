// PacketMeta: everything the pipeline needs from one frame, as numbers, in one object reused
// for every frame (gopacket's DecodingLayer contract). Addresses are byte offsets into the
// frame buffer, valid only until the next frame is decoded; IPv4 addresses are also kept as
// unsigned 32-bit numbers because hashing them is the common case.
//
// Validity: the ip* fields when ipCount > 0; the transport fields (ports, flags, ICMP type, payload)
// when l4 !== 0; the first tunDepth entries of the tunnel stack. Fields not valid for a frame keep
// stale values from an earlier one: resetting them all would cost more stores per packet than the
// decoding itself. After a frame with reason != 0, only the layers decoded before the failure are valid.

export const MAX_TUNNELS = 16; // capacity of the tunnel stack; the configured depth limit is ≤ this

export class PacketMeta {
  // frame
  tsSec = 0;
  tsNsec = 0;
  capLen = 0; // bytes captured
  wireLen = 0; // bytes on the wire (pcap orig_len)
  linkType = 0;

  // walk result
  reason = 0; // R_* code that stopped the walk, 0 when the walk ended normally
  notes = 0; // N_* bits
  seen = 0; // bit per layer ID met
  layerCount = 0;
  stopType = 0; // EtherType / IP protocol / link type that ended the walk undecoded (N_UNDECODED_PAYLOAD)

  // outermost IP header (the mirror's own addresses when the frame is tunnelled)
  outerVersion = 0; // 0 = none, 4, 6
  outerSrcOff = 0;
  outerDstOff = 0;

  // innermost IP header (the last one met; equals the outer one when nothing is tunnelled)
  ipVersion = 0;
  ipCount = 0; // IP headers met in this frame
  ipSrcOff = 0;
  ipDstOff = 0;
  ipSrc4 = 0;
  ipDst4 = 0;
  ipTotalLen = 0; // declared length: IPv4 total length, or IPv6 payload length + 40
  ipProto = 0; // protocol after IPv6 extension headers
  ipFragOffset = 0; // in bytes; a non-first fragment carries no transport header

  // tunnel stack, outermost first
  tunDepth = 0;
  readonly tunType = new Uint8Array(MAX_TUNNELS);
  readonly tunId = new Uint32Array(MAX_TUNNELS); // GRE key, PPTP call id, ERSPAN session, VNI
  readonly tunHasId = new Uint8Array(MAX_TUNNELS);
  readonly tunFlags = new Uint16Array(MAX_TUNNELS); // GRE flag/version word for GRE-family layers

  // innermost Ethernet / VLAN
  vlanCount = 0;
  vlanId = 0; // innermost tag's VID

  // transport of the innermost IP
  l4 = 0; // L_TCP / L_UDP / L_ICMP / L_ICMPV6, 0 = none decoded
  srcPort = 0;
  dstPort = 0;
  tcpFlags = 0;
  tcpHeaderLen = 0;
  icmpType = 0;
  icmpCode = 0;
  payloadOff = 0;
  payloadLen = 0;

  // cursor shared by the decoders: where the next layer starts and ends
  next = 0;
  nextEnd = 0;

  /** An IP header of `version` met, its addresses at these offsets: the innermost so far, and the outer one if it is the first. */
  enterIp(version: number, srcOff: number, dstOff: number): void {
    if (this.ipCount === 0) {
      this.outerVersion = version;
      this.outerSrcOff = srcOff;
      this.outerDstOff = dstOff;
    }
    this.ipCount++;
    this.ipVersion = version;
    this.ipSrcOff = srcOff;
    this.ipDstOff = dstOff;
  }

  /** Reset what says which other fields are valid (see the validity note above). */
  reset(): void {
    this.reason = 0;
    this.notes = 0;
    this.stopType = 0;
    this.outerVersion = 0;
    this.ipVersion = 0;
    this.ipCount = 0;
    this.tunDepth = 0;
    this.vlanCount = 0;
    this.l4 = 0;
  }
}
