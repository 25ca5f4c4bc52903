// A small mirrored fleet with one incident, for `tapwatch demo` and the end-to-end test: devices
// that publish MQTT every 20 s, resolve a name every minute and reconnect every two, until one of
// them starts a Mirai-like telnet sweep (SYNs to random hosts on 23/2323 that nobody answers).
// Every frame is mirrored in GRE (key = the mirror session) the way a gateway sends it. Written
// with synth/packets.ts (readable over fast: a few thousand frames). Same options → same bytes;
// the inventory it writes names every device, so the control API can act on the attacker's IMSI.
//
//   node dist/synth/incident-mirror.js --out FILE.pcap --inventory FILE.csv [--devices N] [--seconds N]
//     [--attacker I] [--attack-at S] [--scan-rate N] [--seed N]

import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { LINKTYPE_ETHERNET } from '../gre-decap/layers.js';
import { pcapBytes, type SynthFrame } from './capture-file.js';
import { wrapInGre } from './mirror-wrap.js';
import { ethernet, ipv4, tcp, udp } from './packets.js';
import { Prng } from '../net/prng.js';

export interface IncidentMirrorOptions {
  devices?: number;
  /** Capture length in seconds. */
  seconds?: number;
  /** Index of the device that turns scanner. */
  attacker?: number;
  /** Seconds from the start when the sweep begins; it lasts to the end. */
  attackAt?: number;
  /** Unanswered SYNs per second during the sweep. */
  scanRate?: number;
  seed?: number;
  /** The first timestamp, seconds since the epoch. */
  epoch?: number;
}

export interface IncidentDevice {
  index: number;
  ip: string;
  id: string;
  imsi: string;
  imei: string;
  group: string;
}

export interface IncidentMirror {
  pcap: Uint8Array;
  devices: IncidentDevice[];
  attacker: IncidentDevice;
  /** Seconds since the epoch when the sweep starts. */
  attackStart: number;
  frames: number;
}

export const INCIDENT_DEFAULTS = { devices: 24, seconds: 960, attacker: 5, attackAt: 780, scanRate: 5, seed: 11, epoch: 1767225600 } as const;

/** The far end every device talks to: an MQTT broker, a resolver and a time server. */
export const INCIDENT_SERVERS = { mqtt: '198.51.100.10', dns: '198.51.100.53', ntp: '198.51.100.123' } as const;
const MIRROR = { src: '192.0.2.1', dst: '192.0.2.2', key: 100 } as const;
const TCP_SYN = 0x02;
const TCP_ACK = 0x10;
const TCP_PSH_ACK = 0x18;
const TCP_SYN_ACK = 0x12;

export function deviceAddress(index: number): string {
  return `10.128.${(10 + index) >> 8}.${(10 + index) & 0xff}`;
}

export function incidentDevices(count: number): IncidentDevice[] {
  return Array.from({ length: count }, (_, i) => ({
    index: i,
    ip: deviceAddress(i),
    id: `meter-${String(i + 1).padStart(3, '0')}`,
    imsi: `44010${String(1_000_000_000 + i).padStart(10, '0')}`,
    imei: `35${String(1_000_000_000_000 + i).padStart(13, '0')}`,
    group: 'meters',
  }));
}

export function inventoryCsv(devices: readonly IncidentDevice[]): string {
  return ['ip,id,imsi,imei,group', ...devices.map((d) => `${d.ip},${d.id},${d.imsi},${d.imei},${d.group}`)].join('\n') + '\n';
}

