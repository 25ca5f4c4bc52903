// The bench table: one row per workload, throughput from the capture's known size, and each
// workload's speed relative to the three baselines': baseline time ÷ workload time, so "×15" under
// Suricata means fifteen times as fast as Suricata on the same file in the same run.

import { PCAP_PARSER, SURICATA, TCPDUMP_RAW } from './workloads.js';

export interface WorkloadResult {
  name: string;
  kind: 'peer' | 'tapwatch';
  status: 'ok' | 'failed' | 'n/a';
  /** The n/a reason or the failure. */
  reason: string;
  runsS: number[];
  medianS: number | null;
  /** CPU seconds (user + system) of each run, when GNU time measured them. */
  cpuS: number[];
  medianCpuS: number | null;
  maxRssKb: number | null;
  packetsSeen: number | null;
  youngGcs: number | null;
  note: string;
}

const BASELINES: ReadonlyArray<readonly [string, string]> = [
  ['× tcpdump', TCPDUMP_RAW], ['× suricata', SURICATA], ['× pcap-parser', PCAP_PARSER],
];

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const fmt = (v: number, digits: number): string => v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** Wall and CPU time of each baseline that ran, by column header. */
function baselineTimes(results: WorkloadResult[]): Map<string, { wall: number; cpu: number | null }> {
  const m = new Map<string, { wall: number; cpu: number | null }>();
  for (const [col, name] of BASELINES) {
    const r = results.find((x) => x.name === name);
    if (r?.medianS) m.set(col, { wall: r.medianS, cpu: r.medianCpuS });
  }
  return m;
}

/** Baseline ÷ workload on wall time, then on CPU time in brackets when both have it. */
function ratio(base: { wall: number; cpu: number | null } | undefined, r: WorkloadResult): string {
  if (!base) return '';
  const wall = fmt(base.wall / r.medianS!, 2);
  return base.cpu && r.medianCpuS ? `${wall} (${fmt(base.cpu / r.medianCpuS, 2)})` : wall;
}

export function formatTable(results: WorkloadResult[], packets: number, bytes: number): string {
  const base = baselineTimes(results);
  const head = ['workload', 'median s', 'CPU s', 'packets/s', 'MB/s', 'max RSS', ...BASELINES.map(([c]) => c), 'young GCs (whole run)', 'packets seen', 'note'];
  const rows = results.map((r) => {
    if (r.status !== 'ok' || r.medianS === null) {
      const status = r.status === 'n/a' ? 'n/a' : 'failed';
      return [r.name, status, ...new Array<string>(head.length - 3).fill(''), r.status === 'n/a' ? r.reason : `failed: ${r.reason}`];
    }
    const t = r.medianS;
    const seen = r.packetsSeen === null ? '' : r.packetsSeen === packets ? `${fmt(r.packetsSeen, 0)} ✓` : `${fmt(r.packetsSeen, 0)} ≠ ${fmt(packets, 0)}`;
    return [
      r.name, fmt(t, 2), r.medianCpuS === null ? 'n/a' : fmt(r.medianCpuS, 2), `${fmt(packets / t / 1e6, 2)} M`, fmt(bytes / t / 1e6, 0),
      r.maxRssKb === null ? 'n/a' : `${fmt(r.maxRssKb / 1024, 0)} MB`,
      ...BASELINES.map(([c]) => ratio(base.get(c), r)),
      r.youngGcs === null ? '' : String(r.youngGcs), seen, r.note,
    ];
  });
  // A Markdown table, padded so it also reads in a terminal.
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(width[i])).join(' | ')} |`;
  return [line(head), line(width.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
