// Scanning: a sequential test on failed first contacts to distinct hosts, after the threshold random
// walk of Jung, Paxson, Berger and Balakrishnan ("Fast Portscan Detection Using Sequential
// Hypothesis Testing", IEEE S&P 2004). Each distinct host new to the device is one Bernoulli
// observation: a benign source's first contacts succeed with probability θ0, a scanner's with θ1;
// the log-likelihood ratio of what the window holds is compared with ln(β/α). A handful of failures
// to distinct hosts suffices, and counting hosts (not packets) is what keeps a reconnect storm to one
// server (hundreds of SYNs, one host) from ever reading as a scan.
//
// Failures to hosts the device knows by name (its own DNS answers or TLS SNI) are left out: its own
// service being down is an outage, not a sweep; scanners pick addresses, not names. Hosts counted in
// the window are remembered by address, so one host is one observation however often it fails.
// Beyond the collector's sample of failed hosts (8 a record) only counts are known: those add to the
// failures as they are, which matters only when a record has more than 8, i.e. for a sweep.

import type { InspectionRecord } from '../../contracts/inspection-record.js';
import type { EvidenceParams } from '../../contracts/rules.schema.js';
import { fnv1a } from '../../net/hash.js';
import { hostKey, retain, stampedAfter, timedAfter, windowWords, type DetectorContext, type EvidenceDetector, type Verdict } from './detector.js';

type Params = Extract<EvidenceParams, { kind: 'scan' }>;

interface Host {
  key: number;
  t: number;
  ok: boolean;
  ip: string;
  port: number;
  transport: 'tcp' | 'udp' | 'icmp' | 'other';
}

export interface ScanState {
  hosts: Host[];
  /** Failed hosts beyond the sample, per record: [t, count]. */
  bulk: [number, number][];
  /** Refused hosts (RST) per record: [t, count]. */
  refused: [number, number][];
}

const MAX_HOSTS = 256;

export function scanDetector(p: Params): EvidenceDetector<ScanState> {
  const perFailure = Math.log((1 - p.scannerSuccess) / (1 - p.benignSuccess));
  const perSuccess = Math.log(p.scannerSuccess / p.benignSuccess);
  const upper = Math.log(p.detectionRate / p.falseAlarmRate);
  return {
    init: () => ({ hosts: [], bulk: [], refused: [] }),
    save: (s) => s,
    load: (j) => j as ScanState,
    observe(s: ScanState, r: InspectionRecord, ctx: DetectorContext): Verdict {
      const from = ctx.t - p.windowSeconds;
      retain(s.hosts, timedAfter, from);
      retain(s.bulk, stampedAfter, from);
      retain(s.refused, stampedAfter, from);
      const c = r.connections;
      // A host is one observation however often it fails: new ones are appended, and the oldest beyond
      // MAX_HOSTS dropped once the record's are in (a set of the window's keys per record cost more).
      const add = (h: Host): void => {
        if (!s.hosts.some((x) => x.key === h.key)) s.hosts.push(h);
      };
      let sampledNamed = 0;
      for (const f of c.failed_sample) {
        if (f.name) {
          sampledNamed++;
          continue;
        }
        add({ key: fnv1a(f.ip), t: ctx.t, ok: false, ip: f.ip, port: f.port, transport: f.transport });
      }
      const beyond = Math.max(0, c.failed_hosts - c.failed_sample.length - Math.max(0, c.failed_named_hosts - sampledNamed));
      if (beyond > 0) s.bulk.push([ctx.t, beyond]);
      if (c.refused_hosts > 0) s.refused.push([ctx.t, c.refused_hosts]);
      // Successes: hosts new to the device that answered a connection it opened.
      for (const k of r.contacts) {
        if (!k.answered || (k.transport === 'tcp' && k.starts === 0)) continue;
        if (!ctx.warming && !ctx.newToDevice(hostKey(k.name, k.ip), from)) continue;
        add({ key: fnv1a(k.ip), t: ctx.t, ok: true, ip: k.ip, port: k.port, transport: k.transport });
      }
      if (s.hosts.length > MAX_HOSTS) s.hosts.splice(0, s.hosts.length - MAX_HOSTS);
      let failed = 0;
      let answered = 0;
      for (const h of s.hosts) h.ok ? answered++ : failed++;
      for (const [, n] of s.bulk) failed += n;
      const llr = failed * perFailure + answered * perSuccess;
      // Failures needed for the test to decide "scanner" given the successes seen.
      const needed = Math.max(1, Math.ceil((upper - answered * perSuccess) / perFailure));
      const breach = llr >= upper;
      const verdict: Verdict = {
        breach,
        strong: breach && failed >= p.sweepHosts && failed / Math.max(1, failed + answered) >= p.sweepFailureShare,
        metric: 'failed first contacts to distinct hosts',
        observed: failed,
        threshold: needed,
        unit: windowWords(p.windowSeconds),
      };
      if (breach) {
        const fails = s.hosts.filter((h) => !h.ok);
        const ports = new Map<number, number>();
        for (const h of fails) ports.set(h.port, (ports.get(h.port) ?? 0) + 1);
        const span = Math.max(ctx.seconds, ctx.t + ctx.seconds - Math.min(...s.hosts.map((h) => h.t), ...s.bulk.map(([t]) => t)));
        verdict.evidence = {
          kind: 'scan',
          window_seconds: p.windowSeconds,
          failed_hosts: failed,
          answered_hosts: answered,
          refused_hosts: s.refused.reduce((n, [, k]) => n + k, 0),
          failed_per_minute: Math.round((failed / (span / 60)) * 10) / 10,
          ports: [...ports].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, 8).map(([port]) => port),
          sample: fails.slice(-8).map((h) => ({ ip: h.ip, port: h.port, transport: h.transport })),
        };
      }
      return verdict;
    },
  };
}
