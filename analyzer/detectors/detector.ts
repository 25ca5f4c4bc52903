// What an evidence behavior is to the analyzer: per device a state of its own (plain data, so a
// checkpoint is JSON), and per record a verdict: whether the evidence is there, whether it is strong
// (a signature-like pattern, or independent signals agreeing), the number it rests on against the line
// it is judged by, and the evidence an operator acts on. The alarm lifecycle around it is the same as
// for metric rules (alarms.ts).

import type { Evidence } from '../../contracts/anomaly-event.js';
import type { InspectionRecord } from '../../contracts/inspection-record.js';
import { fnv1a } from '../../net/hash.js';
import { isUnicastPublic } from '../../net/ip-class.js';
import { registeredDomain } from '../../net/registered-domain.js';

export interface Verdict {
  breach: boolean;
  strong: boolean;
  /** What observed counts, for the event and its sentence ("failed first contacts"). */
  metric: string;
  observed: number;
  threshold: number;
  /** "in the last hour", "per second", ...: what observed is measured over. */
  unit: string;
  evidence?: Evidence;
}

/** What a detector may ask about the device and its group, as they stood before this record. */
export interface DetectorContext {
  /** Start of the record's interval, seconds since the epoch. */
  t: number;
  seconds: number;
  /** Watched for less than warmupSeconds: nothing is new to the device yet (its group is what it is compared with). */
  warming: boolean;
  /** The host (a name, else an address) first seen by the device at or after `since` (seconds), or never; false while warming. */
  newToDevice(key: number, since: number): boolean;
  /** Taken up by enough of the device's group to be the group's. */
  commonInGroup(key: number): boolean;
  /**
   * The group has devices enough that a host none of them took up is news (while the device warms up,
   * the group is what it is compared with; a group of a few devices cannot say what is common).
   */
  groupComparable: boolean;
  /** Devices of the group that took the host up (an estimate, never below the truth). */
  groupDevices(key: number): number;
}

export interface EvidenceDetector<S> {
  init(): S;
  observe(state: S, r: InspectionRecord, ctx: DetectorContext): Verdict;
  /** The state as JSON and back: what a checkpoint carries. */
  save(state: S): unknown;
  load(json: unknown): S;
}

/**
 * A host as the device knows it: by the registered domain of its name when it has one (so an address
 * change, a regional endpoint or a new edge name of a service it uses is no news), else by address.
 */
export function hostKey(name: string | undefined, ip: string): number {
  if (!name) return fnv1a(ip, ADDRESS_SEED);
  let k = domainKeys.get(name);
  if (k === undefined) {
    // Names are chosen by devices (and by whoever answers their DNS): the memo is bounded, not a leak.
    if (domainKeys.size >= DOMAIN_MEMO) domainKeys.clear();
    domainKeys.set(name, (k = fnv1a(registeredDomain(name), NAME_SEED)));
  }
  return k;
}
const ADDRESS_SEED = fnv1a('a:');
const NAME_SEED = fnv1a('n:');
const DOMAIN_MEMO = 1 << 16;
const domainKeys = new Map<string, number>();

/**
 * Hosts on the internet: a beacon, a flood target, a new destination; not the LAN, multicast or broadcast.
 * Asked per far end by several detectors in every record, about the few addresses a device talks to.
 */
export function isPublic(ip: string): boolean {
  let v = publicAddresses.get(ip);
  if (v === undefined) {
    // Bounded like the domain memo: addresses come from the traffic.
    if (publicAddresses.size >= ADDRESS_MEMO) publicAddresses.clear();
    publicAddresses.set(ip, (v = isUnicastPublic(ip)));
  }
  return v;
}

const ADDRESS_MEMO = 1 << 16;
const publicAddresses = new Map<string, boolean>();

/**
 * Keeps, in place, the items for which keep(item, from) holds: a window's state ages every record and
 * mostly loses nothing, and a filtered copy of each list every record (and a closure for it) cost more.
 */
export function retain<T>(items: T[], keep: (x: T, from: number) => boolean, from: number): void {
  let n = 0;
  for (const x of items) if (keep(x, from)) items[n++] = x;
  // Setting the length is a call into the runtime, even to what it is.
  if (n < items.length) items.length = n;
}

/** retain() predicates for the two shapes a window's items take: a { t } object, or a tuple whose first number is its time. */
export const timedAfter = (x: { t: number }, from: number): boolean => x.t > from;
export const stampedAfter = (x: readonly number[], from: number): boolean => x[0] > from;

/** "in the last hour" / "in the last 20 minutes", for sentences. */
export function windowWords(seconds: number): string {
  if (seconds % 3600 === 0) return seconds === 3600 ? 'in the last hour' : `in the last ${seconds / 3600} hours`;
  return `in the last ${Math.round(seconds / 60)} minutes`;
}
