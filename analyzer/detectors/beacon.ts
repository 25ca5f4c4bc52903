// Beaconing: contacts with one far end at a regular period, in the manner of RITA's beacon analysis
// (activecm/rita: the dispersion of the intervals between connections, as MAD over median), on new
// connections per contact and on activity bursts inside one persistent session alike. Regularity is
// not evidence by itself: keep-alives to a device's own cloud are as regular as any C&C (an MQTT
// ping every 60.000 s). What makes a regular far end suspicious is that the device never resolved it
// (no DNS answer names the address: an SNI alone is the device's own word; malware carries its C&C
// address), or looks it up before each new connection by a name that is news (the registered domain
// new to the device since the window began, or, while the device warms up, unused by a group large
// enough to say so: an implant without a resolver cache); and that the device opened the session in view (not one
// older than the monitoring, whose DNS answer nobody saw), the far end answers, it is on the internet,
// and the device's group does not use it (a fleet's platform reached by a hard-coded address is the
// fleet's, not one device's).
//
// Per device, the last contacts of up to 16 far ends are kept (by name when named, else address and
// port); contacts are the start times of activity bursts the collector reports (gaps over 1 s).

import type { Contact, InspectionRecord } from '../../contracts/inspection-record.js';
import type { EvidenceParams } from '../../contracts/rules.schema.js';
import { hostKey, isPublic, retain, type DetectorContext, type EvidenceDetector, type Verdict } from './detector.js';
import { isNews } from './new-destinations.js';

type Params = Extract<EvidenceParams, { kind: 'beacon' }>;

interface Tracked {
  host: number;
  ip: string;
  port: number;
  transport: Contact['transport'];
  name?: string;
  name_source?: Contact['name_source'];
  /** Burst start times, seconds since the epoch, ascending; at most MAX_TIMES. */
  times: number[];
  /** 1: the first interval it appeared in had a connection start (or it is not TCP); 0: a session older than what was seen. */
  started: number;
  answered: boolean;
  starts: number;
  last: number;
  /** The regularity last measured: [contacts, first, last, period, jitter]; measured again when the contacts change. */
  fit?: [number, number, number, number, number];
}

export interface BeaconState {
  tracked: Tracked[];
}

const MAX_TRACKED = 16;
const MAX_TIMES = 32;

export function beaconDetector(p: Params): EvidenceDetector<BeaconState> {
  const unit = `in the last ${Math.round(p.windowSeconds / 3600)} hours`;
  return {
    init: () => ({ tracked: [] }),
    save: (s) => s,
    load: (j) => j as BeaconState,
    observe(s: BeaconState, r: InspectionRecord, ctx: DetectorContext): Verdict {
      const from = ctx.t - p.windowSeconds;
      retain(s.tracked, contactedSince, from);
      for (const c of r.contacts) {
        if (c.bursts.length === 0 || !isPublic(c.ip)) continue;
        let x = find(s.tracked, c);
        if (!x) {
          if (s.tracked.length >= MAX_TRACKED) s.tracked.splice(s.tracked.reduce((o, t, i) => (t.last < s.tracked[o].last ? i : o), 0), 1);
          x = { host: hostKey(c.name, c.ip), ip: c.ip, port: c.port, transport: c.transport, times: [], started: c.transport !== 'tcp' || c.starts > 0 ? 1 : 0, answered: false, starts: 0, last: ctx.t };
          s.tracked.push(x);
        }
        x.ip = c.ip;
        x.name = c.name;
        x.name_source = c.name_source;
        x.answered ||= c.answered;
        x.starts += c.starts;
        x.last = ctx.t;
        for (const ms of c.bursts) {
          const at = ctx.t + ms / 1000;
          if (x.times.length === 0 || at > x.times[x.times.length - 1]) x.times.push(at);
        }
        if (x.times.length > MAX_TIMES) x.times.splice(0, x.times.length - MAX_TIMES);
      }

      let best: { x: Tracked; period: number; jitter: number; n: number } | null = null;
      let mostRegular = 0;
      for (const x of s.tracked) {
        // The window only moves forward: contacts before it are gone for good.
        let old = 0;
        while (old < x.times.length && x.times[old] <= from) old++;
        if (old) x.times.splice(0, old);
        // A session older than the monitoring, or a far end that never answered, is no beacon however
        // regular: such far ends (a fleet's long-lived MQTT sessions) need no fit.
        if (x.started !== 1 || !x.answered) continue;
        const times = x.times;
        if (times.length < 2) continue;
        // Most far ends gain no contact in a record: their regularity is as it was.
        if (!x.fit || x.fit[0] !== times.length || x.fit[1] !== times[0] || x.fit[2] !== times[times.length - 1]) {
          const [period, jitter] = regularity(times);
          x.fit = [times.length, times[0], times[times.length - 1], period, jitter];
        }
        const period = x.fit[3];
        const jitter = x.fit[4];
        const regular = period >= p.minPeriodSeconds && period <= p.maxPeriodSeconds && jitter <= p.maxJitter;
        // A beacon that has stopped (no contact for three periods) is not beaconing now: what is left of
        // an upload's connections in the window must not read as a channel hours later.
        if (!regular || ctx.t - times[times.length - 1] > 3 * period) continue;
        // A far end the device resolved is its own service unless it looks the name up for a new
        // connection at each check-in (an implant without a resolver cache) and the name is news (isNews):
        // new to the device since the window began, or, while it warms up, to a group that can say so.
        // A resolved persistent session is any device's cloud keep-alive; its name is news whenever the
        // session it replaced predates the monitoring (a lock's MQTT broker, known until then by address).
        if (x.name_source === 'dns' ? persistent(x, times.length) || !isNews(x.host, true, ctx, from) : ctx.commonInGroup(x.host)) continue;
        mostRegular = Math.max(mostRegular, times.length);
        if (times.length >= p.minContacts && (!best || times.length > best.n)) best = { x, period, jitter, n: times.length };
      }
      const verdict: Verdict = {
        breach: best !== null,
        strong: false,
        metric: 'regular contacts with a far end the device never resolved, or looks up before each connection by a name new to it and its group',
        observed: best ? best.n : mostRegular,
        threshold: p.minContacts,
        unit,
      };
      if (best) {
        const { x } = best;
        const times = x.times;
        verdict.evidence = {
          kind: 'beacon',
          destination: { ip: x.ip, port: x.port, transport: x.transport, ...(x.name ? { name: x.name } : {}), ...(x.name_source ? { name_source: x.name_source } : {}) },
          period_seconds: Math.round(best.period * 100) / 100,
          jitter: Math.round(best.jitter * 1000) / 1000,
          contacts: best.n,
          span_seconds: Math.round(times[times.length - 1] - times[0]),
          session: persistent(x, best.n) ? 'persistent' : 'per-contact',
          group_devices: ctx.groupDevices(x.host),
        };
      }
      return verdict;
    },
  };
}

