// The fleet: which devices exist, their identity (id, IMSI, address in 10.128.0.0/9, group) and the
// per-device state every activity shares (its random stream, its ephemeral ports, its DNS cache,
// when it is off the network). What each class *does* is in classes.ts.

import { Rand, subSeed } from './random.js';
import { ip4 } from './wire.js';

export const CLASSES = ['meter', 'lock', 'tracker', 'camera', 'gateway'] as const;
export type DeviceClass = (typeof CLASSES)[number];

/** One group per class (the analyzer's fleet model is per group). */
export const GROUP: Record<DeviceClass, string> = { meter: 'meters', lock: 'locks', tracker: 'trackers', camera: 'cameras', gateway: 'gateways' };
/** Share of the fleet: many cheap sensors, fewer cameras and gateways. */
export const SHARE: Record<DeviceClass, number> = { meter: 0.34, lock: 0.16, tracker: 0.24, camera: 0.1, gateway: 0.16 };
const ID_PREFIX: Record<DeviceClass, string> = { meter: 'meter', lock: 'lock', tracker: 'trk', camera: 'cam', gateway: 'gw' };

export interface CacheEntry {
  addrs: number[];
  expires: number; // µs
}

export class Device {
  readonly rng: Rand;
  /** DNS answers by name, kept for their TTL (the classes that cache; see classes.ts). */
  readonly dns = new Map<string, CacheEntry>();
  /** Sorted [start, end) µs pairs when the device is off the network: nothing it sends is mirrored. */
  offline: number[] = [];
  private cursor = 0;
  private port: number;

  constructor(
    readonly index: number,
    readonly cls: DeviceClass,
    readonly id: string,
    readonly ip: number,
    readonly imsi: string,
    /** When it first appears (µs): the run's start, or later for a device that joins. */
    readonly joinUs: number,
    seed: number,
  ) {
    this.rng = new Rand(subSeed(seed, 1, index));
    this.port = this.rng.int(32768, 60999); // Linux ip_local_port_range
  }

  get group(): string {
    return GROUP[this.cls];
  }

  get joined(): boolean {
    return this.joinUs > 0;
  }

  /** The next ephemeral source port (Linux hands them out in rising order within its range). */
  nextPort(): number {
    this.port = this.port >= 60999 ? 32768 : this.port + 1 + (this.rng.u32() & 3);
    return this.port;
  }

  /** Is the device on the network at t? Calls must come in rising t (they do: the writer's order). */
  online(t: number): boolean {
    const o = this.offline;
    while (this.cursor < o.length && o[this.cursor + 1] <= t) this.cursor += 2;
    return !(this.cursor < o.length && o[this.cursor] <= t);
  }

  /** The end of the offline period covering t, or t when online (for activities that wait for the network). */
  onlineFrom(t: number): number {
    const o = this.offline;
    for (let i = 0; i < o.length; i += 2) if (o[i] <= t && t < o[i + 1]) return o[i + 1];
    return t;
  }

  /** Adds an offline period, keeping the list sorted and merged. */
  addOffline(start: number, end: number): void {
    const pairs: [number, number][] = [];
    for (let i = 0; i < this.offline.length; i += 2) pairs.push([this.offline[i], this.offline[i + 1]]);
    pairs.push([start, end]);
    pairs.sort((a, b) => a[0] - b[0]);
    const out: number[] = [];
    for (const [s, e] of pairs) {
      if (out.length && s <= out[out.length - 1]) out[out.length - 1] = Math.max(out[out.length - 1], e);
      else out.push(s, e);
    }
    this.offline = out;
  }

  /** Is any part of [start, end) offline? (Used when placing incidents, before the run.) */
  offlineDuring(start: number, end: number): boolean {
    const o = this.offline;
    for (let i = 0; i < o.length; i += 2) if (o[i] < end && start < o[i + 1]) return true;
    return false;
  }
}

/** Device address: 10.128.0.0/9 from 10.128.1.1 on, skipping .0 and .255 of each /24. */
export function deviceAddress(index: number): number {
  return (ip4(10, 128, 0, 0) + ((1 + Math.floor(index / 250)) << 8) + 1 + (index % 250)) >>> 0;
}

export interface FleetOptions {
  devices: number;
  joiners: number;
  seed: number;
}

/**
 * The classes in fleet order: shares rounded, every class present once the fleet has five devices,
 * interleaved so that a prefix of the fleet is a sample of all of it. Joiners follow, classes in turn.
 */
export function fleetClasses(o: FleetOptions): DeviceClass[] {
  const r = new Rand(subSeed(o.seed, 2));
  const counts = CLASSES.map((c) => Math.max(o.devices >= CLASSES.length ? 1 : 0, Math.round(SHARE[c] * o.devices)));
  let total = counts.reduce((a, b) => a + b, 0);
  for (let k = 0; total !== o.devices; k = (k + 1) % CLASSES.length) {
    if (total > o.devices && counts[k] > 1) { counts[k]--; total--; }
    else if (total < o.devices) { counts[k]++; total++; }
  }
  const out: DeviceClass[] = [];
  const left = [...counts];
  while (out.length < o.devices) {
    const k = r.int(0, CLASSES.length - 1);
    if (left[k] > 0) { out.push(CLASSES[k]); left[k]--; }
  }
  for (let j = 0; j < o.joiners; j++) out.push(CLASSES[(j + 2) % CLASSES.length]); // trackers first: they join in the field
  return out;
}

/** Device `index` of the fleet, the `perClass`-th of its class (ids count per class: meter-0001, lock-0001). */
export function makeDevice(index: number, perClass: number, cls: DeviceClass, joinUs: number, seed: number): Device {
  return new Device(index, cls, `${ID_PREFIX[cls]}-${String(perClass).padStart(4, '0')}`, deviceAddress(index),
    `44010${String(1_000_000_000 + index).padStart(10, '0')}`, joinUs, seed);
}
