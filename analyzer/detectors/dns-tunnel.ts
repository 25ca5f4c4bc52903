// DNS tunnelling: data carried in query names, judged on what the names look like per registered
// domain over a window (RITA's "exploded DNS": many distinct subdomains of one domain), not on how
// many queries there are: a device retrying one name hundreds of times in an outage is no tunnel, and
// a tunnel at tens of queries an hour is one. A window of an hour sees a slow tunnel's names add up.
//
// The evidence is many distinct names under one domain AND at least one sign that the names carry
// data: a long label (encoders fill labels towards the 63-byte limit), mostly TXT/NULL/CNAME/MX/ANY
// queries (the record types whose answers carry data back) with labels long enough to hold some (a
// look-up service asks TXT for address octets: Team Cymru's IP-to-ASN, DNS blocklists), or a high
// character entropy over enough characters. Two such signs with many names make it strong. Many short names alone (a blocklist
// look-up per address, reversed octets under one domain) are not a tunnel.
//
// Distinct names across records are counted exactly while a record lists all of a domain's names
// among its examples (up to 3: the slow tunnel's case); beyond that, the record's own count is added.

import type { InspectionRecord } from '../../contracts/inspection-record.js';
import type { EvidenceParams } from '../../contracts/rules.schema.js';
import { fnv1a } from '../../net/hash.js';
import { retain, stampedAfter, windowWords, type DetectorContext, type EvidenceDetector, type Verdict } from './detector.js';

type Params = Extract<EvidenceParams, { kind: 'dns-tunnel' }>;

/** Per record: [t, queries, new distinct names, longest label, unusual-type queries, subdomain characters, entropy x characters]. */
type Entry = [number, number, number, number, number, number, number];

interface Domain {
  domain: string;
  entries: Entry[];
  /** Hashes of the names counted in the window (bounded). */
  names: number[];
  examples: string[];
  last: number;
}

export interface DnsTunnelState {
  domains: Domain[];
}

const MAX_DOMAINS = 8;
const MAX_NAMES = 128;
const hasEntries = (d: Domain): boolean => d.entries.length > 0;

/** Reverse look-ups ask one name per address: many names under one domain, and never data. */
const REVERSE = /(^|\.)(in-addr|ip6)\.arpa$/;

export function dnsTunnelDetector(p: Params): EvidenceDetector<DnsTunnelState> {
  return {
    init: () => ({ domains: [] }),
    save: (s) => s,
    load: (j) => j as DnsTunnelState,
    observe(s: DnsTunnelState, r: InspectionRecord, ctx: DetectorContext): Verdict {
      const from = ctx.t - p.windowSeconds;
      for (const d of s.domains) retain(d.entries, stampedAfter, from);
      retain(s.domains, hasEntries, from);
      for (const x of r.dns.domains) {
        if (REVERSE.test(x.domain)) continue;
        let d = s.domains.find((y) => y.domain === x.domain);
        if (!d) {
          if (s.domains.length >= MAX_DOMAINS) s.domains.splice(s.domains.reduce((o, y, i) => (y.last < s.domains[o].last ? i : o), 0), 1);
          d = { domain: x.domain, entries: [], names: [], examples: [], last: ctx.t };
          s.domains.push(d);
        }
        d.last = ctx.t;
        let fresh = 0;
        for (const e of x.examples) {
          const h = fnv1a(e);
          if (d.names.includes(h)) continue;
          d.names.push(h);
          fresh++;
        }
        if (d.names.length > MAX_NAMES) d.names.splice(0, d.names.length - MAX_NAMES);
        // All the domain's names are among the examples: counted exactly; else the record's count is all we know.
        const added = x.distinct_names <= x.examples.length ? fresh : x.distinct_names;
        const chars = Math.max(0, x.name_bytes - x.distinct_names * (x.domain.length + 1));
        d.entries.push([ctx.t, x.queries, added, x.label_max, x.unusual_types, chars, x.entropy * chars]);
        d.examples = [...x.examples, ...d.examples.filter((e) => !x.examples.includes(e))].slice(0, 3);
      }

      let best: { d: Domain; names: number; queries: number; label: number; unusual: number; entropy: number; signals: string[] } | null = null;
      let mostNames = 0;
      for (const d of s.domains) {
        let queries = 0;
        let names = 0;
        let label = 0;
        let unusual = 0;
        let chars = 0;
        let bits = 0;
        for (const e of d.entries) {
          queries += e[1];
          names += e[2];
          label = Math.max(label, e[3]);
          unusual += e[4];
          chars += e[5];
          bits += e[6];
        }
        mostNames = Math.max(mostNames, names);
        // The signals' words only for a domain that could be the evidence: most records have none.
        if (names < p.minDistinctNames || (best && names <= best.names)) continue;
        const entropy = chars > 0 ? bits / chars : 0;
        const signals: string[] = [];
        if (label >= p.longLabel) signals.push(`labels up to ${label} characters`);
        if (queries > 0 && label >= p.dataLabel && unusual / queries >= p.unusualShare) signals.push(`${Math.round((100 * unusual) / queries)}% TXT/NULL/CNAME/MX/other queries`);
        if (chars >= p.minEntropyCharacters && entropy >= p.highEntropy) signals.push(`entropy ${entropy.toFixed(2)} bits per character`);
        if (signals.length > 0) best = { d, names, queries, label, unusual, entropy, signals };
      }
      const verdict: Verdict = {
        breach: best !== null,
        strong: best !== null && best.names >= p.strongDistinctNames && best.signals.length >= 2,
        metric: 'distinct query names under one registered domain that look like data',
        observed: best ? best.names : mostNames,
        threshold: p.minDistinctNames,
        unit: windowWords(p.windowSeconds),
      };
      if (best) {
        verdict.evidence = {
          kind: 'dns-tunnel',
          domain: best.d.domain,
          window_seconds: p.windowSeconds,
          queries: best.queries,
          distinct_names: best.names,
          label_max: best.label,
          entropy: Math.round(best.entropy * 100) / 100,
          unusual_types: best.unusual,
          signals: best.signals,
          resolvers: r.dns.resolvers.map((x) => x.ip),
          examples: best.d.examples,
        };
      }
      return verdict;
    },
  };
}
