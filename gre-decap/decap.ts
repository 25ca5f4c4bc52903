// The walker: link layer → … → tunnels → … → innermost transport, one switch step per layer.
// It knows no protocol details; each decoder reports the next layer ID and where it starts.
// Configuration (which UDP ports are tunnels, how deep tunnels may nest) becomes tables and
// numbers once, at construction; the per-frame loop only indexes them.

import {
  firstLayer, L_END, L_ETHERNET, L_VLAN, L_IPV4, L_IPV6, L_GRE, L_ERSPAN1, L_ERSPAN2, L_ERSPAN3, L_VXLAN,
  L_GENEVE, L_PPP, L_CMD, L_TCP, L_UDP, L_ICMP, L_ICMPV6, L_SLL, L_SLL2, L_NULL, L_RAW, VXLAN_PORT, GENEVE_PORT,
  LINKTYPE_ETHERNET,
} from './layers.js';
import { fastDecode } from './fast-path.js';
import {
  R_OK, R_LINKTYPE_UNSUPPORTED, R_TUNNEL_TOO_DEEP, R_TOO_MANY_LAYERS, REASON_COUNT, NOTE_COUNT,
} from './malformed.js';
import { MAX_TUNNELS, PacketMeta } from './meta.js';
import type { Frame } from './readers/frame.js';
import { decodeEthernet } from './ethernet.js';
import { decodeVlan } from './vlan.js';
import { decodeSll, decodeSll2, decodeNull, decodeRaw } from './link.js';
import { decodeIpv4 } from './ipv4.js';
import { decodeIpv6 } from './ipv6.js';
import { decodeGre } from './gre.js';
import { decodeErspan1, decodeErspan2, decodeErspan3 } from './erspan.js';
import { decodeVxlan } from './vxlan.js';
import { decodeGeneve } from './geneve.js';
import { decodePpp } from './ppp.js';
import { decodeCmd } from './cmd.js';
import { decodeTcp, decodeUdp, decodeIcmp, decodeIcmpv6 } from './l4.js';
import type { ErrorCode } from '../contracts/errors.js';

export interface DecapOptions {
  /** UDP destination (or source) ports decoded as VXLAN. Default [4789]. */
  vxlanPorts?: readonly number[];
  /** UDP ports decoded as Geneve. Default [6081]. */
  genevePorts?: readonly number[];
  /** Nested tunnels allowed before a frame is malformed (decap.tunnel.too_deep). Default 8. */
  maxTunnelDepth?: number;
  /** Layers walked before a frame is malformed (decap.layers.too_many). Default 32. */
  maxLayers?: number;
  /**
   * Try ./fast-path.ts (Ethernet/IPv4 → GRE or VXLAN → IPv4 → TCP/UDP in one run) before the walker.
   * Default true; the results are the same either way (test/fast-path.test.ts).
   */
  fastPath?: boolean;
}

export class DecapConfigError extends Error {
  readonly code: ErrorCode = 'TWC0007';
}

export class Decapsulator {
  /** Frames decoded, and how many stopped on each reason / carried each note. */
  frames = 0;
  readonly reasons = new Float64Array(REASON_COUNT);
  readonly notes = new Float64Array(NOTE_COUNT);

  private readonly udpTunnel = new Uint8Array(65536);
  private readonly maxTunnelDepth: number;
  private readonly maxLayers: number;
  private readonly fastPath: boolean;

  constructor(opts: DecapOptions = {}) {
    this.fastPath = opts.fastPath ?? true;
    this.maxTunnelDepth = opts.maxTunnelDepth ?? 8;
    this.maxLayers = opts.maxLayers ?? 32;
    if (!Number.isInteger(this.maxTunnelDepth) || this.maxTunnelDepth < 1 || this.maxTunnelDepth > MAX_TUNNELS) {
      throw new DecapConfigError(`maxTunnelDepth must be an integer from 1 to ${MAX_TUNNELS}, got ${opts.maxTunnelDepth}`);
    }
    if (!Number.isInteger(this.maxLayers) || this.maxLayers < 2 || this.maxLayers > 1024) {
      throw new DecapConfigError(`maxLayers must be an integer from 2 to 1024, got ${opts.maxLayers}`);
    }
    this.mapPorts(opts.vxlanPorts ?? [VXLAN_PORT], L_VXLAN, 'vxlanPorts');
    this.mapPorts(opts.genevePorts ?? [GENEVE_PORT], L_GENEVE, 'genevePorts');
  }

