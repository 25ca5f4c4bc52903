// Benign events that real fleets live with and naive detectors flag, planned before the run and
// labelled in labels.json `benign`. Each follows what was measured on real devices
// (/tmp/realiot-study/DIGEST.md, "DIGEST" below) or what operators of such fleets see:
//
// - site outage → reconnect storm (DIGEST A1): a whole group loses its uplink for minutes (nothing is
//   mirrored), then comes back while its cloud is still unreachable: every device retries one server,
//   one port (SYN storms of 68–409 s), until the path recovers.
// - resolver outage (DIGEST A1/A5, 03-11 10:42 and 13:29): the fleet's resolver answers SERVFAIL for
//   1.5–6 minutes while the upstream is broken; devices whose sessions drop retry one name hundreds
//   of times (0.63 s apart, or alternating with a hard-coded public resolver).
// - address rotation (DIGEST A4): names answer other addresses each day; pool.ntp.org every 150 s.
// - fleet-wide endpoint move: a group's service name answers a new address for every device at once,
//   the old endpoint closes its sessions, every device reconnects to the new one after a DNS answer.
// - firmware wave: a group downloads megabytes from its usual firmware server, by name, over hours,
//   each device then reboots and reconnects.
// - coverage gaps (trackers): minutes to hours out of coverage, then a backlog burst (classes.ts labels it).
// - devices joining mid-run with set-up traffic (DIGEST C: several names, SSDP, mDNS, NTP).

import type { Cloud } from './cloud.js';
import { SERVICES } from './cloud.js';
import type { Device, DeviceClass } from './fleet.js';
import { GROUP } from './fleet.js';
import type { BenignLabel } from './labels.js';
import { Rand, subSeed } from './random.js';
import { DAY, HOUR, MIN, MSS, SEC } from './units.js';

export interface SiteOutage { group: string; start: number; linkUp: number; end: number }
export interface ResolverOutage { start: number; end: number; groups: string[] }
export interface EndpointMove { group: string; name: string; at: number; spread: number }
export interface FirmwareWave { group: string; start: number; end: number }
/** One device's part of a firmware wave: download `bytes` at `bps` from `start`, reboot at `reboot`. */
export interface FirmwareJob { start: number; bytes: number; bps: number; reboot: number; bootSec: number }

export type DisruptionKind = 'outage' | 'upstream' | 'move' | 'reboot';
export interface Disruption { at: number; kind: DisruptionKind }

/** Groups whose devices sit at sites behind one uplink (trackers roam instead and have coverage gaps). */
const SITE_GROUPS: DeviceClass[] = ['meter', 'lock', 'camera', 'gateway'];
/** Groups that keep long sessions to their cloud, so an upstream failure drops them. */
const SESSION_GROUPS: DeviceClass[] = ['meter', 'lock', 'camera'];
const FIRMWARE_MB: Record<DeviceClass, [number, number]> = {
  meter: [0.5, 2], lock: [0.3, 1.5], tracker: [0.2, 1], camera: [8, 30], gateway: [10, 40],
};
/** The services whose address can move fleet-wide (each group's main endpoint). */
const MOVABLE: [DeviceClass, string][] = [['meter', 'broker'], ['camera', 'control'], ['tracker', 'coap'], ['gateway', 'api']];

export interface NoiseOptions {
  start: number;
  end: number;
  learningEnd: number;
  seed: number;
}

const minutes = (us: number): string => `${Math.round(us / MIN)} min`;
export const toMs = (us: number): number => Math.round(us / 1000) * 1000;

export class NoisePlan {
  readonly outages: SiteOutage[] = [];
  readonly resolver: ResolverOutage[] = [];
  readonly moves: EndpointMove[] = [];
  readonly waves: FirmwareWave[] = [];
  readonly labels: BenignLabel[] = [];
  private readonly firmware = new Map<number, FirmwareJob>();