const contactedSince = (x: Tracked, from: number): boolean => x.last > from;

/** The far end a contact is with, compared field by field (a key string built per contact per record cost more). */
function find(tracked: Tracked[], c: Contact): Tracked | undefined {
  for (const x of tracked) {
    if (x.port === c.port && x.transport === c.transport && (c.name ? x.name === c.name : !x.name && x.ip === c.ip)) return x;
  }
  return undefined;
}

/** A new connection per contact starts about as often as it bursts; a session, once. */
function persistent(x: Tracked, contacts: number): boolean {
  return x.transport === 'tcp' && x.starts * 2 < contacts;
}

const gaps = new Float64Array(MAX_TIMES);

/** Period (median gap) and jitter (MAD of the gaps over the period, RITA's dispersion) of ascending times. */
function regularity(times: readonly number[]): [number, number] {
  const n = times.length - 1;
  for (let i = 0; i < n; i++) gaps[i] = times[i + 1] - times[i];
  const period = median(gaps, n);
  if (!(period > 0)) return [period, Infinity];
  return [period, medianDeviation(gaps, n, period) / period];
}

/**
 * Median of the first n values of a, sorting them in place: by insertion, as there are fewer than
 * MAX_TIMES (a sorted subarray, a view allocated and a call into the runtime per fit, cost more).
 */
function median(a: Float64Array, n: number): number {
  for (let i = 1; i < n; i++) {
    const x = a[i];
    let j = i - 1;
    for (; j >= 0 && a[j] > x; j--) a[j + 1] = a[j];
    a[j + 1] = x;
  }
  return n === 0 ? NaN : n % 2 ? a[(n - 1) / 2] : (a[n / 2 - 1] + a[n / 2]) / 2;
}

/**
 * Median of |a[i] - center| over the first n values of a, which median() left sorted: the deviations
 * grow away from center on either side, so taking the smaller of the two sides' next, outward from
 * center, gives them in order without sorting them again (that second sort was most of a fit).
 */
function medianDeviation(a: Float64Array, n: number, center: number): number {
  let right = 0;
  while (right < n && a[right] < center) right++;
  let left = right - 1;
  let lower = 0;
  let d = 0;
  for (let k = 0; k <= n >> 1; k++) {
    lower = d;
    const below = left >= 0 ? Math.abs(a[left] - center) : Infinity;
    const above = right < n ? Math.abs(a[right] - center) : Infinity;
    if (below <= above) {
      d = below;
      left--;
    } else {
      d = above;
      right++;
    }
  }
  return n % 2 ? d : (lower + d) / 2;
}