  private mapPorts(ports: readonly number[], layer: number, name: string): void {
    for (const port of ports) {
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        throw new DecapConfigError(`${name}: ${port} is not a UDP port`);
      }
      if (this.udpTunnel[port] !== 0 && this.udpTunnel[port] !== layer) {
        throw new DecapConfigError(`${name}: port ${port} is already mapped to another tunnel type`);
      }
      this.udpTunnel[port] = layer;
    }
  }

  /** Decode a frame read by a capture reader into `m`; returns the reason code (0 = decoded to the end). */
  decodeFrame(f: Frame, m: PacketMeta): number {
    m.tsSec = f.tsSec;
    m.tsNsec = f.tsNsec;
    m.wireLen = f.wireLen;
    return this.decode(f.buf, f.off, f.capLen, f.linkType, m);
  }

  /** Decode `capLen` bytes at `off` of link type `linkType` into `m`; returns the reason code. */
  decode(b: Uint8Array, off: number, capLen: number, linkType: number, m: PacketMeta): number {
    m.reset();
    m.capLen = capLen;
    m.linkType = linkType;
    this.frames++;
    if (linkType === LINKTYPE_ETHERNET && this.fastPath && fastDecode(b, off, capLen, m, this.udpTunnel, this.maxLayers)) {
      this.reasons[R_OK]++;
      return R_OK;
    }
    let id = firstLayer(linkType);
    let reason = R_OK;
    if (id === L_END) {
      m.stopType = linkType;
      reason = R_LINKTYPE_UNSUPPORTED;
    }
    let o = off;
    let e = off + capLen;
    let layers = 0;
    let seen = 0;
    const maxLayers = this.maxLayers;
    const maxDepth = this.maxTunnelDepth;
    while (id !== L_END) {
      if (layers === maxLayers) {
        reason = R_TOO_MANY_LAYERS;
        break;
      }
      layers++;
      seen |= 1 << id;
      let next: number;
      switch (id) {
        case L_ETHERNET: next = decodeEthernet(b, o, e, m); break;
        case L_VLAN: next = decodeVlan(b, o, e, m); break;
        case L_IPV4: next = decodeIpv4(b, o, e, m); break;
        case L_IPV6: next = decodeIpv6(b, o, e, m); break;
        case L_GRE: next = m.tunDepth < maxDepth ? decodeGre(b, o, e, m) : -R_TUNNEL_TOO_DEEP; break;
        case L_ERSPAN1: next = decodeErspan1(b, o, e, m); break;
        case L_ERSPAN2: next = decodeErspan2(b, o, e, m); break;
        case L_ERSPAN3: next = decodeErspan3(b, o, e, m); break;
        case L_VXLAN:
        case L_GENEVE: {
          // Guessed from a UDP port: a datagram that fails the checks is plain UDP, and the frame
          // does not count as one with that tunnel.
          const depth = m.tunDepth;
          if (depth === maxDepth) next = -R_TUNNEL_TOO_DEEP;
          else {
            next = id === L_VXLAN ? decodeVxlan(b, o, e, m) : decodeGeneve(b, o, e, m);
            if (m.tunDepth === depth) seen &= ~(1 << id);
          }
          break;
        }
        case L_PPP: next = decodePpp(b, o, e, m); break;
        case L_CMD: next = decodeCmd(b, o, e, m); break;
        case L_TCP: next = decodeTcp(b, o, e, m); break;
        case L_UDP:
          next = decodeUdp(b, o, e, m);
          if (next === L_END) {
            // Destination port first (the mirror's receiver), then source: tunnels are symmetric.
            const tunnel = this.udpTunnel[m.dstPort] || this.udpTunnel[m.srcPort];
            if (tunnel !== 0) next = tunnel;
          }
          break;
        case L_ICMP: next = decodeIcmp(b, o, e, m); break;
        case L_ICMPV6: next = decodeIcmpv6(b, o, e, m); break;
        case L_SLL: next = decodeSll(b, o, e, m); break;
        case L_SLL2: next = decodeSll2(b, o, e, m); break;
        case L_NULL: next = decodeNull(b, o, e, m); break;
        case L_RAW: next = decodeRaw(b, o, e, m); break;
        default: next = L_END;
      }
      if (next < 0) {
        reason = -next;
        break;
      }
      id = next;
      o = m.next;
      e = m.nextEnd;
    }
    m.reason = reason;
    m.seen = seen;
    m.layerCount = layers;
    this.reasons[reason]++;
    let notes = m.notes;
    for (let i = 0; notes !== 0; i++, notes >>>= 1) {
      if ((notes & 1) !== 0) this.notes[i]++;
    }
    return reason;
  }
}
