// A new destination: a host the device never used, that its group does not use, and that has no DNS
// name the device resolved (a name resolved is the device's own choice; a hard-coded address is not),
// used in a few records within a window. Weak evidence on its own, always low: devices pick up new
// services with firmware, and cloud addresses move.

import type { InspectionRecord } from '../../contracts/inspection-record.js';
import type { EvidenceParams } from '../../contracts/rules.schema.js';
import { retain, windowWords, type DetectorContext, type EvidenceDetector, type Verdict } from './detector.js';
import { destinationsEvidence } from './exfiltration.js';
import { newHosts, type NewHost } from './new-destinations.js';

type Params = Extract<EvidenceParams, { kind: 'new-destination' }>;

export interface NewDestinationState {
  /** Per new host: its record times in the window, and how it looked last. */
  hosts: { host: NewHost; times: number[] }[];
}

const after = (t: number, from: number): boolean => t > from;
const hasTimes = (x: { times: number[] }): boolean => x.times.length > 0;

export function newDestinationDetector(p: Params): EvidenceDetector<NewDestinationState> {
  return {
    init: () => ({ hosts: [] }),
    save: (s) => s,
    load: (j) => j as NewDestinationState,
    observe(s: NewDestinationState, r: InspectionRecord, ctx: DetectorContext): Verdict {
      const from = ctx.t - p.windowSeconds;
      for (const x of s.hosts) retain(x.times, after, from);
      retain(s.hosts, hasTimes, from);
      if (!ctx.warming) {
        for (const h of newHosts(r, ctx, from)) {
          if (h.name_source === 'dns') continue;
          const x = s.hosts.find((y) => y.host.key === h.key);
          if (x) {
            x.times.push(ctx.t);
            x.host = h;
          } else s.hosts.push({ host: h, times: [ctx.t] });
        }
      }
      const lasting = s.hosts.filter((x) => x.times.length >= p.minRecords);
      const verdict: Verdict = {
        breach: lasting.length > 0,
        strong: false,
        metric: 'new destinations without a resolved name, in several records',
        observed: lasting.length,
        threshold: 1,
        unit: windowWords(p.windowSeconds),
      };
      if (lasting.length) verdict.evidence = destinationsEvidence(p.windowSeconds, lasting.reduce((n, x) => n + x.host.up, 0), lasting.map((x) => x.host));
      return verdict;
    },
  };
}
