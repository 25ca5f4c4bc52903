// Exfiltration: bytes uploaded to destinations new to the device and its group, summed over a window
// (an upload of megabytes to a host neither the device nor its fleet ever used). Big uploads to the
// device's own services (a camera's clips to its CDN, by name) and downloads (firmware) are not it.

import type { InspectionRecord } from '../../contracts/inspection-record.js';
import type { EvidenceParams } from '../../contracts/rules.schema.js';
import { retain, timedAfter, windowWords, type DetectorContext, type EvidenceDetector, type Verdict } from './detector.js';
import { newHosts, type NewHost } from './new-destinations.js';

type Params = Extract<EvidenceParams, { kind: 'exfiltration' }>;

export interface ExfiltrationState {
  /** Per record with uploads to new hosts: its time and those hosts. */
  records: { t: number; hosts: NewHost[] }[];
}

export function exfiltrationDetector(p: Params): EvidenceDetector<ExfiltrationState> {
  return {
    init: () => ({ records: [] }),
    save: (s) => s,
    load: (j) => j as ExfiltrationState,
    observe(s: ExfiltrationState, r: InspectionRecord, ctx: DetectorContext): Verdict {
      const from = ctx.t - p.windowSeconds;
      retain(s.records, timedAfter, from);
      const uploads = newHosts(r, ctx, from).filter((h) => h.up > 0);
      if (uploads.length) s.records.push({ t: ctx.t, hosts: uploads });
      let bytes = 0;
      // A host the group has taken up since (a fleet change seen device by device) is news no more.
      for (const x of s.records) for (const h of x.hosts) if (!ctx.commonInGroup(h.key)) bytes += h.up;
      const breach = bytes >= p.bytes;
      const verdict: Verdict = {
        breach,
        strong: bytes >= p.strongBytes,
        metric: 'bytes uploaded to destinations new to the device and its group',
        observed: bytes,
        threshold: p.bytes,
        unit: windowWords(p.windowSeconds),
      };
      if (breach) verdict.evidence = destinationsEvidence(p.windowSeconds, bytes, perHost(s.records, ctx));
      return verdict;
    },
  };
}

/** The window's uploads summed per host still news: only an alarm's evidence needs them, not every record. */
function perHost(records: ExfiltrationState['records'], ctx: DetectorContext): NewHost[] {
  const byHost = new Map<number, NewHost>();
  for (const x of records) {
    for (const h of x.hosts) {
      if (ctx.commonInGroup(h.key)) continue;
      const sum = byHost.get(h.key);
      if (sum) {
        sum.up += h.up;
        sum.down += h.down;
      } else byHost.set(h.key, { ...h });
    }
  }
  return [...byHost.values()];
}

export function destinationsEvidence(windowSeconds: number, bytesUp: number, hosts: NewHost[]) {
  return {
    kind: 'destinations' as const,
    window_seconds: windowSeconds,
    bytes_up: bytesUp,
    destinations: hosts
      .sort((a, b) => b.up - a.up || b.down - a.down)
      .slice(0, 8)
      .map((h) => ({ ip: h.ip, port: h.port, transport: h.transport, ...(h.name ? { name: h.name } : {}), ...(h.name_source ? { name_source: h.name_source } : {}), bytes_up: h.up, bytes_down: h.down })),
  };
}
