// The analyzer's checkpoints on its compacted topic: one message per device (key `device:<id>`) and one
// per group (key `group:<name>`, the group's fleet statistics and model), each in an envelope that says
// what it needs to be read back:
// - `v`: the envelope's own layout version (CHECKPOINT_VERSION);
// - `fingerprint`: a hash of the analyzer's layout, i.e. of the configuration the state's arrays depend
//   on (time-of-day buckets, warm-up, destination capacity, fleet training vectors, the metrics and
//   evidence behaviors, the state schema).
// A checkpoint whose version or fingerprint differs from this analyzer's (the configuration changed, an
// older tapwatch wrote it), or that does not parse, is discarded with a warning: the device or group
// relearns, and the partition goes on. It is never retried, so it can never block a partition.

import { createHash } from 'node:crypto';
import type { DeviceStateJSON } from './analyzer.js';
import type { FleetStateJSON } from './fleet.js';

export const CHECKPOINT_VERSION = 1;

export type GroupCheckpoint = FleetStateJSON['groups'][string];

export type Checkpoint =
  | { v: typeof CHECKPOINT_VERSION; fingerprint: string; kind: 'device'; id: string; state: DeviceStateJSON }
  | { v: typeof CHECKPOINT_VERSION; fingerprint: string; kind: 'group'; id: string; state: GroupCheckpoint };

export function layoutFingerprint(layout: string): string {
  return createHash('sha256').update(layout).digest('hex').slice(0, 16);
}

export const deviceKey = (id: string): string => `device:${id}`;
export const groupKey = (name: string): string => `group:${name}`;

/** The checkpoint in a message, or why it does not fit this analyzer (never throws). */
export function readCheckpoint(key: string | null, value: Buffer | null, fingerprint: string): { ok: Checkpoint } | { discard: string } {
  if (value === null) return { discard: 'tombstone' };
  let c: Partial<Checkpoint> & Record<string, unknown>;
  try {
    c = JSON.parse(value.toString('utf8')) as typeof c;
  } catch {
    return { discard: 'not JSON' };
  }
  if (c === null || typeof c !== 'object' || !('v' in c)) return { discard: 'written by an older tapwatch (no checkpoint version)' };
  if (c.v !== CHECKPOINT_VERSION) return { discard: `checkpoint version ${String(c.v)}, this analyzer reads ${CHECKPOINT_VERSION}` };
  if (c.fingerprint !== fingerprint) return { discard: 'written under another configuration (buckets, warm-up, capacities or behaviors changed)' };
  if ((c.kind !== 'device' && c.kind !== 'group') || typeof c.id !== 'string' || typeof c.state !== 'object' || c.state === null) return { discard: 'not a checkpoint' };
  if (key !== null && key !== (c.kind === 'device' ? deviceKey(c.id) : groupKey(c.id))) return { discard: 'key does not match its content' };
  return { ok: c as Checkpoint };
}
