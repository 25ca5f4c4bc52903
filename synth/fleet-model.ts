// The simulated IoT fleet behind the mirror: devices in 10.128.0.0/9, a fixed set of a few hundred
// servers in documentation ranges, and each device's flows (one per service and server it talks to).
// Plain typed arrays, drawn once from the seeded PRNG before any packet is generated, so a run with
// more packets and the same seed and device count repeats a shorter run's capture as its prefix.

import { Prng } from '../net/prng.js';

export const TUNNEL_KINDS = ['gre', 'vxlan', 'erspan2', 'erspan3', 'geneve'] as const;
export type TunnelKind = (typeof TUNNEL_KINDS)[number];
export const TK_GRE = 0, TK_VXLAN = 1, TK_ERSPAN2 = 2, TK_ERSPAN3 = 3, TK_GENEVE = 4;

export const SVC_MQTT = 0, SVC_MQTTS = 1, SVC_HTTPS = 2, SVC_COAP = 3, SVC_DNS = 4, SVC_NTP = 5, SVC_UPLOAD = 6;
export const SERVICE_NAMES = ['mqtt', 'mqtts', 'https', 'coap', 'dns', 'ntp', 'upload'] as const;
export const SERVICE_PORT = [1883, 8883, 443, 5683, 53, 123, 443];
export const SERVICE_PROTO = [6, 6, 6, 17, 17, 17, 6];
/** Services that open a new connection (new device port) per exchange; the others keep one. */
export const SERVICE_PER_EXCHANGE = [false, false, true, false, true, false, true];
/** How often a device starts an exchange of each service, relative; tuned to the peer-baselines
 * capture's shape (68% of inner packets ≤ 100 bytes, mean frame 293.5 B). At 5M packets, seed 1:
 * 68.1% and 290.9 B. */
const SERVICE_RATE = [60, 60, 4, 60, 11, 2.5, 0.55];

// Server pools by service: [first address, count]. 203.0.113/24 and 198.51.100/24 are RFC 5737
// documentation ranges, 198.18/15 is the RFC 2544 benchmarking range.
const ip4 = (a: number, b: number, c: number, d: number): number => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
const SERVER_POOLS: ReadonlyArray<readonly [number, number]> = [
  [ip4(203, 0, 113, 10), 100], // MQTT brokers
  [ip4(203, 0, 113, 10), 100], // MQTTS: the same brokers
  [ip4(198, 51, 100, 10), 200], // HTTPS APIs
  [ip4(203, 0, 113, 150), 30], // CoAP servers
  [ip4(192, 0, 2, 53), 2], // DNS resolvers
  [ip4(192, 0, 2, 123), 4], // NTP
  [ip4(198, 18, 0, 10), 40], // upload endpoints
];

export const MIRROR_SRC = ip4(192, 0, 2, 1);
export const MIRROR_DST = ip4(198, 51, 100, 1);

/** Device i's address: 250 hosts per /24 from 10.128.0.0, skipping .0 and .251-.255. */
export function deviceAddr(i: number): number {
  return (ip4(10, 128, 0, 0) + Math.floor(i / 250) * 256 + 1 + (i % 250)) >>> 0;
}

