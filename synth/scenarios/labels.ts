// What the generator writes beside the capture: inventory.csv (what the collector takes with
// --inventory) and labels.json, the ground truth a detection benchmark scores against:
//
//   { generator, format, options, start, end, interval, learning_end,
//     devices:   [{ id, ip, imsi, group, class, joined? }],
//     incidents: [{ id, type, device_id, device_ip, start, end, detail, params }],
//     benign:    [{ kind, group | device_id, start, end, detail }] }
//
// Times are ISO 8601 UTC with milliseconds. An incident's [start, end) holds all of its traffic.

import { writeFileSync } from 'node:fs';
import type { Device } from './fleet.js';
import { ipText } from './wire.js';

export const INCIDENT_TYPES = ['scan', 'dns-tunnel', 'beacon', 'exfiltration', 'flood'] as const;
export type IncidentType = (typeof INCIDENT_TYPES)[number];

export const BENIGN_KINDS = [
  'site-outage', 'reconnect-storm', 'resolver-outage', 'address-rotation', 'ntp-pool', 'backlog-burst',
  'firmware-wave', 'endpoint-move', 'device-join',
] as const;
export type BenignKind = (typeof BENIGN_KINDS)[number];

/** A benign event, times in µs; `group` '*' for the whole fleet. */
export interface BenignLabel {
  kind: BenignKind;
  group?: string;
  device_id?: string;
  start: number;
  end: number;
  detail: string;
}

export interface IncidentLabel {
  id: string;
  type: IncidentType;
  device_id: string;
  device_ip: string;
  start: string;
  end: string;
  detail: string;
  params: Record<string, string | number | boolean | string[] | number[]>;
}

export interface Labels {
  generator: 'tapwatch-scenarios';
  format: 1;
  options: Record<string, string | number>;
  start: string;
  end: string;
  interval: number;
  learning_end: string;
  devices: { id: string; ip: string; imsi: string; group: string; class: string; joined?: string }[];
  incidents: IncidentLabel[];
  benign: (Omit<BenignLabel, 'start' | 'end'> & { start: string; end: string })[];
}

export function iso(us: number): string {
  return new Date(Math.round(us / 1000)).toISOString();
}

/** Label windows are in milliseconds: starts round down and ends up, so every packet of the window stays inside. */
export const isoStart = (us: number): string => new Date(Math.floor(us / 1000)).toISOString();
export const isoEnd = (us: number): string => new Date(Math.ceil(us / 1000)).toISOString();

export function deviceRows(devices: readonly Device[]): Labels['devices'] {
  return devices.map((d) => ({
    id: d.id, ip: ipText(d.ip), imsi: d.imsi, group: d.group, class: d.cls, ...(d.joined ? { joined: isoStart(d.joinUs) } : {}),
  }));
}

/** Benign labels in time order (then kind, then who), times as ISO strings. */
export function benignRows(labels: readonly BenignLabel[]): Labels['benign'] {
  const key = (l: BenignLabel): string => `${l.kind}|${l.group ?? ''}|${l.device_id ?? ''}`;
  return [...labels]
    .sort((a, b) => a.start - b.start || a.end - b.end || (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))
    .map((l) => ({ ...l, start: isoStart(l.start), end: isoEnd(l.end) }));
}

export function writeInventory(path: string, devices: readonly Device[]): void {
  writeFileSync(path, ['ip,id,imsi,group', ...devices.map((d) => `${ipText(d.ip)},${d.id},${d.imsi},${d.group}`)].join('\n') + '\n');
}

export function writeLabels(path: string, labels: Labels): void {
  writeFileSync(path, JSON.stringify(labels, null, 1) + '\n');
}
