// Per-flow header templates, built once with the test builders: for each flow and direction, every
// header from the outer Ethernet to the inner TCP/UDP header, for an empty payload. The generator
// copies a template into its scratch area and patches lengths, ids, ports, sequence numbers and
// checksums, instead of building each packet (5M packets would be ~40M allocations).

import { ethernet, erspan2, erspan3, geneve, gre, ipv4, tcp, udp, vxlan } from './packets.js';
import {
  deviceAddr, type Fleet, ipText, MIRROR_DST, MIRROR_SRC, SERVICE_PORT, SERVICE_PROTO,
  TK_ERSPAN2, TK_ERSPAN3, TK_GENEVE, TK_GRE, TK_VXLAN,
} from './fleet-model.js';

export const DIR_UP = 0; // device → server
export const DIR_DOWN = 1; // server → device

/** Byte offsets shared by every template: all outer headers are option-free IPv4 over Ethernet. */
export const OUTER_IP = 14;
export const OUTER_L4 = 34; // GRE header, or the UDP header of VXLAN/Geneve
export const GRE_SEQ = OUTER_L4 + 4; // ERSPAN templates have GRE with S and no key
export const ERSPAN3_TIMESTAMP = OUTER_L4 + 8 + 4;

export interface Templates {
  /** Templates back to back; the caller appends its own areas after `used` bytes. */
  bytes: Uint8Array;
  used: number;
  /** Indexed by flow * 2 + direction. */
  off: Uint32Array;
  len: Uint8Array;
  innerIp: Uint8Array; // offset of the inner IPv4 header; the L4 header follows 20 bytes later
}

const GATEWAY_MAC = '02:00:00:00:00:fe';
const hex2 = (v: number): string => (v & 255).toString(16).padStart(2, '0');
const deviceMac = (d: number): string => `02:10:${hex2(d >>> 24)}:${hex2(d >>> 16)}:${hex2(d >>> 8)}:${hex2(d)}`;

/** RFC 7348 §5: the outer UDP source port carries a hash of the inner flow, for ECMP entropy. */
const entropyPort = (flow: number): number => 49152 + (Math.imul(flow + 1, 0x9e3779b1) >>> 18);

export function buildTemplates(fleet: Fleet, extra: number): Templates {
  const n = fleet.flows * 2;
  const parts: Uint8Array[] = new Array(n);
  const innerIp = new Uint8Array(n);
  let used = 0;
  for (let f = 0; f < fleet.flows; f++) {
    const d = fleet.flowDevice[f];
    const svc = fleet.flowService[f];
    const kind = fleet.deviceTunnel[d];
    const tid = fleet.deviceTunnelId[d];
    const device = ipText(deviceAddr(d));
    const server = ipText(fleet.flowServer[f]);
    for (let dir = DIR_UP; dir <= DIR_DOWN; dir++) {
      const up = dir === DIR_UP;
      const devPort = fleet.flowPort[f], srvPort = SERVICE_PORT[svc];
      const ports = { src: up ? devPort : srvPort, dst: up ? srvPort : devPort };
      const l4 = SERVICE_PROTO[svc] === 6 ? tcp(new Uint8Array(0), { ...ports, flags: 0x18 }) : udp(new Uint8Array(0), ports);
      const ip = ipv4(l4, { src: up ? device : server, dst: up ? server : device, proto: SERVICE_PROTO[svc], ttl: up ? 64 : 52 });
      const eth = (): Uint8Array => ethernet(ip, up ? { src: deviceMac(d), dst: GATEWAY_MAC } : { src: GATEWAY_MAC, dst: deviceMac(d) });
      let tunnel: Uint8Array;
      let proto = 47;
      switch (kind) {
        case TK_GRE: tunnel = gre(ip, tid ? { protocol: 0x0800, key: tid } : { protocol: 0x0800 }); break;
        case TK_ERSPAN2: tunnel = gre(erspan2(eth(), { session: tid, vlan: 100 + (d % 16) }), { protocol: 0x88be, seq: 0 }); break;
        case TK_ERSPAN3: tunnel = gre(erspan3(eth(), { session: tid, vlan: 100 + (d % 16) }), { protocol: 0x22eb, seq: 0 }); break;
        case TK_VXLAN: tunnel = udp(vxlan(eth(), { vni: tid }), { src: entropyPort(f), dst: 4789 }); proto = 17; break;
        case TK_GENEVE: tunnel = udp(geneve(eth(), { vni: tid }), { src: entropyPort(f), dst: 6081 }); proto = 17; break;
        default: throw new Error(`unknown tunnel kind ${kind}`);
      }
      const frame = ethernet(ipv4(tunnel, { src: ipText(MIRROR_SRC), dst: ipText(MIRROR_DST), proto, dontFragment: true }));
      const t = f * 2 + dir;
      parts[t] = frame;
      innerIp[t] = frame.length - l4.length - 20;
      used += frame.length;
    }
  }
  const bytes = new Uint8Array(used + extra);
  const off = new Uint32Array(n);
  const len = new Uint8Array(n);
  let p = 0;
  for (let t = 0; t < n; t++) {
    bytes.set(parts[t], p);
    off[t] = p;
    len[t] = parts[t].length;
    p += parts[t].length;
  }
  return { bytes, used, off, len, innerIp };
}