  static plan(o: NoiseOptions, devices: readonly Device[], cloud: Cloud): NoisePlan {
    const p = new NoisePlan();
    const r = new Rand(subSeed(o.seed, 3));
    const days = (o.end - o.start) / DAY;
    const span = o.end - o.start;
    // Event times are whole milliseconds, the resolution of the labels, so a label's window is exact.
    const anywhere = (margin: number): number => toMs(o.start + margin + r.float() * Math.max(0, span - 2 * margin));
    const afterLearning = (tail: number): number => {
      const lo = o.learningEnd + HOUR, hi = o.end - tail;
      return hi > lo ? toMs(lo + r.float() * (hi - lo)) : anywhere(Math.min(HOUR, span / 4));
    };

    for (const cls of SITE_GROUPS) {
      const n = Math.max(1, Math.round(days / 2 + r.uniform(-0.3, 0.7)));
      for (let i = 0; i < n; i++) {
        const start = anywhere(Math.min(HOUR, span / 4));
        const linkUp = start + toMs(r.uniform(2, 25) * MIN);
        const end = linkUp + toMs(r.uniform(68, 409) * SEC);
        const group = GROUP[cls];
        p.outages.push({ group, start, linkUp, end });
        p.labels.push({ kind: 'site-outage', group, start, end: linkUp, detail: `the ${group} site uplink is down for ${minutes(linkUp - start)}: nothing of the group is mirrored` });
        p.labels.push({ kind: 'reconnect-storm', group, start: linkUp, end, detail: `uplink back, cloud unreachable for ${Math.round((end - linkUp) / SEC)} s: every device retries its service by name, one port (SYNs without SYN-ACK; one address for the locks, the addresses of its name's DNS answers for the others)` });
        for (const d of devices) if (d.cls === cls && d.joinUs < linkUp) d.addOffline(start, linkUp);
      }
    }

    for (let i = 0, n = Math.max(1, Math.round(days / 2)); i < n; i++) {
      const start = anywhere(Math.min(HOUR, span / 4));
      const end = start + toMs(r.uniform(88, 360) * SEC);
      const groups = SESSION_GROUPS.filter(() => r.chance(0.6)).map((c) => GROUP[c]);
      if (groups.length === 0) groups.push(GROUP[r.pick(SESSION_GROUPS)]);
      p.resolver.push({ start, end, groups });
      p.labels.push({ kind: 'resolver-outage', group: '*', start, end, detail: `the resolver answers SERVFAIL for ${Math.round((end - start) / SEC)} s; upstream broken for ${groups.join(', ')}: their sessions drop and they retry one name (DNS bursts)` });
    }

    const movable = r.shuffle([...MOVABLE]).slice(0, days >= 2 ? 2 : 1);
    for (const [cls, role] of movable) {
      const spec = SERVICES[cls].find((s) => s.role === role)!;
      const at = afterLearning(3 * HOUR);
      const spread = toMs(r.uniform(30, 300) * SEC);
      const group = GROUP[cls];
      const to = cloud.move(spec.name, at);
      p.moves.push({ group, name: spec.name, at, spread });
      p.labels.push({ kind: 'endpoint-move', group, start: at, end: at + spread + 30 * MIN, detail: `${spec.name} answers new addresses (${to.length}) for every device of ${group} at once; the old endpoint closes its sessions` });
    }

    for (let i = 0, n = Math.max(1, Math.round(days / 3)); i < n; i++) {
      const cls = r.pick(['meter', 'camera', 'gateway', 'lock', 'tracker'] as DeviceClass[]);
      const dur = toMs(r.uniform(2, 6) * HOUR);
      const start = afterLearning(dur + HOUR);
      const end = Math.min(o.end, start + dur);
      const group = GROUP[cls];
      const [lo, hi] = FIRMWARE_MB[cls];
      p.waves.push({ group, start, end });
      const fw = SERVICES[cls].find((s) => s.role === 'fw')!;
      p.labels.push({ kind: 'firmware-wave', group, start, end, detail: `${group} download ${lo}–${hi} MB each from ${fw.name} (their usual firmware server), then reboot` });
      const bytes = Math.round(r.uniform(lo, hi) * 1e6);
      for (const d of devices) {
        if (d.cls !== cls || d.joinUs >= start) continue;
        const dr = new Rand(subSeed(o.seed, 4, d.index));
        const bps = dr.logUniform(0.3e6, 8e6);
        const s = start + Math.round(dr.float() * (end - start) * 0.8);
        const transfer = Math.ceil(bytes / MSS) * ((MSS + 40) * 8 * SEC / bps);
        const reboot = Math.round(s + transfer * 1.1 + 30 * SEC);
        const bootSec = dr.uniform(30, 90);
        p.firmware.set(d.index, { start: s, bytes, bps, reboot, bootSec });
        d.addOffline(reboot, reboot + Math.round(bootSec * SEC));
      }
    }

    for (const d of devices) {
      if (d.cls !== 'tracker') continue;
      const dr = new Rand(subSeed(o.seed, 5, d.index));
      const n = Math.floor(dr.exp(1.5 * days) + 0.5);
      for (let i = 0; i < n; i++) {
        const s = Math.max(d.joinUs, o.start) + Math.round(dr.float() * (o.end - Math.max(d.joinUs, o.start)));
        d.addOffline(s, s + Math.round(dr.logUniform(10, 120) * MIN));
      }
    }

    const groupsOf = (name: string): string[] => (Object.keys(SERVICES) as DeviceClass[]).filter((c) => SERVICES[c].some((s) => s.name === name)).map((c) => GROUP[c]);
    const seen = new Set<string>();
    for (const spec of Object.values(SERVICES).flat()) {
      if (spec.rotateSec === 0 || seen.has(spec.name)) continue;
      seen.add(spec.name);
      const s = cloud.service(spec.name);
      const what = `${spec.name} answers ${s.perAnswer} of ${s.poolSize} addresses (TTL ${s.ttl} s), other ones every ${spec.rotateSec >= HOUR / SEC ? `${spec.rotateSec / 3600} h` : `${spec.rotateSec} s`}`;
      if (spec.role.startsWith('ntp')) p.labels.push({ kind: 'ntp-pool', group: groupsOf(spec.name).join(','), start: o.start, end: o.end, detail: what });
      else p.labels.push({ kind: 'address-rotation', group: groupsOf(spec.name).join(','), start: o.start, end: o.end, detail: what });
    }

    for (const d of devices) {
      if (d.joined) p.labels.push({ kind: 'device-join', device_id: d.id, start: d.joinUs, end: d.joinUs + 10 * MIN, detail: `new ${d.cls} joins: set-up look-ups of several names, SSDP and mDNS discovery, NTP` });
    }
    return p;
  }

