// Deterministic generator of a large mirrored IoT fleet capture (the kind peer-baselines.md measured
// the peers on): outer Ethernet/IPv4 from one mirror source to one collector, inner traffic of
// devices in 10.128.0.0/9 through GRE, VXLAN, ERSPAN II/III or Geneve. Same options → same bytes.
//
// Speed comes from patching: each packet is a template copy plus a payload slice, copied inside one
// arena (copyWithin: no views, no allocation), then lengths, ids, ports, sequence numbers and IPv4
// checksums are written in place and the scratch area goes to the streaming PcapWriter.
//
//   node dist/synth/fleet-mirror.js --out FILE [--packets N] [--devices N] [--seed N] [--mix gre=0.7,vxlan=0.3] [--truth FILE]

import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { PcapWriter } from './capture-file.js';
import { patchIpv4Checksum } from './checksum.js';
import {
  buildFleet, deviceAddr, ipText, parseMix, SERVICE_NAMES, SERVICE_PER_EXCHANGE, SERVICE_PROTO,
  SVC_NTP, TK_ERSPAN2, TK_ERSPAN3, TK_GENEVE, TK_VXLAN, TUNNEL_KINDS,
} from './fleet-model.js';
import { DIR_UP, ERSPAN3_TIMESTAMP, GRE_SEQ, OUTER_IP, OUTER_L4, buildTemplates } from './fleet-templates.js';
import { Prng } from '../net/prng.js';
import { Script, writeAppPrefix, writeScript } from './fleet-traffic.js';
import { put16, put32 } from '../net/put.js';

/** Bump when the bytes for given options change, so cached captures (bench/) are not reused. */
export const FLEET_MIRROR_FORMAT = 1;
/** 2026-01-01T00:00:00Z: a fixed first timestamp, so the file does not depend on when it was made. */
export const FLEET_EPOCH = 1767225600;

const DEFAULTS = { packets: 5_000_000, devices: 10_000, seed: 1, mix: 'gre=0.7,vxlan=0.3' };
const SLOTS = 32; // exchanges in progress at once, so conversations interleave (power of two)
const FILLER = 4096; // seeded payload bytes; each payload is a slice of this
const SCRATCH = 2048;

export interface FleetMirrorOptions {
  out: string;
  packets?: number;
  devices?: number;
  seed?: number;
  mix?: string;
  /** Also write the ground truth as JSON here. */
  truth?: string;
}

export interface DeviceTruth {
  tunnel: string;
  upPackets: number;
  upBytes: number; // inner IPv4 total lengths, device → server
  downPackets: number;
  downBytes: number;
  servers: number; // distinct server addresses the device exchanged packets with
}

export interface FleetTruth {
  generator: 'fleet-mirror';
  format: number;
  options: { packets: number; devices: number; seed: number; mix: string };
  packets: number;
  fileBytes: number;
  firstTs: number; // seconds, fractional
  lastTs: number;
  innerIpBytes: number;
  activeDevices: number;
  tunnels: Record<string, number>; // frames per tunnel kind
  greKeyed: number; // GRE frames that carry a key
  services: Record<string, number>; // inner packets per service
  devices: Record<string, DeviceTruth>; // by device address, active devices only
}

export interface FleetMirrorResult {
  packets: number;
  bytes: number; // file size
  devices: number;
  seconds: number;
  truth: FleetTruth;
}

/** First index whose cumulative weight exceeds x, in cum[lo, hi). */
function pickCum(cum: Float64Array, lo: number, hi: number, x: number): number {
  while (lo + 1 < hi) {
    const mid = (lo + hi) >>> 1;
    if (cum[mid - 1] > x) hi = mid;
    else lo = mid;
  }
  return lo;
}

