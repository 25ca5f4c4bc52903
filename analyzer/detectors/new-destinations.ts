// Destinations new to the device and to its group: what exfiltration (volume up to them) and the
// new-destination behavior (their mere appearance) rest on. A host is known by name when the device
// has one for it, so a known name reached at a new address is no news; the group's adoption counts
// tell a fleet change (a service every device of the group moves to) from one device's new habit.
// While the device warms up everything is new to it: a host counts then when its group does not use
// it, and, for a host with a name, only when the group is large enough to say what is common (a lone
// device's own services, named, would otherwise all be news in its first day).

import type { InspectionRecord } from '../../contracts/inspection-record.js';
import { hostKey, isPublic, type DetectorContext } from './detector.js';

export interface NewHost {
  key: number;
  ip: string;
  port: number;
  transport: 'tcp' | 'udp' | 'icmp' | 'other';
  name?: string;
  name_source?: 'dns' | 'sni';
  up: number;
  down: number;
}

/** The record's far hosts that are new to the device (first used at or after `since`) and its group. */
export function newHosts(r: InspectionRecord, ctx: DetectorContext, since: number): NewHost[] {
  // A list, not a map: a record has a few far ends (at most the collector's contacts and top-K), and
  // exfiltration asks for them in every record.
  const hosts: NewHost[] = [];
  for (const c of r.contacts) add(hosts, c.ip, c.port, c.transport, c.name, c.name_source, c.up_bytes, c.down_bytes);
  // Top destinations not among the contacts: their bytes count both ways, split as the device's are.
  const upShare = r.uplink.bytes / Math.max(1, r.uplink.bytes + r.downlink.bytes);
  for (const d of r.destinations.top) {
    if (r.contacts.some((c) => c.ip === d.ip && c.port === d.port && c.transport === d.transport)) continue;
    add(hosts, d.ip, d.port, d.transport, d.name, d.name_source, Math.round(d.bytes * upShare), Math.round(d.bytes * (1 - upShare)));
  }
  return hosts.filter((h) => isNews(h.key, h.name !== undefined, ctx, since));
}

/** Adds a far end's bytes to its host's entry. */
function add(hosts: NewHost[], ip: string, port: number, transport: NewHost['transport'], name: string | undefined, source: NewHost['name_source'] | undefined, up: number, down: number): void {
  if (!isPublic(ip)) return;
  const key = hostKey(name, ip);
  const h = hosts.find((x) => x.key === key);
  if (h) {
    h.up += up;
    h.down += down;
  } else {
    // No name as undefined rather than as no key: one shape for every host (spreading optional keys in
    // was most of this function's time), and the same JSON in a checkpoint.
    hosts.push({ key, ip, port, transport, name: name || undefined, name_source: source || undefined, up, down });
  }
}

/** A host (key, named or not) new to the device since `since` and to its group, as newHosts judges it. */
export function isNews(key: number, named: boolean, ctx: DetectorContext, since: number): boolean {
  if (ctx.commonInGroup(key)) return false;
  return ctx.warming ? !named || ctx.groupComparable : ctx.newToDevice(key, since);
}