  resolverDown(t: number): boolean {
    for (const o of this.resolver) if (o.start <= t && t < o.end) return true;
    return false;
  }

  /** Can the group's devices reach the Internet at t? Not while their site uplink or upstream is broken. */
  cloudReachable(group: string, t: number): boolean {
    for (const o of this.outages) if (o.group === group && o.start <= t && t < o.end) return false;
    for (const o of this.resolver) if (o.start <= t && t < o.end && o.groups.includes(group)) return false;
    return true;
  }

  /** The first event after t that ends a device's long session to `name`. */
  nextDisruption(dev: Device, name: string, t: number): Disruption | null {
    let best: Disruption | null = null;
    const consider = (at: number, kind: DisruptionKind): void => {
      if (at > t && (best === null || at < best.at)) best = { at, kind };
    };
    for (const o of this.outages) if (o.group === dev.group) consider(o.start, 'outage');
    for (const o of this.resolver) if (o.groups.includes(dev.group)) consider(o.start, 'upstream');
    for (const m of this.moves) if (m.name === name) consider(m.at + Math.round(((dev.index * 2654435761) >>> 0) / 2 ** 32 * m.spread), 'move');
    const fw = this.firmware.get(dev.index);
    if (fw) consider(fw.reboot, 'reboot');
    return best;
  }

  firmwareJob(dev: Device): FirmwareJob | undefined {
    return this.firmware.get(dev.index);
  }
}