export function generateIncidentMirror(options: IncidentMirrorOptions = {}): IncidentMirror {
  const o = { ...INCIDENT_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  if (o.attacker < 0 || o.attacker >= o.devices) throw new RangeError(`attacker ${o.attacker} is not one of ${o.devices} devices`);
  const rng = new Prng(o.seed);
  const devices = incidentDevices(o.devices);
  const frames: SynthFrame[] = [];
  const at = (t: number, inner: Uint8Array) => {
    const data = wrapInGre({ buf: inner, off: 0, capLen: inner.length, linkType: LINKTYPE_ETHERNET }, MIRROR);
    const sec = Math.floor(t);
    frames.push({ data, tsSec: o.epoch + sec, tsNsec: Math.round((t - sec) * 1e9) });
  };
  const tcpFrame = (src: string, dst: string, sport: number, dport: number, flags: number, payload: number, seq: number) =>
    ethernet(ipv4(tcp(new Uint8Array(payload), { src: sport, dst: dport, flags, seq }), { src, dst, proto: 6 }));
  const udpFrame = (src: string, dst: string, sport: number, dport: number, payload: number) =>
    ethernet(ipv4(udp(new Uint8Array(payload), { src: sport, dst: dport }), { src, dst, proto: 17 }));

  for (const d of devices) {
    const phase = 1 + rng.float() * 18; // devices do not report in lockstep
    let port = 40000 + d.index * 16;
    for (let t = phase; t < o.seconds; t += 20) {
      const slot = Math.round((t - phase) / 20);
      if (slot % 6 === 0) {
        // Reconnect every two minutes: a handshake that the broker answers.
        port = port + 1;
        at(t - 0.2, tcpFrame(d.ip, INCIDENT_SERVERS.mqtt, port, 1883, TCP_SYN, 0, 1));
        at(t - 0.15, tcpFrame(INCIDENT_SERVERS.mqtt, d.ip, 1883, port, TCP_SYN_ACK, 0, 1));
        at(t - 0.1, tcpFrame(d.ip, INCIDENT_SERVERS.mqtt, port, 1883, TCP_ACK, 0, 2));
      }
      if (slot % 3 === 0) {
        at(t - 0.5, udpFrame(d.ip, INCIDENT_SERVERS.dns, 53000 + (slot & 0xff), 53, 34));
        at(t - 0.45, udpFrame(INCIDENT_SERVERS.dns, d.ip, 53, 53000 + (slot & 0xff), 50));
      }
      if (slot % 15 === 0) {
        at(t - 0.7, udpFrame(d.ip, INCIDENT_SERVERS.ntp, 123, 123, 48));
        at(t - 0.65, udpFrame(INCIDENT_SERVERS.ntp, d.ip, 123, 123, 48));
      }
      // An MQTT PUBLISH of a reading, acknowledged by the broker.
      at(t, tcpFrame(d.ip, INCIDENT_SERVERS.mqtt, port, 1883, TCP_PSH_ACK, 60 + rng.int(0, 60), 2 + slot * 200));
      at(t + 0.04, tcpFrame(INCIDENT_SERVERS.mqtt, d.ip, 1883, port, TCP_ACK, 0, 1));
    }
  }

  const attacker = devices[o.attacker];
  const step = 1 / o.scanRate;
  for (let t = o.attackAt, n = 0; t < o.seconds; t += step, n++) {
    // Public-looking targets outside the device network, as a sweep picks them.
    const target = `${rng.int(11, 223)}.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`;
    at(t, tcpFrame(attacker.ip, target, 50000 + (n % 10000), rng.float() < 0.9 ? 23 : 2323, TCP_SYN, 0, rng.u32()));
  }

  frames.sort((a, b) => a.tsSec - b.tsSec || a.tsNsec - b.tsNsec);
  return { pcap: pcapBytes(frames, { nanos: false }), devices, attacker, attackStart: o.epoch + o.attackAt, frames: frames.length };
}

function main(): void {
  const { values: v } = parseArgs({
    options: {
      out: { type: 'string' }, inventory: { type: 'string' }, devices: { type: 'string' }, seconds: { type: 'string' },
      attacker: { type: 'string' }, 'attack-at': { type: 'string' }, 'scan-rate': { type: 'string' }, seed: { type: 'string' },
    },
  });
  if (!v.out || !v.inventory) throw new Error('usage: incident-mirror --out FILE.pcap --inventory FILE.csv [--devices N --seconds N --attacker I --attack-at S --scan-rate N --seed N]');
  const num = (s: string | undefined) => (s === undefined ? undefined : Number(s));
  const r = generateIncidentMirror({
    devices: num(v.devices), seconds: num(v.seconds), attacker: num(v.attacker), attackAt: num(v['attack-at']), scanRate: num(v['scan-rate']), seed: num(v.seed),
  });
  writeFileSync(v.out, r.pcap);
  writeFileSync(v.inventory, inventoryCsv(r.devices));
  console.log(`${r.frames} frames, ${r.pcap.length} bytes; ${r.devices.length} devices, ${r.attacker.id} (${r.attacker.ip}) sweeps from ${new Date(r.attackStart * 1000).toISOString()}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main();