export function generateFleetMirror(opts: FleetMirrorOptions): FleetMirrorResult {
  const started = process.hrtime.bigint();
  const packets = opts.packets ?? DEFAULTS.packets;
  const devices = opts.devices ?? DEFAULTS.devices;
  const seed = opts.seed ?? DEFAULTS.seed;
  const mixText = opts.mix ?? DEFAULTS.mix;
  if (!Number.isInteger(packets) || packets < 0) throw new RangeError(`--packets must be a whole number, got ${packets}`);
  if (!Number.isInteger(seed)) throw new RangeError(`--seed must be an integer, got ${seed}`);
  const r = new Prng(seed);
  const fleet = buildFleet(r, devices, parseMix(mixText));
  const T = buildTemplates(fleet, FILLER + SCRATCH);
  const arena = T.bytes;
  const fill = T.used;
  for (let i = 0; i < FILLER; i++) arena[fill + i] = r.u32() & 0xff;
  const scr = fill + FILLER;
  const frame = arena.subarray(scr);

  // Connection state: index f for a flow that keeps its connection, fleet.flows + slot for one
  // opened per exchange (so two exchanges of one flow never share ports or sequence numbers).
  const conns = fleet.flows + SLOTS;
  const connPort = new Uint16Array(conns);
  const seqUp = new Uint32Array(conns);
  const seqDown = new Uint32Array(conns);
  connPort.set(fleet.flowPort);
  const flowOpen = new Uint8Array(fleet.flows);
  const flowUsed = new Uint8Array(fleet.flows);
  const ipId = new Uint16Array(fleet.flows * 2);
  const erspanSeq = new Uint32Array(1024);

  const scripts = Array.from({ length: SLOTS }, () => new Script());
  const pos = new Uint32Array(SLOTS);
  const slotFlow = new Uint32Array(SLOTS);
  const slotConn = new Uint32Array(SLOTS);

  const devStats = new Float64Array(devices * 4); // up packets, up bytes, down packets, down bytes
  const tunnelCount = new Float64Array(TUNNEL_KINDS.length);
  const serviceCount = new Float64Array(SERVICE_NAMES.length);
  let greKeyed = 0, innerIpBytes = 0, fileBytes = 24;
  const totalWeight = fleet.deviceCum[devices - 1];

  const startExchange = (k: number): void => {
    const d = pickCum(fleet.deviceCum, 0, devices, r.float() * totalWeight);
    const f0 = fleet.deviceFlowStart[d], f1 = fleet.deviceFlowStart[d + 1];
    const f = pickCum(fleet.flowCum, f0, f1, r.float() * fleet.flowCum[f1 - 1]); // flowCum restarts per device
    const svc = fleet.flowService[f];
    let open: boolean;
    let c: number;
    if (SERVICE_PER_EXCHANGE[svc]) {
      c = fleet.flows + k;
      connPort[c] = r.int(32768, 60999);
      seqUp[c] = r.u32();
      seqDown[c] = r.u32();
      open = true;
    } else {
      c = f;
      open = flowOpen[f] === 0;
      if (open) {
        flowOpen[f] = 1;
        seqUp[c] = r.u32();
        seqDown[c] = r.u32();
      }
    }
    slotFlow[k] = f;
    slotConn[k] = c;
    pos[k] = 0;
    writeScript(scripts[k], r, svc, open);
  };

  const writer = new PcapWriter(opts.out);
  let sec = FLEET_EPOCH, usec = 0, outerId = 0;
  const firstTs = sec;
  for (let i = 0; i < SLOTS; i++) startExchange(i);
  for (let n = 0; n < packets; n++) {
    usec += 1 + (r.u32() & 511); // mean gap ≈ 257 µs: ~3,900 packets/s from the fleet
    if (usec >= 1_000_000) { sec++; usec -= 1_000_000; }
    const k = r.u32() & (SLOTS - 1);
    if (pos[k] >= scripts[k].n) startExchange(k);
    const s = scripts[k], step = pos[k]++;
    const f = slotFlow[k], c = slotConn[k];
    const d = fleet.flowDevice[f], svc = fleet.flowService[f], kind = fleet.deviceTunnel[d];
    const dir = s.dir[step], plen = s.len[step];
    const t = f * 2 + dir;
    const hl = T.len[t];
    arena.copyWithin(scr, T.off[t], T.off[t] + hl);
    if (plen > 0) {
      const from = fill + (r.u32() & (FILLER / 2 - 1));
      arena.copyWithin(scr + hl, from, from + plen);
      writeAppPrefix(arena, scr + hl, plen, svc, dir, s.app[step]);
    }
    const flen = hl + plen;

    put16(arena, scr + OUTER_IP + 2, flen - OUTER_IP);
    put16(arena, scr + OUTER_IP + 4, outerId++ & 0xffff);
    patchIpv4Checksum(arena, scr + OUTER_IP);
    if (kind === TK_VXLAN || kind === TK_GENEVE) {
      put16(arena, scr + OUTER_L4 + 4, flen - OUTER_L4);
    } else if (kind === TK_ERSPAN2 || kind === TK_ERSPAN3) {
      const session = fleet.deviceTunnelId[d];
      put32(arena, scr + GRE_SEQ, erspanSeq[session]++);
      // ERSPAN III timestamps count 100 µs ticks (granularity 00) and wrap at 32 bits.
      if (kind === TK_ERSPAN3) put32(arena, scr + ERSPAN3_TIMESTAMP, ((sec - FLEET_EPOCH) * 10000 + Math.floor(usec / 100)) >>> 0);
    } else if (fleet.deviceTunnelId[d] !== 0) {
      greKeyed++;
    }

    const ip = scr + T.innerIp[t];
    const ipLen = flen - T.innerIp[t];
    put16(arena, ip + 2, ipLen);
    put16(arena, ip + 4, ipId[t]++);
    patchIpv4Checksum(arena, ip);
    const l4 = ip + 20;
    if (svc !== SVC_NTP) put16(arena, dir === DIR_UP ? l4 : l4 + 2, connPort[c]);
    if (SERVICE_PROTO[svc] === 6) {
      const flags = s.flags[step];
      const consumed = plen + (flags & 0x03 ? 1 : 0); // SYN and FIN take one sequence number
      if (dir === DIR_UP) {
        put32(arena, l4 + 4, seqUp[c]);
        put32(arena, l4 + 8, flags & 0x10 ? seqDown[c] : 0);
        seqUp[c] += consumed;
      } else {
        put32(arena, l4 + 4, seqDown[c]);
        put32(arena, l4 + 8, seqUp[c]);
        seqDown[c] += consumed;
      }
      arena[l4 + 13] = flags;
    } else {
      put16(arena, l4 + 4, 8 + plen);
    }

    writer.write(frame, sec, usec * 1000, flen, flen);
    fileBytes += 16 + flen;
    innerIpBytes += ipLen;
    tunnelCount[kind]++;
    serviceCount[svc]++;
    flowUsed[f] = 1;
    const st = d * 4 + dir * 2;
    devStats[st]++;
    devStats[st + 1] += ipLen;
  }
  writer.close();

  const truth: FleetTruth = {
    generator: 'fleet-mirror',
    format: FLEET_MIRROR_FORMAT,
    options: { packets, devices, seed, mix: mixText },
    packets,
    fileBytes,
    firstTs,
    lastTs: sec + usec / 1e6,
    innerIpBytes,
    activeDevices: 0,
    tunnels: Object.fromEntries(TUNNEL_KINDS.map((name, i) => [name, tunnelCount[i]])),
    greKeyed,
    services: Object.fromEntries(SERVICE_NAMES.map((name, i) => [name, serviceCount[i]])),
    devices: {},
  };
  for (let d = 0; d < devices; d++) {
    const upPackets = devStats[d * 4], downPackets = devStats[d * 4 + 2];
    if (upPackets + downPackets === 0) continue;
    let servers = 0;
    for (let f = fleet.deviceFlowStart[d]; f < fleet.deviceFlowStart[d + 1]; f++) servers += flowUsed[f];
    truth.devices[ipText(deviceAddr(d))] = {
      tunnel: TUNNEL_KINDS[fleet.deviceTunnel[d]],
      upPackets, upBytes: devStats[d * 4 + 1], downPackets, downBytes: devStats[d * 4 + 3], servers,
    };
    truth.activeDevices++;
  }
  if (opts.truth) writeFileSync(opts.truth, JSON.stringify(truth) + '\n');
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { packets, bytes: fileBytes, devices, seconds, truth };
}

