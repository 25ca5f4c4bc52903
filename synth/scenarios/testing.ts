// Shared by the scenario tests: a small scenario that still has every incident variant and every
// kind of noise (generated in seconds), and the capture read back into per-device packet lists.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { clientHelloSni, dnsQuestion, eachPacket, type Question } from './capture-view.js';
import type { ScenarioOptions } from './generate.js';
import type { Labels } from './labels.js';
import { ipText, isDevice } from './wire.js';

/** 36 devices for 12 hours, 3 incidents of each type (every variant), narrower ranges so it stays small. */
export const SMALL: Omit<ScenarioOptions, 'out'> = {
  devices: 36, days: 0.5, seed: 7, incidentsPerType: 3, learningHours: 3,
  ranges: {
    scanRate: [2, 40], scanMinutes: [2, 4], scanSlowHours: [0.5, 1], tunnelHours: [1, 2], tunnelBurstMinutes: [1, 2],
    beaconPeriodSec: [10, 300], beaconContacts: [24, 30], exfilMB: [1, 6], exfilMinutes: [5, 20], floodPps: [200, 500], floodMinutes: [1, 2],
  },
};

export interface P {
  us: number;
  src: string;
  dst: string;
  proto: number;
  sport: number;
  dport: number;
  flags: number;
  ipLen: number;
  payloadLen: number;
  dns: Question | null;
  /** DNS A answers (addresses), when a response. */
  answers: string[];
  sni: string | null;
  /** TCP sequence number (for Mirai's seq = destination signature). */
  seq: number;
}

export interface Indexed {
  labels: Labels;
  /** Every packet, in capture order. */
  all: P[];
  /** Packets by device address (up and down). */
  byDevice: Map<string, P[]>;
  reasons: Float64Array;
}

/** A records in a DNS response (RFC 1035 §4.1.3), skipping the question; names are compressed pointers or labels. */
function aRecords(b: Uint8Array): string[] {
  const out: string[] = [];
  let o = 12;
  const skipName = (): void => {
    while (o < b.length) {
      const n = b[o];
      if (n === 0) { o++; return; }
      if ((n & 0xc0) === 0xc0) { o += 2; return; }
      o += 1 + n;
    }
  };
  skipName();
  o += 4;
  const an = (b[6] << 8) | b[7];
  for (let i = 0; i < an && o < b.length; i++) {
    skipName();
    const type = (b[o] << 8) | b[o + 1];
    const len = (b[o + 8] << 8) | b[o + 9];
    if (type === 1 && len === 4) out.push(`${b[o + 10]}.${b[o + 11]}.${b[o + 12]}.${b[o + 13]}`);
    o += 10 + len;
  }
  return out;
}

export function indexCapture(dir: string): Indexed {
  const labels = JSON.parse(readFileSync(join(dir, 'labels.json'), 'utf8')) as Labels;
  const all: P[] = [];
  const byDevice = new Map<string, P[]>();
  const dec = eachPacket(join(dir, 'mirror.pcap'), (p) => {
    const isDns = p.proto === 17 && (p.sport === 53 || p.dport === 53);
    const q = isDns ? dnsQuestion(p.payload) : null;
    const pkt: P = {
      us: p.us, src: ipText(p.src), dst: ipText(p.dst), proto: p.proto, sport: p.sport, dport: p.dport, flags: p.flags,
      ipLen: p.ipLen, payloadLen: p.payload.length, dns: q, answers: q && q.response ? aRecords(p.payload) : [],
      sni: p.proto === 6 && p.payload.length > 40 ? clientHelloSni(p.payload) : null,
      seq: p.seq,
    };
    all.push(pkt);
    const dev = isDevice(p.src) ? pkt.src : isDevice(p.dst) ? pkt.dst : null;
    if (dev !== null) {
      let l = byDevice.get(dev);
      if (!l) byDevice.set(dev, (l = []));
      l.push(pkt);
    }
  });
  return { labels, all, byDevice, reasons: dec.reasons };
}

export const ms = (iso: string): number => Date.parse(iso) * 1000;
