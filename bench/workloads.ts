// What `npm run bench` runs on the capture: the peers (the same commands as
// shared/notes/peer-baselines.md) and tapwatch's own workloads. To add a tapwatch row, add one line
// to tapwatchRows: a script that prints one JSON object with at least {"packets": N}, and
// optionally "youngGcs" (young-generation GCs in its steady-state loop).

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Measured } from './measure.js';

export interface TapwatchRow {
  name: string;
  /** Run from the repository root; tapwatch itself as an operator runs it, through its bin (its shebang carries node's flags). */
  argv: string[];
  /** Field of the printed JSON holding the packet count; default 'packets'. */
  packetsField?: string;
  /** Where that JSON is printed: stdout (default), or stderr's last line (a pino log such as 'final counters'). */
  from?: 'stdout' | 'stderr';
}

export function tapwatchRows(file: string): TapwatchRow[] {
  return [
    { name: 'tapwatch decap --json', argv: ['dist/cli/tapwatch.js', 'decap', file, '--json'], packetsField: 'outer_packet_count' },
    { name: 'tapwatch device-count', argv: ['node', 'dist/bench/device-count.js', file] },
    {
      name: 'tapwatch collect --out /dev/null',
      argv: ['dist/cli/tapwatch.js', 'collect', '--pcap', file, '--out', '/dev/null', '--stats-interval', '3600'],
      packetsField: 'frames',
      from: 'stderr',
    },
  ];
}

/** What a finished run says about itself. */
export interface Reported {
  packets: number | null;
  youngGcs: number | null;
  /** Anything else worth a column, e.g. how much of the inner traffic a peer decoded. */
  note: string;
}

export interface Workload {
  name: string;
  kind: 'peer' | 'tapwatch';
  /** Command for one run; `scratch` is an empty directory that is removed after the run. */
  argv(scratch: string): string[];
  /** Why it cannot run here ('n/a: ...' or 'n/a (missing)'), or null. */
  unavailable: string | null;
  report(run: Measured, scratch: string): Reported;
}

/** The peers the ratios are taken against, by name. */
export const TCPDUMP_RAW = 'tcpdump -w /dev/null (I/O floor)';
export const SURICATA = 'suricata single, stock EVE';
export const PCAP_PARSER = 'npm pcap-parser 0.2.1';

const NONE: Reported = { packets: null, youngGcs: null, note: '' };

function onPath(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
}

/** The JSON object a workload printed: the whole stdout (pretty-printed) or its last line. */
function printedJson(stdout: string): Record<string, unknown> | null {
  const tryParse = (s: string): Record<string, unknown> | null => {
    try {
      const v: unknown = JSON.parse(s);
      return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  };
  const text = stdout.trim();
  return tryParse(text) ?? tryParse(text.slice(text.lastIndexOf('\n') + 1));
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Suricata's last stats.log block: decoder.pkts, and inner IP headers decoded (every outer header is IP). */
function suricataReport(scratch: string): Reported {
  const path = join(scratch, 'stats.log');
  if (!existsSync(path)) return { ...NONE, note: 'no stats.log' };
  const text = readFileSync(path, 'utf8');
  const last = text.slice(text.lastIndexOf('Date:'));
  const counter = (name: string): number => {
    const m = new RegExp(`^${name.replace(/\./g, '\\.')}\\s*\\|\\s*Total\\s*\\|\\s*(\\d+)`, 'm').exec(last);
    return m ? Number(m[1]) : 0;
  };
  const pkts = counter('decoder.pkts');
  const inner = counter('decoder.ipv4') + counter('decoder.ipv6') - pkts;
  return { packets: pkts, youngGcs: null, note: `inner IP decoded: ${inner.toLocaleString('en-US')}` };
}

export function workloads(file: string, root: string): Workload[] {
  const missingTool = (tool: string): string | null => (onPath(tool) ? null : `n/a: ${tool} not installed (bash bench/install-peers.sh)`);
  const peers: Workload[] = [
    {
      name: TCPDUMP_RAW, kind: 'peer', unavailable: missingTool('tcpdump'),
      argv: () => ['tcpdump', '-n', '-r', file, '-w', '/dev/null'],
      report: () => NONE,
    },
    {
      name: SURICATA, kind: 'peer', unavailable: missingTool('suricata'),
      argv: (scratch) => ['suricata', '-S', '/dev/null', '--runmode', 'single', '-r', file, '-l', scratch, '-k', 'none'],
      report: (_run, scratch) => suricataReport(scratch),
    },
    {
      name: PCAP_PARSER, kind: 'peer',
      unavailable: existsSync(join(root, 'node_modules/pcap-parser')) ? null : 'n/a: pcap-parser not in node_modules (npm ci)',
      argv: () => ['node', 'dist/bench/pcap-parser-read.js', file],
      report: (run) => ({ ...NONE, packets: num(printedJson(run.stdout)?.packets) }),
    },
  ];
  const ours = tapwatchRows(file).map((row): Workload => ({
    name: row.name, kind: 'tapwatch',
    unavailable: row.argv[0] === 'node' && row.argv[1].endsWith('.js') && !existsSync(join(root, row.argv[1])) ? 'n/a (missing)' : null,
    argv: () => row.argv,
    report: (run) => {
      const json = printedJson(row.from === 'stderr' ? run.stderr : run.stdout);
      if (!json) return { ...NONE, note: 'printed no JSON' };
      return { packets: num(json[row.packetsField ?? 'packets']), youngGcs: num(json.youngGcs), note: '' };
    },
  }));
  return [...peers, ...ours];
}
