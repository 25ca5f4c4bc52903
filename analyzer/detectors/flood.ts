// Flood participation: packets to one host at a rate no IoT workload sends one-way, as a DDoS bot
// does on command (Mirai's UDP, SYN and ACK floods: thousands of packets a second to one victim,
// answered by little or nothing). A host the device already talks to is not judged here: a video
// stream to its own server is one-way and steady, and the device's baseline (packets_out_excess)
// covers its usual destinations. Per far host, over every port (floods often pick random ports): from the
// record's destinations.hosts, which sums each host over all its ports, when it has them; a random-port
// flood puts a packet or two on each (host, port), so contacts and top destinations alone miss it.

import type { InspectionRecord } from '../../contracts/inspection-record.js';
import type { EvidenceParams } from '../../contracts/rules.schema.js';
import { hostKey, isPublic, type DetectorContext, type EvidenceDetector, type Verdict } from './detector.js';

type Params = Extract<EvidenceParams, { kind: 'flood' }>;

interface Host {
  ip: string;
  port: number;
  transport: 'tcp' | 'udp' | 'icmp' | 'other';
  name?: string;
  up: number;
  down: number;
  /** Distinct (transport, port) far ends of the host, when the record's destinations.hosts gave them. */
  ports?: number;
}

const NO_HOSTS: readonly [] = [];

function indexOf(hosts: Host[], ip: string): number {
  for (let i = 0; i < hosts.length; i++) if (hosts[i].ip === ip) return i;
  return -1;
}

/** The far end's host from this source (at or after `from`), added if new; null when an earlier source has it. */
function entry(hosts: Host[], from: number, x: Pick<Host, 'ip' | 'port' | 'transport' | 'name'>): Host | null {
  const i = indexOf(hosts, x.ip);
  if (i >= 0) return i < from ? null : hosts[i];
  const h: Host = { ip: x.ip, port: x.port, transport: x.transport, name: x.name, up: 0, down: 0 };
  hosts.push(h);
  return h;
}

export function floodDetector(p: Params): EvidenceDetector<null> {
  return {
    init: () => null,
    save: () => null,
    load: () => null,
    observe(_s: null, r: InspectionRecord, ctx: DetectorContext): Verdict {
      // Up and down per host over all its ports from destinations.hosts (the hosts most sent to, each shown
      // by its busiest far end); other hosts from the contacts; hosts only in the top destinations count their
      // packets as one-way when the device's traffic as a whole is.
      // A list, not maps and a set: a record has a few far hosts. Each source's hosts come after the
      // earlier sources', so a host below a source's start is one an earlier source gave.
      const hosts: Host[] = [];
      for (const x of r.destinations.hosts ?? NO_HOSTS) {
        const h: Host = { ip: x.ip, port: x.port, transport: x.transport, name: x.name, up: x.up_packets, down: x.down_packets, ports: x.ports };
        const i = indexOf(hosts, x.ip);
        if (i < 0) hosts.push(h);
        else hosts[i] = h;
      }
      const totals = hosts.length;
      for (const c of r.contacts) {
        const h = entry(hosts, totals, c);
        if (!h) continue;
        h.up += c.up_packets;
        h.down += c.down_packets;
      }
      const deviceOneWay = r.uplink.packets >= p.oneWayRatio * Math.max(1, r.downlink.packets);
      if (deviceOneWay) {
        const known = hosts.length;
        for (const d of r.destinations.top) {
          const h = entry(hosts, known, d);
          if (h) h.up += d.packets;
        }
      }
      let best: { h: Host; pps: number; ratio: number } | null = null;
      let fastest = 0;
      // New: first used in the last six hours (a flood lasting hours stays one).
      const since = ctx.t - 6 * 3600;
      for (const h of hosts) {
        if (!isPublic(h.ip)) continue;
        const pps = Math.max(0, h.up - h.down) / ctx.seconds;
        const ratio = h.up / Math.max(1, h.down);
        if (ratio < p.oneWayRatio) continue;
        const fresh = ctx.warming ? !ctx.commonInGroup(hostKey(h.name, h.ip)) : ctx.newToDevice(hostKey(h.name, h.ip), since);
        if (!fresh) continue;
        fastest = Math.max(fastest, pps);
        if (pps >= p.packetsPerSecond && (!best || pps > best.pps)) best = { h, pps, ratio };
      }
      const verdict: Verdict = {
        breach: best !== null,
        strong: best !== null && best.pps >= p.strongPacketsPerSecond,
        metric: 'one-way packets per second to one host new to the device',
        observed: Math.round((best?.pps ?? fastest) * 10) / 10,
        threshold: p.packetsPerSecond,
        unit: 'per second',
      };
      if (best) {
        const { h } = best;
        verdict.evidence = {
          kind: 'flood',
          target: { ip: h.ip, port: h.port, transport: h.transport, ...(h.name ? { name: h.name } : {}) },
          packets_per_second: verdict.observed,
          one_way_ratio: Math.round(best.ratio * 10) / 10,
          new_to_device: true,
          ...(h.ports !== undefined && h.ports > 1 ? { ports: h.ports } : {}),
        };
      }
      return verdict;
    },
  };
}