export function ipText(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

export interface Fleet {
  devices: number;
  deviceTunnel: Uint8Array; // TK_*
  /** GRE key (0 = no key) for GRE, VNI for VXLAN/Geneve, session id for ERSPAN. */
  deviceTunnelId: Uint32Array;
  /** Cumulative activity weight, for picking the device that starts the next exchange. */
  deviceCum: Float64Array;
  deviceFlowStart: Uint32Array; // flows of device d are [start[d], start[d + 1])
  flows: number;
  flowDevice: Uint32Array;
  flowService: Uint8Array; // SVC_*
  flowServer: Uint32Array;
  flowPort: Uint16Array; // the device's port for flows that keep one
  /** Cumulative service rate within the device's flows, for picking the flow of an exchange. */
  flowCum: Float64Array;
}

/** Parses '--mix gre=0.7,vxlan=0.3' into weights per TK_*, normalised to sum 1. */
export function parseMix(text: string): Float64Array {
  const w = new Float64Array(TUNNEL_KINDS.length);
  for (const part of text.split(',')) {
    const [name, value] = part.split('=');
    const k = TUNNEL_KINDS.indexOf(name?.trim() as TunnelKind);
    const v = Number(value);
    if (k < 0 || !(v >= 0)) throw new RangeError(`bad --mix entry '${part}': use kind=weight with kind in ${TUNNEL_KINDS.join(', ')}`);
    w[k] += v;
  }
  const sum = w.reduce((a, b) => a + b, 0);
  if (!(sum > 0)) throw new RangeError(`--mix '${text}' has no positive weight`);
  return w.map((v) => v / sum);
}

const ephemeralPort = (r: Prng): number => r.int(32768, 60999); // Linux's default range

export function buildFleet(r: Prng, devices: number, mix: Float64Array): Fleet {
  if (!Number.isInteger(devices) || devices < 1 || devices > 250 * 32768) throw new RangeError(`--devices must be 1..${250 * 32768}`);
  const deviceTunnel = new Uint8Array(devices);
  const deviceTunnelId = new Uint32Array(devices);
  const deviceCum = new Float64Array(devices);
  const deviceFlowStart = new Uint32Array(devices + 1);
  const flowDevice: number[] = [], flowService: number[] = [], flowServer: number[] = [], flowPort: number[] = [], flowCum: number[] = [];
  const assigned = new Float64Array(TUNNEL_KINDS.length);
  let total = 0;
  for (let d = 0; d < devices; d++) {
    const weight = 0.05 - Math.log(1 - r.float()); // exponential: a few chatty devices, many quiet ones
    total += weight;
    deviceCum[d] = total;
    // Give the device the tunnel kind furthest below its share of activity so far, so packet counts
    // per kind follow the mix closely even for small fleets.
    let best = 0, bestDeficit = -Infinity;
    for (let k = 0; k < mix.length; k++) {
      const deficit = mix[k] * total - assigned[k];
      if (mix[k] > 0 && deficit > bestDeficit) { best = k; bestDeficit = deficit; }
    }
    assigned[best] += weight;
    deviceTunnel[d] = best;
    if (best === TK_GRE) deviceTunnelId[d] = r.float() < 0.3 ? 1000 + (d % 64) : 0; // some GRE mirrors carry a key
    else if (best === TK_VXLAN || best === TK_GENEVE) deviceTunnelId[d] = 1 + (d % 16);
    else deviceTunnelId[d] = 1 + (d % 1023); // ERSPAN session ids are 10 bits

    deviceFlowStart[d] = flowDevice.length;
    let cum = 0;
    const addFlow = (svc: number, server: number, rate: number): void => {
      cum += rate;
      flowDevice.push(d); flowService.push(svc); flowServer.push(server); flowCum.push(cum);
      flowPort.push(svc === SVC_NTP ? 123 : ephemeralPort(r));
    };
    const pick = (svc: number): number => SERVER_POOLS[svc][0] + r.int(0, SERVER_POOLS[svc][1] - 1);
    const telemetry = r.float();
    const tsvc = telemetry < 0.35 ? SVC_MQTT : telemetry < 0.8 ? SVC_MQTTS : SVC_COAP;
    addFlow(tsvc, pick(tsvc), SERVICE_RATE[tsvc]);
    const apis = r.int(1, 3);
    const first = r.int(0, SERVER_POOLS[SVC_HTTPS][1] - 1);
    for (let i = 0; i < apis; i++) {
      addFlow(SVC_HTTPS, SERVER_POOLS[SVC_HTTPS][0] + ((first + i * 37) % SERVER_POOLS[SVC_HTTPS][1]), SERVICE_RATE[SVC_HTTPS] / apis);
    }
    addFlow(SVC_DNS, pick(SVC_DNS), SERVICE_RATE[SVC_DNS]);
    addFlow(SVC_NTP, pick(SVC_NTP), SERVICE_RATE[SVC_NTP]);
    if (r.float() < 0.15) addFlow(SVC_UPLOAD, pick(SVC_UPLOAD), SERVICE_RATE[SVC_UPLOAD] / 0.15);
  }
  deviceFlowStart[devices] = flowDevice.length;
  return {
    devices, deviceTunnel, deviceTunnelId, deviceCum, deviceFlowStart,
    flows: flowDevice.length,
    flowDevice: Uint32Array.from(flowDevice),
    flowService: Uint8Array.from(flowService),
    flowServer: Uint32Array.from(flowServer),
    flowPort: Uint16Array.from(flowPort),
    flowCum: Float64Array.from(flowCum),
  };
}