const HELP = `Usage: node dist/synth/fleet-mirror.js --out FILE [options]

Writes a deterministic classic pcap of a GRE/VXLAN-mirrored IoT fleet (same options, same bytes).

  --out FILE       capture to write (required)
  --packets N      frames to write (default ${DEFAULTS.packets})
  --devices N      devices in 10.128.0.0/9 (default ${DEFAULTS.devices})
  --seed N         PRNG seed (default ${DEFAULTS.seed})
  --mix SPEC       tunnel kinds by share of traffic, from ${TUNNEL_KINDS.join(', ')} (default ${DEFAULTS.mix})
  --truth FILE     also write the ground truth (per-device packets and IP bytes, per-tunnel counts) as JSON
  --help           this text
`;

function intArg(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isInteger(n)) throw new RangeError(`--${name} must be an integer, got '${v}'`);
  return n;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' }, packets: { type: 'string' }, devices: { type: 'string' }, seed: { type: 'string' },
      mix: { type: 'string' }, truth: { type: 'string' }, help: { type: 'boolean' },
    },
  });
  if (values.help) { process.stdout.write(HELP); return; }
  if (!values.out) { process.stderr.write(`--out is required\n\n${HELP}`); process.exitCode = 2; return; }
  const res = generateFleetMirror({
    out: values.out,
    packets: intArg('packets', values.packets, DEFAULTS.packets),
    devices: intArg('devices', values.devices, DEFAULTS.devices),
    seed: intArg('seed', values.seed, DEFAULTS.seed),
    mix: values.mix,
    truth: values.truth,
  });
  const mb = (res.bytes / 1e6).toFixed(1);
  process.stderr.write(`fleet-mirror: ${res.packets} packets, ${mb} MB, ${res.devices} devices (${res.truth.activeDevices} active), `
    + `${res.seconds.toFixed(2)} s → ${values.out}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    main();
  } catch (e) {
    process.stderr.write(`fleet-mirror: ${(e as Error).message}\n`);
    process.exitCode = 2;
  }
}
